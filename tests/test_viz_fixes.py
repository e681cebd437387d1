"""The plot fixes of issue 20: intervals inside the metric's range, claim titles that say the
claim, the alpha heatmap on one scale, coloured candidate histograms with their winners, a
keep-probability scale that resolves 0.8-1.0, the Pareto plot, and widgets that leave a
static figure in the cell output."""

import math
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import pgnas_viz as viz  # noqa: E402
from pgnas_core.run.study import CLAIMS, Claim, Side, load_study_folder, reference_root  # noqa: E402
from pgnas_core.supernets.spaces import NB201_SPACE  # noqa: E402

from viz_run import digits_run  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return digits_run(tmp_path_factory)


def _table(a, b, metric="test_acc"):
    rows = [("x", s, v) for s, v in enumerate(a)] + [("y", s, v) for s, v in enumerate(b)]
    return pd.DataFrame(
        [{"study": "s", "config": c, "method": "pgnas", "seed": s, "metric": metric, "value": v}
         for c, s, v in rows]
    )  # fmt: skip


def _errorbar_spans(ax):
    """(low, high) of every vertical error bar drawn on ``ax``."""
    spans = []
    for c in ax.collections:
        for seg in getattr(c, "get_segments", lambda: [])():
            if len(seg) == 2 and seg[0][0] == seg[1][0]:
                spans.append((min(seg[0][1], seg[1][1]), max(seg[0][1], seg[1][1])))
    return spans


def test_metric_ranges_and_clipping():
    assert viz.metric_range("test_acc") == (0.0, 1.0)
    assert viz.metric_range("params") == (0.0, math.inf)
    assert viz.metric_range("candidate_val_sd") == (0.0, math.inf)
    assert viz.metric_range("hessian_eigenvalue") == (-math.inf, math.inf)
    assert viz.clip_interval("test_acc", 0.97, 1.04) == (0.97, 1.0)
    assert viz.clip_interval("params", -20.0, 50.0) == (0.0, 50.0)
    lo, hi = viz.clip_interval("test_acc", math.nan, math.nan)
    assert math.isnan(lo) and math.isnan(hi)


def test_claim_intervals_stay_within_accuracy_and_the_title_says_the_claim():
    # near-perfect accuracies with a spread: the raw 95% t-interval runs past 1
    table = _table([0.999, 0.97, 1.0], [0.90, 0.80, 0.95])
    claim = Claim("k", "s", "BaLeNAS", "x is more accurate than y", "-", "test_acc",
                  Side("x"), Side("y"))  # fmt: skip
    mean, _, low, high, _ = viz.studies.t_interval([0.999, 0.97, 1.0])
    assert high > 1.0  # the interval that used to be drawn
    ax = viz.plot_claim(table, claim)
    spans = _errorbar_spans(ax)
    assert len(spans) == 2
    assert all(0.0 <= lo and hi <= 1.0 + 1e-12 for lo, hi in spans)
    title = ax.get_title()
    assert "x is more accurate than y" in title and "BaLeNAS:" in title
    assert title.split("\n")[0] != "BaLeNAS:"
    assert "95% CI" in ax.get_xlabel()  # the paired difference the verdict reads


def test_study_metric_intervals_stay_non_negative_for_params():
    table = _table([10.0, 1000.0, 20.0], [5.0, 6.0, 7.0], metric="params")
    ax = viz.plot_study_metric(table, "params")
    bars = [line.get_ydata() for line in ax.lines if np.isnan(line.get_ydata()).any()]
    assert bars and min(np.nanmin(y) for y in bars) >= 0.0


def test_every_claim_has_a_short_distinct_title():
    from pgnas_viz.claim_titles import claim_title

    titles = [claim_title(c) for c in CLAIMS]
    assert len(set(titles)) == len(titles)
    for claim, title in zip(CLAIMS, titles):
        assert title.strip() and title != claim.item
        assert all(len(line) <= 34 for line in title.split("\n"))


def test_reference_claim_plots_keep_accuracy_intervals_in_range():
    table, _ = load_study_folder(reference_root() / "guided_vs_random")
    for ax in viz.plot_claims(table).flat:
        if not ax.axison:
            continue
        metric = ax.get_ylabel()
        lo, hi = viz.metric_range(metric)
        for low, high in _errorbar_spans(ax):
            assert lo - 1e-12 <= low and high <= hi + 1e-12, (metric, low, high)


def test_candidate_histogram_colours_and_winners(run_dir):
    from pgnas_core.run.results import load_run

    run = load_run(run_dir)
    ax = viz.plot_candidate_histogram(run_dir)
    winners = [a for a in ax.lines if a.get_gid() == "winner"]
    assert len(winners) == 2  # one triangle per method
    assert {tuple(a.get_xdata()) for a in winners} == {
        (run.best.val_acc,),
        (run.random.best.val_acc,),
    }
    colours = {a.get_color() for a in winners}
    assert len(colours) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("PGNAS winner") for t in labels)
    assert any(t.startswith("Random winner") for t in labels)


