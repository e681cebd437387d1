"""The range a study metric can take, so that an interval drawn around a mean stays inside
it (a 95% t-interval of accuracies near 1 otherwise runs past 1, one of params below 0)."""

from __future__ import annotations

import math

#: Metrics that are proportions: accuracies, drop proportions, fractions, keep-probabilities.
PROPORTION_WORDS = ("acc", "drop", "fraction", "keep", "val_mean", "fall_from")
#: Metrics that are counts, sizes, times or spreads: never below 0.
NONNEGATIVE_WORDS = ("params", "flops", "seconds", "_sd", "orphans", "candidates")


def metric_range(metric: str) -> tuple[float, float]:
    """(low, high) that ``metric`` can take: [0, 1] for proportions, [0, inf) for counts,
    times and spreads, unbounded otherwise (e.g. a Hessian eigenvalue)."""
    name = metric.lower()
    if any(w in name for w in NONNEGATIVE_WORDS):
        return 0.0, math.inf
    if any(w in name for w in PROPORTION_WORDS):
        return 0.0, 1.0
    return -math.inf, math.inf


def clip_interval(metric: str, low: float, high: float) -> tuple[float, float]:
    """``(low, high)`` clipped to the metric's range (nan stays nan)."""
    lo, hi = metric_range(metric)
    if math.isnan(low) or math.isnan(high):
        return low, high
    return min(max(low, lo), hi), max(min(high, hi), lo)
