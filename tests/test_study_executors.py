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

#: A registered study, for the refusals (nothing runs).
CHEAPEST = "constant_l2"


def _study(out: Path, *extra: str, study: str = CHEAPEST) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "pgnas_core", "study", study, "--tier", "quick"]
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
    # a spec of its own (two tiny runs, side by side), so the registered studies may grow
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    local, cluster = tmp_path / "local", tmp_path / "submitit"
    r = _study(local, study=str(spec))
    assert r.returncode == 0, r.stderr
    r = _study(cluster, "--executor", "submitit-local", study=str(spec))
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
    r = _study(cluster, "--executor", "submitit-local", study=str(spec))
    assert r.returncode == 0, r.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # not redone
    assert sorted(p.name for p in (cluster / "submitit").iterdir()) == jobs_before  # no job


def test_options_file_overrides_defaults_and_flags_override_the_file(tmp_path):
    pytest.importorskip("submitit")
    import argparse

    from pgnas_core.run.study.executors import add_arguments, from_args

    opts = tmp_path / "slurm.yaml"
    opts.write_text("timeout_min: 100\nslurm_partition: a\nmem_gb: 8\nretries: 5\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    parser.add_argument("--jobs", type=int)
    base = ["--executor", "slurm", "--executor-options", str(opts)]
    ex = from_args(parser.parse_args(base))
    assert ex.cluster == "slurm" and ex.retries == 5 and ex.max_parallel is None
    assert ex.parameters == {
        "timeout_min": 100,
        "gpus_per_node": 1,
        "cpus_per_task": 4,
        "slurm_partition": "a",
        "mem_gb": 8,
    }
    ex = from_args(parser.parse_args([*base, "--slurm-time", "7", "--slurm-partition", "b"]))
    assert ex.parameters["timeout_min"] == 7 and ex.parameters["slurm_partition"] == "b"
    assert from_args(parser.parse_args(["--executor", "local"])) is None


TINY = """description: two tiny runs
grid: {posterior.l2: [1, 20]}
tiers:
  quick:
    preset: digits
    overrides: [train.epochs=1, data.train_size=100, "method.baselines=[]", search.candidates=2,
                "supernet.options={widths: [4, 8, 8], stem_channels: 4}"]
    seeds: [0]
  laptop: {preset: digits, seeds: [0]}
"""


@pytest.mark.slow
def test_a_failing_job_is_resubmitted_then_named_in_one_line(tmp_path):
    """Each run kills itself at its first training step (the PGNAS_KILL_AFTER test hook, which
    fires again on every resume): each job is submitted 1 + retries times, then the study
    stops with one line naming both runs and their logs."""
    pytest.importorskip("submitit")
    spec, opts, out = tmp_path / "tiny.yaml", tmp_path / "opts.yaml", tmp_path / "s"
    spec.write_text(TINY)
    opts.write_text("retries: 1\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PGNAS_KILL_AFTER": "train:1"}
    args = [sys.executable, "-m", "pgnas_core", "study", str(spec), "--tier", "quick"]
    args += ["--out", str(out), "--no-progress", "--executor", "submitit-local"]
    args += ["--executor-options", str(opts)]
    r = subprocess.run(args, env=env, capture_output=True, text=True, timeout=1200)
    assert r.returncode == 1, r.stderr
    line = r.stderr.strip().splitlines()[-1]
    assert line.startswith("pgnas: error: study tiny: 2 runs failed after 2 attempts")
    assert "l2=1-seed0" in line and "l2=20-seed0" in line and "Traceback" not in r.stderr
    assert len(list((out / "submitit").glob("*_submitted.pkl"))) == 4  # two jobs per run
    assert not list(out.glob("runs/*/metrics.json"))
