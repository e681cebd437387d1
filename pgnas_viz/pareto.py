"""Accuracy against size across methods and seeds, the first plot a reviewer asks for: every
run's winner as a point (colour: method, marker: seed) and the Pareto front (no other point
is both smaller and more accurate) as a step line."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .inputs import axes_or_new

KEYS = ("study", "tier", "config", "method", "seed")


def wide_results(table: pd.DataFrame) -> pd.DataFrame:
    """A study's tidy results.csv (``metric``, ``value``) as one row per run (configuration,
    method, seed) and one column per metric; a table already wide is returned as it is."""
    if not {"metric", "value"} <= set(table.columns):
        return table
    keys = [k for k in KEYS if k in table.columns]
    wide = table.pivot_table(index=keys, columns="metric", values="value", aggfunc="mean")
    return wide.reset_index().rename_axis(columns=None)


def pareto_front(table: pd.DataFrame, x: str = "params", y: str = "test_acc") -> pd.Series:
    """True for the rows no other row dominates (smaller or equal ``x`` and higher or equal
    ``y``, strictly better in one); rows missing either value are never on the front."""
    xs, ys = table[x].to_numpy(dtype=float), table[y].to_numpy(dtype=float)
    ok = np.isfinite(xs) & np.isfinite(ys)
    front = np.zeros(len(table), dtype=bool)
    for i in np.flatnonzero(ok):
        no_worse = ok & (xs <= xs[i]) & (ys >= ys[i])
        better = (xs < xs[i]) | (ys > ys[i])
        front[i] = not (no_worse & better).any()
    return pd.Series(front, index=table.index, name="pareto")


def plot_pareto(
    table: pd.DataFrame,
    x: str = "params",
    y: str = "test_acc",
    hue: str = "method",
    style: str | None = "seed",
    ax=None,
    logx: bool | None = None,
):
    """``y`` against ``x`` for every run of a study (``table``: its results.csv, tidy or
    wide), coloured by ``hue``, marked by ``style``, with the Pareto front drawn as a step
    line through its points (circled). ``logx``: a log x axis (default: when ``x`` spans
    more than a factor of 10). Returns the Axes."""
    import seaborn as sns

    wide = wide_results(table)
    missing = [c for c in (x, y) if c not in wide.columns]
    if missing:
        raise ValueError(f"{missing} not in the results (has {sorted(wide.columns)})")
    data = wide.dropna(subset=[x, y]).reset_index(drop=True)
    if data.empty:
        raise ValueError(f"no run has both {x} and {y}")
    ax = axes_or_new(ax, (6.0, 4.0))
    style = style if style in data.columns and data[style].nunique() > 1 else None
    data = data.assign(**{style: data[style].astype(str)}) if style else data
    sns.scatterplot(data=data, x=x, y=y, hue=hue if hue in data else None, style=style,
                    s=60, ax=ax)  # fmt: skip
    front = data[pareto_front(data, x, y)].sort_values(x)
    ax.step(front[x], front[y], where="post", color="0.3", lw=1.2, ls="--", zorder=0,
            label="Pareto front", gid="pareto-front")  # fmt: skip
    ax.scatter(front[x], front[y], s=160, facecolors="none", edgecolors="0.2", lw=1.2,
               zorder=3, gid="pareto-points")  # fmt: skip
    span = data[x].max() / max(data[x].min(), 1e-12)
    if logx if logx is not None else span > 10:
        ax.set_xscale("log")
    ax.set_title(f"{y} vs {x}: each run's winner, the Pareto front dashed", fontsize=9)
    ax.legend(fontsize=7, bbox_to_anchor=(1.02, 1), loc="upper left")
    return ax
