"""Fashion-MNIST in torchvision's layout, filled from Debian's `dataset-fashion-mnist` if needed."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

from pgnas_core.errors import DataError, DatasetNotFoundError

from .config import DataConfig
from .info import DatasetInfo
from .splits import DataSplits, tensor_splits
from .tensor_dataset import Augment, TensorImageDataset

INFO = DatasetInfo("fashion-mnist", 10, 1, (28, 28), (0.2860,), (0.3530,))

# Where Debian's package `dataset-fashion-mnist` installs the gzip'd IDX files.
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def ensure_raw_files(root: Path, download: bool, debian_dir: Path | None = None) -> Path:
    """Make sure `root/FashionMNIST/raw/` holds the four IDX files; return that folder.

    Debian recompressed the .gz files, so torchvision's MD5 check rejects them: we decompress
    them ourselves into the folder torchvision reads from.
    """
    debian_dir = DEBIAN_DIR if debian_dir is None else debian_dir
    raw = root / "FashionMNIST" / "raw"
    if all((raw / name).is_file() for name in RAW_FILES):
        return raw
    if all((debian_dir / f"{name}.gz").is_file() for name in RAW_FILES):
        try:
            raw.mkdir(parents=True, exist_ok=True)
            for name in RAW_FILES:
                tmp = raw / f"{name}.tmp{os.getpid()}"
                with gzip.open(debian_dir / f"{name}.gz", "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                tmp.replace(raw / name)  # atomic: a concurrent reader never sees half a file
        except OSError as e:
            raise DataError(
                f"cannot unpack Fashion-MNIST into {raw} ({e}); set data.root to a writable folder"
            ) from e
        return raw
    if download:
        return raw  # torchvision downloads into it
    raise DatasetNotFoundError(
        f"Fashion-MNIST not found: looked in {raw} and {debian_dir}; install it with "
        f"`apt-get install dataset-fashion-mnist`, or with a network pass --set data.download=true"
    )


def load_fashion_mnist_splits(cfg: DataConfig, debian_dir: Path | None = None) -> DataSplits:
    from torchvision.datasets import FashionMNIST

    root = cfg.resolved_root()
    ensure_raw_files(root, cfg.download, debian_dir)
    try:
        train = FashionMNIST(str(root), train=True, download=cfg.download)
        test = FashionMNIST(str(root), train=False, download=cfg.download)
    except (RuntimeError, OSError) as e:
        raise DatasetNotFoundError(
            f"Fashion-MNIST could not be loaded or downloaded into {root}: {e}"
        ) from e
    except Exception as e:  # torchvision asserts on files that are not IDX files
        raw = root / "FashionMNIST" / "raw"
        raise DataError(
            f"{raw} holds files that are not Fashion-MNIST IDX files "
            f"({type(e).__name__}{': ' + str(e) if str(e) else ''}); expected "
            f"{', '.join(RAW_FILES)}: remove them to refill from Debian's package"
        ) from None
    for split, ds in (("train", train), ("t10k", test)):
        if len(ds.data) != len(ds.targets):
            raise DataError(
                f"{root / 'FashionMNIST' / 'raw'}: {split}-images holds {len(ds.data)} images "
                f"but {split}-labels {len(ds.targets)} labels; remove the raw files to refill "
                f"them from Debian's package"
            )
    if len(train.data) == 0 or train.data.shape[1:] != (28, 28):
        raise DataError(
            f"{root / 'FashionMNIST' / 'raw'} holds images of shape "
            f"{tuple(train.data.shape[1:])}, not Fashion-MNIST's 28x28"
        )

    pool = TensorImageDataset(
        train.data, train.targets, INFO.mean, INFO.std
    )  # data: (N, 28, 28) uint8
    test_ds = TensorImageDataset(test.data, test.targets, INFO.mean, INFO.std)
    augment = Augment(pad=2, flip=True, cutout=cfg.resolved_cutout()) if cfg.augment else None
    return tensor_splits(pool, test_ds, cfg, augment, INFO)
