"""Data loading: shapes, seeded disjoint splits, offline sources, tensor augmentation, errors."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pgnas_core.data import (
    DATASETS,
    Augment,
    DataConfig,
    TensorImageDataset,
    load_data,
    make_loader,
    stack_split,
)
from pgnas_core.data import digits as digits_mod
from pgnas_core.data import fashion_mnist as fmnist_mod
from pgnas_core.data.splits import carve_test, carve_train_val
from pgnas_core.data.tensor_dataset import cutout, random_crop
from pgnas_core.errors import ConfigError, DataError, DatasetNotFoundError


def digits_cfg(**kw) -> DataConfig:
    return DataConfig(dataset="digits", val_size=300, **kw)


# --- digits -----------------------------------------------------------------------------------


def test_digits_shapes_and_classes():
    splits = load_data(digits_cfg())
    assert splits.sizes() == {"train": 1797 - 360 - 300, "val": 300, "test": 360}
    assert splits.info.num_classes == 10 and splits.info.in_channels == 1
    assert splits.info.image_size == (8, 8)
    x, y = splits.train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and isinstance(y, int)
    xv, yv = stack_split(splits.val)
    assert xv.shape == (300, 1, 8, 8) and yv.dtype == torch.long
    assert set(yv.tolist()) == set(range(10))


def test_digits_split_is_seeded_and_disjoint():
    from sklearn.datasets import load_digits

    targets = load_digits().target
    a = digits_mod.split_indices(digits_cfg(split_seed=0), targets)
    b = digits_mod.split_indices(digits_cfg(split_seed=0), targets)
    c = digits_mod.split_indices(digits_cfg(split_seed=1), targets)
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    assert not torch.equal(a[1], c[1])  # another seed gives another validation set
    assert torch.equal(a[2], c[2])  # the digits test hold-out is fixed
    train, val, test = (set(t.tolist()) for t in a)
    assert not (train & val) and not (train & test) and not (val & test)
    assert len(train | val | test) == 1797


def test_carving_is_seeded_and_train_size_keeps_val():
    t0, v0 = carve_train_val(100, DataConfig(val_size=10, split_seed=3))
    t1, v1 = carve_train_val(100, DataConfig(val_size=10, split_seed=3, train_size=20))
    assert torch.equal(v0, v1) and len(t1) == 20 and set(t1.tolist()) <= set(t0.tolist())
    assert not set(t0.tolist()) & set(v0.tolist())
    assert len(carve_test(50, DataConfig(test_size=7))) == 7


def test_make_loader_order_is_seeded():
    ds = load_data(digits_cfg(augment=False)).val

    def labels(seed):
        return torch.cat([y for _, y in make_loader(ds, 64, shuffle=True, seed=seed)])

    assert torch.equal(labels(5), labels(5))
    assert not torch.equal(labels(5), labels(6))


# --- tensor datasets and augmentation ------------------------------------------------------------


def test_tensor_dataset_without_augment_is_plain_normalisation():
    images = torch.randint(0, 256, (4, 3, 6, 5), dtype=torch.uint8)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    ds = TensorImageDataset(images, [0, 1, 2, 3], mean, std)
    expected = (images.float() / 255 - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(
        3, 1, 1
    )
    x, y = ds[2]
    torch.testing.assert_close(x, expected[2])
    assert y == 2
    xs, ys = stack_split(ds)
    torch.testing.assert_close(xs, expected)
    assert ys.tolist() == [0, 1, 2, 3]


def test_augmentation_keeps_shapes_and_stack_split_ignores_it():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    plain = TensorImageDataset(images, list(range(8)), (0.5,) * 3, (0.5,) * 3)
    aug = plain.subset(torch.arange(8), Augment(pad=4, flip=True, cutout=16))
    x, _ = aug[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32
    assert not torch.equal(
        torch.stack([aug[0][0] for _ in range(5)]).std(0), torch.zeros(3, 32, 32)
    )
    torch.testing.assert_close(stack_split(aug)[0], stack_split(plain)[0])


def test_crop_and_cutout_functions():
    x = torch.arange(2 * 5 * 5, dtype=torch.float32).view(2, 5, 5) + 1
    assert torch.equal(random_crop(x, 0), x)
    g = torch.Generator().manual_seed(0)
    cropped = random_crop(x, 2, generator=g)
    assert cropped.shape == x.shape
    cut = cutout(x, 3, generator=g)
    zeros = (cut == 0).all(0)  # (H, W): zeroed in every channel
    assert 1 <= zeros.sum() <= 9 and (x != 0).all()  # input untouched


# --- offline sources ---------------------------------------------------------------------------


@pytest.mark.skipif(
    not fmnist_mod.DEBIAN_DIR.is_dir(),
    reason=f"{fmnist_mod.DEBIAN_DIR} missing (apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_from_debian_files(tmp_path):
    splits = load_data(
        DataConfig(dataset="fashion-mnist", root=str(tmp_path), val_size=1000, test_size=500)
    )
    assert splits.sizes() == {"train": 59000, "val": 1000, "test": 500}
    assert (tmp_path / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    x, y = splits.train[0]
    assert x.shape == (1, 28, 28) and 0 <= y < 10
    xv, _ = stack_split(splits.val)
    assert abs(xv.mean().item()) < 0.1 and abs(xv.std().item() - 1) < 0.1  # normalised


def write_fake_cifar(root: Path, n_per_batch: int = 8, hundred: bool = False) -> None:
    """A few random images in torchvision's CIFAR pickle layout (the real files need a network)."""
    rng = np.random.default_rng(0)
    folder, key, files = (
        ("cifar-100-python", "fine_labels", ["train", "test"])
        if hundred
        else (
            "cifar-10-batches-py",
            "labels",
            [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"],
        )
    )
    (root / folder).mkdir(parents=True)
    for name in files:
        entry = {
            "data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
            key: rng.integers(0, 100 if hundred else 10, n_per_batch).tolist(),
        }
        with open(root / folder / name, "wb") as f:
            pickle.dump(entry, f)


def test_cifar10_from_local_pickles(tmp_path):
    write_fake_cifar(tmp_path)
    splits = load_data(DataConfig(dataset="cifar10", root=str(tmp_path), val_size=6))
    assert splits.sizes() == {"train": 34, "val": 6, "test": 8}
    assert splits.info.num_classes == 10 and splits.info.in_channels == 3
    assert splits.train.augment == Augment(pad=4, flip=True, cutout=16)  # the paper's pipeline
    x, _ = splits.train[0]
    assert x.shape == (3, 32, 32)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "rb") as f:
        raw = torch.from_numpy(pickle.load(f)["data"][0].reshape(3, 32, 32)).float() / 255
    mean, std = (
        torch.tensor(splits.info.mean).view(3, 1, 1),
        torch.tensor(splits.info.std).view(3, 1, 1),
    )
    torch.testing.assert_close(splits.test[0][0], (raw - mean) / std)


def test_cifar100_from_local_pickles(tmp_path):
    write_fake_cifar(tmp_path, n_per_batch=20, hundred=True)
    splits = load_data(DataConfig(dataset="cifar100", root=str(tmp_path), val_size=5, cutout=0))
    assert splits.info.num_classes == 100 and splits.sizes() == {"train": 15, "val": 5, "test": 20}
    assert splits.train.augment.cutout == 0


def test_imagefolder_from_png_tree(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 5), ("val", 2)):
        for cls in ("cat", "dog"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / cls / f"{i}.png")
    splits = load_data(
        DataConfig(dataset="imagefolder", root=str(tmp_path), val_size=3, image_size=16)
    )
    assert splits.sizes() == {"train": 7, "val": 3, "test": 4}
    assert splits.info.num_classes == 2 and splits.info.image_size == (16, 16)
    x, y = splits.train[0]
    assert x.shape == (3, 16, 16) and y in (0, 1)
    xs, ys = stack_split(splits.test)
    assert xs.shape == (4, 3, 16, 16) and ys.tolist() == [0, 0, 1, 1]


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagefolder"])
def test_missing_dataset_names_the_path(tmp_path, dataset):
    with pytest.raises(DatasetNotFoundError) as err:
        load_data(DataConfig(dataset=dataset, root=str(tmp_path)))
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fmnist_mod, "DEBIAN_DIR", tmp_path / "no-debian")
    (tmp_path / "root").mkdir()  # an empty data root: the files are neither here nor in Debian's
    with pytest.raises(DatasetNotFoundError) as err:
        load_data(DataConfig(dataset="fashion-mnist", root=str(tmp_path / "root")))
    msg = str(err.value)
    assert str(tmp_path / "root") in msg and "no-debian" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "data.download=true" in msg


@pytest.mark.parametrize(
    "field, value",
    [
        ("dataset", "fashion_mnist"),
        ("val_size", 0),
        ("train_size", -1),
        ("test_size", -5),
        ("cutout", -1),
        ("image_size", 0),
        ("batch_size", 0),
        ("eval_batch_size", 0),
        ("num_workers", -1),
        ("augment", "yes"),
    ],
)
def test_bad_config_values_name_the_field(field, value):
    with pytest.raises(ConfigError) as err:
        load_data(DataConfig(**{field: value}))
    assert err.value.field == f"data.{field}"
    assert f"data.{field}" in str(err.value)


def test_unknown_dataset_suggests_a_name():
    with pytest.raises(ConfigError, match="fashion-mnist"):
        DataConfig(dataset="fashion_mnist").validate()
    assert all(DataConfig(dataset=name).validate() for name in DATASETS)


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"val_size": 5000}, "data.val_size"),
        ({"train_size": 2000}, "data.train_size"),
        ({"test_size": 999}, "data.test_size"),
    ],
)
def test_sizes_larger_than_the_data_name_the_field(kw, field):
    cfg = DataConfig(dataset="digits", **{"val_size": 300, **kw})
    with pytest.raises(DataError, match=field):
        load_data(cfg)


def test_root_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("PGNAS_DATA", str(tmp_path))
    assert DataConfig().resolved_root() == tmp_path
    monkeypatch.delenv("PGNAS_DATA")
    assert DataConfig().resolved_root() == Path.home() / ".cache" / "pgnas" / "data"
    assert DataConfig(dataset="cifar10").resolved_cutout() == 16
    assert DataConfig(dataset="digits").resolved_cutout() == 0


def test_import_pulls_in_neither_sklearn_nor_matplotlib():
    code = (
        "import sys, pgnas_core.data; "
        "print(sorted(m for m in ('sklearn', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
