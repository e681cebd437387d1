"""Training curves of a supernet: the two parts of the negative ELBO (Eq. 14-15), the
accuracies and the mean keep-probability, one row of history.csv per epoch."""

from __future__ import annotations

import numpy as np

from .inputs import history_table


def plot_training_curves(history, ax=None, label: str | None = None):
    """Four panels: cross-entropy, the method's loss terms (R/N for PGNAS), accuracies,
    keep-probability (mean and min..max band; PGNAS-style runs) or, for DARTS / BaLeNAS,
    the fraction of argmax edges that are parameter-free. ``history``: history.csv as
    a DataFrame, a run directory or RunResults. ``ax``: four Axes to draw into (e.g. to
    overlay PGNAS and Random); returns them."""
    df = history_table(history)
    if ax is None:
        import matplotlib.pyplot as plt  # lazily: importing pgnas_viz needs no pyplot

        _, ax = plt.subplots(1, 4, figsize=(14, 3.2), layout="constrained")
    axes = np.asarray(ax).ravel()
    if axes.size < 4:
        raise ValueError(f"plot_training_curves needs 4 Axes, got {axes.size}")
    prefix = f"{label}: " if label else ""
    ep = df["epoch"]
    ax = axes[0]
    ax.plot(ep, df["train_ce"], marker=".", label=f"{prefix}train CE")
    if "val_loss" in df:
        ax.plot(ep, df["val_loss"], marker=".", ls="--", label=f"{prefix}val CE (mean net)")
    ax.set_title("cross-entropy")
    ax = axes[1]
    ax.plot(ep, df["train_reg"], marker=".", label=f"{prefix}R / N")
    ax.set_title("regulariser R / N (Eq. 15)")
    ax = axes[2]
    ax.plot(ep, df["train_acc"], marker=".", label=f"{prefix}train (masked)")
    if "val_acc" in df:
        ax.plot(ep, df["val_acc"], marker=".", ls="--", label=f"{prefix}val (mean net)")
    ax.set_title("accuracy")
    ax = axes[3]
    if "mean_keep" in df:
        (line,) = ax.plot(ep, df["mean_keep"], marker=".", label=f"{prefix}mean keep")
        if {"min_keep", "max_keep"} <= set(df.columns):
            ax.fill_between(
                ep,
                df["min_keep"],
                df["max_keep"],
                color=line.get_color(),
                alpha=0.2,
                label=f"{prefix}min..max",
            )
        ax.set_title("keep-probability 1 - p")
    elif "param_free_fraction" in df:  # DARTS / BaLeNAS: the argmax cell's collapse measure
        ax.plot(ep, df["param_free_fraction"], marker=".", label=f"{prefix}skip or pool")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("argmax edges: parameter-free")
    for ax in axes[:4]:
        ax.set_xlabel("epoch")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return axes
