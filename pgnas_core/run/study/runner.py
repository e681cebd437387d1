"""Run a study: every (configuration, seed) of a tier as its own search, several at a time.

Each run is a ``python -m pgnas_core.run.study.job`` subprocess with one torch thread
(two 2-thread processes on 2 cores slow each other down badly) writing ``runs/<job>/`` under
the study folder: the search (resumed if it was interrupted), its analyses, then
``metrics.json`` last -- a run with that file is finished and never redone. The children
die with the parent (Linux), so after a kill -9 a rerun starts cleanly where it stopped.
The study folder gets ``results.csv`` (one row per run, method and metric) and
``study.json`` (the spec, and each start's command, commit, machine and date: :mod:`.record`).
Every argument is checked before the first file is written (:mod:`.checks`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ...errors import PgnasError
from .checks import check_study
from .evidence import attach, collect_evidence
from .record import check_code, warn, write_record
from .spec import Job, StudySpec

RESULTS_FILE, METRICS_FILE = "results.csv", "metrics.json"
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
    executor=None,
    force: bool = False,
) -> pd.DataFrame:
    """Run (or finish) every run of ``spec`` at ``tier`` under ``out``; return the tidy table
    (also written to ``out/results.csv``). ``executor`` (a ``SubmititExecutor``) submits the
    runs as cluster jobs instead of local processes; ``force``: continue runs made at another
    commit."""
    out = Path(out)
    before = check_study(spec, tier, out, jobs, cluster=executor is not None)
    code, notes = check_code(out, before, force)
    out.mkdir(parents=True, exist_ok=True)
    write_record(out, spec, tier, command, before, code)
    warn(notes)
    todo = [j for j in spec.jobs(tier) if not (run_path(out, j) / METRICS_FILE).is_file()]
    if executor is not None:  # submitit (Slurm, or its local stand-in): see executors.py
        executor.run_all(spec, tier, out, todo, progress)
        return collect(out, spec, tier)
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


def job_command(spec: StudySpec, tier: str, out: Path, job: Job) -> list[str]:
    """The command line of one run (``python -m pgnas_core.run.study.job ...``), the same
    whichever executor starts it."""
    t = spec.tier(tier)
    args = [sys.executable, "-m", "pgnas_core.run.study.job", str(run_path(out, job))]
    args += ["--preset", t.preset]
    for o in job.overrides:
        args += ["--set", o]
    return args + ["--analyses", ",".join(spec.analyses), "--settings", json.dumps(t.analysis)]


def _run_job(spec: StudySpec, tier: str, out: Path, job: Job) -> tuple[int, Path]:
    where = run_path(out, job)
    where.parent.mkdir(parents=True, exist_ok=True)
    log = where.parent / f"{job.name}.log"
    args = job_command(spec, tier, out, job)
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
