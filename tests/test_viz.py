"""Every pgnas_viz plot and graph helper on a real run directory (digits, made once)."""

import os
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import pgnas_viz as viz  # noqa: E402
from pgnas_core.architecture import Architecture, SiteChoice  # noqa: E402
from pgnas_core.run.results import load_run, operation_table  # noqa: E402

from viz_run import digits_run  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return digits_run(tmp_path_factory)


@pytest.fixture(scope="module")
def run(run_dir):
    return load_run(run_dir)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _drop_ops(arch, pattern):
    sites = tuple(
        SiteChoice(s.name, s.op, s.channels, () if pattern in s.op else s.kept) for s in arch.sites
    )
    return Architecture(arch.supernet, arch.options, sites)


def _drawn(ax) -> int:
    return len(ax.patches) + len(ax.lines) + len(ax.images) + len(ax.collections)


def test_keep_prob_heatmap_has_one_cell_per_site(run_dir, run):
    ax = viz.plot_keep_probs(run_dir)
    assert isinstance(ax, plt.Axes) and len(ax.images) == 1
    grid = viz.keep_prob_grid(run.keep_prob_table())
    n_sites = run.keep_probs["site"].nunique()
    assert np.isfinite(grid.to_numpy(dtype=float)).sum() == n_sites
    last = run.keep_prob_table()
    assert sorted(grid.stack().dropna().round(6)) == sorted(last["keep_prob"].round(6))
    assert list(grid.index)[0] == "0.0" and "head.0" in grid.index


def test_keep_prob_bar_and_given_axes(run):
    fig, ax = plt.subplots()
    out = viz.plot_keep_probs(run, ax=ax, kind="bar", epoch=1)
    assert out is ax
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    epoch1 = run.keep_probs[run.keep_probs["epoch"] == 1]["keep_prob"]
    assert heights == sorted(epoch1.round(6))
    with pytest.raises(ValueError):
        viz.plot_keep_probs(run, kind="pie")


def test_keep_prob_evolution_by_stage_and_site(run):
    ax = viz.plot_keep_prob_evolution(run.keep_probs, by="stage")
    assert len(ax.lines) == 4  # stages 0, 1, 2 and the head
    assert all(len(line.get_xdata()) == 3 for line in ax.lines)  # epochs 0..2
    ax = viz.plot_keep_prob_evolution(run, by="site")
    assert len(ax.lines) == run.keep_probs["site"].nunique()


def test_drop_proportions_plot(run):
    arch = _drop_ops(run.architecture, "blocks.1.branches.1")
    ax = viz.plot_drop_proportions(arch, by="stage")
    table = viz.drop_proportions(arch, "stage")
    ops_bars = ax.patches[len(table) :]
    assert [round(p.get_height(), 6) for p in ops_bars] == list(table["operation_drop"].round(6))
    assert ax.get_xticklabels()[-1].get_text() == "overall"
    assert _drawn(viz.plot_drop_proportions(run.run_dir, by="block")) > 0


def test_training_curves(run_dir, run):
    axes = viz.plot_training_curves(run_dir)
    assert axes.shape == (4,)
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), run.history["train_ce"])
    # overlay the Random baseline on the same axes
    viz.plot_training_curves(run.random.history, ax=axes, label="random")
    assert len(axes[3].lines) == 2
    with pytest.raises(ValueError):
        viz.plot_training_curves(run.history, ax=[axes[0]])


def test_candidate_histogram_guided_vs_random(run_dir, run):
    ax = viz.plot_candidate_histogram(run_dir)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0].startswith("PGNAS: mean") and any(t.startswith("Random: mean") for t in labels)
    bars = [p for p in ax.patches if isinstance(p, plt.Rectangle)]  # not the step outlines
    assert sum(p.get_height() for p in bars) == len(run.candidates) + len(run.random.candidates)
    ax = viz.plot_candidate_histogram(run.candidates, column="val_loss")
    bars = [p for p in ax.patches if isinstance(p, plt.Rectangle)]
    assert sum(p.get_height() for p in bars) == len(run.candidates)


