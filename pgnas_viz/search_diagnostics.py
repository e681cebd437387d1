"""How decisive a search was, per epoch: the diagnostics each method records in history.csv
(:mod:`pgnas_core.methods.diagnostics`), one panel per diagnostic, one line per run."""

from __future__ import annotations

import numpy as np

from pgnas_core.methods.diagnostics import DIAGNOSTICS

from .inputs import history_table

#: Where an undecided search sits (a dotted line), where known without the run's settings.
UNDECIDED = {"alpha_entropy": 1.0, "relevance_spearman": 0.0, "std_keep": 0.0}


def plot_search_diagnostics(runs, axes=None, n_ops: int = 5):
    """One panel per diagnostic that any of ``runs`` recorded, against the epoch. ``runs``:
    a run directory, RunResults or history DataFrame, or a dict of label -> one of them.
    ``n_ops``: the operations per edge (the uniform weight 1/n_ops is drawn). Returns the
    array of Axes (one per diagnostic)."""
    if not isinstance(runs, dict):
        runs = {"": runs}
    histories = {label: history_table(r) for label, r in runs.items()}
    names = [k for k in DIAGNOSTICS if any(k in h.columns for h in histories.values())]
    if not names:
        raise ValueError(
            f"no search diagnostics in these runs (expected one of {list(DIAGNOSTICS)})"
        )
    if axes is None:
        import matplotlib.pyplot as plt  # lazily: importing pgnas_viz needs no pyplot

        _, axes = plt.subplots(
            1, len(names), figsize=(3.2 * len(names), 3), layout="constrained", squeeze=False
        )
        axes = axes[0]
    axes = np.atleast_1d(axes)
    undecided = {**UNDECIDED, "max_op_weight": 1 / n_ops}
    for ax, name in zip(axes, names):
        for label, h in histories.items():
            if name in h.columns:
                ax.plot(h["epoch"], h[name], marker="o", label=label or None)
        if name in undecided:
            ax.axhline(undecided[name], color="grey", linestyle=":", linewidth=1)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("diagnostic (dotted: undecided)")
    if len(histories) > 1:
        axes[0].legend(fontsize=7)
    return axes
