"""The three splits a search uses, and the seeded carving of validation data out of train."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from pgnas_core.errors import DataError

from .config import DataConfig
from .info import DatasetInfo


@dataclass
class DataSplits:
    train: Dataset  # augmented (when DataConfig.augment) training images
    val: Dataset  # carved from the original train split; never augmented
    test: Dataset  # the dataset's test split (or a seeded subset); never augmented
    info: DatasetInfo

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def carve_train_val(n_pool: int, cfg: DataConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (train, val) index tensors into a training pool of `n_pool` images.

    `val_size` images go to validation first, then `train_size` (or all) of the rest to
    training, so changing `train_size` never changes the validation set.
    """
    if n_pool == 0:
        raise DataError(f"the {cfg.dataset} training split is empty")
    if cfg.val_size >= n_pool:
        raise DataError(
            f"data.val_size={cfg.val_size} leaves no training images: the {cfg.dataset} "
            f"training pool has {n_pool} images; use data.val_size <= {n_pool - 1}"
        )
    perm = torch.randperm(n_pool, generator=torch.Generator().manual_seed(cfg.split_seed))
    val, rest = perm[: cfg.val_size], perm[cfg.val_size :]
    if cfg.train_size is not None:
        if cfg.train_size > len(rest):
            raise DataError(
                f"data.train_size={cfg.train_size} is larger than the {len(rest)} {cfg.dataset} "
                f"training images left after data.val_size={cfg.val_size}"
            )
        rest = rest[: cfg.train_size]
    return rest.sort().values, val.sort().values


def carve_test(n_test: int, cfg: DataConfig) -> torch.Tensor:
    """Seeded indices of the `test_size` subset (or all) of a test split of `n_test` images."""
    if n_test == 0:
        raise DataError(f"the {cfg.dataset} test split is empty")
    if cfg.test_size is None:
        return torch.arange(n_test)
    if cfg.test_size > n_test:
        raise DataError(
            f"data.test_size={cfg.test_size} is larger than the {n_test}-image {cfg.dataset} "
            f"test split"
        )
    # A different stream from carve_train_val's, so the two subsets are not correlated.
    gen = torch.Generator().manual_seed(cfg.split_seed + 1_000_003)
    return torch.randperm(n_test, generator=gen)[: cfg.test_size].sort().values


def tensor_splits(pool, test, cfg: DataConfig, augment, info: DatasetInfo) -> DataSplits:
    """The splits of an in-memory dataset: train and val carved from ``pool`` (train only
    augmented), test a seeded subset of ``test`` (both ``TensorImageDataset``s)."""
    train_idx, val_idx = carve_train_val(len(pool), cfg)
    return DataSplits(
        train=pool.subset(train_idx, augment),
        val=pool.subset(val_idx),
        test=test.subset(carve_test(len(test), cfg)),
        info=info,
    )


def split_in_two(dataset, first_fraction: float, seed: int):
    """A seeded split of a (training) dataset into two disjoint parts, ``first_fraction`` of
    it in the first (bilevel methods: weights on one part, architecture on the other). Each
    part keeps the dataset's augmentation."""
    from .tensor_dataset import TensorImageDataset

    n = len(dataset)
    k = int(round(first_fraction * n))
    if not 0 < k < n:
        raise DataError(f"splitting {n} training images at {first_fraction} leaves a part empty")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    a, b = perm[:k].sort().values, perm[k:].sort().values
    if isinstance(dataset, TensorImageDataset):
        return dataset.subset(a, dataset.augment), dataset.subset(b, dataset.augment)
    from torch.utils.data import Subset

    return Subset(dataset, a.tolist()), Subset(dataset, b.tolist())
