"""Every saved number belongs to the weights beside it (a digits run with fine-tuning and the
Random baseline): subnet/ and subnet_finetuned/ are evaluated again and compared with what
best.json and their arch.json say; `pgnas export` writes the candidate it names."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from pgnas_core.config import resolve_config
from pgnas_core.data import load_data, stack_split
from pgnas_core.rank import load_subnet, sample_architecture
from pgnas_core.run.cli import main
from pgnas_core.run.run_dir import load_supernet
from pgnas_core.train import evaluate

pytestmark = pytest.mark.slow  # a search with baselines and fine-tuning, then a ranking

ARGS = [
    "--preset",
    "digits",
    "--no-progress",
    "--set",
    "train.epochs=2",
    "--set",
    "search.candidates=6",
    "--set",
    "search.finetune_epochs=1",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("records") / "run"
    assert main(["search", *ARGS, "--out", str(out)]) == 0
    cfg = resolve_config(None, out / "config.yaml")
    return out, load_data(cfg.data)


def _measure(model, data, split: str) -> dict:
    return evaluate(model, *stack_split(getattr(data, split)), 1000, (1, 5))


@pytest.mark.parametrize("method", ["", "random"])
def test_subnet_holds_the_exported_winner_and_its_own_accuracies(run, method):
    out, data = run
    folder = out / method
    best = json.loads((folder / "best.json").read_text())
    compact, arch = load_subnet(folder / "subnet")
    meta = json.loads((folder / "subnet" / "arch.json").read_text())
    val, test = _measure(compact, data, "val"), _measure(compact, data, "test")
    assert test["acc"] == best["test_acc"] == meta["test_acc"]
    assert test["top5"] == best["test_top5"]
    assert val["acc"] == meta["val_acc"]
    assert abs(val["acc"] - best["val_acc"]) <= 1 / len(data.val)  # ranked with folded BN
    assert arch.archid == best["archid"] == meta["archid"]
    # the exported net is the masked supernet, restricted to the winner
    net, _ = load_supernet(out, method or None)
    net.apply_architecture(arch)
    x = stack_split(data.test)[0][:64]
    with torch.no_grad():
        assert torch.allclose(compact(x), net(x), atol=1e-4)


@pytest.mark.parametrize("method", ["", "random"])
def test_subnet_finetuned_holds_the_finetuned_weights_and_their_accuracies(run, method):
    out, data = run
    folder = out / method
    best = json.loads((folder / "best.json").read_text())
    tuned, arch = load_subnet(folder / "subnet_finetuned")
    meta = json.loads((folder / "subnet_finetuned" / "arch.json").read_text())
    val, test = _measure(tuned, data, "val"), _measure(tuned, data, "test")
    assert test["acc"] == best["test_acc_finetuned"] == meta["test_acc"]
    assert val["acc"] == best["val_acc_finetuned"] == meta["val_acc"]
    assert meta["finetune_epochs"] == 1 and arch.archid == best["archid"]
    exported, _ = load_subnet(folder / "subnet")
    moved = [
        k
        for k, v in tuned.state_dict().items()
        if v.is_floating_point() and not torch.equal(v, exported.state_dict()[k])
    ]
    assert moved, "fine-tuning changed no weight: the two folders would be the same net"


def test_export_writes_the_candidate_it_names(run, tmp_path):
    out, data = run
    table = pd.read_csv(out / "candidates.csv", dtype={"archid": str})
    for seed in (2, 5):
        dest = tmp_path / f"seed{seed}"
        assert main(["export", "--out", str(out), "--seed", str(seed), "--dest", str(dest)]) == 0
        meta = json.loads((dest / "arch.json").read_text())
        row = table[table["seed"] == seed].iloc[0]
        assert meta["archid"] == row["archid"] and meta["seed"] == seed
        assert abs(meta["val_acc"] - row["val_acc"]) <= 1 / len(data.val)
        compact, arch = load_subnet(dest)
        assert abs(_measure(compact, data, "val")["acc"] - row["val_acc"]) <= 1 / len(data.val)
        assert meta["params"] == row["params"] and meta["flops"] == row["flops"]


def test_export_of_the_random_baseline_and_the_default_destination(run):
    out, data = run
    best = json.loads((out / "random" / "best.json").read_text())
    assert main(["export", "--out", str(out), "--random"]) == 0  # the Random winner
    meta = json.loads((out / "random" / f"subnet_seed{best['seed']}" / "arch.json").read_text())
    assert meta["archid"] == best["archid"]
    net, _ = load_supernet(out, "random")
    assert sample_architecture(net, best["seed"]).archid == best["archid"]
    pgnas = json.loads((out / "best.json").read_text())
    assert pgnas["archid"] != best["archid"]  # a different supernet, a different winner


def test_config_yaml_describes_the_run_that_made_the_files(run, tmp_path):
    import yaml

    out, _ = run
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    assert cfg["search"]["finetune_epochs"] == 1 and cfg["train"]["epochs"] == 2
    history = yaml.safe_load((out / "config_history.yaml").read_text())
    assert history[0]["config"] == "created" and history[0]["command"] == "train rank"
    # a re-ranking with more candidates is recorded, and config.yaml follows it
    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(out, copy)
    assert main(["rank", "--out", str(copy), "--set", "search.candidates=8", "--no-progress"]) == 0
    assert yaml.safe_load((copy / "config.yaml").read_text())["search"]["candidates"] == 8
    last = yaml.safe_load((copy / "config_history.yaml").read_text())[-1]
    assert last["command"] == "rank" and last["changed"]["search.candidates"] == {
        "from": 6,
        "to": 8,
    }
    assert len(pd.read_csv(copy / "candidates.csv")) == 8


@pytest.mark.parametrize("method", ["", "random"])
def test_each_reported_nets_per_image_bits_give_its_accuracy_exactly(run, method):
    from pgnas_core.run.correctness import CORRECT_FILE, correct_digest, load_correct, test_digest

    out, data = run
    folder = out / method
    best = json.loads((folder / "best.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    bits = load_correct(folder / CORRECT_FILE)
    assert set(bits) == {"supernet", "winner", "finetuned"}
    x_test, y_test = stack_split(data.test)
    assert all(len(b) == len(y_test) for b in bits.values())
    assert correct_digest(folder / CORRECT_FILE) == test_digest(x_test, y_test)
    assert bits["winner"].mean() == best["test_acc"]
    assert bits["finetuned"].mean() == best["test_acc_finetuned"]
    sup = summary["methods"][method or "pgnas"]["supernet"]["test_acc"]
    assert bits["supernet"].mean() == sup
    # image by image: the exported winner's own predictions, in the test split's order
    compact, _ = load_subnet(folder / "subnet")
    with torch.no_grad():
        hits = (compact(x_test).argmax(1) == y_test).numpy()
    assert (hits == bits["winner"]).all()


def test_the_finetuning_lr_is_checked():
    from pgnas_core.errors import ConfigError

    with pytest.raises(ConfigError, match="search.finetune_lr"):
        resolve_config("digits", None, ["search.finetune_lr=-0.1"])
