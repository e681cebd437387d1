"""A run killed at any moment (SIGKILL) and resumed ends exactly as an uninterrupted one."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

TINY = ["--preset", "digits", "--no-progress",
        "--set", "supernet.options={widths: [4, 8, 8], stem_channels: 4}",
        "--set", "data.train_size=256", "--set", "data.batch_size=32",
        "--set", "search.random_baseline=false", "--set", "train.epochs=2"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _cli(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pgnas_core.cli", "search", *TINY,
                             "--out", str(out), *extra], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return
        if proc.poll() is not None:
            pytest.fail(f"finished before it could be killed: {proc.stderr.read()}")
        time.sleep(0.02)
    proc.kill()
    pytest.fail("never reached the kill point")


def _final_state(run: Path) -> dict:
    return torch.load(run / "checkpoints" / "epoch_0002.pt", weights_only=True)["model"]


def _assert_same_run(a: Path, b: Path) -> None:
    sa, sb = _final_state(a), _final_state(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert (a / "keep_probs.csv").read_text() == (b / "keep_probs.csv").read_text()
    assert (a / "candidates.csv").read_text() == (b / "candidates.csv").read_text()
    assert not (b / "candidates.partial.csv").exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    p = _cli(out, "--set", "search.candidates=40")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    return out


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume(reference, tmp_path):
    out = tmp_path / "run"
    steps = "--set", "train.checkpoint_every_steps=1"
    p = _cli(out, "--set", "search.candidates=40", *steps)
    # killed inside epoch 1, after some step checkpoints and before the epoch ends
    _kill_when(p, lambda: len(list((out / "checkpoints").glob("epoch_0001_step_00000[3-9].pt"))) > 0)
    assert not (out / "checkpoints" / "epoch_0001.pt").exists()
    p = _cli(out, "--resume", "--set", "search.candidates=40", *steps)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    _assert_same_run(reference, out)


@pytest.mark.slow
def test_sigkill_mid_ranking_then_resume(reference, tmp_path):
    out = tmp_path / "run"
    p = _cli(out, "--set", "search.candidates=40")
    partial = out / "candidates.partial.csv"

    def some_rows():
        try:
            return partial.exists() and len(partial.read_text().splitlines()) >= 4
        except OSError:
            return False

    _kill_when(p, some_rows)
    assert not (out / "candidates.csv").exists()
    done_before = len(pd.read_csv(partial))
    assert 0 < done_before < 40
    p = _cli(out, "--resume", "--set", "search.candidates=40")
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    _assert_same_run(reference, out)


@pytest.mark.slow
def test_sigint_saves_and_resumes(reference, tmp_path):
    out = tmp_path / "run"
    steps = "--set", "train.checkpoint_every_steps=100"  # no step checkpoint but the Ctrl-C one
    p = _cli(out, "--set", "search.candidates=40", *steps)
    _kill_when_signal = lambda: (out / "checkpoints" / "epoch_0001.pt").exists()  # noqa: E731
    end = time.time() + 120
    while not _kill_when_signal() and time.time() < end:
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.skip("the run finished before Ctrl-C arrived")
    assert p.returncode == 130, err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err
    assert len(list((out / "checkpoints").glob("epoch_*.pt"))) >= 1
    p = _cli(out, "--resume", "--set", "search.candidates=40", *steps)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    _assert_same_run(reference, out)


def test_nan_loss_names_step_checkpoint_and_cause(tmp_path, capsys):
    from pgnas_core.cli import main
    out = tmp_path / "run"
    rc = main(["train", *TINY, "--out", str(out), "--set", "train.lr=1e30",
               "--set", "train.grad_clip=0", "--set", "train.checkpoint_every_steps=1"])
    err = capsys.readouterr().err
    assert rc == 1, err
    line = err.strip().splitlines()[-1]
    assert "the loss became" in line and "step" in line and "train.lr=1e+30" in line
    assert "last good checkpoint is" in line and "epoch_0001_step_" in line
    assert "Traceback" not in err
