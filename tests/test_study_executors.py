"""`pgnas study --executor`: the submitit path (the one Slurm takes) run on submitit's local
executor gives the same table as local processes, and a second invocation submits nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

#: The cheapest study of pgnas_core/studies at its quick tier: two PGNAS-only runs on digits
#: (guided_vs_random has one run, but it searches twice, PGNAS and Random, then ranks 40
#: candidates 200 times); two runs also show two jobs side by side.
CHEAPEST = "constant_l2"


def _study(out: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "pgnas_core", "study", CHEAPEST, "--tier", "quick"]
    args += ["--out", str(out), "--no-progress", "--jobs", "2", *extra]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=1200)


def _without_timings(table: pd.DataFrame) -> pd.DataFrame:
    keys = ["config", "seed", "method", "metric"]
    kept = table[~table["metric"].str.contains("seconds")]
    return kept.sort_values(keys).reset_index(drop=True)


def test_bad_executor_options_say_what_is_allowed(tmp_path, capsys):
    from pgnas_core.run.cli import main

    base = ["study", CHEAPEST, "--tier", "quick", "--out", str(tmp_path / "s")]
    assert main([*base, "--executor", "kubernetes"]) == 2
    err = capsys.readouterr().err
    assert "--executor='kubernetes'" in err and "local, slurm, submitit-local" in err
    assert main([*base, "--executor", "slurm", "--executor-options", "nope.yaml"]) == 2
    assert "nope.yaml" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("slurm_no_such_option: 1\n")
    pytest.importorskip("submitit")
    assert main([*base, "--executor", "submitit-local", "--executor-options", str(bad)]) == 2
    assert "no_such_option" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # refused before anything was written


@pytest.mark.slow
def test_submitit_runs_equal_local_runs_and_a_rerun_submits_nothing(tmp_path):
    pytest.importorskip("submitit")
    local, cluster = tmp_path / "local", tmp_path / "submitit"
    r = _study(local)
    assert r.returncode == 0, r.stderr
    r = _study(cluster, "--executor", "submitit-local")
    assert r.returncode == 0, r.stderr
    ids = json.loads((cluster / "submitit" / "jobs.json").read_text())
    assert len(ids) == 2  # one job per run, each ran once
    pd.testing.assert_frame_equal(
        _without_timings(pd.read_csv(local / "results.csv")),
        _without_timings(pd.read_csv(cluster / "results.csv")),
    )
    finished = sorted(cluster.glob("runs/*/metrics.json"))
    stamps = {p: p.stat().st_mtime_ns for p in finished}
    jobs_before = sorted(p.name for p in (cluster / "submitit").iterdir())
    r = _study(cluster, "--executor", "submitit-local")
    assert r.returncode == 0, r.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # not redone
    assert sorted(p.name for p in (cluster / "submitit").iterdir()) == jobs_before  # no job
