"""ImageNet-style folders: `root/train/<class>/*.jpg` and `root/val/<class>/*.jpg`.

`val/` is used as the TEST split (as ImageNet papers do); our validation split is carved from
`train/`, so the architecture search never sees the images it is finally scored on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset

from pgnas_core.errors import DataError, DatasetNotFoundError

from .config import DataConfig
from .info import DatasetInfo
from .splits import DataSplits, carve_test, carve_train_val
from .tensor_dataset import cutout

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class FolderSubset(Dataset):
    """Some samples of a scanned ImageFolder, with their own transform.

    Lets the train and validation splits share one directory scan (slow on ImageNet).
    """

    def __init__(self, folder, indices: torch.Tensor, transform: Callable):
        self.folder, self.indices, self.transform = folder, indices.tolist(), transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        path, label = self.folder.samples[self.indices[i]]
        try:
            image = self.folder.loader(path)
        except OSError as e:  # PIL's UnidentifiedImageError, truncated files, unreadable ones
            raise DataError(f"cannot read image {path}: {e}; remove or replace it") from None
        return self.transform(image), label


class Cutout:
    """Transform wrapper around `cutout` for torchvision pipelines."""

    def __init__(self, size: int):
        self.size = size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return cutout(x, self.size)


def transforms_for(image_size: int, train: bool, cutout_size: int = 0):
    """Standard ImageNet transforms: RandomResizedCrop + flip for training; resize to
    image_size * 256/224 and centre-crop for evaluation."""
    from torchvision import transforms as T

    normalize = [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    if train:
        steps = [T.RandomResizedCrop(image_size), T.RandomHorizontalFlip(), *normalize]
        if cutout_size:
            steps.append(Cutout(cutout_size))
        return T.Compose(steps)
    return T.Compose([T.Resize(int(image_size * 256 / 224)), T.CenterCrop(image_size), *normalize])


def _scan(path: Path):
    from torchvision.datasets import ImageFolder

    try:
        return ImageFolder(str(path))
    except FileNotFoundError as e:  # no class folders, or no image files in them
        raise DataError(f"no images found in {path}: {e}") from e


def load_imagefolder_splits(cfg: DataConfig) -> DataSplits:
    root = cfg.resolved_root()
    train_dir, test_dir = root / "train", root / "val"
    if not (train_dir.is_dir() and test_dir.is_dir()):
        raise DatasetNotFoundError(
            f"image folders not found: expected {train_dir}/<class>/*.jpg and "
            f"{test_dir}/<class>/*.jpg "
            f"(ImageNet layout); set data.root to the folder that holds train/ and val/"
        )
    train_folder, test_folder = _scan(train_dir), _scan(test_dir)
    if train_folder.classes != test_folder.classes:
        raise DataError(
            f"{train_dir} and {test_dir} have different class folders "
            f"({len(train_folder.classes)} vs {len(test_folder.classes)})"
        )

    train_idx, val_idx = carve_train_val(len(train_folder), cfg)
    test_idx = carve_test(len(test_folder), cfg)
    eval_tf = transforms_for(cfg.image_size, train=False)
    train_tf = (
        transforms_for(cfg.image_size, train=True, cutout_size=cfg.resolved_cutout())
        if cfg.augment
        else eval_tf
    )
    info = DatasetInfo(
        "imagefolder",
        len(train_folder.classes),
        3,
        (cfg.image_size, cfg.image_size),
        IMAGENET_MEAN,
        IMAGENET_STD,
    )
    return DataSplits(
        train=FolderSubset(train_folder, train_idx, train_tf),
        val=FolderSubset(train_folder, val_idx, eval_tf),
        test=FolderSubset(test_folder, test_idx, eval_tf),
        info=info,
    )
