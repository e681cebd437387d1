"""The `pgnas` command end to end on scikit-learn's digits (real data, seconds on a CPU)."""

import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from pgnas_core.run.cli import main

QUICK = [
    "--preset",
    "digits",
    "--no-progress",
    "--set",
    "train.epochs=2",
    "--set",
    "search.candidates=6",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["search", *QUICK, "--out", str(out)]) == 0
    return out


def test_search_writes_the_run_directory(run_dir):
    for name in [
        "config.yaml",
        "environment.json",
        "history.csv",
        "keep_probs.csv",
        "candidates.csv",
        "best.json",
        "summary.json",
        "subnet/arch.json",
        "subnet/weights.pt",
        "random/candidates.csv",
        "random/best.json",
    ]:
        assert (run_dir / name).exists(), name
    assert list((run_dir / "checkpoints").glob("epoch_*.pt"))
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == [1, 2]
    for col in ["train_ce", "train_reg", "train_acc", "val_acc", "mean_keep", "lr", "seconds"]:
        assert col in history
    keep = pd.read_csv(run_dir / "keep_probs.csv")
    assert set(keep["epoch"]) == {0, 1, 2} and {"site", "keep_prob", "stage"} <= set(keep)
    cands = pd.read_csv(run_dir / "candidates.csv")
    assert len(cands) == 6 and cands["seed"].is_unique
    assert {"val_acc", "val_loss", "params", "flops", "kept_fraction", "dropped_ops"} <= set(cands)
    best = json.loads((run_dir / "best.json").read_text())
    assert best["val_acc"] == cands["val_acc"].max()
    assert best["test_acc"] == pytest.approx(best["test_acc_masked_supernet"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert list(summary["methods"]) == ["pgnas", "random"]


def test_exported_subnet_reloads_and_matches_the_masked_supernet(run_dir):
    from pgnas_core.config import resolve_config
    from pgnas_core.data import load_data, stack_split
    from pgnas_core.rank.export import load_subnet
    from pgnas_core.rank.sampling import sample_architecture
    from pgnas_core.run.run_dir import load_supernet

    compact, arch = load_subnet(run_dir / "subnet")
    cfg = resolve_config(None, run_dir / "config.yaml")
    data = load_data(cfg.data)
    net, _ = load_supernet(run_dir)
    best = json.loads((run_dir / "best.json").read_text())
    assert sample_architecture(net, best["seed"]) == arch
    net.apply_architecture(arch)
    x, _ = stack_split(data.test)
    with torch.no_grad():
        assert torch.allclose(compact(x[:64]), net(x[:64]), atol=1e-4)


def test_steps_alone_train_rank_export(tmp_path):
    out = tmp_path / "steps"
    args = [
        "--preset",
        "digits",
        "--no-progress",
        "--set",
        "train.epochs=1",
        "--set",
        "method.baselines=[]",
    ]
    assert main(["train", *args, "--out", str(out)]) == 0
    assert not (out / "candidates.csv").exists()
    assert main(["rank", "--out", str(out), "--set", "search.candidates=4", "--no-progress"]) == 0
    assert len(pd.read_csv(out / "candidates.csv")) == 4
    assert main(["export", "--out", str(out), "--seed", "2"]) == 0
    assert (out / "subnet_seed2" / "weights.pt").exists()
    # racing from the command line: the winner is a full-split row, and best.json names it
    assert (
        main(
            [
                "rank",
                "--out",
                str(out),
                "--set",
                "search.candidates=12",
                "--set",
                "search.rank=racing",
                "--set",
                "search.race_first_chunk=32",
                "--no-progress",
            ]
        )
        == 0
    )
    table = pd.read_csv(out / "candidates.csv")
    full = table[table["eliminated_round"] == -1]
    assert len(table) == 12 and len(full) >= 1
    assert (full["evaluated_images"] == full["evaluated_images"].max()).all()
    best = json.loads((out / "best.json").read_text())
    row = full[full["seed"] == best["seed"]]
    assert len(row) == 1 and row["val_acc"].iloc[0] == full["val_acc"].max()


def test_resume_with_more_epochs_needs_force_and_is_recorded(tmp_path, capsys):
    import yaml

    out = tmp_path / "resume"
    args = ["--preset", "digits", "--no-progress", "--set", "method.baselines=[]"]
    assert main(["train", *args, "--set", "train.epochs=1", "--out", str(out)]) == 0
    more = ["train", *args, "--set", "train.epochs=2", "--out", str(out), "--resume"]
    assert main(more) == 1
    err = capsys.readouterr().err
    assert "train.epochs (1 -> 2)" in err and "--force" in err
    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [1]  # nothing ran
    assert main([*more, "--force"]) == 0
    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [1, 2]
    assert yaml.safe_load((out / "config.yaml").read_text())["train"]["epochs"] == 2
    changes = yaml.safe_load((out / "config_history.yaml").read_text())
    assert changes[0]["config"] == "created"
    assert changes[-1]["changed"]["train.epochs"] == {"from": 1, "to": 2}


def test_existing_run_directory_is_not_overwritten(run_dir, capsys):
    assert main(["search", *QUICK, "--out", str(run_dir)]) != 0
    assert "--resume" in capsys.readouterr().err


@pytest.mark.slow  # a python process
def test_console_script_lists_presets():
    out = subprocess.run(
        [sys.executable, "-m", "pgnas_core", "presets"], capture_output=True, text=True, check=True
    ).stdout
    assert "demo" in out and "supnet_m" in out
