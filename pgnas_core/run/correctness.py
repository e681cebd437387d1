"""Which test images each reported net gets right: one packed bit per image and net.

Beside ``best.json`` every method's folder gets ``test_correct.npz``: one key per net that
a run reports an accuracy of on the test split (``supernet``, ``winner``, ``finetuned``,
``scratch``), each ``np.packbits`` of the top-1 correctness in the test split's fixed order
(the order :func:`pgnas_core.data.stack_split` gives), plus ``images`` (how many) and
``digest`` (a hash of the test images and labels: two files are comparable image by image
only when their digests agree). The mean of a net's bits is exactly its reported accuracy.
This is what the studies' intervals over test images are computed from (docs/statistics.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

CORRECT_FILE = "test_correct.npz"
#: net -> the metric of a study's table (study.metrics) that is its accuracy
NET_METRICS = {
    "supernet": "supernet_test_acc",
    "winner": "test_acc",
    "finetuned": "test_acc_finetuned",
    "scratch": "test_acc_scratch",
}
_META = ("images", "digest")


def test_digest(x: torch.Tensor, y: torch.Tensor) -> str:
    """A short hash of the test split's images and labels, in order."""
    h = hashlib.sha1(x.detach().cpu().contiguous().numpy().tobytes())
    h.update(y.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_correct(path: str | Path, nets: dict, digest: str = "") -> Path:
    """Write ``nets`` (name -> bool array of one test split) packed, atomically."""
    arrays = {k: np.asarray(v, dtype=bool) for k, v in nets.items()}
    sizes = {len(v) for v in arrays.values()}
    if len(sizes) > 1:
        raise ValueError(f"nets scored on test splits of different sizes: {sorted(sizes)}")
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(
        tmp,
        images=np.int64(sizes.pop() if sizes else 0),
        digest=np.str_(digest),
        **{k: np.packbits(v) for k, v in arrays.items()},
    )
    tmp.replace(path)
    return path


def load_correct(path: str | Path) -> dict[str, np.ndarray]:
    """name -> bool array (one entry per test image) of a ``test_correct.npz``."""
    with np.load(Path(path)) as f:
        n = int(f["images"])
        return {k: np.unpackbits(f[k], count=n).astype(bool) for k in f.files if k not in _META}


def correct_digest(path: str | Path) -> str:
    with np.load(Path(path)) as f:
        return str(f["digest"])
