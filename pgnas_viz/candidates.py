"""The ranked candidates: their accuracy, guided vs Random (supplement Fig. 1), and the
winner's error against the number of candidates C (paper Table 6)."""

from __future__ import annotations

from collections.abc import Mapping

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


#: One colour per method, distinct from each other (seaborn's colour-blind palette).
METHOD_COLOURS = {"PGNAS": "#0173b2", "Random": "#de8f05", "BaLeNAS": "#029e73",
                  "DARTS": "#d55e00", "BayesNAS": "#cc78bc"}  # fmt: skip


def winner_row(candidates: pd.DataFrame, best=None) -> pd.Series:
    """The ranked winner's row: best.json's candidate index when given, else the survivor
    (racing: not eliminated) with the highest val_acc, the ranking's criterion."""
    if best is not None and getattr(best, "candidate", None) is not None:
        rows = candidates[candidates["candidate"] == best.candidate]
        if len(rows):
            return rows.iloc[0]
    pool = candidates
    if "eliminated_round" in candidates:
        pool = candidates[candidates["eliminated_round"] < 0]
    return (pool if len(pool) else candidates).sort_values("val_acc", ascending=False).iloc[0]


def _sides(guided, random) -> dict[str, tuple[pd.DataFrame, object]]:
    """name -> (candidates, best) of each method to draw."""
    if isinstance(guided, Mapping):
        return {name: (_candidates(c, name), None) for name, c in guided.items()}
    sides = {}
    if is_run(guided):
        run = as_run(guided)
        sides["PGNAS"] = (_candidates(run, "guided"), run.best)
        if random is None and run.random is not None and run.random.candidates is not None:
            sides["Random"] = (run.random.candidates, run.random.best)
    else:
        sides["PGNAS"] = (_candidates(guided, "guided"), None)
    if random is not None:
        r = as_run(random) if is_run(random) else None
        sides["Random"] = (_candidates(random, "random"), r.best if r is not None else None)
    return sides


def plot_candidate_histogram(
    guided, random=None, ax=None, column: str = "val_acc", bins: int | None = None
):
    """Histograms of the candidates' ``column``: PGNAS-guided vs the Random baseline, each
    method in its own colour (outlined, lightly filled, so overlaps stay readable), with
    its ranked winner marked by a dashed line and a triangle.

    ``guided``: candidates.csv as a DataFrame, a run directory (then ``random`` defaults to
    its random/ baseline) or a mapping method name -> candidates. The legend gives each mean
    and standard deviation; the paper reports a higher mean and a smaller spread for PGNAS.
    """
    sides = _sides(guided, random)
    ax = axes_or_new(ax)
    values = [c[column].to_numpy() for c, _ in sides.values()]
    lo = min(v.min() for v in values)
    hi = max(v.max() for v in values)
    n = bins or int(np.clip(np.sqrt(max(len(v) for v in values)) * 2, 5, 40))
    edges = np.linspace(lo, hi if hi > lo else lo + 1e-3, n + 1)
    for i, (name, (cands, best)) in enumerate(sides.items()):
        v = cands[column].to_numpy()
        colour = METHOD_COLOURS.get(name, f"C{i}")
        label = f"{name}: mean {v.mean():.3f}, sd {v.std(ddof=0):.3f} (n={len(v)})"
        ax.hist(v, bins=edges, color=colour, alpha=0.25, label=label)
        ax.hist(v, bins=edges, histtype="step", color=colour, lw=1.8)
        win = float(winner_row(cands, best)[column])
        ax.axvline(win, color=colour, ls="--", lw=1.5, gid="winner-line")
        ax.plot([win], [1.0], marker="v", ms=9, color=colour, ls="none", gid="winner",
                transform=ax.get_xaxis_transform(), clip_on=False,
                label=f"{name} winner: {win:.3f}")  # fmt: skip
    ax.set_xlabel(column)
    ax.set_ylabel("candidates")
    ax.legend(fontsize=7)
    ax.set_title("sampled candidates (triangle: the ranked winner)")
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
            (stats["mean"] - sd).clip(lower=0.0),  # an error is never below 0
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
