"""scikit-learn's bundled 8x8 digits (1,797 images): always available, for tests and demos."""

from __future__ import annotations

import numpy as np
import torch

from .config import DataConfig
from .info import DatasetInfo
from .splits import DataSplits, carve_test, carve_train_val
from .tensor_dataset import Augment, TensorImageDataset

# Mean and std of all 1,797 images after dividing by 16.
INFO = DatasetInfo("digits", 10, 1, (8, 8), (0.3053,), (0.3760,))

# The digits ship without a test split. We hold out a stratified 20% once, with a fixed seed
# (not `split_seed`), so test accuracy stays comparable across split seeds.
TEST_FRACTION = 0.2
TEST_SEED = 0


def split_indices(
    cfg: DataConfig, targets: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(train, val, test) indices into all 1,797 digits: the fixed test hold-out first, then
    `cfg`'s seeded validation/train carving of the rest."""
    from sklearn.model_selection import train_test_split  # lazy: keep sklearn out of module import

    pool_idx, test_idx = train_test_split(
        np.arange(len(targets)), test_size=TEST_FRACTION, random_state=TEST_SEED, stratify=targets
    )
    pool_idx, test_idx = torch.from_numpy(np.sort(pool_idx)), torch.from_numpy(np.sort(test_idx))
    train_idx, val_idx = carve_train_val(len(pool_idx), cfg)
    return pool_idx[train_idx], pool_idx[val_idx], test_idx[carve_test(len(test_idx), cfg)]


def load_digits_splits(cfg: DataConfig) -> DataSplits:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.uint8))  # (1797, 8, 8), values 0..16
    full = TensorImageDataset(
        images, bunch.target.astype(np.int64), INFO.mean, INFO.std, scale=16.0
    )
    train_idx, val_idx, test_idx = split_indices(cfg, bunch.target)

    # A one-pixel shift is all the augmentation 8x8 digits take (no flips: digits are not
    # symmetric).
    augment = Augment(pad=1, cutout=cfg.resolved_cutout()) if cfg.augment else None
    return DataSplits(
        train=full.subset(train_idx, augment),
        val=full.subset(val_idx),
        test=full.subset(test_idx),
        info=INFO,
    )
