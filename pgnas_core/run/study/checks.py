"""What a study checks before it touches any file: the runs at a time, every run's config,
and the ``--out`` folder (new, empty, or holding this same study at this tier; creatable and
writable). A refused study leaves everything as it was."""

from __future__ import annotations

import os
from pathlib import Path

from ...config import resolve_config
from ...errors import ConfigError, PgnasError
from ..run_dir import check_out_dir
from .record import STUDY_FILE, check_same_study, read_record
from .spec import StudySpec

#: More runs at a time than this many per core only slow each other down (one thread each).
RUNS_PER_CORE = 4
#: ... and never more than this many, whatever the machine.
MAX_JOBS = 64


def max_jobs() -> int:
    return max(1, min(MAX_JOBS, RUNS_PER_CORE * (os.cpu_count() or 1)))


def check_jobs(jobs) -> None:
    """``None`` means one run per core; otherwise 1..max_jobs()."""
    if jobs is None:
        return
    top = max_jobs()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= top:
        raise ConfigError(
            "--jobs",
            jobs,
            f"1..{top} runs at a time: each run takes one core and this machine has "
            f"{os.cpu_count()}; more than {RUNS_PER_CORE} per core ({MAX_JOBS} in all) only "
            "slows them down",
        )


def check_configs(spec: StudySpec, tier: str) -> None:
    """Every run's config resolves (its preset exists, its overrides are valid), so that a
    bad spec stops here and not inside a child process after the folder was made."""
    t = spec.tier(tier)
    for job in spec.jobs(tier):
        try:
            resolve_config(t.preset, None, list(job.overrides))
        except ConfigError as e:
            raise ConfigError(
                f"{spec.name} ({tier}) run {job.name}: {e.field}", e.value, e.allowed
            ) from None
        except PgnasError as e:
            raise PgnasError(f"study {spec.name} ({tier}) run {job.name}: {e}") from None


def check_out(out: Path, spec: StudySpec, tier: str) -> dict | None:
    """The folder's study.json (None for a new or empty folder); refuses a file, a folder
    holding anything but this study at this tier, and a folder that cannot be written."""
    if out.exists() and not out.is_dir():
        raise PgnasError(f"--out {out} is a file, not a directory: choose a folder")
    try:
        occupied = out.is_dir() and any(out.iterdir())
    except OSError as e:
        raise PgnasError(f"--out {out} cannot be read ({e.strerror or e})") from None
    info = None
    if occupied:
        info = read_record(out)
        if info is None or (out / "config.yaml").exists():
            what = "a run" if (out / "config.yaml").exists() else f"no study ({STUDY_FILE})"
            raise PgnasError(
                f"--out {out} is not empty and holds {what}: refusing to write into it; "
                "choose a new or empty folder"
            )
        check_same_study(out, info, spec, tier)
    check_out_dir(out)
    return info


def check_study(spec: StudySpec, tier: str, out: Path, jobs) -> dict | None:
    """Every check, in the order a user fixes them; returns the folder's study.json."""
    spec.tier(tier)
    check_jobs(jobs)
    check_configs(spec, tier)
    return check_out(out, spec, tier)
