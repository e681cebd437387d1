"""Bad input gives ONE line naming the field, the value and what is allowed, a non-zero exit
code and no traceback (``--debug`` shows it). Nothing here trains: every check runs first."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pgnas_core.cli import main

TINY = ["--preset", "digits", "--no-progress"]

# (arguments after `search`, words the one-line message must contain, exit code)
BAD = [
    (["--set", "posterior.tau=0"], ["posterior.tau", "0", "> 0"], 2),
    (["--set", "posterior.tau=-1"], ["posterior.tau", "-1"], 2),
    (["--set", "posterior.p_init=1"], ["posterior.p_init", "(0, 1)"], 2),
    (["--set", "posterior.p_init=0"], ["posterior.p_init", "(0, 1)"], 2),
    (["--set", "posterior.l2=-0.5"], ["posterior.l2", ">= 0"], 2),
    (["--set", "posterior.n_train=0"], ["posterior.n_train", "> 0"], 2),
    (["--set", "posterior.random_p=1.5"], ["posterior.random_p", "(0, 1)"], 2),
    (["--set", "posterior.method=bayes"], ["posterior.method", "pgnas", "random"], 2),
    (["--set", "posterior.weight_term=coupld"], ["posterior.weight_term", "did you mean 'coupled'"], 2),
    (["--set", "posterior.tau=abc"], ["posterior.tau", "abc", "a number"], 2),
    (["--set", "search.candidates=0"], ["search.candidates", ">= 1"], 2),
    (["--set", "search.candidates=2.5"], ["search.candidates", "an integer"], 2),
    (["--set", "search.seed=-3"], ["search.seed", ">= 0"], 2),
    (["--set", "train.epochs=0"], ["train.epochs", ">= 1"], 2),
    (["--set", "train.lr=0"], ["train.lr", "> 0"], 2),
    (["--set", "train.lr=fast"], ["train.lr", "fast", "a number"], 2),
    (["--set", "train.momentum=1"], ["train.momentum", "[0, 1)"], 2),
    (["--set", "train.schedule=linear"], ["train.schedule", "cosine"], 2),
    (["--set", "train.checkpoint_every_steps=-1"], ["train.checkpoint_every_steps", ">= 0"], 2),
    (["--set", "train.dist_backend=mpi"], ["train.dist_backend", "gloo", "nccl"], 2),
    (["--set", "train.device=tpu"], ["train.device", "tpu", "cpu"], 2),
    (["--set", "train.milestones=[0, 5]"], ["train.milestones", "integers >= 1"], 2),
    (["--set", "train.epoch=3"], ["train.epoch", "did you mean 'train.epochs'"], 2),
    (["--set", "trian.lr=0.1"], ["trian", "did you mean 'train'"], 2),
    (["--set", "train.lr.x=1"], ["train.lr", "not a section"], 2),
    (["--set", "train.lr"], ["--set", "key=value"], 2),
    (["--set", "train.lr=[1, 2"], ["train.lr", "YAML"], 2),
    (["--set", "train=5"], ["train", "mapping"], 2),
    (["--set", "data.batch_size=0"], ["data.batch_size", ">= 1"], 2),
    (["--set", "data.dataset=mnist"], ["data.dataset", "digits", "fashion-mnist"], 2),
    (["--set", "data.augment=maybe"], ["data.augment", "true or false"], 2),
    (["--set", "supernet.name=supnet_m_tini"], ["supernet.name", "did you mean 'supnet_m_tiny'"], 2),
    (["--preset", "digitz"], ["preset", "digitz", "did you mean 'digits'"], 2),
    (["--config", "/nonexistent/run.yaml"], ["/nonexistent/run.yaml", "does not exist"], 1),
    (["--set", "supernet.options={widths: [4, 8, 8], depth: 3}"], ["supernet.options", "depth"], 2),
    (["--set", "data.val_size=5000"], ["data.val_size=5000", "training pool"], 1),
    (["--set", "supernet.options={in_channels: 3}"], ["input channels", "in_channels"], 1),
    (["--set", "supernet.options={num_classes: 5}"], ["num_classes=5", "out of range"], 1),
    (["--set", "data.dataset=cifar10", "--set", "data.root=/nonexistent"],
     ["cifar10 not found", "/nonexistent"], 1),
]


@pytest.mark.parametrize("extra, words, code", BAD, ids=[" ".join(b[0])[:60] for b in BAD])
def test_bad_input_one_line(extra, words, code, capsys, tmp_path):
    out = tmp_path / "run"
    rc = main(["search", *TINY, "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pgnas: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert not (out / "checkpoints").exists()  # no work started


def test_table_is_large_enough():
    assert len(BAD) >= 25


def test_debug_shows_traceback():
    from pgnas_core.errors import ConfigError
    with pytest.raises(ConfigError, match="posterior.tau"):
        main(["--debug", "search", *TINY, "--set", "posterior.tau=0"])


def test_existing_run_directory_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "history.csv").write_text("epoch\n1\n")
    rc = main(["search", *TINY, "--out", str(out), "--set", "train.epochs=1"])
    err = capsys.readouterr().err
    assert rc == 1 and "already holds a run" in err and "--resume" in err
    assert (out / "history.csv").read_text() == "epoch\n1\n"
    assert sorted(p.name for p in out.iterdir()) == ["history.csv"]


def test_rank_without_run_directory(tmp_path, capsys):
    rc = main(["rank", "--out", str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert rc == 1 and "not a run directory" in err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["search", "--no-such-flag"])
    assert e.value.code == 2


@pytest.mark.parametrize("argv, word", [
    (["search", "--preset", "digits", "--set", "posterior.p_init=2"], "posterior.p_init"),
    (["train", "--preset", "nope"], "preset"),
])
def test_real_subprocess(argv, word, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "pgnas_core.cli", *argv, "--out", str(tmp_path / "r")],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and word in r.stderr and "Traceback" not in r.stderr
