"""What a model needs to know about a dataset's images and labels."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetInfo:
    name: str  # dataset name as in DataConfig.dataset
    num_classes: int  # labels are 0 .. num_classes - 1
    in_channels: int  # C of the (C, H, W) image tensors
    image_size: tuple[int, int]  # (H, W) of the image tensors the datasets return
    mean: tuple[float, ...]  # per-channel mean used to normalise (pixel values in [0, 1])
    std: tuple[float, ...]  # per-channel std used to normalise
