"""Which code made a result: the git commit of the pgnas checkout and whether its tree had
uncommitted changes (``dirty``). Both are ``None`` when that cannot be known: git is not
installed, or pgnas was installed from a package rather than run from a checkout."""

from __future__ import annotations

import subprocess
from pathlib import Path

#: The package's own folder: the checkout whose commit is recorded.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: What counts as the code (git pathspecs from the top of the checkout): all but results/.
CODE_PATHS = (":(top)", ":(top,exclude)results")


def code_version(where: str | Path | None = None) -> dict:
    """``{"commit": full hash or None, "dirty": bool or None}`` of the checkout holding
    ``where`` (default: this package). A git repository that merely contains the files
    without tracking them (pgnas installed into a virtual environment inside some other
    project) does not count: its commit says nothing about this code."""
    where = Path(where) if where is not None else PACKAGE_DIR
    unknown = {"commit": None, "dirty": None}
    commit = _git(where, "rev-parse", "HEAD")
    if not commit or _git(where, "ls-files", "--error-unmatch", ".") is None:
        return unknown
    # tracked files only: an untracked scratch file or a run folder is not a code change.
    # results/ holds outputs, not code: `pgnas study --reference` writes there, and would
    # otherwise mark every later study of the same checkout as made by changed code
    status = _git(where, "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def short(commit: str | None) -> str:
    """A commit as people quote it (12 hex digits), or ``unknown``."""
    return commit[:12] if commit else "unknown"


def same_commit(a: str | None, b: str | None) -> bool:
    """Whether two recorded commits name the same one (older records hold a short hash)."""
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


def _git(where: Path, *args: str) -> str | None:
    """git's output in ``where``, or None when git is missing, times out or fails."""
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=where, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()
