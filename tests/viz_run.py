"""A real run directory for the viz / results / widget tests, made once per test session.

`pgnas search --preset digits` (2 epochs, 6 candidates, PGNAS and Random) on scikit-learn's
digits; the test modules share it through a directory under pytest's base temp, so it is
trained once even though each module has its own fixture.
"""

import os
from pathlib import Path

ARGS = [
    "search",
    "--preset",
    "digits",
    "--no-progress",
    "--set",
    "train.epochs=2",
    "--set",
    "search.candidates=6",
]


def digits_run(tmp_path_factory) -> Path:
    """PGNAS_TEST_RUN_DIR reuses a run made by ``pgnas search {ARGS}`` (for quick reruns)."""
    reuse = os.environ.get("PGNAS_TEST_RUN_DIR")
    if reuse and (Path(reuse) / "summary.json").is_file():
        return Path(reuse)
    out = tmp_path_factory.getbasetemp() / "pgnas_viz_digits_run"
    if not (out / "summary.json").is_file():
        from pgnas_core.run.cli import main

        if out.exists():  # a half-written run from an interrupted session
            import shutil

            shutil.rmtree(out)
        assert main([*ARGS, "--out", str(out)]) == 0
    return out
