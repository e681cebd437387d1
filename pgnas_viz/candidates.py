"""The ranked candidates: their accuracy, guided vs Random (supplement Fig. 1), and the
winner's error against the number of candidates C (paper Table 6)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pgnas_core.run.results import as_run

from .inputs import axes_or_new, is_run


def _candidates(data, what: str) -> pd.DataFrame | None:
    if data is None or isinstance(data, pd.DataFrame):
        return data
    if is_run(data):
        run = as_run(data)
        if run.candidates is None:
            raise FileNotFoundError(f"{run.run_dir}: no candidates.csv ({what})")
        return run.candidates
    raise TypeError(f"{what}: expected a DataFrame or a run directory, got {type(data).__name__}")


def plot_candidate_histogram(
    guided, random=None, ax=None, column: str = "val_acc", bins: int | None = None
):
    """Histograms of the candidates' ``column``: PGNAS-guided vs the Random baseline.

    ``guided``: candidates.csv as a DataFrame, or a run directory (then ``random`` defaults
    to its random/ baseline). The legend gives each mean and standard deviation; the paper
    reports a higher mean and a smaller spread for PGNAS.
    """
    if is_run(guided) and random is None:
        run = as_run(guided)
        random = run.random.candidates if run.random is not None else None
    g = _candidates(guided, "guided")
    r = _candidates(random, "random")
    ax = axes_or_new(ax)
    values = [g[column].to_numpy()] + ([r[column].to_numpy()] if r is not None else [])
    lo = min(v.min() for v in values)
    hi = max(v.max() for v in values)
    n = bins or int(np.clip(np.sqrt(max(len(v) for v in values)) * 2, 5, 40))
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-3, n + 1)
    for v, name, color in zip(values, ("PGNAS", "Random"), ("C0", "C3")):
        ax.hist(
            v,
            bins=edges,
            alpha=0.55,
            color=color,
            label=f"{name}: mean {v.mean():.3f}, sd {v.std(ddof=0):.3f} (n={len(v)})",
        )
    ax.set_xlabel(column)
    ax.set_ylabel("candidates")
    ax.legend(fontsize=8)
    ax.set_title("sampled candidates")
    return ax


def plot_error_vs_candidates(df: pd.DataFrame, ax=None, paper: pd.DataFrame | None = None):
    """Error of the selected winner against the number of candidates C (log axis).

    ``df`` columns ``candidates`` and ``error`` (and ``seed``: then the mean with a +-1 sd
    band over seeds, and every run as a dot). ``paper``: optional Table 6 rows to overlay.
    """
    ax = axes_or_new(ax)
    stats = df.groupby("candidates")["error"].agg(["mean", "std", "count"]).reset_index()
    ax.plot(stats["candidates"], stats["mean"], marker="o", color="C0", label="ours (mean)")
    if (stats["count"] > 1).any():
        sd = stats["std"].fillna(0.0)
        ax.fill_between(
            stats["candidates"],
            stats["mean"] - sd,
            stats["mean"] + sd,
            color="C0",
            alpha=0.2,
            label="ours +-1 sd",
        )
        ax.scatter(df["candidates"], df["error"], s=10, color="C0", alpha=0.5)
    if paper is not None:
        p = paper.dropna(subset=["error"])
        ax.plot(p["candidates"], p["error"], marker="s", color="C1", ls="--", label="paper")
    ax.set_xscale("log")
    ax.set_xlabel("candidates C")
    ax.set_ylabel("error")
    ax.legend(fontsize=8)
    ax.set_title("error vs number of candidates")
    return ax
