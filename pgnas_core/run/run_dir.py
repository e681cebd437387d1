"""The run directory: every file name, reading and writing its records (defined in
:mod:`.run_records`), and the one way to load a trained supernet back from it.

    out/  config.yaml  config_history.yaml  environment.json  summary.json
          history.csv  keep_probs.csv (the method's per-epoch tables)  checkpoints/
          candidates.csv  best.json  subnet/{arch.json, weights.pt}  subnet_finetuned/
          random/  (the same for each baseline method, in a folder named after it)

Every reader and writer of these files goes through this module.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch
import yaml

from ..config import RunConfig, config_changes
from ..errors import ConfigChanged, PgnasError, RunDirError
from ..methods import create_method
from ..rank import RowStore
from ..rank.candidates import RANKED_COLUMNS
from ..rank.export import SUBNET_META, SUBNET_WEIGHTS
from ..train import TrainingFiles, latest_checkpoint, load_checkpoint
from ..train.device import describe_device, resolve_device
from ..train.distributed import barrier, context
from .preflight import check_checkpoint_fits
from .run_records import (  # noqa: F401
    ARGMAX_V1,
    SUMMARY_VERSION,
    MethodResult,
    Summary,
    SupernetReport,
    Winner,
    _Record,
    _v1_method,
)

CONFIG_FILE = "config.yaml"
CONFIG_HISTORY_FILE = "config_history.yaml"  # every change of config.yaml, with its command
ENVIRONMENT_FILE = "environment.json"
SUMMARY_FILE = "summary.json"
HISTORY_FILE = "history.csv"
CHECKPOINT_DIR = "checkpoints"
CANDIDATES_FILE = "candidates.csv"
PARTIAL_FILE = "candidates.partial.csv"  # rows of an unfinished ranking
RACE_STATE_FILE = "candidates.race.pt"  # the race state of an unfinished ranking
PARTIAL_KEY_FILE = "candidates.partial.json"  # the settings an unfinished ranking was made with
BEST_FILE = "best.json"
CELL_FILE = "cell.txt"  # a cell space's derived cell, as the field writes it (best.json's cell)
SUBNET_DIR = "subnet"  # the exported winner, as ranked
SUBNET_FINETUNED_DIR = "subnet_finetuned"  # the winner after search.finetune_epochs
SUBNET_SCRATCH_DIR = "subnet_scratch"  # the winner's architecture trained from scratch


def table_file(name: str) -> str:
    """A method's per-epoch table (``keep_probs`` -> ``keep_probs.csv``)."""
    return f"{name}.csv"


# ---- records -----------------------------------------------------------------------------------
def read_json(path: Path) -> Any:
    """A JSON file of a run directory; one RunDirError for a missing or truncated one."""
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise RunDirError(f"{path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunDirError(
            f"{path} is truncated or not JSON ({e}): the run that wrote it "
            f"was interrupted; rerun its step (pgnas rank / pgnas search "
            f"--resume)"
        ) from None


def write_json(path: Path, obj) -> None:
    """Written to a temporary file and renamed: a reader never sees half a record."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


# ---- one method's outputs -----------------------------------------------------------------------
class MethodDir:
    """The files one method writes: the run's root for the main method, ``<name>/`` for a
    baseline."""

    def __init__(self, path: Path, method: str):
        self.path, self.method = Path(path), method

    history = property(lambda self: self.path / HISTORY_FILE)
    checkpoints = property(lambda self: self.path / CHECKPOINT_DIR)
    candidates = property(lambda self: self.path / CANDIDATES_FILE)
    best = property(lambda self: self.path / BEST_FILE)
    subnet = property(lambda self: self.path / SUBNET_DIR)
    subnet_finetuned = property(lambda self: self.path / SUBNET_FINETUNED_DIR)
    subnet_scratch = property(lambda self: self.path / SUBNET_SCRATCH_DIR)

    def table(self, name: str) -> Path:
        return self.path / table_file(name)

    def training_files(self, method) -> TrainingFiles:
        return TrainingFiles(
            self.history,
            self.checkpoints,
            {name: self.table(name) for name in method.epoch_table_names},
        )

    def ranking_store(self, rank: int = 0, world_size: int = 1) -> RowStore:
        """The resumable store of this method's ranking (one per rank under torchrun)."""

        def name(base: str) -> Path:
            if world_size == 1:
                return self.path / base
            stem, ext = base.rsplit(".", 1)
            return self.path / f"{stem}.rank{rank}of{world_size}.{ext}"

        return RowStore(
            name(PARTIAL_FILE), name(RACE_STATE_FILE), name(PARTIAL_KEY_FILE), RANKED_COLUMNS
        )

    def remove_ranking_stores(self) -> None:
        stem = PARTIAL_FILE.rsplit(".", 1)[0]
        for p in self.path.glob(f"{stem}*"):
            if ".stale" not in p.name:
                p.unlink(missing_ok=True)
        (self.path / RACE_STATE_FILE).unlink(missing_ok=True)
        for p in self.path.glob("candidates.race.rank*"):
            p.unlink(missing_ok=True)

    def read_winner(self) -> Winner:
        return Winner.from_dict(read_json(self.best))

    def write_winner(self, winner: Winner) -> None:
        write_json(self.best, winner.to_dict())

    def has_checkpoint(self) -> bool:
        return latest_checkpoint(self.checkpoints) is not None


