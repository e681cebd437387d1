"""DARTS / BaLeNAS architecture weights as an edge x operation heatmap: softmax(alpha) per
edge, one panel per epoch (or per run), every panel on one shared colour scale, so that a
weight reads the same in each. Five overlapping curves per edge cannot be read; a grid can."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .cells import _arch_params


def alpha_grid(arch_params, epoch: int | None = None, group: int = 0) -> pd.DataFrame:
    """Rows the edges (``1<-0`` ...), columns the operations (the table's order: the space's),
    values
    softmax(alpha) at ``epoch`` (default: the last)."""
    df = _arch_params(arch_params)
    df = df[df["group"] == group]
    epoch = int(df["epoch"].max()) if epoch is None else int(epoch)
    at = df[df["epoch"] == epoch]
    if at.empty:
        raise ValueError(f"epoch {epoch} is not in arch_params (epochs {sorted(set(df['epoch']))})")
    grid = at.pivot(index="edge", columns="op", values="weight")
    return grid.loc[list(dict.fromkeys(at["edge"])), list(dict.fromkeys(at["op"]))]


def plot_alpha_heatmap(arch_params, epochs=None, group: int = 0, axes=None, vmin=None, vmax=None):
    """softmax(alpha) as an edge x op heatmap, one panel per entry of ``epochs`` (default:
    the first and the last), or one panel per run when ``arch_params`` maps a label to a
    run / table (their last epoch). One colour scale for all panels, from ``vmin`` to
    ``vmax`` (default: the smallest and largest weight shown, so that weights near the
    uniform 1/5 still differ in colour) and one colour bar; each edge's argmax is boxed.
    Returns the Axes."""
    grids = _grids(arch_params, epochs, group)
    if axes is None:
        import matplotlib.pyplot as plt  # lazily: importing pgnas_viz needs no pyplot

        width = 1.0 + 2.9 * len(grids)
        _, axes = plt.subplots(1, len(grids), figsize=(width, 3.2), squeeze=False,
                               layout="constrained")  # fmt: skip
    axes = np.asarray(axes).ravel()
    low, top = shared_limits(grids.values(), vmin, vmax)
    for ax, (title, grid) in zip(axes, grids.items()):
        values = grid.to_numpy(dtype=float)
        im = ax.imshow(values, cmap="magma", vmin=low, vmax=top, aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if im.norm(v) > 0.6 else "white")  # fmt: skip
        for i, j in enumerate(np.nanargmax(values, axis=1)):
            ax.add_patch(_box(j, i))
        ax.set_xticks(range(grid.shape[1]), grid.columns, rotation=35, ha="right", fontsize=7)
        ax.set_yticks(range(grid.shape[0]), grid.index, fontsize=8)
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("edge (to <- from)")
    axes[0].figure.colorbar(im, ax=list(axes), label="softmax(alpha)\n(one scale for all panels)")
    return axes


def shared_limits(grids, vmin=None, vmax=None) -> tuple[float, float]:
    """One (low, high) colour range for every panel: the observed range unless given."""
    values = np.concatenate([np.ravel(g.to_numpy(dtype=float)) for g in grids])
    low = float(np.nanmin(values)) if vmin is None else float(vmin)
    high = float(np.nanmax(values)) if vmax is None else float(vmax)
    return low, max(high, low + 1e-3)


def _grids(data, epochs, group) -> dict[str, pd.DataFrame]:
    if isinstance(data, Mapping):
        return {str(k): alpha_grid(v, None, group) for k, v in data.items()}
    df = _arch_params(data)
    if epochs is None:
        epochs = sorted({int(df["epoch"].min()), int(df["epoch"].max())})
    return {f"epoch {e}": alpha_grid(df, e, group) for e in epochs}


def _box(j: int, i: int):
    from matplotlib.patches import Rectangle

    return Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="cyan", lw=2, gid="argmax")
