"""A run killed at any point (SIGKILL, or Ctrl-C) and resumed ends exactly as an uninterrupted
one. The kill points come from a deterministic hook (``PGNAS_KILL_AFTER``: after training step
k, or after ranking pass k), not from watching files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from pgnas_core.train.precision import native_bf16

TINY = [
    "--preset",
    "digits",
    "--no-progress",
    "--set",
    "supernet.options={widths: [4, 8, 8], stem_channels: 4}",
    "--set",
    "data.train_size=256",
    "--set",
    "data.batch_size=32",  # 8 steps per epoch
    "--set",
    "method.baselines=[]",
    "--set",
    "train.epochs=2",
    "--set",
    "search.candidates=40",
]


def _cli(out: Path, *extra: str, kill_after: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("PGNAS_KILL_AFTER", None)
    if kill_after:
        env["PGNAS_KILL_AFTER"] = kill_after
    return subprocess.run(
        [sys.executable, "-m", "pgnas_core", "search", *TINY, "--out", str(out), *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _final_state(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "epoch_0002.pt", weights_only=True)["model"]


def _assert_same_run(a: Path, b: Path) -> None:
    sa, sb = _final_state(a), _final_state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    for name in ("keep_probs.csv", "candidates.csv", "best.json"):
        if name == "best.json":  # everything but the ranking's wall time
            ja, jb = (json.loads((r / name).read_text()) for r in (a, b))
            ja.pop("rank_seconds"), jb.pop("rank_seconds")
            assert ja == jb
        else:
            assert (a / name).read_text() == (b / name).read_text(), name
    assert not list(b.glob("candidates.partial*")) and not (b / "candidates.race.pt").exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    r = _cli(out)
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume(reference, tmp_path):
    out = tmp_path / "run"
    r = _cli(out, "--set", "train.checkpoint_every_steps=1", kill_after="train:5")
    assert r.returncode == -signal.SIGKILL, r.stderr
    # killed inside epoch 1 after its 5th step (and that step's checkpoint)
    assert (out / "checkpoints" / "epoch_0001_step_000005.pt").exists()
    assert not (out / "checkpoints" / "epoch_0001.pt").exists()
    r = _cli(out, "--resume", "--set", "train.checkpoint_every_steps=1")
    assert r.returncode == 0, r.stderr
    _assert_same_run(reference, out)


@pytest.mark.slow
def test_sigkill_mid_ranking_then_resume(reference, tmp_path):
    out = tmp_path / "run"
    r = _cli(out, kill_after="rank:7")
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not (out / "candidates.csv").exists()
    done_before = len(pd.read_csv(out / "candidates.partial.csv"))
    assert 0 < done_before < 40
    r = _cli(out, "--resume")
    assert r.returncode == 0, r.stderr
    _assert_same_run(reference, out)


@pytest.mark.slow
def test_sigint_saves_and_resumes(reference, tmp_path):
    out = tmp_path / "run"
    # no step checkpoint but the one Ctrl-C makes: Ctrl-C after step 11 (epoch 2, step 3)
    steps = "--set", "train.checkpoint_every_steps=100"
    r = _cli(out, *steps, kill_after="train:11:INT")
    assert r.returncode == 130, f"the run was not interrupted: {r.returncode} {r.stderr}"
    assert "interrupted" in r.stderr and "--resume" in r.stderr and "Traceback" not in r.stderr
    # the loop finished the step in progress, saved and stopped
    assert (out / "checkpoints" / "epoch_0002_step_000004.pt").exists()
    r = _cli(out, "--resume", *steps)
    assert r.returncode == 0, r.stderr
    _assert_same_run(reference, out)


BF16 = (
    "--set",
    "train.precision=bf16",
    "--set",
    "search.precision=bf16",
    "--set",
    "search.rank=racing",
)


@pytest.mark.slow
@pytest.mark.skipif(not native_bf16("cpu"), reason="this CPU has no native bf16 (never emulated)")
def test_sigkill_in_bf16_training_and_ranking_then_resume(tmp_path_factory):
    """bf16 training (autocast) and bf16 racing: a kill in either resumes to identical files."""
    ref = tmp_path_factory.mktemp("bf16") / "ref"
    assert _cli(ref, *BF16).returncode == 0
    table = pd.read_csv(ref / "candidates.csv")
    assert set(table["precision"]) == {"bf16", "fp32"}  # screened, then survivors in fp32
    for kill in ("train:5", "rank:7"):
        out = tmp_path_factory.mktemp("bf16") / kill.replace(":", "_")
        extra = (*BF16, "--set", "train.checkpoint_every_steps=1")
        r = _cli(out, *extra, kill_after=kill)
        assert r.returncode == -signal.SIGKILL, r.stderr
        r = _cli(out, "--resume", *extra)
        assert r.returncode == 0, r.stderr
        _assert_same_run(ref, out)


def test_nan_loss_names_step_checkpoint_and_cause(tmp_path, capsys):
    from pgnas_core.run.cli import main

    out = tmp_path / "run"
    rc = main(
        [
            "train",
            *TINY,
            "--out",
            str(out),
            "--set",
            "train.lr=10",
            "--set",
            "train.grad_clip=0",
            "--set",
            "train.checkpoint_every_steps=1",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 1, err
    line = err.strip().splitlines()[-1]
    assert "the loss became" in line and "step" in line and "train.lr=10" in line
    assert "last good checkpoint is" in line and "epoch_0001_step_" in line
    assert "Traceback" not in err
