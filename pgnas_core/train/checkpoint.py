"""Checkpoints: written atomically, read with ``weights_only=True`` (no arbitrary pickle).

``epoch_0003.pt`` is written at the end of epoch 3; ``epoch_0004_step_000120.pt`` inside
epoch 4 after 120 of its optimisation steps (``train.checkpoint_every_steps``).
"""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import numpy as np
import torch

from ..errors import CheckpointError

_PATTERN = re.compile(r"^epoch_(\d+)(?:_step_(\d+))?\.pt$")

#: The layout of a checkpoint's contents; a checkpoint of another layout is refused with a
#: message rather than half-loaded. 2: the method interface (``method`` names a registered
#: search method, ``supernet`` holds the resolved construction options).
CHECKPOINT_FORMAT = 2


def atomic_save(obj, path: Path) -> None:
    """Save to a temporary file in the same folder, flush it to disk, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def _position(name: str) -> tuple[int, float] | None:
    """(epoch, steps done in it) of a checkpoint file name; an epoch end sorts last."""
    m = _PATTERN.match(name)
    if not m:
        return None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) is not None else float("inf"))


def epoch_checkpoints(folder: Path) -> list[Path]:
    """Checkpoints in ``folder`` (epoch ends and mid-epoch ones), oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(pos, p) for p in folder.iterdir() if (pos := _position(p.name)) is not None]
    return [p for _, p in sorted(found)]


def checkpoint_name(epoch: int, step: int | None = None) -> str:
    return f"epoch_{epoch:04d}.pt" if step is None else f"epoch_{epoch:04d}_step_{step:06d}.pt"


def save_epoch_checkpoint(
    state: dict, folder: Path, epoch: int, keep: int = 2, step: int | None = None
) -> Path:
    """Write ``state`` as the checkpoint of ``epoch`` (or of ``step`` steps into it) and
    delete all but the newest ``keep`` checkpoints."""
    path = Path(folder) / checkpoint_name(epoch, step)
    atomic_save({"format": CHECKPOINT_FORMAT, **state}, path)
    for old in epoch_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """A checkpoint's contents; one clear CheckpointError for a missing, truncated or
    corrupted file, one that is not a pgnas checkpoint, or one of another format."""
    path = Path(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(state, dict) or "model" not in state:
            raise ValueError("not a pgnas checkpoint")
    except Exception as e:  # missing, truncated, corrupted or not a checkpoint
        older = [p for p in epoch_checkpoints(path.parent) if p != path]
        hint = (
            f"; an older one exists: {older[-1]} (delete {path.name} to resume from it)"
            if older
            else "; no older checkpoint exists: start the run again"
        )
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({type(e).__name__}: "
            f"{str(e).splitlines()[0][:120] if str(e) else 'truncated or corrupted'}){hint}"
        ) from e
    found = state.get("format")
    if found != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path} was written by another version of pgnas (checkpoint format "
            f"{found if found is not None else 1}, this version reads format "
            f"{CHECKPOINT_FORMAT}): rerun the training with this version, or use the pgnas "
            f"that wrote it"
        )
    return state


def latest_checkpoint(folder: Path) -> Path | None:
    found = epoch_checkpoints(folder)
    return found[-1] if found else None


# ---- random generator states (as tensors and plain values: loadable with weights_only) ----
def rng_states() -> dict:
    """Every random generator's state: torch CPU, every CUDA device, ``random`` and numpy."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    out = {
        "torch_cpu": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["torch_cuda"] = torch.cuda.get_rng_state_all()
    return out


def set_rng_states(state: dict) -> None:
    torch.set_rng_state(state["torch_cpu"].cpu())
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state(
        (
            n["name"],
            n["keys"].cpu().numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached"],
        )
    )
    cuda = state.get("torch_cuda")
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])
