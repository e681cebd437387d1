"""One entry point from a DataConfig to train/val/test datasets."""

from __future__ import annotations

from .cifar import load_cifar_splits
from .config import DataConfig
from .digits import load_digits_splits
from .fashion_mnist import load_fashion_mnist_splits
from .imagefolder import load_imagefolder_splits
from .splits import DataSplits

_LOADERS = {
    "digits": load_digits_splits,
    "fashion-mnist": load_fashion_mnist_splits,
    "cifar10": load_cifar_splits,
    "cifar100": load_cifar_splits,
    "imagefolder": load_imagefolder_splits,
}


def load_data(cfg: DataConfig) -> DataSplits:
    """Validate `cfg` and load its dataset as train (augmented), val and test splits.

    Validation images are carved from the training split with `cfg.split_seed`; the test
    split is the dataset's own (a fixed 20% hold-out for digits, `val/` for imagefolder).
    """
    cfg.validate()
    return _LOADERS[cfg.dataset](cfg)
