"""Where a notebook's study numbers come from: the committed reference results (the laptop
tier, made by ``pgnas study NAME --tier laptop --reference``), a run of a tier here, or a
study folder made elsewhere (``STUDY_DIR``: a cluster's paper-tier results drop in).

A reference folder holds only small tables: ``results.csv`` (tidy), ``study.json`` (the
command, commit, machine and date that made it), ``verdicts.csv`` (the claims' verdicts,
recomputed by the tests from ``results.csv``) and, where the study recorded them, the
evidence of :mod:`.evidence` (``test_correct.npz``, ``candidates.csv``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ...errors import ConfigError
from ..provenance import short
from .claims import verdicts
from .evidence import attach, load_evidence, of_table, write_evidence
from .record import STUDY_FILE
from .runner import RESULTS_FILE, run_study
from .spec import load_study

MODES = ("quick", "reference", "laptop", "paper")
MODE_ENV = "PGNAS_MODE"
VERDICTS_FILE = "verdicts.csv"


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def reference_root() -> Path:
    """``<repo>/results/reference``: one folder per study."""
    return repo_root() / "results" / "reference"


def notebook_mode(env: dict | None = None) -> str:
    """``quick`` under CI (or PGNAS_QUICK), else ``$PGNAS_MODE``, else ``reference``."""
    from ..experiments import quick_mode

    env = os.environ if env is None else env
    if quick_mode(env):
        return "quick"
    mode = env.get(MODE_ENV, "reference") or "reference"
    if mode not in MODES:
        raise ConfigError(MODE_ENV, mode, f"one of {', '.join(MODES)}")
    return mode


def load_study_folder(folder: str | Path) -> tuple[pd.DataFrame, dict]:
    """(tidy table, provenance) of a finished study folder."""
    folder = Path(folder)
    path = folder / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no {RESULTS_FILE} (run `pgnas study` first)")
    info = json.loads((folder / STUDY_FILE).read_text()) if (folder / STUDY_FILE).is_file() else {}
    return attach(pd.read_csv(path), load_evidence(folder)), info


def study_results(
    name: str,
    mode: str,
    study_dir: str | Path | None = None,
    runs_root: str | Path | None = None,
    jobs: int | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """(table, provenance) of study ``name`` in ``mode``: the reference results, a folder
    made elsewhere, or the tier run here (resumable; under ``runs_root/studies``)."""
    if study_dir is not None:
        return load_study_folder(study_dir)
    if mode not in MODES:
        raise ConfigError("MODE", mode, f"one of {', '.join(MODES)}")
    if mode == "reference":
        return load_study_folder(reference_root() / name)
    from ..experiments import default_runs_root

    root = Path(runs_root) if runs_root else default_runs_root() / "studies"
    out = root / f"{name}-{mode}"
    table = run_study(load_study(name), mode, out, jobs, progress)
    return table, json.loads((out / STUDY_FILE).read_text())


def publish_reference(folder: str | Path, name: str, dest: str | Path | None = None) -> Path:
    """Copy a finished study's tables (not its runs) to the reference folder, with the
    claims' verdicts."""
    table, info = load_study_folder(folder)
    dest = Path(dest or reference_root() / name)
    dest.mkdir(parents=True, exist_ok=True)
    table.to_csv(dest / RESULTS_FILE, index=False)
    (dest / STUDY_FILE).write_text(json.dumps(info, indent=1))
    write_evidence(dest, of_table(table))
    verdicts(table, name).to_csv(dest / VERDICTS_FILE, index=False)
    return dest


def provenance_line(info: dict) -> str:
    if not info:
        return "(no provenance recorded)"
    commits = sorted({short(s.get("commit")) for s in info.get("starts") or [info]})
    code = f"commit{'s' if len(commits) > 1 else ''} {', '.join(commits)}"
    code += " with uncommitted changes" if info.get("dirty") else ""
    return (
        f"study {info.get('study')} ({info.get('tier')} tier), made by `{info.get('command')}` "
        f"at {code} on {info.get('machine')}, {info.get('date')}"
    )
