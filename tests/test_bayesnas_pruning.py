"""BayesNAS's pruning as notebook 11 measures it: pruning nothing is the unpruned supernet, an
operation alive under a pruned parent is caught from the architecture itself, dead cells by
hand, the equal-sparsity study's rows, and the relevance plots and sliders over a real run."""

from __future__ import annotations

import json

import matplotlib
import pandas as pd
import pytest
import torch

matplotlib.use("Agg")

import pgnas_viz as viz  # noqa: E402
from pgnas_core.run import experiments as ex  # noqa: E402
from pgnas_core.run.cli import main  # noqa: E402
from pgnas_core.run.pruning import PrunedRun, dead_cells, pruning_study  # noqa: E402

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.slow]  # a BayesNAS run

SMALL = ("data.train_size=300", "bayesnas.warmup_epochs=2", "search.scratch_epochs=1")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bayesnas")
    return ex.cached_search(ex.cell_config("bayesnas", *SMALL), root, name="bayesnas")


@pytest.fixture(scope="module")
def pruned(run):
    return PrunedRun(run)


def _everything(p: PrunedRun) -> dict:
    gamma = p.method.gamma
    return {
        "parent": torch.ones_like(gamma["parent"], dtype=torch.bool),
        "child": torch.ones_like(gamma["child"], dtype=torch.bool),
    }


def test_pruning_nothing_is_the_unpruned_supernet(pruned):
    """derived_mode with every switch kept must be the supernet itself: the same trained switch
    values and the same recalibrated statistics, so the same accuracy on every split."""
    whole = pruned.evaluate(_everything(pruned))
    unpruned = pruned.evaluate(None)
    assert whole == pytest.approx(unpruned, abs=1e-9)
    assert unpruned["test"] > 0.3  # the run trained: well above the 0.1 of chance


def test_an_operation_under_a_pruned_parent_is_read_back_from_the_architecture(pruned):
    kept = _everything(pruned)
    kept["parent"][0, 2] = False  # edge 2<-1 pruned, its children forced alive by hand
    ops = pruned.kept_operations(kept)
    orphans = ops[~ops["parent_kept"]]
    units = pruned.method.layout.units
    assert len(orphans) == 4 * units and set(orphans["branch"]) == {"2<-1"}
    # the derivation's own rule never does this
    honest = pruned.method.kept(pruned.net, threshold=0.0)
    honest["parent"][0, 2] = False
    honest["child"] &= honest["parent"][..., None]
    assert pruned.kept_operations(honest)["parent_kept"].all()


def test_dead_cells_by_hand(pruned):
    layout = pruned.method.layout

    def ops(*edges):
        return pd.DataFrame([{"unit": u, "branch": e} for u in range(layout.units) for e in edges])

    assert dead_cells(ops("1<-0", "2<-1", "3<-2"), layout) == 0  # a chain: alive
    assert dead_cells(ops("3<-0"), layout) == 0
    assert dead_cells(ops("2<-1", "3<-2"), layout) == layout.units  # nothing reaches node 1
    assert dead_cells(ops("1<-0", "2<-0"), layout) == layout.units  # nothing reaches output
    one_alive = pd.concat([ops("2<-1"), pd.DataFrame([{"unit": 0, "branch": "3<-0"}])])
    assert dead_cells(one_alive, layout) == layout.units - 1


def test_the_equal_sparsity_study(pruned):
    study = pruning_study(pruned, fractions=(0.25, 0.5))
    unpruned = pruned.evaluate(None)
    none = study[study["by"] == "none"].iloc[0]
    assert none["test_acc"] == unpruned["test"] and none["kept_children"] == pruned.children
    for f in (0.25, 0.5):
        rows = study[study["fraction"] == f]
        assert set(rows["by"]) == {"relevance", "magnitude"}
        assert (rows["kept_children"] == round(f * pruned.children)).all()
    assert (study["orphans"] == 0).all()
    # the two rules rank differently, so at some sparsity they keep different operations
    r = pruned.method.kept(pruned.net, by="relevance", keep_children=6)["child"]
    m = pruned.method.kept(pruned.net, by="magnitude", keep_children=6)["child"]
    assert int(r.sum()) == int(m.sum()) == 6


def test_a_higher_threshold_never_keeps_more(pruned):
    counts = [pruned.at_threshold(t)["kept_children"] for t in (0.0, 0.3, 0.6, 0.9)]
    assert counts == sorted(counts, reverse=True) and counts[0] == pruned.children


def test_the_switch_table_follows_the_threshold(pruned):
    loose, strict = pruned.switch_table(0.0), pruned.switch_table(0.9)
    assert loose["kept"].all()
    children = strict[strict["level"] == "child"]
    kept = pruned.method.kept(pruned.net, threshold=0.9)["child"]
    assert children["kept"].sum() == int(kept.sum()) * pruned.method.layout.units


def test_relevance_plots(run):
    table = viz.switch_table(run)
    grid = viz.relevance_grid(run)
    assert grid.shape == (6, 5) and list(grid.columns)[0] == "parent"
    ax = viz.plot_relevance(run)
    crosses = sum("×" in t.get_text() for t in ax.texts)
    unit0 = table[table["unit"] == 0]
    assert crosses == int((~unit0["kept"]).sum())
    ax = viz.plot_magnitude_vs_relevance(run)
    assert len(ax.collections[0].get_offsets()) == 6 * 4  # one point per child group
    notes = viz.relevance_notes(run)
    source = viz.cell_graph(run, notes=notes).source
    kept_ops = table[(table["unit"] == 0) & (table["level"] == "child") & table["kept"]]
    assert source.count("rel ") == len(kept_ops)


def test_the_pruning_sliders(run, pruned):
    sweep = pd.DataFrame([{"lam": 0.01, "run_dir": str(run)}, {"lam": 1.0, "run_dir": str(run)}])
    explorer = viz.pruning_explorer(sweep, runs={"only": pruned})
    assert explorer._run(run) is pruned  # reused, not loaded again
    before = explorer.result["kept_children"]
    explorer.threshold_slider.value = 0.95
    assert explorer.result["kept_children"] <= before
    assert "threshold 0.95" in explorer.text
    explorer.lam_slider.value = 0.8
    assert explorer.nearest["lam"] == 1.0 and "nearest trained 1" in explorer.text
    assert explorer.image.value[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="'lam' and 'run_dir'"):
        viz.pruning_explorer(sweep.rename(columns={"lam": "value"}))


def test_the_per_image_bits_of_a_pruned_net_give_its_accuracy(pruned):
    kept = pruned.method.kept(pruned.net, by="relevance", threshold=0.5)
    for k in (None, kept):
        assert pruned.test_correct(k).mean() == pruned.evaluate(k)["test"]


def test_the_switch_diagnostics_and_the_pruned_export(run, tmp_path, capsys):
    history = pd.read_csv(run / "history.csv")
    last = history.iloc[-1]
    assert 0 <= last["switch_sparsity"] <= 1 and -1 <= last["relevance_spearman"] <= 1
    assert history["val_acc_derived"].between(0, 1).all()
    best = json.loads((run / "best.json").read_text())
    assert main(["export", "--out", str(run), "--dest", str(tmp_path / "p")]) == 0
    meta = json.loads((tmp_path / "p" / "arch.json").read_text())
    assert meta["archid"] == best["archid"] and meta["derived"] == "pruned"
    for bad in (["--sample", "2"], ["--seed", "3"]):
        assert main(["export", "--out", str(run), *bad]) == 1
        assert "does not apply to a bayesnas run" in capsys.readouterr().err
