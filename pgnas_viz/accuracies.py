"""The three accuracies of every method side by side (:mod:`pgnas_core.run.study.accuracies`):
the supernet (mixture), the derived net with inherited weights and the derived net trained
from scratch, each as its seeds' points and the mean with its 95% interval."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pgnas_core.run.study.accuracies import KINDS, NAMES, accuracy_intervals, accuracy_values

from .inputs import axes_or_new
from .metric_ranges import clip_interval

#: kind -> colour and marker
STYLE = {"supernet": ("C0", "o"), "inherited": ("C1", "s"), "scratch": ("C2", "D")}


def plot_accuracies(table: pd.DataFrame, ax=None, intervals: pd.DataFrame | None = None):
    """One group per method, one point per kind: each seed (small, faint) and the mean with its
    interval (``intervals``: :func:`accuracy_intervals` of ``table``, computed if None); a kind
    a method did not record is absent from its group. Returns the Axes."""
    values = accuracy_values(table)
    if values.empty:
        raise ValueError(
            f"no accuracies in the table (expected {[m for m, _ in KINDS.values()]}, has "
            f"{sorted(set(table['metric']))})"
        )
    iv = accuracy_intervals(table) if intervals is None else intervals
    groups = list(dict.fromkeys(zip(values["config"], values["method"])))
    ax = axes_or_new(ax, (max(5.0, 1.5 * len(groups)), 3.4))
    width = 0.22
    for k, (kind, (metric, label)) in enumerate(KINDS.items()):
        colour, marker = STYLE[kind]
        dx = (k - 1) * width
        for x, (config, method) in enumerate(groups):
            seeds = values[
                (values["config"] == config) & (values["method"] == method)
                & (values["kind"] == kind)
            ]  # fmt: skip
            if seeds.empty:
                continue
            ax.scatter(np.full(len(seeds), x + dx), seeds["value"], color=colour, s=10,
                       alpha=0.4, zorder=1)  # fmt: skip
            row = iv[(iv["config"] == config) & (iv["method"] == method) & (iv["kind"] == kind)]
            mean, low, high = row[["mean", "ci_low", "ci_high"]].iloc[0]
            low, high = clip_interval(metric, low, high)
            err = None if math.isnan(low) else [[mean - low], [high - mean]]
            ax.errorbar(x + dx, mean, yerr=err, color=colour, marker=marker, capsize=3,
                        linestyle="none", zorder=2)  # fmt: skip
        ax.plot([], [], color=colour, marker=marker, linestyle="none", label=label)
    ax.set_xticks(range(len(groups)), [NAMES.get(m, m) for _, m in groups])
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7, loc="best")
    how = sorted({h for h in iv["interval"] if h}) if len(iv) else []
    ax.set_title(f"mean and 95% interval ({', '.join(how) or 'one seed: none'})", fontsize=8)
    return ax
