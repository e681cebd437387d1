"""Run a study: every (configuration, seed) of a tier as its own search, several at a time.

Each run is a ``python -m pgnas_core.run.study.job`` subprocess with one torch thread
(two 2-thread processes on 2 cores slow each other down badly) writing ``runs/<job>/`` under
the study folder: the search (resumed if it was interrupted), its analyses, then
``metrics.json`` last -- a run with that file is finished and never redone. The children
die with the parent (Linux), so after a kill -9 a rerun starts cleanly where it stopped.
The study folder gets ``results.csv`` (one row per run, method and metric) and
``study.json`` (the spec, the command, the commit, the machine and the date).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ...errors import PgnasError
from .evidence import attach, collect_evidence
from .spec import Job, StudySpec

RESULTS_FILE, STUDY_FILE, METRICS_FILE = "results.csv", "study.json", "metrics.json"
#: Tests stop a study after this many finished runs, as a kill -9 would (a deterministic hook).
KILL_AFTER_ENV = "PGNAS_STUDY_KILL_AFTER"


def default_jobs() -> int:
    """One run per core: each gets one thread."""
    return max(1, os.cpu_count() or 1)


def run_study(
    spec: StudySpec,
    tier: str,
    out: str | Path,
    jobs: int | None = None,
    progress: bool = True,
    command: str | None = None,
) -> pd.DataFrame:
    """Run (or finish) every run of ``spec`` at ``tier`` under ``out``; return the tidy table
    (also written to ``out/results.csv``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_same_study(out, spec, tier)
    write_provenance(out, spec, tier, command)
    todo = [j for j in spec.jobs(tier) if not (run_path(out, j) / METRICS_FILE).is_file()]
    kill_after = int(os.environ.get(KILL_AFTER_ENV, "0") or 0)
    failures = []
    with ThreadPoolExecutor(max_workers=jobs or default_jobs()) as pool:
        futures = {pool.submit(_run_job, spec, tier, out, j): j for j in todo}
        bar = tqdm(total=len(todo), desc=f"study {spec.name} ({tier})", disable=not progress)
        for done, f in enumerate(as_completed(futures), 1):
            job = futures[f]
            code, log = f.result()
            if code != 0:
                failures.append(f"{job.name} (exit {code}; see {log})")
            bar.update(1)
            if kill_after and done >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        bar.close()
    if failures:
        raise PgnasError(f"study {spec.name}: {len(failures)} runs failed: {'; '.join(failures)}")
    return collect(out, spec, tier)


def run_path(out: Path, job: Job) -> Path:
    return Path(out) / "runs" / job.name


def _run_job(spec: StudySpec, tier: str, out: Path, job: Job) -> tuple[int, Path]:
    t = spec.tier(tier)
    where = run_path(out, job)
    where.parent.mkdir(parents=True, exist_ok=True)
    log = where.parent / f"{job.name}.log"
    args = [sys.executable, "-m", "pgnas_core.run.study.job", str(where), "--preset", t.preset]
    for o in job.overrides:
        args += ["--set", o]
    args += ["--analyses", ",".join(spec.analyses), "--settings", json.dumps(t.analysis)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env.pop(KILL_AFTER_ENV, None)
    with open(log, "a") as f:
        proc = subprocess.run(
            args, env=env, stdout=f, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
        )
    return proc.returncode, log


def _die_with_parent() -> None:
    """In the child: be killed when the study process dies (Linux prctl; elsewhere nothing)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def collect(out: Path, spec: StudySpec, tier: str) -> pd.DataFrame:
    """The tidy table of every finished run: study, tier, configuration (its label and one
    column per grid field), seed, method, metric, value."""
    rows = []
    for job in spec.jobs(tier):
        path = run_path(out, job) / METRICS_FILE
        if not path.is_file():
            continue
        for r in json.loads(path.read_text()):
            rows.append(
                {
                    "study": spec.name,
                    "tier": tier,
                    "config": job.point.label,
                    **{k: v for k, v in job.point.values.items()},
                    "seed": job.seed,
                    **r,
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(out / RESULTS_FILE, index=False)
    done = [(run_path(out, j), j.point.label, j.seed) for j in spec.jobs(tier)]
    done = [d for d in done if (d[0] / METRICS_FILE).is_file()]
    return attach(table, collect_evidence(out, done))  # per-image bits, every candidate


def write_provenance(out: Path, spec: StudySpec, tier: str, command: str | None) -> None:
    info = {
        "study": spec.name,
        "tier": tier,
        "command": command or f"pgnas study {spec.name} --tier {tier} --out {out}",
        "commit": _commit(),
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "spec": spec.to_dict(),
    }
    (out / STUDY_FILE).write_text(json.dumps(info, indent=1))


def _check_same_study(out: Path, spec: StudySpec, tier: str) -> None:
    path = out / STUDY_FILE
    if not path.is_file():
        return
    old = json.loads(path.read_text())
    if old.get("study") != spec.name or old.get("tier") != tier:
        raise PgnasError(
            f"{out} holds study {old.get('study')} ({old.get('tier')}), not {spec.name} "
            f"({tier}): use another --out"
        )
    if old.get("spec") != spec.to_dict():
        raise PgnasError(
            f"{out}: study {spec.name} changed since its runs were made; use another --out "
            "or remove the folder"
        )


def machine() -> str:
    import torch

    from ...train.precision import bf16_capability

    cores = os.cpu_count()
    return (
        f"{platform.machine()} {platform.system()}, {cores} cores, torch {torch.__version__}, "
        f"{bf16_capability('cpu')}"
    )


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
