"""Small image datasets held as one uint8 tensor, normalised and augmented on tensors.

Going through PIL per image is the slow part of torchvision's MNIST/CIFAR pipelines on a CPU;
here an item is a slice of one tensor, padded, cropped, flipped and cut out with tensor ops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset


@dataclass(frozen=True)
class Augment:
    """Training augmentation for small images (applied in this order)."""

    pad: int = 0  # random crop back to the original size after zero-padding by `pad` pixels
    flip: bool = False  # random horizontal flip with probability 1/2
    cutout: int = 0  # zero a random `cutout` x `cutout` square after normalising (0 = off)


def random_crop(
    x: torch.Tensor, pad: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero-pad a (C, H, W) image by `pad` and crop a random H x W window (as RandomCrop)."""
    if pad <= 0:
        return x
    h, w = x.shape[-2:]
    padded = F.pad(x, (pad, pad, pad, pad))  # (C, H + 2p, W + 2p)
    i, j = torch.randint(0, 2 * pad + 1, (2,), generator=generator).tolist()
    return padded[..., i : i + h, j : j + w]


def random_hflip(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Flip a (C, H, W) image left-right with probability 1/2."""
    return x.flip(-1) if torch.rand((), generator=generator) < 0.5 else x


def cutout(x: torch.Tensor, size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a `size` x `size` square centred at a uniform pixel, clipped at the border
    (DeVries & Taylor 2017, as in DARTS' CIFAR pipeline)."""
    if size <= 0:
        return x
    h, w = x.shape[-2:]
    cy, cx = (
        torch.randint(0, h, (), generator=generator).item(),
        torch.randint(0, w, (), generator=generator).item(),
    )
    y0, y1 = max(cy - size // 2, 0), min(cy + size // 2 + size % 2, h)
    x0, x1 = max(cx - size // 2, 0), min(cx + size // 2 + size % 2, w)
    x = x.clone()
    x[..., y0:y1, x0:x1] = 0.0
    return x


class TensorImageDataset(Dataset):
    """Images as a uint8 tensor (N, C, H, W) plus int labels; returns normalised float32 images.

    `scale` maps stored values to [0, 1] (255 for 8-bit images, 16 for sklearn's digits).
    """

    def __init__(
        self,
        images: torch.Tensor | np.ndarray,
        labels: torch.Tensor | np.ndarray | list[int],
        mean: tuple[float, ...],
        std: tuple[float, ...],
        scale: float = 255.0,
        augment: Augment | None = None,
    ):
        images = torch.as_tensor(images)
        if images.dtype != torch.uint8:
            raise TypeError(f"images must be uint8, got {images.dtype}")
        if images.ndim == 3:  # (N, H, W) -> (N, 1, H, W)
            images = images.unsqueeze(1)
        self.images = images.contiguous()
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.scale = float(scale)
        self.augment = augment
        self._mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)  # (C, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
        self.mean, self.std = tuple(mean), tuple(std)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.images[index].float() / self.scale  # (C, H, W) in [0, 1]
        aug = self.augment
        if aug is not None:
            x = random_crop(x, aug.pad)
            if aug.flip:
                x = random_hflip(x)
        x = (x - self._mean) / self._std
        if aug is not None and aug.cutout:
            x = cutout(x, aug.cutout)
        return x, int(self.labels[index])

    def subset(self, indices: torch.Tensor, augment: Augment | None = None) -> TensorImageDataset:
        """A new dataset holding only `indices` (a copy), with its own augmentation."""
        return TensorImageDataset(
            self.images[indices], self.labels[indices], self.mean, self.std, self.scale, augment
        )

    def stacked(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All images, normalised and never augmented, as (N, C, H, W) float32 and (N,) long."""
        x = self.images.float() / self.scale  # (N, C, H, W)
        return (x - self._mean) / self._std, self.labels.clone()

    def extra_repr(self) -> str:
        return f"n={len(self)}, shape={tuple(self.images.shape[1:])}, augment={self.augment}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
