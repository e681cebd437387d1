"""One run of a study, as its own process: the search (resumed if interrupted), then the
study's analyses, then ``metrics.json`` (written last and atomically: the run is done).

    python -m pgnas_core.run.study.job RUN_DIR --preset P [--set f=v ...]
        [--analyses a,b] [--settings JSON]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ...config import resolve_config
from ..experiments import is_finished
from ..pipeline import search
from .metrics import run_metrics
from .runner import METRICS_FILE


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--preset", required=True)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--analyses", default="")
    ap.add_argument("--settings", default="{}")
    a = ap.parse_args(argv)
    out = Path(a.run_dir)
    if not is_finished(out):
        cfg = resolve_config(a.preset, None, a.overrides)
        search(cfg, out, resume=out.is_dir() and any(out.iterdir()), progress=False)
    analyses = [x for x in a.analyses.split(",") if x]
    rows = run_metrics(out, analyses, json.loads(a.settings))
    tmp = out / (METRICS_FILE + ".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(out / METRICS_FILE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