def test_error_vs_candidates_mean_and_spread():
    df = pd.DataFrame(
        {"candidates": [10, 10, 100, 100], "error": [4.0, 6.0, 2.0, 3.0], "seed": [0, 1, 0, 1]}
    )
    ax = viz.plot_error_vs_candidates(df, paper=viz.paper_table("table6"))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [5.0, 2.5])
    assert ax.get_xscale() == "log"
    assert len(ax.collections) >= 2  # the +-1 sd band and the dots
    assert len(ax.lines[1].get_xdata()) == 5  # the paper's C with an error


def test_architecture_graph_one_node_per_kept_op(run):
    arch = _drop_ops(run.architecture, "blocks.1.branches.1")
    g = viz.architecture_graph(arch, tags=run.tags)
    ops = operation_table(arch)
    kept = set(ops.loc[ops["kept"], "op"])
    assert set(g.ops) == kept and len(g.ops) == len(kept)
    for op in ops.loc[~ops["kept"], "op"]:
        assert op not in g.source
    for op in kept:
        assert f'"{op}" [label=' in g.source
    # kept proportions are printed (supp. Fig. 2)
    row = ops[ops["kept"]].iloc[0]
    assert f"{row['kept_channels']}/{row['channels']} kept" in g.source
    shown = viz.architecture_graph(arch, show_dropped=True, tags=run.tags)
    assert all(op in shown.source for op in ops["op"])
    assert "style=dashed" in shown.source


def test_graph_from_run_dir_and_supernet(run_dir, run):
    g = viz.architecture_graph(run_dir)
    assert "1-p = " in g.source  # the run's keep-probabilities
    full = viz.supernet_graph(run.architecture)
    n_ops = len(operation_table(run.architecture))
    assert len(full.ops) == n_ops
    by_name = viz.supernet_graph("supnet_m_tiny")
    assert len(by_name.ops) == n_ops
    from pgnas_core import create_supernet

    net = create_supernet("supnet_m_tiny")
    assert len(viz.supernet_graph(net).ops) == n_ops
    # edges follow the data flow: the stem output reaches both branches of block 0
    assert '__input -> "body.blocks.0.branches.0.ops.0"' in g.source


