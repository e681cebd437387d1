"""``train.compile``: the training forward under torch.compile trains the same method."""

import pandas as pd
import pytest
import torch

from pgnas_core.config import resolve_config
from pgnas_core.data import load_data
from pgnas_core.run.pipeline import train
from pgnas_core.train.precision import native_bf16


@pytest.mark.slow
def test_compiled_training_learns_weights_and_keep_probabilities(tmp_path, one_thread):
    runs = {}
    for compiled in (False, True):
        cfg = resolve_config(
            "digits",
            None,
            ["train.epochs=2", "train.device=cpu", f"train.compile={str(compiled).lower()}"],
        )
        out = tmp_path / f"compile_{compiled}"
        net = train(cfg, load_data(cfg.data), out, "pgnas", progress=False)
        assert all(torch.isfinite(p).all() for p in net.parameters())
        runs[compiled] = (pd.read_csv(out / "history.csv"), net)
    eager, compiled = runs[False][0].iloc[-1], runs[True][0]
    # the masks differ (inductor's RNG), the method does not: it learns as fast, give or take
    # the noise of a 2-epoch run (eager 0.77, compiled 0.73 val acc when written)
    assert compiled["train_loss"].iloc[-1] < compiled["train_loss"].iloc[0]
    assert compiled["val_acc"].iloc[-1] > 0.5
    assert abs(compiled["val_acc"].iloc[-1] - eager["val_acc"]) < 0.15
    # gradients reached the keep-probabilities through the compiled concrete relaxation
    keep = torch.tensor([s.keep_prob.item() for s in runs[True][1].sites()])
    assert (keep - 0.9).abs().max() > 1e-3
    # the saved weights are the plain module's (no torch.compile prefixes)
    state = torch.load(
        next((tmp_path / "compile_True" / "checkpoints").glob("*.pt")), weights_only=True
    )
    assert not any(k.startswith("_orig_mod") for k in state["model"])


@pytest.mark.slow
@pytest.mark.skipif(not native_bf16("cpu"), reason="this CPU has no native bf16 (never emulated)")
def test_bf16_autocast_composes_with_compile(tmp_path, one_thread):
    """train.precision=bf16 under train.compile: the same method learns, its master weights
    and keep-probabilities stay fp32."""
    overrides = ["train.epochs=2", "train.device=cpu", "train.compile=true", "train.precision=bf16"]
    cfg = resolve_config("digits", None, overrides)
    net = train(cfg, load_data(cfg.data), tmp_path / "run", "pgnas", progress=False)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert history["val_acc"].iloc[-1] > 0.5
    assert all(p.dtype == torch.float32 for p in net.parameters())
    keep = torch.tensor([s.keep_prob.item() for s in net.sites()])
    assert (keep - 0.9).abs().max() > 1e-3
