"""One side of a claim read from a study: its value per seed (metrics the table lacks but
can derive, e.g. parameter-free operations counting ``none``), and the per-image test
correctness of both sides of a comparison, paired seed by seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..correctness import NET_METRICS
from .claim_types import Claim, Side
from .evidence import Evidence
from .stats import side_values

#: metric -> the metrics it is the sum of, where a study's table lacks it (older results)
DERIVED = {"param_free_or_none_fraction": ("param_free_fraction", "none_fraction")}


def side_series(table: pd.DataFrame, side: Side, metric: str) -> pd.Series:
    """seed -> the side's value (its metric, or the claim's)."""
    metric = side.metric or metric
    values = side_values(table, side.config, side.method, metric)
    if len(values) or metric not in DERIVED:
        return values
    parts = [side_values(table, side.config, side.method, m) for m in DERIVED[metric]]
    return pd.concat(parts, axis=1).dropna().sum(axis=1) if all(len(p) for p in parts) else values


def _net_key(
    table: pd.DataFrame, side: Side, metric: str, ev: Evidence
) -> tuple[str, str, str] | None:
    """(config, method, metric) of the one net a side names, if it saved per-image bits."""
    metric = side.metric or metric
    if metric not in NET_METRICS.values() and all(k[3] != metric for k in ev.correct):
        return None
    m = table["metric"] == metric
    if side.config is not None:
        m &= table["config"] == side.config
    if side.method is not None:
        m &= table["method"] == side.method
    pairs = table.loc[m, ["config", "method"]].drop_duplicates()
    if len(pairs) != 1:
        return None
    config, method = pairs.iloc[0]
    return str(config), str(method), metric


def _row(table, ev: Evidence, key, seed: int):
    """The bits of one net in one seed, if they reproduce the table's accuracy exactly."""
    bits = ev.bits(key[0], seed, key[1], key[2])
    if bits is None:
        return None
    t = table
    value = t.loc[
        (t["config"] == key[0]) & (t["method"] == key[1]) & (t["metric"] == key[2])
        & (t["seed"] == seed), "value"
    ]  # fmt: skip
    return bits if len(value) == 1 and abs(bits.mean() - float(value.iloc[0])) < 1e-9 else None


def bits_pair(table: pd.DataFrame, ev: Evidence, claim: Claim, seeds: list) -> np.ndarray | None:
    """seeds x test images: per-image correctness of side a minus side b (-1, 0, 1), or None
    when a side saved none, or a pair was not scored on the same test images."""
    if not isinstance(claim.b, Side) or claim.log or not seeds or not ev.correct:
        return None
    ka, kb = _net_key(table, claim.a, claim.metric, ev), _net_key(table, claim.b, claim.metric, ev)
    if ka is None or kb is None:
        return None
    rows = []
    for seed in seeds:
        a, b = _row(table, ev, ka, int(seed)), _row(table, ev, kb, int(seed))
        if a is None or b is None or len(a) != len(b):
            return None
        if ev.digest(ka[0], seed, ka[1], ka[2]) != ev.digest(kb[0], seed, kb[1], kb[2]):
            return None
        rows.append(a.astype(np.int8) - b.astype(np.int8))
    return np.stack(rows).astype(float)
