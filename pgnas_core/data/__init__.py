"""Datasets for the search: seeded train/val/test splits as (C, H, W) float tensors, int labels."""

from .config import DATASETS, DataConfig
from .info import DatasetInfo
from .load import load_data
from .loader import make_loader, stack_split
from .splits import DataSplits
from .tensor_dataset import Augment, TensorImageDataset

__all__ = [
    "DATASETS",
    "Augment",
    "DataConfig",
    "DataSplits",
    "DatasetInfo",
    "TensorImageDataset",
    "load_data",
    "make_loader",
    "stack_split",
]
