"""BayesNAS's switches, drawn: posterior relevance per edge and operation (a heatmap, and on the
cell graph), and switch magnitude against relevance -- where the two pruning rules disagree."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pgnas_core.run.results import as_run

from .inputs import axes_or_new, is_run


def switch_table(data, epoch: int | None = None) -> pd.DataFrame:
    """switches.csv at ``epoch`` (default: the last), one row per switch entry."""
    if isinstance(data, pd.DataFrame):
        df = data
    elif is_run(data):
        run = as_run(data)
        if "switches" not in run.tables:
            raise FileNotFoundError(f"{run.run_dir}: no switches.csv (a BayesNAS run)")
        df = run.tables["switches"]
    else:
        raise TypeError(f"expected a DataFrame or a run directory, got {type(data).__name__}")
    epoch = int(df["epoch"].max()) if epoch is None else int(epoch)
    return df[df["epoch"] == epoch].reset_index(drop=True)


def relevance_grid(data, epoch: int | None = None, group: int = 0) -> pd.DataFrame:
    """Rows: the group's parents (edges or blocks); columns: "parent" and its children."""
    t = switch_table(data, epoch)
    t = t[(t["group"] == group) & (t["unit"] == t.loc[t["group"] == group, "unit"].min())]
    order = list(dict.fromkeys(t["op"]))
    grid = t.pivot(index="edge", columns="op", values="relevance")
    return grid.loc[list(dict.fromkeys(t["edge"])), order]


def plot_relevance(data, ax=None, epoch: int | None = None, group: int = 0):
    """Posterior relevance (log10) of the parent and child switches of one group, pruned ones
    marked with a cross (BayesNAS's rule at the run's threshold)."""
    t = switch_table(data, epoch)
    grid = relevance_grid(t, None, group)
    kept = (
        t[(t["group"] == group)]
        .drop_duplicates(["edge", "op"])
        .pivot(index="edge", columns="op", values="kept")
        .loc[grid.index, grid.columns]
    )
    ax = axes_or_new(ax, (1.2 * grid.shape[1] + 2.5, 0.5 * grid.shape[0] + 1.5))
    values = np.log10(grid.to_numpy(dtype=float).clip(min=1e-30))
    im = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=30, ha="right")
    ax.set_yticks(range(grid.shape[0]), grid.index)
    for (i, j), keep in np.ndenumerate(kept.to_numpy(dtype=bool)):
        ax.text(
            j,
            i,
            f"{grid.iloc[i, j]:.2g}" + ("" if keep else "\n×"),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if values[i, j] < values.mean() else "k",
        )
    ax.figure.colorbar(im, ax=ax, label="log10 relevance (gamma)")
    ax.set_title("posterior relevance (× pruned)")
    return ax


def plot_magnitude_vs_relevance(data, ax=None, epoch: int | None = None):
    """Every child switch group: its magnitude ``||s_g||`` against its relevance, coloured by
    which rule keeps it when both keep the same number (the run's relevance count)."""
    t = switch_table(data, epoch)
    c = t[t["level"] == "child"]
    g = c.groupby(["group", "edge", "op"], sort=False).agg(
        magnitude=("value", lambda v: float(np.sqrt((v**2).sum()))),
        relevance=("relevance", "first"),
        kept=("kept", "first"),
    )
    n = int(g["kept"].sum())
    by_mag = g["magnitude"].rank(ascending=False, method="first") <= n
    colours = np.select(
        [g["kept"] & by_mag, g["kept"] & ~by_mag, ~g["kept"] & by_mag],
        ["C2", "C0", "C3"],
        "lightgrey",
    )
    ax = axes_or_new(ax)
    ax.scatter(g["magnitude"], g["relevance"], c=colours, s=25)
    ax.set_yscale("log")
    ax.set_xlabel("switch magnitude ||s_g||")
    ax.set_ylabel("posterior relevance gamma")
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", ls="", color=col, label=lab)
        for col, lab in (
            ("C2", "kept by both"),
            ("C0", "relevance only"),
            ("C3", "magnitude only"),
            ("lightgrey", "pruned by both"),
        )
    ]
    ax.legend(handles=handles, fontsize=7)
    ax.set_title(f"where the two rules disagree ({n} children kept each)")
    return ax


def relevance_notes(data, epoch: int | None = None, group: int = 0) -> dict:
    """(edge, operation) -> "rel <gamma>" for :func:`pgnas_viz.cell_graph`'s labels."""
    t = switch_table(data, epoch)
    c = t[(t["level"] == "child") & (t["group"] == group)].drop_duplicates(["edge", "op"])
    return {(r["edge"], r["op"]): f"rel {r['relevance']:.2g}" for r in c.to_dict("records")}
