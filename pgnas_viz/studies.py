"""Studies drawn: each claim as paired points over seeds (one line per seed from side b to
side a) with the means and 95% t-intervals, and any metric across a study's configurations."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from pgnas_core.run.study import claims_of, evaluate
from pgnas_core.run.study.claims import Claim, Side
from pgnas_core.run.study.side_data import side_series
from pgnas_core.run.study.stats import t_interval

from .claim_titles import claim_title
from .inputs import axes_or_new
from .metric_ranges import clip_interval

VERDICT_COLOURS = {"holds": "C2", "does not hold here": "C3", "not resolved at this size": "C7"}


def _side_name(side: Side | float, claim: Claim) -> str:
    if not isinstance(side, Side):
        return f"{side:g}"
    return side.label(claim.metric) or claim.metric


def plot_claim(table: pd.DataFrame, claim: Claim, ax=None):
    """One claim: each seed's value on side b and side a joined by a line, the means with
    their 95% t-intervals, and the verdict in the title."""
    ax = axes_or_new(ax, (3.6, 3.2))
    if claim.kind in ("trend", "interior"):
        return _plot_along_grid(table, claim, ax)
    a = side_series(table, claim.a, claim.metric)
    if isinstance(claim.b, Side):
        b = side_series(table, claim.b, claim.metric)
    else:
        b = pd.Series(float(claim.b), index=a.index)
    seeds = a.index.intersection(b.index)
    for s in seeds:
        ax.plot([0, 1], [b[s], a[s]], color="0.7", marker="o", ms=4, lw=1, zorder=1)
    for x, values in ((0, b.loc[seeds]), (1, a.loc[seeds])):
        mean, _, low, high, _ = t_interval(values)
        low, high = clip_interval(claim.metric, low, high)  # accuracies stay <= 1, params >= 0
        if not math.isnan(low):
            ax.errorbar(
                x,
                mean,
                yerr=[[mean - low], [high - mean]],
                color="k",
                capsize=4,
                marker="s",
                zorder=2,
            )
        else:
            ax.scatter([x], [mean], color="k", marker="s", zorder=2)
    v = evaluate(claim, table)
    ax.set_xticks([0, 1], [_side_name(claim.b, claim), _side_name(claim.a, claim)], fontsize=7)
    ax.set_xlim(-0.4, 1.4)
    ax.set_ylabel(claim.metric, fontsize=8)
    ax.set_title(
        f"{claim_title(claim)}\n{claim.item}: {v.verdict} ({v.n} seeds)",
        fontsize=8,
        color=VERDICT_COLOURS.get(v.verdict, "k"),
    )
    if v.n >= 2 and not math.isnan(v.ci_low):  # the paired interval the verdict reads
        ax.set_xlabel(
            f"a - b = {v.diff:+.3g}, 95% CI [{v.ci_low:+.3g}, {v.ci_high:+.3g}]", fontsize=7
        )
    return ax


def _plot_along_grid(table: pd.DataFrame, claim: Claim, ax):
    """A trend or interior-optimum claim: each seed's metric along the grid field (log x)."""
    t = table[table["metric"] == claim.metric]
    if claim.x in t.columns and len(t):
        wide = t.pivot_table(index="seed", columns=claim.x, values="value", aggfunc="mean")
        wide = wide.reindex(sorted(wide.columns, key=float), axis=1)
        for _, row in wide.iterrows():
            ax.plot([float(c) for c in wide.columns], row.to_numpy(), marker="o", ms=4, lw=1)
        ax.set_xscale("log")
    v = evaluate(claim, table)
    ax.set_xlabel(claim.x.split(".")[-1], fontsize=8)
    ax.set_ylabel(claim.metric, fontsize=8)
    ax.set_title(f"{claim.item}: {v.verdict}\n({v.n} seeds, {claim.kind})", fontsize=8,
                 color=VERDICT_COLOURS.get(v.verdict, "k"))  # fmt: skip
    return ax


def plot_claims(table: pd.DataFrame, study: str | None = None, items=None, ncols: int = 4):
    """Every claim of the study (``items``: of these paper items only), one panel each;
    returns the axes."""
    study = study or str(table["study"].iloc[0])
    claims = claims_of(study, items)
    if not claims:
        raise ValueError(f"study {study!r} has no claims")
    ncols = min(ncols, len(claims))
    nrows = math.ceil(len(claims) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows), squeeze=False)
    for ax, claim in zip(axes.flat, claims):
        plot_claim(table, claim, ax)
    for ax in axes.flat[len(claims) :]:
        ax.axis("off")
    fig.tight_layout()
    return axes


def plot_study_metric(
    table: pd.DataFrame, metric: str, ax=None, x: str = "config", hue: str | None = "method"
):
    """One metric across the study's configurations: every seed as a point, the mean and its
    95% t-interval (none with one seed)."""
    data = table[table["metric"] == metric]
    if data.empty:
        raise ValueError(
            f"metric {metric!r} is not in the study (has {sorted(set(table['metric']))})"
        )
    ax = axes_or_new(ax, (max(4.0, 1.3 * data[x].nunique()), 3.2))
    hue = hue if hue and data[hue].nunique() > 1 else None
    sns.stripplot(data=data, x=x, y="value", hue=hue, dodge=hue is not None, alpha=0.6, ax=ax)
    colour = {} if hue else {"color": "k"}
    sns.pointplot(
        data=data,
        x=x,
        y="value",
        hue=hue,
        dodge=0.4 if hue else False,
        errorbar=_t95_within(metric),
        capsize=0.1,
        err_kws={"linewidth": 1.2},
        markers="_",
        linestyles="none",
        ax=ax,
        legend=False,
        **colour,
    )
    ax.set_ylabel(metric)
    _short_config_labels(ax)
    ax.tick_params(axis="x", labelsize=8)
    return ax


def _t95_within(metric: str):
    """seaborn's errorbar callable: the 95% t-interval, clipped to the metric's range."""

    def interval(values) -> tuple[float, float]:
        _, _, low, high, _ = t_interval(values)
        return clip_interval(metric, low, high)

    return interval


def _short_config_labels(ax) -> None:
    """``method=darts, method=balenas`` as ``darts, balenas`` under an x label ``method``."""
    labels = [t.get_text() for t in ax.get_xticklabels()]
    keys = {s.split("=", 1)[0] for s in labels}
    if labels and len(keys) == 1 and all("=" in s for s in labels):
        ax.set_xticks(ax.get_xticks(), [s.split("=", 1)[1] for s in labels])
        ax.set_xlabel(keys.pop())


def side_by_side_table(table: pd.DataFrame, metrics, by: str = "config") -> pd.DataFrame:
    """Mean +- sd over seeds of each metric, one row per ``by`` value (a Table 1 of methods)."""
    rows = []
    for key, g in table.groupby(by, sort=False):
        row = {by: key, "seeds": int(g["seed"].nunique())}
        for m in metrics:
            v = g.loc[g["metric"] == m, "value"].to_numpy()
            if len(v) == 0:
                row[m] = ""
                continue
            mean, sd = float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else math.nan
            row[m] = f"{mean:.4g}" + ("" if math.isnan(sd) else f" ± {sd:.2g}")
        rows.append(row)
    return pd.DataFrame(rows)
