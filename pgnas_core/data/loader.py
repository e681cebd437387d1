"""Batching: seeded DataLoaders, and whole splits as tensors for fast candidate evaluation."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from .tensor_dataset import TensorImageDataset


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """A DataLoader whose shuffling order depends only on `seed`.

    Random augmentation draws from torch's global generator (per worker when num_workers > 0,
    seeded from this loader's generator), so seed torch as well for fully repeatable batches.
    """
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
        num_workers=num_workers,
        drop_last=drop_last,
        persistent_workers=num_workers > 0,
    )


def stack_split(dataset: Dataset, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole split as (x: (N, C, H, W) float32, y: (N,) long), without augmentation.

    Lets many candidate architectures be scored on the same tensors without re-loading.
    Tensor datasets take a fast path; other datasets are iterated once in order (pass their
    non-augmented split, e.g. `DataSplits.val`).
    """
    if isinstance(dataset, TensorImageDataset):
        return dataset.stacked()
    if len(dataset) == 0:
        raise ValueError("cannot stack an empty split")
    xs, ys = [], []
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        xs.append(x)
        ys.append(torch.as_tensor(y, dtype=torch.long))
    return torch.cat(xs), torch.cat(ys)
