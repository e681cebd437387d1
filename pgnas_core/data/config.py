"""What data to load and how to batch it: one frozen, validated config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pgnas_core.errors import ConfigError, DatasetNotFoundError, unknown_name

# Names accepted by `DataConfig.dataset`, in the order the docs list them.
DATASETS: tuple[str, ...] = ("digits", "fashion-mnist", "cifar10", "cifar100", "imagefolder")

# Cutout side length used when `cutout` is None (the paper uses 16 on CIFAR, as DARTS does).
_DEFAULT_CUTOUT = {"cifar10": 16, "cifar100": 16}


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "fashion-mnist"  # one of DATASETS
    root: str | None = None  # where datasets live; None -> $PGNAS_DATA, else ~/.cache/pgnas/data
    download: bool = False  # let torchvision download a missing dataset (needs a network)
    val_size: int = 5000  # images carved from the TRAIN split (seeded) for validation
    train_size: int | None = None  # seeded subset of the training pool left after val; None = all
    test_size: int | None = None  # seeded subset of the test split; None = all
    augment: bool = True  # augment the training split (val and test never are)
    cutout: int | None = None  # cutout side in pixels; None -> 16 for cifar, 0 (off) otherwise
    image_size: int = 224  # square input side for imagefolder (other datasets have a fixed size)
    split_seed: int = 0  # seeds the val/train/test carving, independent of the training seed
    batch_size: int = 128  # training batch size
    eval_batch_size: int = 1000  # batch size for validation and test
    num_workers: int = 0  # DataLoader worker processes (0 = load in the main process)
    device_loader: bool = False  # keep the training split on the device, augment batches there

    def validate(self) -> DataConfig:
        """Raise ConfigError naming `data.<field>` for the first bad value; return self."""
        if self.dataset not in DATASETS:
            raise unknown_name("data.dataset", self.dataset, DATASETS)
        if self.root is not None and not isinstance(self.root, (str, os.PathLike)):
            raise ConfigError("data.root", self.root, "a path or null")
        for name in ("download", "augment", "device_loader"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"data.{name}", getattr(self, name), "true or false")
        _check_int("val_size", self.val_size, minimum=1)
        _check_int("train_size", self.train_size, minimum=1, optional=True)
        _check_int("test_size", self.test_size, minimum=1, optional=True)
        _check_int("cutout", self.cutout, minimum=0, optional=True)
        _check_int("image_size", self.image_size, minimum=8)
        _check_int("split_seed", self.split_seed, minimum=0)
        _check_int("batch_size", self.batch_size, minimum=1)
        _check_int("eval_batch_size", self.eval_batch_size, minimum=1)
        _check_int("num_workers", self.num_workers, minimum=0)
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


def _check_int(name: str, value: object, minimum: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        allowed = f"an integer >= {minimum}" + (" or null" if optional else "")
        raise ConfigError(f"data.{name}", value, allowed)
