"""The device loader: same order and augmentation statistics as the per-image pipeline."""

import pytest
import torch

from pgnas_core.data import DataConfig, load_data
from pgnas_core.data.device_loader import (
    DeviceLoader,
    batch_cutout,
    batch_random_crop,
    device_epoch_loader,
)
from pgnas_core.data.order import epoch_order
from pgnas_core.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def fashion():
    """64 real Fashion-MNIST training images, augmented as the Fashion-MNIST split is."""
    splits = load_data(
        DataConfig(dataset="fashion-mnist", val_size=100, train_size=64, test_size=10, cutout=8)
    )
    return splits.train


def _per_image_draws(ds, reps):
    torch.manual_seed(0)
    return torch.stack([torch.stack([ds[i][0] for i in range(len(ds))]) for _ in range(reps)])


def _device_draws(ds, reps):
    out = []
    for epoch in range(reps):
        loader = DeviceLoader(ds, batch_size=len(ds), seed=3, epoch=epoch + 1)
        x, y = next(iter(loader))
        order = epoch_order(len(ds), 3, epoch + 1)
        back = torch.empty_like(x)
        back[order] = x  # undo the shuffle: row i is image i
        out.append(back)
    return torch.stack(out)  # (reps, N, C, H, W)


def test_augmentation_statistics_match_the_per_image_pipeline(fashion):
    reps = 150
    a, b = _per_image_draws(fashion, reps), _device_draws(fashion, reps)
    # per-image mean over draws (averaged over the batch): equal within sampling error
    ma, mb = a.mean(0), b.mean(0)  # (N, C, H, W)
    se = ((a.var(0) + b.var(0)) / reps).sqrt().clamp_min(1e-3)
    z = ((ma - mb) / se).abs()
    assert z.mean() < 1.3 and (z > 4.5).float().mean() < 0.01
    assert abs(a.std() - b.std()) < 0.02
    # cutout's zeros: the same fraction of pixels is exactly zero
    za, zb = (a == 0).float().mean(), (b == 0).float().mean()
    assert abs(za - zb) < 0.01
    # flip: left-right asymmetry of the mean image is halved the same way
    asym = lambda t: (t.mean((0, 1)) - t.mean((0, 1)).flip(-1)).abs().mean()
    assert abs(asym(a) - asym(b)) < 0.02


def test_crop_flip_statistics_match_torchvision(fashion):
    """Without cutout, against torchvision's own RandomCrop + RandomHorizontalFlip."""
    from torchvision.transforms import v2

    tv = v2.Compose([v2.RandomCrop(28, padding=2), v2.RandomHorizontalFlip()])
    imgs = fashion.images.float() / 255.0  # (N, 1, 28, 28)
    torch.manual_seed(1)
    reps = 150
    a = torch.stack([torch.stack([tv(im) for im in imgs]) for _ in range(reps)])
    g = torch.Generator().manual_seed(1)
    from pgnas_core.data.device_loader import batch_hflip

    b = torch.stack([batch_hflip(batch_random_crop(imgs, 2, g), g) for _ in range(reps)])
    se = ((a.var(0) + b.var(0)) / reps).sqrt().clamp_min(1e-3)
    z = ((a.mean(0) - b.mean(0)) / se).abs()
    assert z.mean() < 1.3 and (z > 4.5).float().mean() < 0.01


def test_crop_offsets_are_uniform_and_independent_per_image():
    x = torch.zeros(4000, 1, 5, 5)
    x[:, :, 2, 2] = 1.0  # a single bright pixel in the centre
    out = batch_random_crop(x, 1, torch.Generator().manual_seed(0))
    where = out[:, 0].flatten(1).argmax(1)  # position of the pixel after the crop
    counts = torch.bincount(where, minlength=25).float()
    shifts = counts[counts > 0]
    assert len(shifts) == 9  # 3 x 3 offsets
    assert (shifts / 4000 - 1 / 9).abs().max() < 0.03


def test_cutout_square_size_and_clipping():
    x = torch.ones(2000, 1, 10, 10)
    out = batch_cutout(x, 4, torch.Generator().manual_seed(0))
    zeros = (out == 0).flatten(1).sum(1)
    assert zeros.max() == 16 and zeros.min() >= 4  # full square inside, clipped at corners


def test_order_and_labels_follow_the_default_loader(fashion):
    loader = DeviceLoader(fashion, batch_size=20, seed=5, epoch=2)
    ys = torch.cat([y for _, y in loader])
    assert torch.equal(ys, fashion.labels[epoch_order(len(fashion), 5, 2)])
    assert len(loader) == 4


def test_resume_and_shards_see_the_same_batches(fashion):
    full = [x for x, _ in DeviceLoader(fashion, 20, seed=1, epoch=1)]
    resumed = [x for x, _ in DeviceLoader(fashion, 20, seed=1, epoch=1, start_step=2)]
    assert all(torch.equal(a, b) for a, b in zip(full[2:], resumed))
    halves = [
        list(DeviceLoader(fashion, 20, seed=1, epoch=1, rank=r, world_size=2)) for r in (0, 1)
    ]
    for step, x in enumerate(full):
        assert torch.equal(torch.cat([halves[0][step][0], halves[1][step][0]]), x)


def test_falls_back_for_datasets_not_in_memory():
    ds = torch.utils.data.TensorDataset(torch.zeros(10, 1, 4, 4), torch.zeros(10).long())
    loader = device_epoch_loader(ds, 4, seed=0, epoch=1)
    assert not isinstance(loader, DeviceLoader)
    assert sum(len(y) for _, y in loader) == 10


def test_config_field_is_validated():
    with pytest.raises(ConfigError, match="data.device_loader"):
        DataConfig(device_loader="yes").validate()


def test_training_with_the_device_loader(tmp_path):
    from pgnas_core.config import resolve_config
    from pgnas_core.run.pipeline import train

    cfg = resolve_config(
        "digits", None, ["train.epochs=1", "train.device=cpu", "data.device_loader=true"]
    )
    net = train(cfg, load_data(cfg.data), tmp_path, "pgnas", progress=False)
    assert all(torch.isfinite(p).all() for p in net.parameters())