# ---- the run ------------------------------------------------------------------------------------
class RunDir:
    """A run directory: its config, environment, summary and the folders of its methods."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / CONFIG_FILE)
    history_path = property(lambda self: self.path / CONFIG_HISTORY_FILE)
    environment_path = property(lambda self: self.path / ENVIRONMENT_FILE)
    summary_path = property(lambda self: self.path / SUMMARY_FILE)

    def method_dir(self, method: str, main: str | None = None) -> MethodDir:
        """Where ``method`` writes: the root for the run's main method, else ``<method>/``."""
        main = main or self.read_config().method.name
        return MethodDir(self.path if method == main else self.path / method, method)

    def is_run(self) -> bool:
        return self.config_path.is_file()

    # ---- config ---------------------------------------------------------------------------
    def read_config(self) -> RunConfig:
        """config.yaml as a validated RunConfig; RunDirError if there is none."""
        if not self.path.is_dir():
            raise RunDirError(f"run directory {self.path} does not exist")
        if not self.is_run():
            raise RunDirError(
                f"{self.path} is not a run directory (no {CONFIG_FILE}): make one "
                f"with `pgnas search --out {self.path}` or `pgnas train`"
            )
        return RunConfig.from_dict(self.read_config_dict()).validate()

    def read_config_dict(self) -> dict:
        try:
            d = yaml.safe_load(self.config_path.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as e:
            raise RunDirError(
                f"{self.config_path} is not readable YAML ({str(e).splitlines()[0]})"
                f": restore it, or start a new run"
            ) from None
        if not isinstance(d, dict):
            raise RunDirError(f"{self.config_path} holds no config (expected a mapping)")
        return d

    def write_config(self, cfg: RunConfig, command: str) -> None:
        """config.yaml describes the run that produced the files; each change is appended to
        config_history.yaml with the command that made it and the fields it changed."""
        old = _resolved(self.read_config_dict()) if self.is_run() else None
        changes = config_changes(old, cfg.to_dict(), ignore=()) if old is not None else None
        if old is not None and not changes:
            return
        entry = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "command": command}
        if changes is None:
            entry["config"] = "created"
        else:
            entry["changed"] = {k: {"from": a, "to": b} for k, a, b in changes}
        with open(self.history_path, "a") as f:
            f.write(yaml.safe_dump([entry], sort_keys=False))
        tmp = self.config_path.with_name(f".{CONFIG_FILE}.tmp{os.getpid()}")
        tmp.write_text(cfg.to_yaml())
        os.replace(tmp, self.config_path)

    def start(self, cfg: RunConfig, command: str) -> None:
        """Write the resolved config (and, for a new run, the environment); under torchrun,
        rank 0 writes and the others wait for it."""
        barrier()
        if context().is_main:
            self.path.mkdir(parents=True, exist_ok=True)
            self.write_config(cfg, command)
            if not self.environment_path.exists():
                self.write_environment(cfg)
        barrier()

    # ---- summary --------------------------------------------------------------------------
    def read_summary(self) -> Summary:
        if not self.summary_path.is_file():
            raise RunDirError(
                f"{self.path} holds no finished run (no {SUMMARY_FILE}): run "
                f"`pgnas search --out {self.path}` first"
            )
        return Summary.from_dict(read_json(self.summary_path))

    def write_summary(self, summary: Summary) -> None:
        write_json(self.summary_path, summary.to_dict())

    def write_environment(self, cfg: RunConfig) -> None:
        write_json(self.environment_path, environment_info(cfg))


