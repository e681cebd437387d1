"""The decisiveness diagnostics on hand-made alphas, sigmas, switches and keep-probabilities."""

import math

import pytest
import torch

from pgnas_core.methods import diagnostics as dg


def test_uniform_alpha_is_undecided():
    alpha = torch.zeros(1, 6, 5)
    assert dg.max_op_weight(alpha) == pytest.approx(1 / 5)
    assert dg.alpha_entropy(alpha) == pytest.approx(1.0)


def test_one_hot_alpha_is_decided():
    alpha = torch.full((2, 6, 5), -1e4)
    alpha[..., 2] = 0.0
    assert dg.max_op_weight(alpha) == pytest.approx(1.0)
    assert dg.alpha_entropy(alpha) == pytest.approx(0.0, abs=1e-12)


def test_max_weight_and_entropy_average_over_edges():
    alpha = torch.zeros(1, 2, 4)
    alpha[0, 0] = torch.tensor([1e4, 0.0, 0.0, 0.0])  # one one-hot edge, one uniform edge
    assert dg.max_op_weight(alpha) == pytest.approx((1 + 1 / 4) / 2)
    assert dg.alpha_entropy(alpha) == pytest.approx(0.5)
    # by hand: softmax([log 3, 0]) = [3/4, 1/4]
    two = torch.tensor([[math.log(3), 0.0]])
    h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2)
    assert dg.alpha_entropy(two) == pytest.approx(h)
    assert dg.max_op_weight(two) == pytest.approx(0.75)


def test_mu_spread_over_sigma():
    mu = torch.tensor([[0.0, 2.0], [1.0, 1.0]])  # std over ops: 1 and 0
    sigma = torch.tensor([[0.5, 0.5], [2.0, 2.0]])
    assert dg.mu_spread_over_sigma(mu, sigma) == pytest.approx((1 / 0.5 + 0 / 2) / 2)
    assert dg.mu_spread_over_sigma(torch.zeros(3, 5), torch.ones(3, 5)) == 0.0


def test_switch_sparsity():
    s = torch.tensor([1.0, -0.5, 0.05, 0.0, 0.2])
    assert dg.switch_sparsity(s, 0.1) == pytest.approx(2 / 5)  # 0.05 and 0 below 0.1
    assert dg.switch_sparsity(torch.full((4,), 0.75), 0.1) == 0.0


def test_spearman():
    a = torch.tensor([0.1, 0.5, 0.3, 0.9])
    assert dg.spearman(a, a**3) == pytest.approx(1.0)  # monotone: rank correlation 1
    assert dg.spearman(a, -a) == pytest.approx(-1.0)
    # ties take the mean rank: ranks [1, 2.5, 2.5, 4] against [1, 2, 3, 4]
    tied = torch.tensor([1.0, 2.0, 2.0, 3.0])
    r = torch.tensor([1.0, 2.5, 2.5, 4.0]) - 2.5
    q = torch.tensor([1.0, 2.0, 3.0, 4.0]) - 2.5
    expected = float((r * q).sum() / (r.square().sum() * q.square().sum()).sqrt())
    assert dg.spearman(tied, torch.arange(4.0)) == pytest.approx(expected)
    assert math.isnan(dg.spearman(torch.ones(4), a))


def test_keep_spread():
    assert dg.keep_spread([0.9, 0.9, 0.9]) == 0.0
    assert dg.keep_spread([0.5, 1.0]) == pytest.approx(0.25)


def test_the_diagnostics_plot_draws_what_each_run_recorded():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from pgnas_viz import plot_search_diagnostics

    darts = pd.DataFrame({"epoch": [1, 2], "max_op_weight": [0.2, 0.5], "alpha_entropy": [1, 0.7]})
    pgnas = pd.DataFrame({"epoch": [1, 2, 3], "std_keep": [0.0, 0.1, 0.2]})
    axes = plot_search_diagnostics({"darts": darts, "pgnas": pgnas})
    assert [a.get_title() for a in axes] == ["max_op_weight", "alpha_entropy", "std_keep"]
    line, uniform = axes[0].lines
    assert list(line.get_ydata()) == [0.2, 0.5] and uniform.get_ydata()[0] == 1 / 5
    assert len(axes[2].lines[0].get_xdata()) == 3
    with pytest.raises(ValueError, match="no search diagnostics"):
        plot_search_diagnostics(pd.DataFrame({"epoch": [1]}))


def _summary_dict(version=None):
    best = {"archid": "a", "val_acc": 0.5, "test_acc": 0.4, "test_acc_scratch": 0.8, "params": 10}
    best.update(flops=1, channel_drop=0.0, operation_drop=0.5)
    sup = {"test_acc": 0.7, "params": 100}
    d = {
        "supernet": "supnet_cell_tiny",
        "dataset": "digits",
        "sizes": {},
        "device": "cpu",
        "methods": {
            "darts": {"method": "darts", "supernet": sup, "train_seconds": 1.0, "best": best}
        },
    }
    if version is not None:
        d["version"] = version
        sup["evaluated_as"] = "softmax mixture"
        sup["diagnostics"] = {"max_op_weight": 0.45, "alpha_entropy": 0.61}
    return d


def test_the_summary_line_names_the_three_accuracies():
    from pgnas_core.run.pipeline import format_summary
    from pgnas_core.run.run_dir import Summary

    summary = Summary.from_dict(_summary_dict(2))
    assert Summary.from_dict(summary.to_dict()).to_dict() == summary.to_dict()
    text = format_summary(summary)
    assert "darts: supernet (softmax mixture) test acc 0.7000" in text
    assert "derived net, inherited weights: val acc 0.5000, test acc 0.4000" in text
    assert "derived net trained from scratch: test acc 0.8000" in text
    assert "search at the end: max_op_weight 0.450, alpha_entropy 0.610" in text


def test_a_version_1_summary_labels_darts_supernet_number_as_the_argmax_cell():
    from pgnas_core.run.run_dir import Summary

    old = Summary.from_dict(_summary_dict())
    assert not old["darts"].supernet.is_supernet and "argmax" in old["darts"].supernet.evaluated_as
    assert Summary.from_dict(_summary_dict(2))["darts"].supernet.is_supernet


@pytest.mark.slow
def test_arch_warmup_holds_alpha_and_arch_steps_multiply_its_steps(tmp_path):
    import pandas as pd

    from pgnas_core.data import load_data
    from pgnas_core.methods import create_method
    from pgnas_core.run import experiments as ex
    from pgnas_core.run.pipeline import train

    cfg = ex.cell_config(
        "darts", "train.epochs=2", "data.train_size=128", "darts.arch_warmup_epochs=1"
    )
    cfg.darts.arch_steps = 3
    data = load_data(cfg.data)
    method = create_method("darts", cfg)
    train(cfg, data, tmp_path, method, progress=False)
    alpha = pd.read_csv(tmp_path / "arch_params.csv").pivot_table(
        index=["group", "edge", "op"], columns="epoch", values="alpha"
    )
    assert (alpha[1] == alpha[0]).all() and not (alpha[2] == alpha[1]).all()
    steps = len(method.training_split(data)) // cfg.data.batch_size
    adam = method.arch_optimizer.state_dict()["state"][0]["step"]
    assert int(adam) == 3 * max(steps, 1)
