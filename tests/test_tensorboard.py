"""train.tensorboard=true: history.csv's columns as TensorBoard scalars, read back with
tensorboard's own reader."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pgnas_core.errors import ConfigError
from pgnas_core.run.cli import main
from pgnas_core.train.config import TrainConfig
from pgnas_core.train.tensorboard import TensorBoardSink, tensorboard_dir

from cli_run import run_cli

TINY = ["--no-progress", "--set", "train.epochs=2", "--set", "data.train_size=64"]


def _scalars(folder) -> dict[str, list]:
    """{tag: [(step, value)]} of every scalar event under ``folder``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder))
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def _assert_mirrors_history(history_csv, folder):
    history = pd.read_csv(history_csv)
    scalars = _scalars(folder)
    numeric = [c for c in history if c != "epoch" and pd.api.types.is_numeric_dtype(history[c])]
    assert set(scalars) == set(numeric)
    for col in numeric:
        rows = history[["epoch", col]].dropna()
        steps, values = zip(*scalars[col])
        assert list(steps) == list(rows["epoch"]), col
        # TensorBoard keeps float32 scalars: each must be the CSV value rounded to float32
        assert np.array_equal(np.float32(values), rows[col].to_numpy(np.float32)), col


@pytest.mark.slow
@pytest.mark.parametrize(
    "method, args, columns",
    [
        ("pgnas", ["--preset", "digits"], {"train_ce", "train_reg", "val_acc", "mean_keep"}),
        (
            "darts",
            [
                "--preset",
                "digits",
                "--set",
                "supernet.name=supnet_cell_tiny",
                "--set",
                "method.name=darts",
                "--set",
                "method.baselines=[]",
            ],
            {"train_ce", "val_acc", "none_fraction", "param_free_fraction"},
        ),
    ],
)
def test_events_mirror_every_numeric_history_column(tmp_path, method, args, columns):
    out = tmp_path / "run"
    assert main(["train", *args, *TINY, "--set", "train.tensorboard=true", "--out", str(out)]) == 0
    folder = tensorboard_dir(out / "history.csv", method)
    assert list(folder.glob("events.out.tfevents.*"))
    assert columns | {"lr", "train_acc", "val_loss"} <= set(_scalars(folder))
    _assert_mirrors_history(out / "history.csv", folder)
    if method == "pgnas":  # the baseline gets its own events beside its own history.csv
        _assert_mirrors_history(
            out / "random" / "history.csv",
            tensorboard_dir(out / "random" / "history.csv", "random"),
        )


@pytest.mark.slow
def test_a_killed_and_resumed_run_has_each_epoch_once(tmp_path):
    """Killed inside epoch 2 (after epoch 1's events), resumed: two event files whose
    scalars are history.csv's, each epoch once."""
    out = tmp_path / "run"
    sets = ["train.epochs=3", "data.train_size=64", "train.tensorboard=true"]
    sets += ["train.checkpoint_every_steps=1", "method.baselines=[]"]
    args = ["train", "--preset", "digits", "--no-progress", "--out", str(out)]
    args += [a for s in sets for a in ("--set", s)]
    killed = run_cli(*args, kill_after="train:2")  # one step per epoch: inside epoch 2
    assert killed.returncode != 0
    folder = tensorboard_dir(out / "history.csv", "pgnas")
    assert [s for s, _ in _scalars(folder)["val_acc"]] == [1]
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert len(list(folder.glob("events.out.tfevents.*"))) == 2
    _assert_mirrors_history(out / "history.csv", folder)


def test_off_by_default_and_validated(tmp_path):
    assert TrainConfig().tensorboard is False
    with pytest.raises(ConfigError, match="train.tensorboard"):
        TrainConfig(tensorboard="yes").validate()


def test_a_resumed_run_replaces_the_epochs_it_trains_again(tmp_path):
    """A run killed after writing epoch 2's events but before its checkpoint trains epoch 2
    again: the new sink purges the old epoch 2, so each epoch has one value."""
    sink = TensorBoardSink(tmp_path)
    for epoch in (1, 2):
        sink.write({"epoch": epoch, "val_acc": 0.5 + epoch / 10, "note": "text is skipped"})
    sink.close()
    again = TensorBoardSink(tmp_path)
    again.write({"epoch": 2, "val_acc": 0.9})
    again.write({"epoch": 3, "val_acc": 0.95})
    again.close()
    got = _scalars(tmp_path)
    assert list(got) == ["val_acc"]
    assert [s for s, _ in got["val_acc"]] == [1, 2, 3]
    assert np.allclose([v for _, v in got["val_acc"]], [0.6, 0.9, 0.95])


@pytest.mark.slow  # a subprocess up to building the supernet
def test_missing_tensorboard_is_one_line_naming_the_extra(tmp_path):
    """Without the tensorboard package (blocked here), the run stops before training."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'tensorboard':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from pgnas_core.run.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out = tmp_path / "run"
    args = ["train", "--preset", "digits", *TINY, "--set", "train.tensorboard=true"]
    r = subprocess.run(
        [sys.executable, "-c", code, *args, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip().splitlines() == [
        "pgnas: error: train.tensorboard=true needs the tensorboard package: "
        "pip install 'pgnas[tensorboard]'"
    ]
    assert not (out / "checkpoints").exists()
