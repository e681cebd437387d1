"""Checks that run before a command writes its first file into a run directory, and the
guards that leave nothing behind when a command fails anyway.

A refused command changes nothing: the device, the data and every checkpoint the command
will continue from (readable, of this method, of this supernet) are checked before
config.yaml is written. A new run that fails before its first checkpoint is removed, so a
corrected rerun into the same ``--out`` starts cleanly.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from ..errors import CheckpointError, ConfigChanged, RunDirError
from ..methods.base import supernet_options
from ..train import latest_checkpoint, load_checkpoint
from ..train.distributed import context

#: Construction options the data decides (the dataset's channels and classes).
DATA_OPTIONS = ("in_channels", "num_classes")


def check_checkpoint_fits(path: Path, state: dict, cfg, method: str, info=None) -> None:
    """Refuse, with one line, a checkpoint of another method or of another supernet than
    ``cfg`` builds (``info``: the dataset's; without it, the options the data decides are
    not compared)."""
    found = state.get("method")
    if found is not None and found != method:
        raise RunDirError(
            f"checkpoint {path} is a {found} run, not {method}: it belongs to another run; "
            f"move it out of {path.parent}, or use method.name={found}"
        )
    saved = state.get("supernet") or {}
    name, options = saved.get("name"), _plain(saved.get("options") or {})
    want = _plain(supernet_options(cfg, info) if info is not None else cfg.supernet.options)
    if info is None:  # compare what the config sets; the data's numbers are not known here
        options = {k: v for k, v in options.items() if k not in DATA_OPTIONS or k in want}
    if name != cfg.supernet.name or options != want:
        raise RunDirError(
            f"checkpoint {path} is of another supernet ({name} {_brief(options)}) than the "
            f"run's config ({cfg.supernet.name} {_brief(want)}): move it out of "
            f"{path.parent}, or set supernet.* back to what it was trained with"
        )


def check_checkpoints(run, cfg, names, info=None) -> None:
    """Every newest checkpoint the command will continue from, read and checked now."""
    for name in names:
        path = latest_checkpoint(run.method_dir(name, cfg.method.name).checkpoints)
        if path is not None:
            state = load_checkpoint(path, map_location="cpu")
            check_checkpoint_fits(path, state, cfg, name, info)


@contextmanager
def removed_if_failed(out: Path):
    """A run started here in an empty or new folder is removed again when the command fails
    before any checkpoint exists (a corrected rerun can use the folder); a run that
    checkpointed stays, to be resumed."""
    out = Path(out)
    created = [d for d in (out, *out.parents) if not d.exists()]
    fresh = bool(created) or (out.is_dir() and not any(out.iterdir()))
    try:
        yield
    except BaseException:
        if fresh and context().is_main and out.is_dir() and not _has_checkpoint(out):
            _remove_contents(out)
            for d in created:  # innermost first; only folders this command made
                if d.is_dir() and not any(d.iterdir()):
                    d.rmdir()
        raise


@contextmanager
def restored_if_refused(run, enabled: bool = True):
    """config.yaml and config_history.yaml as they were when a step that only re-derives
    (``pgnas rank``) is refused (e.g. by an unfinished ranking's saved settings)."""
    if not enabled:
        yield
        return
    paths = (run.config_path, run.history_path)
    saved = {p: p.read_bytes() if p.is_file() else None for p in paths}
    try:
        yield
    except (ConfigChanged, RunDirError, CheckpointError):
        if context().is_main:
            for p, data in saved.items():
                if data is None:
                    p.unlink(missing_ok=True)
                elif not p.is_file() or p.read_bytes() != data:
                    p.write_bytes(data)
        raise


def _has_checkpoint(out: Path) -> bool:
    return any(out.rglob("checkpoints/epoch_*.pt"))


def _remove_contents(out: Path) -> None:
    for p in out.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _plain(value):
    """Tuples as lists, recursively: options from YAML and from a checkpoint compare equal."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _brief(options: dict) -> str:
    text = str(options) if options else "{default options}"
    return text if len(text) <= 80 else text[:77] + "..."
