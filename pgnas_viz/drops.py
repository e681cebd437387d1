"""Channel- and operation-level drop proportions per stage and overall (paper Table 7)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pgnas_core.architecture import Architecture
from pgnas_core.run.results import as_run, drop_proportions

from .inputs import axes_or_new, is_run


def drop_proportion_table(data, by: str = "stage", tags=None) -> pd.DataFrame:
    """The :func:`pgnas_core.run.results.drop_proportions` table of a run, an Architecture, or
    ``data`` itself when it already is one."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Architecture):
        return drop_proportions(data, by, tags=tags)
    if is_run(data):
        return as_run(data).drop_proportions(by)
    raise TypeError(
        f"expected an Architecture, run directory or DataFrame, got {type(data).__name__}"
    )


def plot_drop_proportions(arch_or_df, ax=None, by: str = "stage", tags=None):
    """Grouped bars: the proportion of dropped channels and of dropped operations per group
    (``by``: stage, block, branch or a tag) and overall (the paper's Table 7 numbers)."""
    table = drop_proportion_table(arch_or_df, by, tags)
    ax = axes_or_new(ax, (max(4.0, 0.9 * len(table) + 1.5), 3.5))
    x = np.arange(len(table))
    w = 0.4
    ax.bar(x - w / 2, table["channel_drop"], w, label="channel-level", color="C0")
    ax.bar(x + w / 2, table["operation_drop"], w, label="operation-level", color="C1")
    ax.set_xticks(x, [str(g) for g in table["group"]])
    if len(table) > 1:
        ax.axvline(len(table) - 1.5, color="grey", lw=0.8, ls=":")  # groups | overall
    ax.set_xlabel(by)
    ax.set_ylabel("proportion dropped")
    top = float(np.nanmax(table[["channel_drop", "operation_drop"]].to_numpy()))
    ax.set_ylim(0, max(0.1, min(1.0, top * 1.25 + 0.02)))
    ax.legend(fontsize=8)
    ax.set_title("dropped channels and operations")
    return ax
