"""DARTS and BaLeNAS runs on the cell space (digits, tiny cell supernet), as a user meets them:
the run directory, the scratch-trained winner, the plots, the cell graph and the prior sliders."""

from __future__ import annotations

import json

import matplotlib
import pandas as pd
import pytest
import torch

matplotlib.use("Agg")

import pgnas_viz as viz  # noqa: E402
from pgnas_core.data import load_data, stack_split  # noqa: E402
from pgnas_core.rank import load_subnet  # noqa: E402
from pgnas_core.run import experiments as ex  # noqa: E402
from pgnas_core.run.cli import main  # noqa: E402
from pgnas_core.run.results import load_run  # noqa: E402
from pgnas_core.run.run_dir import load_supernet  # noqa: E402
from pgnas_core.supernets.spaces import NB201_SPACE as SPACE  # noqa: E402
from pgnas_core.train import evaluate  # noqa: E402

QUICK = ("train.epochs=2", "search.scratch_epochs=1")

pytestmark = pytest.mark.slow  # trains DARTS and BaLeNAS runs, and the prior sliders' runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("cells")
    return {
        m: ex.cached_search(ex.cell_config(m, *QUICK), root, name=m) for m in ("darts", "balenas")
    }


def test_the_run_directory_of_a_differentiable_method(runs):
    for method, out in runs.items():
        for name in (
            "history.csv",
            "arch_params.csv",
            "derived.csv",
            "best.json",
            "summary.json",
            "subnet/arch.json",
            "subnet_scratch/arch.json",
        ):
            assert (out / name).is_file(), (method, name)
        params = pd.read_csv(out / "arch_params.csv")
        assert sorted(params["epoch"].unique()) == [0, 1, 2] and set(params["op"]) == set(SPACE.ops)
        weights = params.groupby(["epoch", "group", "edge"])["weight"].sum()
        assert ((weights - 1).abs() < 1e-5).all()  # a softmax per edge
        assert ("sigma" in params) == (method == "balenas")
        derived = pd.read_csv(out / "derived.csv")
        assert len(derived) == 3 * 6  # epochs 0..2, one shared group, six edges
        history = pd.read_csv(out / "history.csv")
        assert history["param_free_fraction"].between(0, 1).all()


def test_the_scratch_trained_winner_holds_its_own_accuracies(runs):
    out = runs["darts"]
    best = json.loads((out / "best.json").read_text())
    data = load_data(ex.cell_config("darts", *QUICK).data)
    tuned, arch = load_subnet(out / "subnet_scratch")
    inherited, _ = load_subnet(out / "subnet")
    test = evaluate(tuned, *stack_split(data.test))["acc"]
    assert test == best["test_acc_scratch"] and arch.archid == best["archid"]
    assert evaluate(inherited, *stack_split(data.test))["acc"] == best["test_acc"]
    moved = [
        k
        for k, v in tuned.state_dict().items()
        if v.is_floating_point() and not torch.equal(v, inherited.state_dict()[k])
    ]
    assert moved  # trained from fresh weights, not the supernet's


def test_the_derived_cell_keeps_one_operation_per_edge_and_is_drawn(runs):
    run = load_run(runs["darts"])
    table = viz.cell_table(run.architecture)
    assert len(table) == 6 * len(SPACE.searched_ops)
    per_edge = table.groupby("edge")["kept"].sum()
    assert (per_edge <= 1).all()  # argmax: one op (or none) per edge
    g = viz.cell_graph(run)
    kept = list(table.loc[table["kept"], "op"])
    assert sorted(g.ops) == sorted(kept)
    assert g.source.count("->") == 2 * len(kept)  # node i -> op -> node j


def test_architecture_weights_and_parameter_free_plots(runs):
    axes = viz.plot_arch_weights(runs["balenas"])
    assert len(axes) == 6 and all(len(a.lines) == len(SPACE.ops) for a in axes)
    assert all(len(a.collections) == len(SPACE.ops) for a in axes)  # sigma bands
    darts_axes = viz.plot_arch_weights(runs["darts"])
    assert all(len(a.collections) == 0 for a in darts_axes)  # no sigma, no band
    ax = viz.plot_param_free_fraction(runs)
    assert len(ax.lines) == 2


def test_prior_sliders_pick_the_nearest_trained_run(tmp_path):
    grid = ex.run_grid(
        ex.cell_config("balenas", "train.epochs=1"),
        {"balenas.lambda0": [0.3, 10.0], "balenas.sigma0": [0.05, 0.25]},
        tmp_path,
    )
    sweep = grid.rename(columns={"balenas.lambda0": "lambda0", "balenas.sigma0": "sigma0"})
    assert len(sweep) == 4 and sweep["mean_sigma"].notna().all()
    w = viz.prior_explorer(sweep)
    w.lambda_slider.value, w.sigma_slider.value = 0.3, 0.05
    assert (w.nearest["lambda0"], w.nearest["sigma0"]) == (0.3, 0.05)
    first, png = w.text, w.image.value
    w.lambda_slider.value, w.sigma_slider.value = 9.0, 0.3
    assert (w.nearest["lambda0"], w.nearest["sigma0"]) == (10.0, 0.25)
    assert w.text != first and w.image.value != png
    assert "nearest trained lambda0=10" in w.text


def test_each_number_is_named_for_what_it_is(runs):
    """summary.json's supernet is the softmax mixture (not the argmax cell, which is best.json's
    derived net with inherited weights); history.csv holds both per epoch, and the decisiveness
    diagnostics."""
    for method, out in runs.items():
        summary = json.loads((out / "summary.json").read_text())
        sup = summary["methods"][method]["supernet"]
        assert summary["version"] == 2 and sup["evaluated_as"] == "softmax mixture"
        assert {"max_op_weight", "alpha_entropy"} <= set(sup["diagnostics"])
        net, m = load_supernet(out, method)
        data = load_data(ex.cell_config(method, *QUICK).data)
        with m.evaluation_mode(net):
            assert evaluate(net, *stack_split(data.test))["acc"] == sup["test_acc"]
        history = pd.read_csv(out / "history.csv")
        assert history["val_acc_derived"].between(0, 1).all()
        assert history["max_op_weight"].between(1 / len(SPACE.ops), 1).all()
        assert history["alpha_entropy"].between(0, 1).all()
        assert ("mu_spread_over_sigma" in history) == (method == "balenas")


def test_export_writes_the_methods_architecture(runs, tmp_path, capsys):
    darts = runs["darts"]
    best = json.loads((darts / "best.json").read_text())
    assert main(["export", "--out", str(darts), "--dest", str(tmp_path / "a")]) == 0
    meta = json.loads((tmp_path / "a" / "arch.json").read_text())
    assert meta["archid"] == best["archid"] and meta["derived"] == "argmax"
    for bad in (["--sample", "2"], ["--seed", "3"]):  # other pairings stop with one line
        assert main(["export", "--out", str(darts), *bad]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"pgnas: error: {bad[0]} does not apply to a darts run")
        assert "\n" not in err
    balenas = runs["balenas"]
    assert main(["export", "--out", str(balenas), "--sample", "3", "--dest", str(tmp_path)]) == 0
    net, m = load_supernet(balenas, "balenas")
    drawn = m.sample_architectures(net, 3, m.settings.proxy_seed)
    for i, arch in enumerate(drawn):
        compact, loaded = load_subnet(tmp_path / f"subnet_sample{i}")
        assert loaded.archid == arch.archid
    assert main(["export", "--out", str(balenas), "--seed", "1"]) == 1
    assert "--seed does not apply to a balenas run" in capsys.readouterr().err