@pytest.mark.skipif(not viz.dot_available(), reason="graphviz's dot is not installed")
def test_render_graph_formats(tmp_path, run_dir):
    g = viz.architecture_graph(run_dir)
    svg = viz.render_graph(g, tmp_path / "arch.svg")
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))
    png = viz.render_graph(g, tmp_path / "arch", format="png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError):
        viz.render_graph(g, tmp_path / "arch.jpg")


def test_missing_dot_returns_graph_with_one_warning(monkeypatch, tmp_path, run_dir):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert not viz.dot_available()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = viz.architecture_graph(run_dir)
    hints = [w for w in caught if "apt-get install graphviz" in str(w.message)]
    assert len(hints) == 1 and "conda install -c conda-forge graphviz" in str(hints[0].message)
    assert "\n" not in str(hints[0].message)
    assert len(g.ops) > 0 and "digraph" in g.source
    bundle = g._repr_mimebundle_()  # what Jupyter asks for: text instead of an exception
    assert "apt-get install graphviz" in bundle["text/plain"]
    with pytest.warns(RuntimeWarning, match="apt-get"):
        out = viz.render_graph(g, tmp_path / "arch.svg")
    assert out.suffix == ".gv" and out.read_text() == g.source


def test_paper_tables_hold_the_spec_numbers():
    assert viz.paper_tables()[:2] == ["table1", "table2"]
    t1 = viz.paper_table("table1").set_index("method")
    assert t1.loc["PGNAS-MI", "error"] == 2.06 and t1.loc["PGNAS-MI", "params_m"] == 33.4
    t4 = viz.paper_table("Table 4")
    assert list(t4["params_m"]) == sorted(t4["params_m"], reverse=True)  # larger l2, smaller
    t7 = viz.paper_table("table7").set_index("supernet")
    assert t7.loc["supnet_mi", "channel_drop"] == 0.44
    assert viz.paper_table("table9")["error"].tolist() == [23.96, 22.93, 22.73]
    assert len(viz.paper_table("fig1")) == 4
    t = viz.paper_table("table3")
    t.loc[0, "error"] = -1  # a copy: the stored numbers are not changed
    assert viz.paper_table("table3").loc[0, "error"] == 2.78
    with pytest.raises(KeyError):
        viz.paper_table("table10")


def test_compare_with_paper_puts_numbers_side_by_side():
    ours = pd.DataFrame(
        {
            "supernet": ["supnet_m", "supnet_m"],
            "tau": [0.2, 2 / 3],
            "finetuned": [False, False],
            "error": [9.5, 11.0],
        }
    )
    out = viz.compare_with_paper(ours, "table5", note="digits, 2 epochs")
    row = out[(out["supernet"] == "supnet_m") & (out["tau"] == 0.2)].iloc[0]
    assert row["paper_error"] == 2.20 and row["ours_error"] == 9.5
    assert (out["note"] == "digits, 2 epochs").all()
    # a small net's l2 sweep beside the paper's on l2 alone; unmatched rows are kept
    sweep = pd.DataFrame({"l2": [50, 7], "error": [12.0, 13.0], "note": ["a", "b"]})
    out = viz.compare_with_paper(sweep, "table4", on=["l2"])
    assert list(out["l2"]) == [50.0, 150.0, 250.0, 500.0, 7.0]
    assert out.loc[0, "ours_error"] == 12.0 and out.loc[0, "paper_error"] == 2.13
    assert np.isnan(out.loc[4, "paper_error"]) and out.loc[4, "note"] == "b"
    with pytest.raises(KeyError, match="supernet"):
        viz.compare_with_paper(sweep, "table4")


def test_plot_helpers_do_not_show_or_save(monkeypatch, run_dir, tmp_path):
    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("plt.show called"))
    monkeypatch.chdir(tmp_path)
    viz.plot_keep_probs(run_dir)
    viz.plot_training_curves(run_dir)
    viz.plot_candidate_histogram(run_dir)
    viz.plot_drop_proportions(run_dir)
    assert os.listdir(tmp_path) == []


def test_block_edges_follow_tags_generically():
    from pgnas_viz.graph import block_edges

    def op(name, branch, layer):
        return {"op": name, "branch": branch, "layer": layer}

    # a ResNet-50 bottleneck: in 1x1 -> four kernel branches -> out 1x1, shortcut beside
    rows = [
        op("in", "in", 1),
        *(op(f"k{i}", i, 2) for i in range(4)),
        op("out", "out", 3),
        op("skip", "skip", 1),
    ]
    preds, ends = block_edges(rows)
    assert preds["in"] == [] and preds["skip"] == []
    assert all(preds[f"k{i}"] == ["in"] for i in range(4))
    assert preds["out"] == ["k0", "k1", "k2", "k3"]
    assert ends == ["out", "skip"]
    # a two-branch block: each branch is its own chain
    rows = [op("a1", 0, 1), op("a2", 0, 2), op("b1", 1, 1), op("b2", 1, 2)]
    preds, ends = block_edges(rows)
    assert preds == {"a1": [], "a2": ["a1"], "b1": [], "b2": ["b1"]} and ends == ["a2", "b2"]


def test_graph_bridges_an_omitted_op(run):
    # drop only the first conv of one branch: the second conv is fed by the block input
    arch = _drop_ops(run.architecture, "blocks.0.branches.1.ops.0")
    g = viz.architecture_graph(arch, tags=run.tags)
    assert "body.blocks.0.branches.1.ops.0" not in g.ops
    assert '__input -> "body.blocks.0.branches.1.ops.1"' in g.source
