"""The method interface: the registry, and a toy method registered in a few lines that runs
end to end through the CLI (adding a method touches one folder and one preset)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from pgnas_core.config import resolve_config
from pgnas_core.errors import ConfigError
from pgnas_core.methods import (
    Derived,
    SearchMethod,
    create_method,
    list_methods,
    register_method,
    unregister_method,
)
from pgnas_core.run.cli import main


@pytest.fixture
def toy_method():
    """A method that trains the plain net (sites off) and derives the full architecture."""

    @register_method
    class KeepEverything(SearchMethod):
        name = "toy_keep_everything"
        description = "plain training; every channel kept"
        derivation = "argmax"

        def gate_for_training(self, net, epoch=1):
            net.set_site_mode("off")

        def derive(self, net, data, ctx):
            from pgnas_core.data import stack_split
            from pgnas_core.rank import export_subnet
            from pgnas_core.train import evaluate

            arch = net.full_architecture()
            compact = export_subnet(net, arch)
            return Derived(
                arch, compact, {"val_acc": evaluate(compact, *stack_split(data.val))["acc"]}
            )

    yield KeepEverything
    unregister_method(KeepEverything.name)


def test_pgnas_and_random_are_registered():
    assert {"pgnas", "random"} <= set(list_methods())
    cfg = resolve_config("digits")
    assert create_method("pgnas", cfg).derivation == "sample_and_rank"
    assert create_method("random", cfg).learn_p is False


def test_a_duplicate_name_is_refused(toy_method):
    with pytest.raises(ValueError, match="already registered"):
        register_method(type("Again", (SearchMethod,), {"name": toy_method.name}))


def test_unknown_method_names_the_field():
    with pytest.raises(ConfigError, match="method.name.*did you mean 'pgnas'"):
        resolve_config("digits", overrides=["method.name=pgnaz"])


def test_a_toy_method_runs_end_to_end_through_the_cli(toy_method, tmp_path, capsys):
    out = tmp_path / "toy"
    args = [
        "search",
        "--preset",
        "digits",
        "--no-progress",
        "--out",
        str(out),
        "--set",
        f"method.name={toy_method.name}",
        "--set",
        "method.baselines=[]",
        "--set",
        "train.epochs=1",
    ]
    assert main(args) == 0, capsys.readouterr().err
    assert "derived net" in capsys.readouterr().out
    best = json.loads((out / "best.json").read_text())
    assert best["channel_drop"] == 0.0 and "seed" not in best  # not a sampled candidate
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["methods"]) == [toy_method.name]
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == [1] and "mean_keep" not in history
    # trained with the sites off: every keep-probability is still the initial 0.9
    state = torch.load(next((out / "checkpoints").glob("*.pt")), weights_only=True)
    thetas = [v for k, v in state["model"].items() if k.endswith("theta")]
    assert thetas and all(torch.allclose(t, thetas[0]) for t in thetas)
    from pgnas_core.rank import load_subnet

    compact, arch = load_subnet(out / "subnet")
    assert arch.channel_drop_proportion == 0.0
    assert compact(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
    # pgnas rank and export work on it too, through the same loader
    assert main(["rank", "--out", str(out), "--no-progress"]) == 0
