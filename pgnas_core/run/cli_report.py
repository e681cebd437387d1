"""``pgnas report DIR [--dest FILE]``: one self-contained HTML file for a run directory or a
study folder. The report itself is built by ``pgnas_viz.report`` (a notebook template run by
papermill, rendered by nbconvert), imported only when the command runs, so that pgnas_core
never imports matplotlib."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import PgnasError
from .run_dir import CONFIG_FILE, RunDir
from .study.runner import RESULTS_FILE


def add_report_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "report",
        help="one self-contained HTML report of a run directory or a study folder",
        description="Write one HTML file (figures embedded, no code shown) for a run made "
        "by `pgnas search` / `pgnas train`, or a study folder made by `pgnas study` "
        "(results.csv).",
    )
    p.add_argument("dir", help="a run directory or a study folder")
    p.add_argument("--dest", help="the HTML file to write (default: DIR/report.html)")
    p.add_argument(
        "--timeout",
        type=int,
        default=600,
        help="seconds one report cell may take (default: %(default)s)",
    )
    return p


def report_kind(folder: str | Path) -> str:
    """``run`` (a folder with config.yaml) or ``study`` (with results.csv); otherwise a
    one-line error saying what was expected (checked before the plotting stack loads)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PgnasError(f"report: {folder} is not a directory")
    if RunDir(folder).is_run():
        return "run"
    if (folder / RESULTS_FILE).is_file():
        return "study"
    raise PgnasError(
        f"report: {folder} is neither a run directory (no {CONFIG_FILE}) nor a study folder "
        f"(no {RESULTS_FILE})"
    )


def run_report(args) -> int:
    kind = report_kind(args.dir)  # the one-line error for a folder that is neither
    try:
        from pgnas_viz.report import build_report
    except ImportError as e:  # pgnas_core alone: the viz extra is missing
        raise PgnasError(
            f"report needs the viz and notebooks extras ({e.name} is missing): "
            "pip install 'pgnas[notebooks]'"
        ) from e
    dest = build_report(args.dir, args.dest, timeout=args.timeout)
    print(f"{kind} report of {args.dir} -> {dest}")
    return 0
