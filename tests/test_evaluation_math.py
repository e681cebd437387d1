"""Numbers checked against hand computations: BN recalibration's statistics, evaluate()'s
top-k, and the paper-table helpers on a synthetic run with known answers."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
import yaml
from torch import nn

from pgnas_core.config import resolve_config
from pgnas_core.rank.bn_recalibration import bn_modules, recalibrate_bn
from pgnas_core.rank.sampling import sample_architecture
from pgnas_core.run import experiments as ex
from pgnas_core.supernets import configure_sites, create_supernet
from pgnas_core.train import evaluate


def test_recalibrated_statistics_are_the_averaged_batch_statistics_under_the_masks():
    torch.manual_seed(0)
    net = create_supernet("supnet_m_tiny", widths=(4, 8, 8), stem_channels=4)
    configure_sites(net, p_init=0.5)
    net.eval()
    net.apply_architecture(sample_architecture(net, 3))  # drops about half the channels
    x = torch.randn(48, 1, 8, 8)
    batches = [x[0:16], x[16:32], x[32:48]]  # what 3 batches of 16 from 48 images are
    bns = bn_modules(net)
    # by hand: each BN's input in each batch (train-mode forward, masks applied), its
    # per-channel mean and unbiased variance, averaged over the batches
    inputs = {id(m): [] for m in bns}
    hooks = [
        m.register_forward_hook(lambda m, i, o: inputs[id(m)].append(i[0].detach())) for m in bns
    ]
    saved = {k: v.clone() for k, v in net.state_dict().items()}
    for m in bns:
        m.train()
    with torch.no_grad():
        for b in batches:
            net(b)
    for h in hooks:
        h.remove()
    net.load_state_dict(saved)  # the forward above moved the running statistics
    net.eval()
    want_mean = {k: torch.stack([t.mean((0, 2, 3)) for t in v]).mean(0) for k, v in inputs.items()}
    want_var = {
        k: torch.stack([t.var((0, 2, 3), unbiased=True) for t in v]).mean(0)
        for k, v in inputs.items()
    }
    recalibrate_bn(net, x, batches=3, batch_size=16)
    for m in bns:
        assert torch.allclose(m.running_mean, want_mean[id(m)], atol=1e-5)
        assert torch.allclose(m.running_var, want_var[id(m)], atol=1e-5, rtol=1e-4)
        assert not m.training and m.momentum == 0.1  # put back as found
    # and the masks matter: without them the statistics differ
    net.set_site_mode("off")
    recalibrate_bn(net, x, batches=3, batch_size=16)
    assert any(not torch.allclose(m.running_mean, want_mean[id(m)], atol=1e-3) for m in bns)


class _FixedLogits(nn.Module):
    """Returns the same hand-made logits for any input (one row per sample)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.register_buffer("logits", logits)
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.logits[x.long().flatten()]


def test_top5_counts_a_label_within_the_five_largest_logits():
    classes = torch.arange(8, dtype=torch.float)
    # sample i's label sits at rank i (0 = the largest logit) among 8 classes
    logits, labels = [], []
    for rank in range(8):
        row = classes.flip(0).clone()  # class 0 largest ... class 7 smallest
        logits.append(row)
        labels.append(rank)
    model = _FixedLogits(torch.stack(logits))
    x = torch.arange(8, dtype=torch.float)  # the row index of each sample
    out = evaluate(model, x, torch.tensor(labels), batch_size=3, topk=(1, 5))
    assert out["acc"] == pytest.approx(1 / 8)  # only the label at rank 0
    assert out["top5"] == pytest.approx(5 / 8)  # ranks 0..4
    want_loss = torch.nn.functional.cross_entropy(torch.stack(logits), torch.tensor(labels))
    assert out["loss"] == pytest.approx(want_loss.item(), rel=1e-6)


def _synthetic_run(tmp_path, finetuned: bool) -> str:
    """A run directory holding only a config and a summary with round numbers."""
    cfg = resolve_config("digits", overrides=["posterior.l2=2.5", "train.epochs=4"])
    (tmp_path / "config.yaml").write_text(cfg.to_yaml())

    def method(test_acc, params, sup_acc, ft=None):
        best = {
            "archid": "a",
            "val_acc": 0.5,
            "test_acc": test_acc,
            "params": params,
            "candidates": 10,
            "rank_seconds": 30.0,
            "channel_drop": 0.25,
            "operation_drop": 0.0,
        }
        if ft is not None and finetuned:
            best["test_acc_finetuned"] = ft
        return {
            "supernet": {"test_acc": sup_acc, "params": 2_000_000, "mean_keep": 0.8},
            "train_seconds": 100.0,
            "best": best,
        }

    summary = {
        "supernet": "supnet_m_tiny",
        "dataset": "digits",
        "sizes": {"train": 1, "val": 1, "test": 1},
        "device": "cpu",
        "methods": {
            "pgnas": {"method": "pgnas", **method(0.9, 1_500_000, 0.85, 0.92)},
            "random": {"method": "random", **method(0.8, 1_800_000, 0.75, 0.88)},
        },
        "wall_seconds": 500.0,
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    return str(tmp_path)


@pytest.mark.parametrize("finetuned", [False, True])
def test_guided_vs_random_rows_and_units(tmp_path, finetuned):
    table = ex.guided_vs_random(_synthetic_run(tmp_path, finetuned)).set_index("method")
    want = {"full": (25.0, 2.0), "random": (20.0, 1.8), "pgnas": (10.0, 1.5)}
    if finetuned:
        want.update({"random_ft": (12.0, 1.8), "pgnas_ft": (8.0, 1.5)})
    assert list(table.index) == (
        ["full", "random", "random_ft", "pgnas", "pgnas_ft"]
        if finetuned
        else ["full", "random", "pgnas"]
    )
    for m, (error, params_m) in want.items():
        assert table.loc[m, "error"] == pytest.approx(error)
        assert table.loc[m, "params_m"] == pytest.approx(params_m)
    assert (table["supernet"] == "supnet_m_tiny").all()


def test_summary_row_reads_one_method_and_its_own_search_time(tmp_path):
    d = _synthetic_run(tmp_path, True)
    row = ex.summary_row(d, "random")
    assert row["method"] == "random" and row["l2"] == 2.5 and row["epochs"] == 4
    assert row["test_acc"] == 0.8 and row["test_acc_finetuned"] == 0.88
    assert row["search_seconds"] == 130.0  # its training and ranking, not the whole run's 500
    assert row["supernet_test_acc"] == 0.75 and row["supernet_params"] == 2_000_000
    assert ex.summary_row(d)["method"] == "pgnas"  # the run's main method by default
    units = ex.with_paper_units(pd.DataFrame([row]))
    assert units["error"].iloc[0] == pytest.approx(20.0)
    assert units["error_finetuned"].iloc[0] == pytest.approx(12.0)
    assert units["params_m"].iloc[0] == pytest.approx(1.8)
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["posterior"]["l2"] == 2.5


@pytest.mark.parametrize(
    "ours, theirs, lower, verdict",
    [
        (10.0, 12.0, True, "holds"),
        (12.0, 10.0, True, "does not hold"),
        (10.0, 10.2, True, "not resolved"),
        (0.9, 0.2, False, "holds"),
    ],
)
def test_a_one_run_verdict_says_so_and_needs_more_than_one_image(ours, theirs, lower, verdict):
    text = ex.one_run_verdict(ours, theirs, lower, resolution=0.5)
    assert text.startswith(verdict) and "one run" in text
