"""What data to load and how to batch it: one frozen, validated config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pgnas_core.errors import DatasetNotFoundError
from pgnas_core.settings import SEED_MAX, Range, check_settings, setting

# Names accepted by `DataConfig.dataset`, in the order the docs list them.
DATASETS: tuple[str, ...] = ("digits", "fashion-mnist", "cifar10", "cifar100", "imagefolder")

# Cutout side length used when `cutout` is None (the paper uses 16 on CIFAR, as DARTS does).
_DEFAULT_CUTOUT = {"cifar10": 16, "cifar100": 16}


def _is_root(v) -> bool:
    return isinstance(v, (str, os.PathLike))


COUNT_MAX = 10**9  # images in a split or subset


@dataclass(frozen=True)
class DataConfig:
    """What data to load, how it is split and how it is batched."""

    dataset: str = setting("fashion-mnist", "the dataset", choices=DATASETS)
    root: str | None = setting(
        None,
        "where datasets live",
        null="$PGNAS_DATA, else ~/.cache/pgnas/data",
        allowed="a path",
        check=_is_root,
    )
    download: bool = setting(False, "let torchvision download a missing dataset (needs a network)")
    val_size: int = setting(
        5000,
        "images carved from the training split (seeded) for validation",
        bounds=Range(1, COUNT_MAX),
    )
    train_size: int | None = setting(
        None,
        "a seeded subset of the training pool left after validation",
        bounds=Range(1, COUNT_MAX),
        null="all of it",
    )
    test_size: int | None = setting(
        None, "a seeded subset of the test split", bounds=Range(1, COUNT_MAX), null="all of it"
    )
    augment: bool = setting(True, "augment the training split (val and test never are)")
    cutout: int | None = setting(
        None,
        "cutout side in pixels (0: off)",
        bounds=Range(0, 4096),
        null="16 on cifar10/cifar100, else off",
    )
    image_size: int = setting(
        224,
        "square input side for imagefolder (other datasets have a fixed size)",
        bounds=Range(8, 4096),
    )
    split_seed: int = setting(
        0,
        "seeds the val/train/test carving, independent of the training seed",
        bounds=Range(0, SEED_MAX),
    )
    batch_size: int = setting(128, "training batch size", bounds=Range(1, 10**6))
    eval_batch_size: int = setting(
        1000, "batch size of validation, test and ranking", bounds=Range(1, 10**6)
    )
    num_workers: int = setting(
        0, "DataLoader worker processes (0: load in the main process)", bounds=Range(0, 1024)
    )
    device_loader: bool = setting(
        False, "keep the training split on the device and augment batches there"
    )

    def validate(self) -> DataConfig:
        """Raise ConfigError naming `data.<field>` for the first bad value; return self."""
        check_settings(self, "data")
        return self

    def resolved_root(self) -> Path:
        """The data root: `root`, else $PGNAS_DATA, else ~/.cache/pgnas/data. A root the user
        named must exist (unless downloading into it); the default one is created."""
        root = Path(self.root or os.environ.get("PGNAS_DATA") or "~/.cache/pgnas/data").expanduser()
        if self.root is not None and not self.download and self.dataset != "digits":
            if not root.exists():
                raise DatasetNotFoundError(
                    f"data.root {root} does not exist: point it at the "
                    f"folder that holds {self.dataset} (or leave it "
                    f"unset for the default cache)"
                )
            if not root.is_dir():
                raise DatasetNotFoundError(f"data.root {root} is a file, not a folder")
        return root

    def resolved_cutout(self) -> int:
        """The cutout side in pixels, with the dataset's default filled in (0 = off)."""
        return _DEFAULT_CUTOUT.get(self.dataset, 0) if self.cutout is None else self.cutout
