"""CIFAR-10/100 from torchvision's python-pickle layout under the data root.

We read the pickles ourselves rather than through torchvision's CIFAR classes: those insist
on the official files' MD5 sums, which a local copy or a test stand-in of the same format fails.
torchvision is used only to download, when asked. The pickles go through a restricted
unpickler (``safe_pickle``): a crafted file in a data root cannot run code.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from pgnas_core.errors import DataError, DatasetNotFoundError

from .config import DataConfig
from .info import DatasetInfo
from .safe_pickle import ForbiddenGlobal, load_restricted
from .splits import DataSplits, tensor_splits
from .tensor_dataset import Augment, TensorImageDataset

INFO = {
    "cifar10": DatasetInfo(
        "cifar10", 10, 3, (32, 32), (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    ),
    "cifar100": DatasetInfo(
        "cifar100", 100, 3, (32, 32), (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
    ),
}
# name -> (folder under root, train files, test files, label key)
LAYOUT = {
    "cifar10": (
        "cifar-10-batches-py",
        [f"data_batch_{i}" for i in range(1, 6)],
        ["test_batch"],
        "labels",
    ),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "fine_labels"),
}
_ARCHIVE = {"cifar10": "cifar-10-python.tar.gz", "cifar100": "cifar-100-python.tar.gz"}


def read_batches(
    files: list[Path], label_key: str, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) long from CIFAR pickle batch files."""
    images, labels = [], []
    for path in files:
        try:
            with open(path, "rb") as f:
                entry = load_restricted(f)
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
            detail = str(e) if isinstance(e, ForbiddenGlobal) else f"{type(e).__name__}: {e}"
            raise DataError(
                f"{path} is not a CIFAR batch (a Python pickle of 'data' and "
                f"{label_key!r}): {detail}"
            ) from None
        if not isinstance(entry, dict) or "data" not in entry or label_key not in entry:
            raise DataError(
                f"{path} is not a CIFAR batch: expected a dict with 'data' and {label_key!r}"
            )
        data = np.asarray(entry["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DataError(
                f"{path} is not a CIFAR batch: expected 'data' of shape (N, 3072) and {label_key!r}"
            )
        images.append(data.reshape(-1, 3, 32, 32))  # rows are stored channel-major: (N, C, H, W)
        labels.extend(entry[label_key])
    x, y = torch.from_numpy(np.concatenate(images)), torch.tensor(labels, dtype=torch.long)
    if len(x) != len(y) or (len(y) and (y.min() < 0 or y.max() >= num_classes)):
        raise DataError(f"labels in {files[0].parent} do not fit {num_classes} classes")
    return x, y


def load_cifar_splits(cfg: DataConfig) -> DataSplits:
    info = INFO[cfg.dataset]
    folder, train_files, test_files, label_key = LAYOUT[cfg.dataset]
    root = cfg.resolved_root()
    base = root / folder
    if not all((base / f).is_file() for f in train_files + test_files):
        if not cfg.download:
            raise DatasetNotFoundError(
                f"{cfg.dataset} not found: looked for {', '.join(train_files + test_files)} "
                f"in {base}; extract {_ARCHIVE[cfg.dataset]} "
                f"(https://www.cs.toronto.edu/~kriz/cifar.html) into {root}, "
                f"or with a network pass --set data.download=true"
            )
        import torchvision.datasets as tvd

        cls = tvd.CIFAR10 if cfg.dataset == "cifar10" else tvd.CIFAR100
        try:
            cls(str(root), train=True, download=True)
        except (RuntimeError, OSError) as e:
            raise DatasetNotFoundError(
                f"{cfg.dataset} could not be downloaded into {root}: {e}"
            ) from e

    x, y = read_batches([base / f for f in train_files], label_key, info.num_classes)
    pool = TensorImageDataset(x, y, info.mean, info.std)
    x, y = read_batches([base / f for f in test_files], label_key, info.num_classes)
    test = TensorImageDataset(x, y, info.mean, info.std)

    augment = Augment(pad=4, flip=True, cutout=cfg.resolved_cutout()) if cfg.augment else None
    return tensor_splits(pool, test, cfg, augment, info)