def check_out_dir(out: Path, flag: str = "--out") -> None:
    """An ``--out`` that is a file, or a folder that cannot be created or written, is refused
    with one line before any work (and nothing is left behind by the check)."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"{flag} {out} is a file, not a directory: choose a folder")
    created = []
    try:
        for d in reversed([out, *out.parents]):
            if not d.exists():
                d.mkdir()
                created.append(d)
        probe = out / f".pgnas-write-test{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise RunDirError(
            f"{flag} {out} cannot be created or written ({e.strerror or e})"
        ) from None
    finally:
        for d in reversed(created):
            d.rmdir()


def open_run_dir(
    out: str | Path,
    cfg: RunConfig,
    resume: bool,
    force: bool = False,
    allowed_changes: tuple[str, ...] = (),
    existing_ok: bool = False,
) -> RunDir:
    """Check ``out`` before any work; :meth:`RunDir.start` writes into it afterwards.

    Never overwrites a run silently: a folder holding a run needs ``resume``; resuming with
    fields that change the numbers (other than ``allowed_changes`` prefixes, e.g. ``search.``
    for ``pgnas rank``) stops with the fields named, unless ``force``; a ``resume`` of a
    folder that holds no run says so, and a new run starts there. ``existing_ok``: a step
    that works on an existing run (``pgnas rank``).
    """
    run = RunDir(out)
    out = run.path
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file, not a directory: choose a folder")
    occupied = out.is_dir() and any(out.iterdir())
    if occupied and not (resume or existing_ok):
        raise PgnasError(
            f"run directory {out} already holds a run: resume it with --resume, "
            f"or choose another --out"
        )
    if occupied and not run.is_run():
        raise RunDirError(
            f"{out} is not empty but holds no run (no {CONFIG_FILE}): refusing "
            f"to write into it; choose another --out"
        )
    if run.is_run():
        _check_changes(run, cfg, force, allowed_changes)
    if context().is_main:
        check_out_dir(out)
        if resume and not occupied:
            print(
                f"pgnas: notice: {out} holds no run to resume; starting a new run there", flush=True
            )
    return run


def _check_changes(run: RunDir, cfg: RunConfig, force: bool, allowed: tuple[str, ...]) -> None:
    changes = [
        c
        for c in config_changes(_resolved(run.read_config_dict()), cfg.to_dict())
        if not c[0].startswith(allowed)
    ]
    if changes and not force:
        detail = ", ".join(f"{k} ({_short(a)} -> {_short(b)})" for k, a, b in changes)
        raise ConfigChanged(
            f"{run.path} was run with other settings: {detail}; set them back, "
            f"or pass --force to continue with the new ones (recorded in "
            f"{CONFIG_HISTORY_FILE})"
        )


def _resolved(d: dict) -> dict:
    """A config dict with every default filled in (as the run resolved it)."""
    try:
        return RunConfig.from_dict(d).to_dict()
    except PgnasError:
        return d


def _short(value) -> str:
    text = "unset" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def environment_info(cfg: RunConfig) -> dict:
    """What is needed to trust and redo a run: code version, library versions, hardware."""
    from .. import __version__
    from .provenance import code_version

    code = code_version()
    return {
        "pgnas": __version__,
        "git_commit": code["commit"],
        "git_dirty": code["dirty"],  # uncommitted changes to tracked files (None: unknown)
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": describe_device(resolve_device(cfg.train.device)),
        "seed": cfg.train.seed,
        "search_seed": cfg.search.seed,
    }


# ---- the trained supernet -----------------------------------------------------------------------
def load_supernet(
    run: str | Path | RunDir, method: str | None = None, device: str | torch.device | None = None
):
    """``(net, method)``: the newest checkpoint of ``method`` (default: the run's main method)
    in a run directory, as that method hands a trained net back (eval mode), and the method
    bound to the run's config. Ranking, ``pgnas export``, the experiment runners and the
    benchmarks all load through here."""
    run = run if isinstance(run, RunDir) else RunDir(run)
    cfg = run.read_config()
    name = method or cfg.method.name
    if name != cfg.method.name and name not in cfg.method.baselines:
        raise RunDirError(
            f"{run.path} has no {name} run (method {cfg.method.name}, "
            f"baselines {cfg.method.baselines or 'none'})"
        )
    where = run.method_dir(name, cfg.method.name)
    path = latest_checkpoint(where.checkpoints)
    if path is None:
        raise RunDirError(
            f"no checkpoint in {where.checkpoints}: train first (pgnas train --out {run.path})"
        )
    dev = torch.device(device) if device is not None else resolve_device(cfg.train.device)
    state = load_checkpoint(path, map_location=dev)
    check_checkpoint_fits(path, state, cfg, name)  # one line for another method's or net's
    m = create_method(name, cfg)
    net = m.create(state["supernet"]["options"]).to(dev)
    net.load_state_dict(state["model"])
    m.load_state_dict(state.get("method_state", {}))
    m.gate_for_evaluation(net)
    return net.eval(), m


def subnet_paths(folder: Path) -> tuple[Path, Path]:
    """(architecture record, weights) of an exported network's folder."""
    return Path(folder) / SUBNET_META, Path(folder) / SUBNET_WEIGHTS
