"""ipywidgets controls for the temperature tau and the weight prior l2 (and a train button).

Each explorer is a VBox whose sliders are attributes (``tau_slider``, ``l2_slider``, ...) and
whose ``update()`` is a plain method the sliders call: tests and the browser test drive them by
setting a slider's value. The output is a PNG (an ``Image`` widget, drawn off-screen with Agg,
so it works the same in a kernel, in a test and in a browser) and a one-line ``summary`` HTML
widget whose text changes with the sliders (e.g. "tau=0.20, p=0.10: mean keep 0.90, ...").
"""

from __future__ import annotations

import base64
import html
import io
import math

import ipywidgets as widgets
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .keep_probs import plot_keep_probs
from .posterior_math import (
    draw_regularisation,
    draw_relaxed_histogram,
    nearest_sweep_row,
    regularisation_curve,
    regulariser_optimum,
    relaxed_mask_samples,
    relaxed_mask_stats,
    relaxed_mask_text,
)
from .train_button import TrainButton, train_button

__all__ = [
    "TauExplorer",
    "tau_explorer",
    "L2Explorer",
    "l2_explorer",
    "TrainButton",
    "train_button",
    "relaxed_mask_samples",
    "figure_png",
    "StaticFigure",
]


def figure_png(draw, figsize=(5.0, 3.2), ncols: int = 1, dpi: int = 80) -> bytes:
    """Draw with ``draw(ax)`` (or ``draw(axes)`` for ``ncols > 1``) on an off-screen
    figure and return the PNG bytes (no pyplot: nothing is shown or kept open)."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols)
    draw(axes)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _image_layout() -> widgets.Layout:
    # JupyterLab stretches a PNG widget to the output's width; keep plots at a readable size
    return widgets.Layout(max_width="720px", width="auto", height="auto")


def _summary(text: str) -> str:
    return f"<code class='pgnas-summary'>{html.escape(text)}</code>"


class StaticFigure:
    """Mixed into an explorer: its cell output also carries a static PNG of the plot as it
    is when displayed (and the summary line as text), beside the widget view. A live
    JupyterLab shows the widget; an HTML export, GitHub or nbviewer, which hold no widget
    state, fall back to the PNG, so they show the initial figure instead of nothing."""

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        if self.image.value:
            bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        if self.text:
            bundle["text/plain"] = self.text
        return bundle


class TauExplorer(StaticFigure, widgets.VBox):
    """Move tau (log scale 0.01..2) and p; see the relaxed keep values of Eq. 16."""

    def __init__(self, p: float = 0.1, tau: float = 0.2, n: int = 20000, seed: int = 0):
        self.n, self.seed = n, seed
        self.tau_slider = widgets.FloatLogSlider(
            value=tau,
            base=10,
            min=-2,
            max=math.log10(2),
            step=0.01,
            description="tau",
            continuous_update=False,
        )
        self.p_slider = widgets.FloatSlider(
            value=p, min=0.01, max=0.99, step=0.01, description="p (drop)", continuous_update=False
        )
        self.image = widgets.Image(format="png", layout=_image_layout())
        self.summary = widgets.HTML()
        self.text = ""
        super().__init__([widgets.HBox([self.tau_slider, self.p_slider]), self.summary, self.image])
        self.add_class("pgnas-tau-explorer")
        for s in (self.tau_slider, self.p_slider):
            s.observe(self.update, names="value")
        self.update()

    def update(self, change=None) -> str:
        """Recompute the samples and redraw; returns the summary line."""
        p, tau = float(self.p_slider.value), float(self.tau_slider.value)
        keep = relaxed_mask_samples(p, tau, self.n, self.seed)
        self.stats = relaxed_mask_stats(keep)
        self.text = relaxed_mask_text(p, tau, self.stats)
        self.image.value = figure_png(lambda ax: draw_relaxed_histogram(keep, p, tau, ax))
        self.summary.value = _summary(self.text)
        return self.text


def tau_explorer(p: float = 0.1, tau: float = 0.2, n: int = 20000) -> TauExplorer:
    """A tau slider (default 0.2, the paper's) and a p slider over the histogram of relaxed
    keep values: small tau gives nearly hard 0/1 masks, large tau blurred ones."""
    return TauExplorer(p=p, tau=tau, n=n)


def _site_keep_for(row: pd.Series, sweep: pd.DataFrame, site_keep: pd.DataFrame | None):
    """The per-site keep-probabilities of the sweep's net ``row``."""
    if site_keep is not None and len(site_keep):
        if "run" in site_keep.columns and "run" in sweep.columns:
            return site_keep[site_keep["run"] == row["run"]]
        return site_keep[site_keep["l2"].astype(float) == float(row["l2"])]
    if "keep_probs" in row.index and row["keep_probs"] is not None:
        kp = row["keep_probs"]
        if isinstance(kp, pd.DataFrame):
            return kp
        if isinstance(kp, dict):
            return pd.DataFrame({"site": list(kp), "keep_prob": list(kp.values())})
    return None


class L2Explorer(StaticFigure, widgets.VBox):
    """Move l2 (log scale); see the regulariser it implies for one typical site and, for the
    sweep's net trained with the nearest l2, its keep-probabilities, drop proportions and
    parameter count."""

    def __init__(
        self,
        sweep: pd.DataFrame,
        site_keep: pd.DataFrame | None = None,
        weight_sq: float = 1.0,
        channels: int = 16,
        n_train: float | None = None,
        l2: float | None = None,
    ):
        if "l2" not in sweep.columns or sweep.empty:
            raise ValueError("the sweep needs one row per trained net with an 'l2' column")
        self.sweep = sweep.reset_index(drop=True)
        self.site_keep = site_keep
        self.weight_sq, self.channels, self.n_train = weight_sq, channels, n_train
        values = self.sweep["l2"].astype(float)
        positive = values[values > 0]
        lo = math.floor(math.log10(positive.min())) - 1 if len(positive) else -2
        hi = math.ceil(math.log10(positive.max())) + 1 if len(positive) else 4
        start = float(l2 if l2 is not None else (positive.median() if len(positive) else 1.0))
        self.l2_slider = widgets.FloatLogSlider(
            value=start,
            base=10,
            min=lo,
            max=hi,
            step=0.05,
            description="l2",
            continuous_update=False,
        )
        self.image = widgets.Image(format="png", layout=_image_layout())
        self.summary = widgets.HTML()
        self.text = ""
        super().__init__([self.l2_slider, self.summary, self.image])
        self.add_class("pgnas-l2-explorer")
        self.l2_slider.observe(self.update, names="value")
        self.update()

    def update(self, change=None) -> str:
        l2 = float(self.l2_slider.value)
        row = nearest_sweep_row(self.sweep, l2)
        self.nearest = row
        curve = regularisation_curve(l2, self.weight_sq, self.channels, self.n_train)
        p_star = regulariser_optimum(l2, self.weight_sq, self.channels)
        keeps = _site_keep_for(row, self.sweep, self.site_keep)

        def draw(axes):
            draw_regularisation(curve, axes[0], l2, p_star)
            if keeps is not None and len(keeps):
                plot_keep_probs(keeps, ax=axes[1], kind="bar")
                axes[1].set_title(f"trained with l2 = {float(row['l2']):.3g}")
            else:
                axes[1].text(0.5, 0.5, "no per-site keep-probabilities", ha="center")
                axes[1].set_axis_off()

        self.image.value = figure_png(draw, figsize=(10, 3.4), ncols=2)
        parts = [
            f"l2={l2:.3g}: regulariser alone prefers p={p_star:.2f}",
            f"nearest trained l2={float(row['l2']):.3g}",
        ]
        for col, fmt in (
            ("mean_keep", "mean keep {:.3f}"),
            ("channel_drop", "channels dropped {:.2f}"),
            ("operation_drop", "ops dropped {:.2f}"),
            ("params", "{:,.0f} params"),
            ("error", "error {:.2f}%"),
        ):
            if col in row.index and pd.notna(row[col]):
                parts.append(fmt.format(float(row[col])))
        self.text = ", ".join(parts)
        self.summary.value = _summary(self.text)
        return self.text


def l2_explorer(
    sweep: pd.DataFrame,
    site_keep: pd.DataFrame | None = None,
    weight_sq: float = 1.0,
    channels: int = 16,
    n_train: float | None = None,
) -> L2Explorer:
    """``sweep``: one row per net of an l2 sweep (``l2``, ``mean_keep``, ``channel_drop``,
    ``operation_drop``, ``params``; e.g. :func:`pgnas_core.run.results.sweep_tables`'s first
    table); ``site_keep``: per-site keep-probabilities in long form (its second table, joined
    on ``run`` or ``l2``). ``weight_sq`` and ``channels``: ||M||^2 and K of a typical site
    (:func:`pgnas_viz.posterior_math.typical_site_norms` of a trained net)."""
    return L2Explorer(sweep, site_keep, weight_sq, channels, n_train)


def _nearest_2d(sweep: pd.DataFrame, a: str, b: str, va: float, vb: float) -> pd.Series:
    """The row nearest (va, vb) on log scales of columns a and b."""
    la = np.log(sweep[a].astype(float).to_numpy()) - math.log(va)
    lb = np.log(sweep[b].astype(float).to_numpy()) - math.log(vb)
    return sweep.iloc[int(np.argmin(la**2 + lb**2))]


def _log_slider(values: pd.Series, description: str) -> widgets.FloatLogSlider:
    v = values.astype(float)
    lo, hi = math.floor(math.log10(v.min())) - 0.5, math.ceil(math.log10(v.max())) + 0.5
    return widgets.FloatLogSlider(
        value=float(v.median()),
        base=10,
        min=lo,
        max=hi,
        step=0.05,
        description=description,
        continuous_update=False,
    )


class PriorExplorer(StaticFigure, widgets.VBox):
    """BaLeNAS's prior precision lambda0 and initial spread sigma0, over runs trained in a
    small sweep (like the l2 slider): the nearest trained run's final architecture weights per
    edge (softmax of mu, with the 16-84% band of q's samples) and its parameter-free fraction
    over the epochs."""

    def __init__(self, sweep: pd.DataFrame):
        need = {"lambda0", "sigma0", "run_dir"}
        if sweep.empty or not need <= set(sweep.columns):
            raise ValueError(f"the sweep needs one row per trained run with {sorted(need)}")
        self.sweep = sweep.reset_index(drop=True)
        self.lambda_slider = _log_slider(self.sweep["lambda0"], "lambda0")
        self.sigma_slider = _log_slider(self.sweep["sigma0"], "sigma0")
        self.image = widgets.Image(format="png", layout=_image_layout())
        self.summary = widgets.HTML()
        self.text = ""
        super().__init__(
            [widgets.HBox([self.lambda_slider, self.sigma_slider]), self.summary, self.image]
        )
        self.add_class("pgnas-prior-explorer")
        for s in (self.lambda_slider, self.sigma_slider):
            s.observe(self.update, names="value")
        self.update()

    def update(self, change=None) -> str:
        from pgnas_core.run.results import load_run

        from .cells import _weight_quantiles

        lam, sig = float(self.lambda_slider.value), float(self.sigma_slider.value)
        row = _nearest_2d(self.sweep, "lambda0", "sigma0", lam, sig)
        self.nearest = row
        run = load_run(row["run_dir"])
        params = run.tables["arch_params"]
        last = params[(params["epoch"] == params["epoch"].max()) & (params["group"] == 0)]
        ops = list(dict.fromkeys(last["op"]))
        edges = list(dict.fromkeys(last["edge"]))
        alpha = last.pivot(index="edge", columns="op", values="alpha").loc[edges, ops].to_numpy()
        sigma = last.pivot(index="edge", columns="op", values="sigma").loc[edges, ops].to_numpy()
        weight = last.pivot(index="edge", columns="op", values="weight").loc[edges, ops]
        lo, hi = _weight_quantiles(alpha, sigma)

        def draw(axes):
            x = np.arange(len(edges))
            w = 0.8 / len(ops)
            for k, op in enumerate(ops):
                mid = weight[op].to_numpy()
                err = np.stack([mid - lo[:, k], hi[:, k] - mid]).clip(min=0)
                axes[0].bar(
                    x + (k - len(ops) / 2 + 0.5) * w,
                    mid,
                    w,
                    yerr=err,
                    label=op,
                    color=f"C{k}",
                    capsize=2,
                )
            axes[0].set_xticks(x, edges)
            axes[0].set_ylabel("softmax(mu), 16-84% of q")
            axes[0].set_title(f"lambda0={row['lambda0']:.3g}, sigma0={row['sigma0']:.3g}")
            axes[0].legend(fontsize=7)
            h = run.history
            axes[1].plot(h["epoch"], h["param_free_fraction"], marker="o")
            axes[1].set_ylim(-0.02, 1.02)
            axes[1].set_xlabel("epoch")
            axes[1].set_title("fraction of edges: skip or pool")

        self.image.value = figure_png(draw, figsize=(10, 3.4), ncols=2)
        derived = run.tables["derived"]
        final = derived[derived["epoch"] == derived["epoch"].max()]
        scratch = row.get("test_acc_scratch")
        trained = f", trained from scratch {scratch:.3f}" if pd.notna(scratch) else ""
        self.text = (
            f"lambda0={lam:.3g}, sigma0={sig:.3g}: nearest trained lambda0="
            f"{row['lambda0']:.3g}, sigma0={row['sigma0']:.3g}; argmax cell "
            f"{' '.join(final['op'])}; param-free {row['param_free_fraction']:.2f}; test acc "
            f"inherited {row['test_acc']:.3f}{trained}"
        )
        self.summary.value = _summary(self.text)
        return self.text


def prior_explorer(sweep: pd.DataFrame) -> PriorExplorer:
    """Sliders for BaLeNAS's lambda0 and sigma0 over a sweep of trained runs (one row per run
    with ``lambda0``, ``sigma0``, ``run_dir``, ``param_free_fraction``, ``val_acc``; e.g.
    :func:`pgnas_core.run.experiments.run_grid`'s table with the fields renamed)."""
    return PriorExplorer(sweep)


class PruningExplorer(StaticFigure, widgets.VBox):
    """BayesNAS's lambda over runs trained in a small sweep, and its pruning threshold live
    (no retraining): the nearest trained run's relevance heatmap at the threshold, and the
    pruned supernet's validation accuracy and size, evaluated on the spot."""

    def __init__(self, sweep: pd.DataFrame, runs: dict | None = None):
        if sweep.empty or not {"lam", "run_dir"} <= set(sweep.columns):
            raise ValueError("the sweep needs one row per trained run with 'lam' and 'run_dir'")
        self.sweep = sweep.reset_index(drop=True)
        self.lam_slider = _log_slider(self.sweep["lam"], "lambda")
        self.threshold_slider = widgets.FloatSlider(
            value=0.1,
            min=0.0,
            max=0.95,
            step=0.05,
            description="threshold",
            continuous_update=False,
        )
        self.image = widgets.Image(format="png", layout=_image_layout())
        self.summary = widgets.HTML()
        self.text = ""
        self._runs = {str(p.run_dir): p for p in (runs or {}).values()}
        super().__init__(
            [widgets.HBox([self.lam_slider, self.threshold_slider]), self.summary, self.image]
        )
        self.add_class("pgnas-pruning-explorer")
        for s in (self.lam_slider, self.threshold_slider):
            s.observe(self.update, names="value")
        self.update()

    def _run(self, run_dir: str):
        from pgnas_core.run.pruning import PrunedRun

        key = str(run_dir)
        if key not in self._runs:
            self._runs[key] = PrunedRun(run_dir)
        return self._runs[key]

    def update(self, change=None) -> str:
        from .switches import plot_relevance

        lam, threshold = float(self.lam_slider.value), float(self.threshold_slider.value)
        values = self.sweep["lam"].astype(float).to_numpy()
        row = self.sweep.iloc[int(np.argmin(np.abs(np.log(values) - math.log(lam))))]
        self.nearest = row
        pruned = self._run(row["run_dir"])
        self.result = pruned.at_threshold(threshold)
        table = pruned.switch_table(threshold)

        def draw(ax):
            plot_relevance(table, ax=ax)
            ax.set_title(f"lambda = {row['lam']:.3g}, threshold {threshold:.2f} (× pruned)")

        self.image.value = figure_png(draw, figsize=(7, 3.6))
        r = self.result
        self.text = (
            f"lambda={lam:.3g} (nearest trained {row['lam']:.3g}), threshold "
            f"{threshold:.2f}: {r['kept_children']}/{r['children']} operations and "
            f"{r['kept_parents']} edges kept; val acc {r['val_acc']:.3f} "
            f"(unpruned {pruned.evaluate(None)['val']:.3f})"
        )
        self.summary.value = _summary(self.text)
        return self.text


def pruning_explorer(sweep: pd.DataFrame, runs: dict | None = None) -> PruningExplorer:
    """Sliders for BayesNAS's lambda (over a sweep of trained runs: one row each with
    ``lam`` and ``run_dir``, e.g. :func:`pgnas_core.run.experiments.run_grid`'s table with
    ``bayesnas.lam`` renamed) and its pruning threshold (live). ``runs``: already loaded
    :class:`pgnas_core.run.pruning.PrunedRun` objects to reuse (any keys)."""
    return PruningExplorer(sweep, runs)
