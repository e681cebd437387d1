"""What the plot helpers accept: a run directory, a RunResults, a DataFrame or a supernet.

Every helper funnels its ``data`` argument through one of these, so each accepts the same
kinds of input and none of them trains anything.
"""

from __future__ import annotations

from os import PathLike

import pandas as pd

from pgnas_core.run.results import RunResults, as_run, keep_prob_table


def is_run(data) -> bool:
    return isinstance(data, (RunResults, str, PathLike))


def keep_probs_long(data) -> pd.DataFrame:
    """The per-epoch keep-probability table (keep_probs.csv) of a run, or ``data`` itself."""
    if is_run(data):
        run = as_run(data)
        if run.keep_probs is None:
            raise FileNotFoundError(f"{run.run_dir}: no keep_probs.csv")
        return run.keep_probs
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "site_table"):  # a Supernet: its current keep-probabilities
        return pd.DataFrame(data.site_table())
    raise TypeError(
        f"expected a run directory, RunResults, DataFrame or Supernet, got {type(data).__name__}"
    )


def site_keep_table(data, epoch: int | None = None) -> pd.DataFrame:
    """One row per site (site, op, channels, keep_prob, tags) at ``epoch`` (default: last)."""
    return keep_prob_table(keep_probs_long(data), epoch)


def history_table(data) -> pd.DataFrame:
    if is_run(data):
        run = as_run(data)
        if run.history is None:
            raise FileNotFoundError(f"{run.run_dir}: no history.csv")
        return run.history
    return data


def axes_or_new(ax=None, figsize=(6, 4)):
    """``ax`` itself, or the Axes of a new figure."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # lazily: importing pgnas_viz needs no pyplot

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax
