"""Bad input gives ONE line naming the field, the value and what is allowed, a non-zero exit
code and no traceback (``--debug`` shows it). Nothing here trains: every check runs first."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from pgnas_core.run.cli import main

TINY = ["--preset", "digits", "--no-progress"]
ONE_EPOCH = [
    "--set",
    "train.epochs=1",
    "--set",
    "method.baselines=[]",
    "--set",
    "data.train_size=64",
]

# (arguments after `search`, words the one-line message must contain, exit code)
BAD = [
    (["--set", "posterior.tau=0"], ["posterior.tau", "0", "> 0"], 2),
    (["--set", "posterior.tau=-1"], ["posterior.tau", "-1"], 2),
    (["--set", "posterior.p_init=1"], ["posterior.p_init", "(0, 1)"], 2),
    (["--set", "posterior.p_init=0"], ["posterior.p_init", "(0, 1)"], 2),
    (["--set", "posterior.l2=-0.5"], ["posterior.l2", ">= 0"], 2),
    (["--set", "posterior.n_train=0"], ["posterior.n_train", "> 0"], 2),
    (["--set", "posterior.random_p=1.5"], ["posterior.random_p", "(0, 1)"], 2),
    (["--set", "method.name=bayes"], ["method.name", "pgnas", "random"], 2),
    (["--set", "method.baselines=[pgnas]"], ["method.baselines", "other methods"], 2),
    (["--set", "method.baselines=[randon]"], ["method.baselines", "registered"], 2),
    (
        ["--set", "posterior.weight_term=coupld"],
        ["posterior.weight_term", "did you mean 'coupled'"],
        2,
    ),
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
    (
        ["--set", "supernet.name=supnet_m_tini"],
        ["supernet.name", "did you mean 'supnet_m_tiny'"],
        2,
    ),
    (["--preset", "digitz"], ["preset", "digitz", "did you mean 'digits'"], 2),
    (["--config", "/nonexistent/run.yaml"], ["/nonexistent/run.yaml", "does not exist"], 1),
    (["--set", "supernet.options={widths: [4, 8, 8], depth: 3}"], ["supernet.options", "depth"], 2),
    (["--set", "data.val_size=5000"], ["data.val_size=5000", "training pool"], 1),
    (["--set", "supernet.options={in_channels: 3}"], ["input channels", "in_channels"], 1),
    (["--set", "supernet.options={num_classes: 5}"], ["num_classes=5", "out of range"], 1),
    (
        ["--set", "data.dataset=cifar10", "--set", "data.root=/nonexistent"],
        ["data.root", "/nonexistent", "does not exist"],
        1,
    ),
    (
        ["--set", "data.dataset=fashion-mnist", "--set", "data.root=/nonexistent"],
        ["data.root", "/nonexistent", "does not exist"],
        1,
    ),
    # numbers: infinite, NaN or huge values are refused with the allowed range named
    (["--set", "train.lr=1e300"], ["train.lr", "1e+300", "> 0 and <= 10"], 2),
    (["--set", "train.lr=.inf"], ["train.lr", "inf", "> 0 and <= 10"], 2),
    (["--set", "train.momentum=.nan"], ["train.momentum", "nan", "[0, 1)"], 2),
    (["--set", "train.grad_clip=-.inf"], ["train.grad_clip", "-inf", ">= 0 and <= 1e6"], 2),
    (["--set", "train.epochs=1000000000"], ["train.epochs", "<= 100000"], 2),
    (["--set", "posterior.tau=.inf"], ["posterior.tau", "inf", "> 0 and <= 10"], 2),
    (["--set", "posterior.tau=1e300"], ["posterior.tau", "> 0 and <= 10"], 2),
    (["--set", "posterior.tau=nan"], ["posterior.tau", "nan", "> 0 and <= 10"], 2),
    (["--set", "posterior.l2=1e300"], ["posterior.l2", ">= 0 and <= 1e6"], 2),
    (["--set", "posterior.n_train=" + "9" * 400], ["posterior.n_train", "inf", "or null"], 2),
    (["--set", "darts.arch_lr=1e300"], ["darts.arch_lr", "(0, 1]"], 2),
    (["--set", "darts.beta1=.nan"], ["darts.beta1", "nan", "[0, 1)"], 2),
    (["--set", "balenas.eta=.inf"], ["balenas.eta", "inf", "(0, 1]"], 2),
    (["--set", "balenas.lambda0=.nan"], ["balenas.lambda0", "nan", "or null"], 2),
    (["--set", "balenas.sigma0=1e300"], ["balenas.sigma0", ">= 0 and <= 10"], 2),
    (["--set", "bayesnas.lam=1e300"], ["bayesnas.lam", "> 0 and <= 1000"], 2),
    (["--set", "bayesnas.lr=.inf"], ["bayesnas.lr", "inf", "> 0 and <= 10"], 2),
    (["--set", "bayesnas.warmup_fraction=.nan"], ["bayesnas.warmup_fraction", "(0, 1)"], 2),
    (["--set", "search.race_growth=.inf"], ["search.race_growth", ">= 1.1 and <= 100"], 2),
    (["--set", "search.race_delta=.nan"], ["search.race_delta", "nan", "(0, 1)"], 2),
    (["--set", "search.candidates=1000000000"], ["search.candidates", "<= 100000"], 2),
    (["--set", "search.seed=" + "9" * 30], ["search.seed", "<= 4294967295"], 2),
    (["--set", "data.val_size=1000000000000"], ["data.val_size", "<= 1000000000"], 2),
    (["--set", "data.batch_size=.inf"], ["data.batch_size", "an integer"], 2),
]


@pytest.mark.parametrize("extra, words, code", BAD, ids=[" ".join(b[0])[:60] for b in BAD])
def test_bad_input_one_line(extra, words, code, capsys, tmp_path):
    out = tmp_path / "run"
    rc = main(["search", *TINY, "--out", str(out), *extra])
    _assert_one_line(rc, capsys.readouterr().err, code, words)
    assert not (out / "checkpoints").exists()  # no work started


def _assert_one_line(rc: int, err: str, code: int, words) -> None:
    """One line ``pgnas: error: ...`` holding every word, no traceback, exit ``code``."""
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pgnas: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_table_is_large_enough():
    assert len(BAD) >= 25 and len(BAD_PATHS) >= 15


# ---- files and paths a user hands in --------------------------------------------------------
def _config(tmp_path, content: bytes) -> list[str]:
    path = tmp_path / "cfg.yaml"
    path.write_bytes(content)
    return ["search", *TINY, "--config", str(path)]


def _trained_run(tmp_path) -> object:
    """A finished 1-epoch digits training (made once per test that needs one)."""
    run = tmp_path / "trained"
    assert (
        main(
            [
                "train",
                *TINY,
                "--out",
                str(run),
                *ONE_EPOCH,
            ]
        )
        == 0
    )
    return run


def _checkpoint(run):
    return sorted((run / "checkpoints").glob("epoch_*.pt"))[-1]


def _truncate(path, keep: int = 100):
    path.write_bytes(path.read_bytes()[:keep])


def _old_format(path):
    import torch

    state = torch.load(path, weights_only=True)
    state.pop("format")
    torch.save(state, path)


# (id, setup(tmp_path) -> argv, words the one line contains, exit code)
BAD_PATHS = [
    (
        "config not YAML",
        lambda t: _config(t, b"train: {epochs: [1, 2\n"),
        ["cfg.yaml", "not valid YAML", "line"],
        1,
    ),
    ("config a list", lambda t: _config(t, b"- 1\n- 2\n"), ["cfg.yaml", "list", "mapping"], 1),
    (
        "config binary",
        lambda t: _config(t, b"\x89PNG\r\n\x1a\n\x00\x00"),
        ["cfg.yaml", "not a text file"],
        1,
    ),
    ("config empty", lambda t: _config(t, b"\n# nothing\n"), ["cfg.yaml", "is empty"], 1),
    (
        "config a folder",
        lambda t: ["search", *TINY, "--config", str(t)],
        [str_ for str_ in ("is a directory",)],
        1,
    ),
    (
        "config unknown section",
        lambda t: _config(t, b"trian: {lr: 0.1}\n"),
        ["trian", "did you mean 'train'"],
        2,
    ),
    (
        "--out a file",
        lambda t: (t / "f").write_text("x") and ["search", *TINY, "--out", str(t / "f")],
        ["--out", "is a file"],
        1,
    ),
    (
        "--out under a file",
        lambda t: (t / "f").write_text("x") and ["search", *TINY, "--out", str(t / "f" / "run")],
        ["--out", "cannot be created"],
        1,
    ),
    (
        "rank: no such folder",
        lambda t: ["rank", "--out", str(t / "none")],
        ["run directory", "does not exist"],
        1,
    ),
    (
        "rank: a folder with no run",
        lambda t: (t / "x.txt").write_text("x") and ["rank", "--out", str(t)],
        ["not a run directory", "config.yaml"],
        1,
    ),
    (
        "rank: no checkpoint",
        lambda t: (
            (t / "config.yaml").write_text("method: {baselines: []}\n")
            and ["rank", "--out", str(t)]
        ),
        ["no checkpoint", "train first"],
        1,
    ),
    (
        "rank: config.yaml not YAML",
        lambda t: (t / "config.yaml").write_text("a: [1,\n") and ["rank", "--out", str(t)],
        ["config.yaml", "not readable YAML"],
        1,
    ),
    (
        "export: truncated checkpoint",
        lambda t: (
            _truncate(_checkpoint(_trained_run(t)))
            or ["export", "--out", str(t / "trained"), "--seed", "1"]
        ),
        ["checkpoint", "cannot be read", "start the run again"],
        1,
    ),
    (
        "rank: checkpoint of another version",
        lambda t: (
            _old_format(_checkpoint(_trained_run(t))) or ["rank", "--out", str(t / "trained")]
        ),
        ["another version", "format 1"],
        1,
    ),
    (
        "export: no winner yet",
        lambda t: _trained_run(t) and ["export", "--out", str(t / "trained")],
        ["no ranked winner", "--seed"],
        1,
    ),
    (
        "search --resume with other settings",
        lambda t: (
            _trained_run(t)
            and [
                "train",
                *TINY,
                "--out",
                str(t / "trained"),
                "--resume",
                *ONE_EPOCH,
                "--set",
                "posterior.l2=3",
            ]
        ),
        ["posterior.l2 (1.0 -> 3.0)", "--force"],
        1,
    ),
    (
        "rank with other training settings",
        lambda t: (
            _trained_run(t) and ["rank", "--out", str(t / "trained"), "--set", "train.lr=0.5"]
        ),
        ["train.lr (0.05 -> 0.5)", "--force"],
        1,
    ),
    (
        "fashion-mnist root with wrong files",
        lambda t: (
            _wrong_fashion_files(t)
            or [
                "search",
                *TINY,
                "--out",
                str(t / "run"),
                "--set",
                "data.dataset=fashion-mnist",
                "--set",
                f"data.root={t / 'fm'}",
                "--set",
                "supernet.name=supnet_m_small",
            ]
        ),
        ["not Fashion-MNIST IDX files", "FashionMNIST/raw"],
        1,
    ),
    (
        "cifar root with wrong files",
        lambda t: (
            _wrong_cifar_files(t)
            or [
                "search",
                *TINY,
                "--out",
                str(t / "run"),
                "--set",
                "data.dataset=cifar10",
                "--set",
                f"data.root={t}",
            ]
        ),
        ["data_batch_1", "not a CIFAR batch"],
        1,
    ),
]


def _wrong_fashion_files(tmp_path):
    raw = tmp_path / "fm" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (raw / name).write_bytes(b"not an idx file")


def _wrong_cifar_files(tmp_path):
    base = tmp_path / "cifar-10-batches-py"
    base.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (base / name).write_bytes(b"garbage")


@pytest.mark.parametrize("case", BAD_PATHS, ids=[c[0] for c in BAD_PATHS])
def test_bad_file_or_path_one_line(case, tmp_path, capsys):
    _, setup, words, code = case
    argv = setup(tmp_path)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    rc = main(argv)
    _assert_one_line(rc, capsys.readouterr().err, code, words)
    assert _snapshot(tmp_path) == before, "a file the user handed in was changed"


def _snapshot(folder) -> dict:
    """Every file under ``folder`` with its bytes' hash: nothing may be lost or rewritten."""
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_resume_of_an_empty_folder_says_so_and_starts(tmp_path, capsys):
    out = tmp_path / "fresh"
    rc = main(
        [
            "train",
            *TINY,
            "--out",
            str(out),
            "--resume",
            *ONE_EPOCH,
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "holds no run to resume; starting a new run" in captured.out
    assert (out / "config.yaml").is_file()


def test_resumed_ranking_with_other_settings_stops_unless_forced(tmp_path, capsys):
    """A killed racing ranking (its partial rows on disk) resumed with another delta."""
    run = _trained_run(tmp_path)
    from pgnas_core.config import resolve_config
    from pgnas_core.data import load_data, stack_split
    from pgnas_core.rank import SearchConfig, rank_candidates
    from pgnas_core.run.run_dir import MethodDir, load_supernet

    net, _ = load_supernet(run)
    cfg = resolve_config(None, run / "config.yaml")
    x, y = stack_split(load_data(cfg.data).val)
    store = MethodDir(run, "pgnas").ranking_store()

    def stop(passes):  # round 0 (6 candidate-passes) finished and saved, round 1 started
        if passes >= 8:
            raise KeyboardInterrupt

    try:
        rank_candidates(
            net,
            x,
            y,
            range(6),
            SearchConfig(rank="racing", candidates=6, race_first_chunk=16),
            store=store,
            progress=False,
            on_pass=stop,
        )
    except KeyboardInterrupt:
        pass
    assert (run / "candidates.partial.json").is_file() and (run / "candidates.race.pt").is_file()
    rank = [
        "rank",
        "--out",
        str(run),
        "--no-progress",
        "--set",
        "search.rank=racing",
        "--set",
        "search.candidates=6",
        "--set",
        "search.race_first_chunk=16",
    ]
    assert main([*rank, "--set", "search.race_delta=0.2"]) == 1
    err = capsys.readouterr().err
    assert "search.race_delta (0.05 -> 0.2)" in err and "--force" in err
    assert main([*rank, "--set", "search.race_delta=0.2", "--force"]) == 0
    assert list(run.glob("candidates.*.stale0"))  # set aside, not deleted
    assert len(pd.read_csv(run / "candidates.csv")) == 6


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
    assert rc == 1 and "run directory" in err and "does not exist" in err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["search", "--no-such-flag"])
    assert e.value.code == 2


@pytest.mark.slow  # a python process per case
@pytest.mark.parametrize(
    "argv, word",
    [
        (["search", "--preset", "digits", "--set", "posterior.p_init=2"], "posterior.p_init"),
        (["train", "--preset", "nope"], "preset"),
    ],
)
def test_real_subprocess(argv, word, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "pgnas_core.run.cli", *argv, "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and word in r.stderr and "Traceback" not in r.stderr
