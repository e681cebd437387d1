"""A training loader that keeps a whole in-memory split on the device and augments batches there.

For datasets that fit in memory (Fashion-MNIST, CIFAR, digits) the per-image Python path
(``TensorImageDataset.__getitem__`` behind a ``DataLoader``) costs more than a small network's
training step on a CPU. :class:`DeviceLoader` holds the uint8 images on the device once and
applies the same augmentation -- zero-pad + random crop, horizontal flip, normalise, cutout --
to a whole batch with tensor ops. The augmentation *distribution* equals the per-image
pipeline's (``tests/test_device_loader.py`` checks the statistics); the random draws come from
the loader's own seeded generator, so the individual draws differ. The batch order equals
:func:`pgnas_core.data.make_loader`'s for the same seed.
"""
from __future__ import annotations

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


def augment_batch(x: torch.Tensor, augment: Augment | None, mean: torch.Tensor,
                  std: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
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


class DeviceLoader:
    """Iterate (x, y) training batches of a :class:`TensorImageDataset` held on ``device``.

    One pass = one epoch; ``seed`` fixes the order (as ``make_loader``'s) and the augmentation.
    """

    def __init__(self, dataset: TensorImageDataset, batch_size: int, shuffle: bool = True,
                 seed: int = 0, device: torch.device | str = "cpu", drop_last: bool = False):
        if not isinstance(dataset, TensorImageDataset):
            raise TypeError(f"DeviceLoader needs an in-memory TensorImageDataset, got "
                            f"{type(dataset).__name__}; use make_loader for other datasets")
        self.device = torch.device(device)
        self.images = dataset.images.to(self.device)  # (N, C, H, W) uint8, stays on the device
        self.labels = dataset.labels.to(self.device)
        self.scale = dataset.scale
        self.augment = dataset.augment
        self.mean = torch.tensor(dataset.mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(dataset.std, device=self.device).view(1, -1, 1, 1)
        self.batch_size, self.shuffle, self.seed, self.drop_last = (
            batch_size, shuffle, seed, drop_last)

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.images)
        # The same permutation as DataLoader(shuffle=True, generator=Generator().manual_seed(seed)).
        order = (torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
                 if self.shuffle else torch.arange(n)).to(self.device)
        gen = torch.Generator(device=self.device).manual_seed(self.seed + 1)
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                break
            x = self.images[idx].float() / self.scale  # (B, C, H, W) in [0, 1]
            yield augment_batch(x, self.augment, self.mean, self.std, gen), self.labels[idx]


def make_train_loader(dataset, batch_size: int, seed: int, device, device_loader: bool,
                      num_workers: int = 0):
    """The training loader: a :class:`DeviceLoader` when asked for and the split is in memory,
    else :func:`~pgnas_core.data.make_loader` (the default; unchanged numbers)."""
    if device_loader and isinstance(dataset, TensorImageDataset):
        return DeviceLoader(dataset, batch_size, shuffle=True, seed=seed, device=device)
    from .loader import make_loader
    return make_loader(dataset, batch_size, shuffle=True, seed=seed, num_workers=num_workers)
