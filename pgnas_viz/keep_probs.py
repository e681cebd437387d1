"""Per-site keep-probabilities ``1 - p_j``, grouped by stage / block / branch (supp. Fig. 2's
numbers), and how they evolve over training."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from pgnas_core.run.results import TAG_ORDER, group_label, tag_columns

from .inputs import axes_or_new, keep_probs_long, site_keep_table

ROW_KEYS = ("stage", "block")


def _column_keys(table: pd.DataFrame) -> tuple[str, ...]:
    """branch.layer, plus any family-specific tag (e.g. a DenseNet site's source group)."""
    extra = tuple(c for c in tag_columns(table) if c not in TAG_ORDER)
    return ("branch", "layer") + extra


def keep_prob_grid(table: pd.DataFrame) -> pd.DataFrame:
    """Rows ``stage.block``, columns ``branch.layer`` (in the supernet's order), values the
    keep-probability; a cell two sites would share gets a ``#i`` suffix."""
    rows = [group_label(r, ROW_KEYS) for r in table.to_dict("records")]
    cols = [group_label(r, _column_keys(table)) for r in table.to_dict("records")]
    seen: dict[tuple[str, str], int] = {}
    unique = []
    for r, c in zip(rows, cols):
        n = seen.get((r, c), 0)
        seen[(r, c)] = n + 1
        unique.append(c if n == 0 else f"{c}#{n}")
    long = pd.DataFrame({"row": rows, "col": unique, "keep_prob": table["keep_prob"].to_numpy()})
    grid = long.pivot(index="row", columns="col", values="keep_prob")
    return grid.loc[list(dict.fromkeys(rows)), list(dict.fromkeys(unique))]


def plot_keep_probs(
    data, ax=None, kind: str = "heatmap", epoch: int | None = None, annotate: bool | None = None
):
    """Keep-probability of every site at ``epoch`` (default: the last).

    ``data``: a run directory, RunResults, keep_probs table or Supernet. ``kind="heatmap"``:
    rows stage.block, columns branch.layer; ``kind="bar"``: bars grouped by stage.block,
    coloured by branch.
    """
    table = site_keep_table(data, epoch)
    if kind == "heatmap":
        return _heatmap(table, ax, annotate)
    if kind == "bar":
        return _bars(table, ax)
    raise ValueError(f"kind={kind!r}: heatmap or bar")


def keep_prob_vmin(values, step: float = 0.05) -> float:
    """The heatmap's lower colour limit: the observed minimum rounded down to ``step``, so
    keep-probabilities that all lie in 0.8-1.0 use the whole colour map, not its top fifth."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0
    low = math.floor(float(finite.min()) / step) * step
    return float(np.clip(round(low, 6), 0.0, 1.0 - step))


def _heatmap(table: pd.DataFrame, ax, annotate: bool | None):
    grid = keep_prob_grid(table)
    ax = axes_or_new(ax, (max(4.0, 0.6 * grid.shape[1] + 2), max(2.5, 0.4 * grid.shape[0] + 1)))
    values = np.ma.masked_invalid(grid.to_numpy(dtype=float))
    vmin = keep_prob_vmin(values.compressed())
    im = ax.imshow(values, cmap="viridis", vmin=vmin, vmax=1.0, aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=45, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    ax.set_xlabel("branch.layer")
    ax.set_ylabel("stage.block")
    if annotate is None:
        annotate = grid.size <= 300
    if annotate:
        for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if im.norm(v) > 0.6 else "white",
                )
    scale = "" if vmin == 0 else f"\n(scale from {vmin:.2f}: the observed range)"
    ax.figure.colorbar(im, ax=ax, label=f"keep-probability 1 - p{scale}")
    ax.set_title("keep-probability per site")
    return ax


def _bars(table: pd.DataFrame, ax):
    records = table.to_dict("records")
    groups = [group_label(r, ROW_KEYS) for r in records]
    branches = [group_label(r, ("branch",)) for r in records]
    palette = {b: f"C{i % 10}" for i, b in enumerate(dict.fromkeys(branches))}
    ax = axes_or_new(ax, (max(5.0, 0.18 * len(records) + 2), 3.5))
    x, pos, ticks, labels, last = [], 0.0, [], [], None
    for g in groups:  # a gap between stage.block groups
        if last is not None and g != last:
            pos += 0.8
        x.append(pos)
        pos += 1.0
        last = g
    x = np.asarray(x)
    ax.bar(x, table["keep_prob"], width=0.85, color=[palette[b] for b in branches])
    for g in dict.fromkeys(groups):
        idx = [i for i, gg in enumerate(groups) if gg == g]
        ticks.append(x[idx].mean())
        labels.append(g)
    ax.set_xticks(ticks, labels)
    ax.set_xlabel("stage.block")
    ax.set_ylabel("keep-probability 1 - p")
    ax.set_ylim(0, 1.02)
    from matplotlib.patches import Patch

    ax.legend(
        handles=[Patch(color=c, label=f"branch {b}") for b, c in palette.items()],
        fontsize=7,
        ncol=min(4, len(palette)),
        loc="lower right",
    )
    ax.set_title("keep-probability per site")
    return ax


def plot_keep_prob_evolution(keep_probs, ax=None, by: str = "stage"):
    """Keep-probabilities over the epochs of training (keep_probs.csv, epoch 0 = init).

    ``by="site"``: one thin line per site, coloured by stage; otherwise the channel-weighted
    mean per group of a tag (``stage``, ``branch``, ``kernel``, or ``block`` = stage.block).
    """
    df = keep_probs_long(keep_probs)
    ax = axes_or_new(ax)
    if by == "site":
        stages = [group_label(r, ("stage",)) for r in df.to_dict("records")]
        palette = {s: f"C{i % 10}" for i, s in enumerate(dict.fromkeys(stages))}
        df = df.assign(_stage=stages)
        for (_, stage), g in df.groupby(["site", "_stage"], sort=False):
            ax.plot(g["epoch"], g["keep_prob"], color=palette[stage], lw=0.8, alpha=0.7)
        from matplotlib.lines import Line2D

        ax.legend(
            handles=[Line2D([], [], color=c, label=f"stage {s}") for s, c in palette.items()],
            fontsize=7,
        )
    else:
        keys = ("stage", "block") if by == "block" else (by,)
        labels = [group_label(r, keys) for r in df.to_dict("records")]
        df = df.assign(_group=labels, _w=df["keep_prob"] * df["channels"])
        for group, g in df.groupby("_group", sort=False):
            per_epoch = g.groupby("epoch")[["_w", "channels"]].sum()
            ax.plot(
                per_epoch.index,
                per_epoch["_w"] / per_epoch["channels"],
                marker=".",
                label=f"{by} {group}",
            )
        ax.legend(fontsize=7)
    ax.set_xlabel("epoch")
    ax.set_ylabel("keep-probability 1 - p")
    ax.set_title(f"keep-probabilities during training (by {by})")
    return ax
