"""ipywidgets controls for the temperature tau and the weight prior l2 (and a train button).

Each explorer is a VBox whose sliders are attributes (``tau_slider``, ``l2_slider``, ...) and
whose ``update()`` is a plain method the sliders call: tests and the browser test drive them by
setting a slider's value. The output is a PNG (an ``Image`` widget, drawn off-screen with Agg,
so it works the same in a kernel, in a test and in a browser) and a one-line ``summary`` HTML
widget whose text changes with the sliders (e.g. "tau=0.20, p=0.10: mean keep 0.90, ...").
"""

from __future__ import annotations

import html
import io
import math

import ipywidgets as widgets
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


class TauExplorer(widgets.VBox):
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


class L2Explorer(widgets.VBox):
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
