"""Checkpoints: written atomically, read with ``weights_only=True`` (no arbitrary pickle)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from .errors import PgnasError

_PATTERN = re.compile(r"epoch_(\d+)\.pt$")


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


def epoch_checkpoints(folder: Path) -> list[Path]:
    """Epoch checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _PATTERN.search(p.name))]
    return [p for _, p in sorted(found)]


def save_epoch_checkpoint(state: dict, folder: Path, epoch: int, keep: int = 2) -> Path:
    path = Path(folder) / f"epoch_{epoch:04d}.pt"
    atomic_save(state, path)
    for old in epoch_checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated, corrupted or not a checkpoint
        older = [p for p in epoch_checkpoints(path.parent) if p != path]
        hint = f"; an older one exists: {older[-1]}" if older else ""
        raise PgnasError(f"checkpoint {path} cannot be read ({type(e).__name__}){hint}") from e


def latest_checkpoint(folder: Path) -> Path | None:
    found = epoch_checkpoints(folder)
    return found[-1] if found else None