def test_winner_row_without_best_skips_eliminated_candidates():
    df = pd.DataFrame(
        {"candidate": [0, 1, 2], "val_acc": [0.9, 0.8, 0.7], "eliminated_round": [0, -1, -1]}
    )
    assert viz.winner_row(df)["candidate"] == 1


def test_keep_prob_scale_resolves_the_observed_range():
    assert viz.keep_prob_vmin([0.83, 0.91, 0.99]) == pytest.approx(0.80)
    assert viz.keep_prob_vmin([0.04, 0.9]) == 0.0
    assert viz.keep_prob_vmin([1.0, 1.0]) < 1.0
    table = pd.DataFrame(
        {"site": [f"s{i}" for i in range(4)], "op": "op", "channels": 8, "stage": [0, 0, 1, 1],
         "block": 0, "branch": [0, 1, 0, 1], "layer": 0, "keep_prob": [0.82, 0.9, 0.95, 1.0]}
    )  # fmt: skip
    ax = viz.plot_keep_probs(table)
    norm = ax.images[0].norm
    assert 0.0 < norm.vmin <= 0.82 and norm.vmax == 1.0
    assert norm(0.9) > 0.3  # 0.8-1.0 spans most of the colour map, not its top fifth
    assert "scale from" in ax.images[0].colorbar.ax.get_ylabel()


def test_alpha_heatmap_shares_one_scale():
    rng = np.random.default_rng(0)
    rows = []
    for epoch in (0, 3):
        for edge in ("1<-0", "2<-0", "2<-1"):
            w = rng.dirichlet(np.ones(5) * (1 + 5 * epoch))
            for op, weight in zip(NB201_SPACE.ops, w):
                rows.append({"epoch": epoch, "group": 0, "edge": edge, "op": op,
                             "alpha": np.log(weight), "weight": weight})  # fmt: skip
    df = pd.DataFrame(rows)
    axes = viz.plot_alpha_heatmap(df)
    assert [a.get_title() for a in axes] == ["epoch 0", "epoch 3"]
    norms = {(a.images[0].norm.vmin, a.images[0].norm.vmax) for a in axes}
    assert len(norms) == 1
    (vmin, vmax) = norms.pop()
    assert vmin == pytest.approx(df["weight"].min()) and vmax == pytest.approx(df["weight"].max())
    grid = viz.alpha_grid(df, 3)
    assert grid.shape == (3, 5) and np.allclose(grid.sum(axis=1), 1.0)
    boxes = [p for p in axes[1].patches if p.get_gid() == "argmax"]
    assert sorted(int(b.get_x() + 0.5) for b in boxes) == sorted(np.argmax(grid.to_numpy(), 1))


def test_pareto_front_points_are_non_dominated():
    table, _ = load_study_folder(reference_root() / "methods_cell")
    wide = viz.wide_results(table)
    assert {"params", "flops", "test_acc", "method", "seed"} <= set(wide.columns)
    data = wide.dropna(subset=["params", "test_acc"])
    front = viz.pareto_front(data)
    assert front.any()
    xs, ys = data["params"].to_numpy(), data["test_acc"].to_numpy()
    for i in np.flatnonzero(front.to_numpy()):
        dominated = (xs <= xs[i]) & (ys >= ys[i]) & ((xs < xs[i]) | (ys > ys[i]))
        assert not dominated.any()
    for i in np.flatnonzero(~front.to_numpy()):  # every other point has a front point beating it
        f = front.to_numpy()
        assert ((xs[f] <= xs[i]) & (ys[f] >= ys[i])).any()
    ax = viz.plot_pareto(table, x="params", y="test_acc")
    line = next(a for a in ax.lines if a.get_gid() == "pareto-front")
    assert sorted(line.get_xdata()) == sorted(xs[front.to_numpy()])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "pgnas" in legend and "Pareto front" in legend
    viz.plot_pareto(table, x="flops")
    with pytest.raises(ValueError, match="not in the results"):
        viz.plot_pareto(table, x="nonsense")


def test_explorers_carry_a_static_png_beside_the_widget_view():
    w = viz.tau_explorer(p=0.1)
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    import base64

    png = base64.b64decode(bundle["image/png"])
    assert png[:4] == b"\x89PNG" and png == w.image.value
    assert bundle["text/plain"] == w.text


@pytest.mark.slow
def test_a_widget_cell_leaves_an_image_in_the_notebook_and_its_html(tmp_path):
    """Executed by a real kernel: the cell output holds image/png, and nbconvert's HTML
    (no widget state saved) shows it as an <img>."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import pgnas_viz as viz\nviz.tau_explorer(n=2000)")]
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={
        "metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    outputs = nb.cells[0].outputs
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs
    nb.metadata.pop("widgets", None)  # as GitHub / nbviewer see it: no widget state
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert re.search(r'<img [^>]*src="data:image/png;base64,', html)
