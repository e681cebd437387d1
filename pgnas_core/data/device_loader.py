"""A training loader that keeps a whole in-memory split on the device and augments batches there.

For datasets that fit in memory (Fashion-MNIST, CIFAR, digits) the per-image Python path
(``TensorImageDataset.__getitem__`` behind a ``DataLoader``) costs more than a small network's
training step on a CPU. :class:`DeviceLoader` holds the uint8 images on the device once and
applies the same augmentation -- zero-pad + random crop, horizontal flip, normalise, cutout --
to a whole batch with tensor ops. The augmentation *distribution* equals the per-image
pipeline's (``tests/test_device_loader.py`` checks the statistics); the random draws come from
the loader's own seeded generator, so the individual draws differ from the default
loader's. The batch order is the default loader's (``pgnas_core.data.order``).
"""

from __future__ import annotations

import weakref

import torch

from .tensor_dataset import Augment, TensorImageDataset


def batch_random_crop(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad a batch (B, C, H, W) by ``pad`` and crop an independent H x W window per image."""
    if pad <= 0:
        return x
    b, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))  # (B, C, H + 2p, W + 2p)
    off = torch.randint(0, 2 * pad + 1, (2, b), generator=generator, device=x.device)
    rows = off[0][:, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = off[1][:, None] + torch.arange(w, device=x.device)  # (B, W)
    idx = torch.arange(b, device=x.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return out.permute(0, 3, 1, 2)


def batch_hflip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Flip each image of a batch left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5  # (B,)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


def batch_cutout(x: torch.Tensor, size: int, generator: torch.Generator) -> torch.Tensor:
    """Zero a ``size`` x ``size`` square per image centred at a uniform pixel, clipped at the
    border (the per-image :func:`~pgnas_core.data.tensor_dataset.cutout`, batched)."""
    if size <= 0:
        return x
    b, _, h, w = x.shape
    cy = torch.randint(0, h, (b,), generator=generator, device=x.device)
    cx = torch.randint(0, w, (b,), generator=generator, device=x.device)
    ys = torch.arange(h, device=x.device)[None]  # (1, H)
    xs = torch.arange(w, device=x.device)[None]
    lo, hi = size // 2, size // 2 + size % 2
    in_y = (ys >= (cy - lo)[:, None]) & (ys < (cy + hi)[:, None])  # (B, H)
    in_x = (xs >= (cx - lo)[:, None]) & (xs < (cx + hi)[:, None])  # (B, W)
    hole = in_y[:, :, None] & in_x[:, None, :]  # (B, H, W)
    return x.masked_fill(hole[:, None], 0.0)


def augment_batch(
    x: torch.Tensor,
    augment: Augment | None,
    mean: torch.Tensor,
    std: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """Crop, flip, normalise, cutout -- the per-image pipeline's order -- on a float batch in
    [0, 1]; ``mean``/``std`` are (1, C, 1, 1)."""
    if augment is not None:
        x = batch_random_crop(x, augment.pad, generator)
        if augment.flip:
            x = batch_hflip(x, generator)
    x = (x - mean) / std
    if augment is not None and augment.cutout:
        x = batch_cutout(x, augment.cutout, generator)
    return x


_DEVICE_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def on_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``, copied once per (tensor, device) and reused every epoch."""
    if t.device == device:
        return t
    copies = _DEVICE_COPIES.setdefault(t, {})
    if device not in copies:
        copies[device] = t.to(device)
    return copies[device]


class DeviceLoader:
    """This rank's training batches of one epoch of a :class:`TensorImageDataset`, made on
    ``device`` from the uint8 split held there.

    The order is :func:`pgnas_core.data.order.epoch_order` (the default loader's), global
    batch ``s`` is the same slice of it, and its augmentation is drawn from a generator seeded
    by (seed, epoch, s): a resumed or sharded run sees the same batches. Each rank augments
    the whole global batch and keeps its share (exact under sharding; augmentation is cheap).
    """

    def __init__(
        self,
        dataset: TensorImageDataset,
        batch_size: int,
        seed: int = 0,
        epoch: int = 1,
        start_step: int = 0,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
    ):
        if not isinstance(dataset, TensorImageDataset):
            raise TypeError(
                f"DeviceLoader needs an in-memory TensorImageDataset, got "
                f"{type(dataset).__name__}; use the default loader for other datasets"
            )
        self.device = torch.device(device)
        self.images = on_device(dataset.images, self.device)  # (N, C, H, W) uint8
        self.labels = on_device(dataset.labels, self.device)
        self.scale, self.augment = dataset.scale, dataset.augment
        self.mean = torch.tensor(dataset.mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(dataset.std, device=self.device).view(1, -1, 1, 1)
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.start_step, self.rank, self.world_size = start_step, rank, world_size

    def __len__(self) -> int:
        from .order import steps_per_epoch

        return steps_per_epoch(len(self.images), self.batch_size) - self.start_step

    def __iter__(self):
        from .order import batch_positions, epoch_order, mix_seed, steps_per_epoch

        n = len(self.images)
        order = epoch_order(n, self.seed, self.epoch).to(self.device)
        for step in range(self.start_step, steps_per_epoch(n, self.batch_size)):
            pos = batch_positions(n, self.batch_size, step)
            idx = order[pos.start : pos.stop]
            gen = torch.Generator(device=self.device).manual_seed(
                mix_seed(self.seed, self.epoch, step, 0xDE71CE)
            )
            x = self.images[idx].float() / self.scale  # (B, C, H, W) in [0, 1]
            x = augment_batch(x, self.augment, self.mean, self.std, gen)
            lo = self.rank * len(idx) // self.world_size
            hi = (self.rank + 1) * len(idx) // self.world_size
            yield x[lo:hi], self.labels[idx[lo:hi]]


def device_epoch_loader(
    dataset,
    batch_size: int,
    seed: int,
    epoch: int,
    start_step: int = 0,
    rank: int = 0,
    world_size: int = 1,
    device="cpu",
    num_workers: int = 0,
):
    """``epoch_loader``'s signature plus ``device``: a :class:`DeviceLoader` for an in-memory
    split, else the default per-image loader (datasets that do not fit in memory)."""
    if isinstance(dataset, TensorImageDataset):
        return DeviceLoader(dataset, batch_size, seed, epoch, start_step, rank, world_size, device)
    from .order import epoch_loader

    return epoch_loader(dataset, batch_size, seed, epoch, start_step, rank, world_size, num_workers)
