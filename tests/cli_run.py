"""Run ``python -m pgnas_core`` in a subprocess, optionally killed at a chosen point (the
``PGNAS_KILL_AFTER`` hook: after training step k, or after ranking pass k)."""

import os
import subprocess
import sys


def run_cli(*args: str, kill_after: str | None = None, timeout: float = 300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("PGNAS_KILL_AFTER", None)
    if kill_after:
        env["PGNAS_KILL_AFTER"] = kill_after
    return subprocess.run(
        [sys.executable, "-m", "pgnas_core", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
