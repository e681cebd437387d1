"""Error bars over seeds: per configuration mean, sd and a 95% t-interval; paired
differences between configurations that share seeds, with theirs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats as sps

LEVEL = 0.95


def t_interval(values, level: float = LEVEL) -> tuple[float, float, float, float, int]:
    """(mean, sd, low, high, n) of ``values``; with one value the interval is undefined
    (nan): one seed says nothing about spread."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return (math.nan,) * 4 + (0,)
    mean = float(v.mean())
    if n == 1:
        return mean, math.nan, math.nan, math.nan, 1
    sd = float(v.std(ddof=1))
    half = float(sps.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half, n


def summarise(table: pd.DataFrame, by=("config", "method", "metric")) -> pd.DataFrame:
    """One row per (configuration, method, metric): n, mean, sd, ci_low, ci_high."""
    rows = []
    for key, g in table.groupby(list(by), sort=False):
        mean, sd, low, high, n = t_interval(g["value"])
        rows.append({**dict(zip(by, key)), "n": n, "mean": mean, "sd": sd, "ci_low": low,
                     "ci_high": high})  # fmt: skip
    return pd.DataFrame(rows)


def side_values(table: pd.DataFrame, config: str | None, method: str | None, metric: str):
    """seed -> value of one side of a comparison (its configuration, method and metric)."""
    m = table["metric"] == metric
    if config is not None:
        m &= table["config"] == config
    if method is not None:
        m &= table["method"] == method
    return table[m].groupby("seed")["value"].mean()


def paired_difference(a: pd.Series, b: pd.Series | float) -> dict:
    """a - b over the seeds both have (b may be a constant): n, mean, sd, ci_low, ci_high."""
    if isinstance(b, (int, float)):
        diff = a - float(b)
    else:
        both = a.index.intersection(b.index)
        diff = a.loc[both] - b.loc[both]
    mean, sd, low, high, n = t_interval(diff.to_numpy())
    return {"n": n, "mean": mean, "sd": sd, "ci_low": low, "ci_high": high}


def paired_differences(table: pd.DataFrame, metric: str, method: str | None = None) -> pd.DataFrame:
    """Every pair of configurations' paired difference of ``metric`` (rows: a, b)."""
    configs = list(dict.fromkeys(table["config"]))
    rows = []
    for i, a in enumerate(configs):
        for b in configs[i + 1 :]:
            d = paired_difference(
                side_values(table, a, method, metric), side_values(table, b, method, metric)
            )
            rows.append({"a": a, "b": b, "metric": metric, **d})
    return pd.DataFrame(rows)
