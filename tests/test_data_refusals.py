"""Data roots that are broken or hostile stop with one line and run nothing: a crafted CIFAR
pickle (its code must never run), Fashion-MNIST files whose counts disagree, and an image
folder holding one corrupt image (read in the main process and in a DataLoader worker)."""

from __future__ import annotations

import os
import pickle
import struct

import numpy as np
import pytest

from pgnas_core.data.safe_pickle import load_restricted
from pgnas_core.run.cli import main

from test_cli_errors import _assert_one_line
from test_data import write_fake_cifar
from test_imagenet import _make_tree

CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


class _Payload:
    """Unpickling this runs ``os.system`` (the attack a shared data root could carry)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_crafted_cifar_pickle_is_refused_without_running_it(tmp_path, capsys):
    write_fake_cifar(tmp_path)
    marker = tmp_path / "payload-ran"
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_3", "wb") as f:
        pickle.dump({"data": _Payload(marker), "labels": [0]}, f)
    out = tmp_path / "run"
    rc = main(
        ["search", "--preset", "digits", "--no-progress", "--out", str(out)]
        + ["--set", "data.dataset=cifar10", "--set", f"data.root={tmp_path}"]
    )
    _assert_one_line(rc, capsys.readouterr().err, 1, ["data_batch_3", "posix.system"])
    assert not marker.exists(), "the pickle's code ran"


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_real_cifar_layout_loads_through_the_restricted_unpickler(tmp_path, protocol):
    """What the real files hold (bytes names, a str label, a uint8 array, int labels)."""
    entry = {
        "batch_label": "training batch 1 of 5",
        "labels": [3, 1],
        "data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072),
        "filenames": [b"a.png", b"b.png"],
    }
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps(entry, protocol=protocol))
    with open(path, "rb") as f:
        back = load_restricted(f)
    assert back["labels"] == [3, 1] and back["filenames"] == [b"a.png", b"b.png"]
    np.testing.assert_array_equal(back["data"], entry["data"])


def _idx(path, magic: int, array: np.ndarray) -> None:
    dims = struct.pack(">" + "i" * array.ndim, *array.shape)
    path.write_bytes(struct.pack(">i", magic) + dims + array.astype(np.uint8).tobytes())


def test_fashion_mnist_counts_that_disagree(tmp_path, capsys):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n_images, n_labels in (("train", 60, 50), ("t10k", 20, 20)):
        _idx(raw / f"{split}-images-idx3-ubyte", 0x803, rng.integers(0, 256, (n_images, 28, 28)))
        _idx(raw / f"{split}-labels-idx1-ubyte", 0x801, rng.integers(0, 10, n_labels))
    out = tmp_path / "run"
    rc = main(
        ["search", "--preset", "digits", "--no-progress", "--out", str(out)]
        + ["--set", "data.dataset=fashion-mnist", "--set", f"data.root={tmp_path}"]
        + ["--set", "supernet.name=supnet_m_small", "--set", "data.val_size=10"]
    )
    _assert_one_line(rc, capsys.readouterr().err, 1, ["60 images", "50 labels"])


@pytest.mark.parametrize("workers", [0, 1])
def test_one_corrupt_image_in_an_image_folder(tmp_path, capsys, workers):
    root = _make_tree(tmp_path / "images", per_class_train=4, per_class_val=2, size=36)
    bad = root / "train" / "class2" / "1.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "run"
    rc = main(
        ["train", "--preset", "digits", "--no-progress", "--out", str(out)]
        + ["--set", "data.dataset=imagefolder", "--set", f"data.root={root}"]
        + ["--set", "data.image_size=32", "--set", "data.val_size=4"]
        + ["--set", "data.batch_size=8", "--set", f"data.num_workers={workers}"]
        + ["--set", "supernet.name=supnet_m_small", "--set", "method.baselines=[]"]
        + ["--set", "train.epochs=1", "--set", "train.device=cpu"]
    )
    _assert_one_line(rc, capsys.readouterr().err, 1, ["cannot read image", str(bad)])
