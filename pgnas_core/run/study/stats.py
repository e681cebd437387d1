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


# ---- intervals over seeds and test images (docs/statistics.md) ---------------------------

#: Bootstrap resamples of the seeds-and-images interval.
N_BOOT = 2000
#: Bootstrap rows drawn at once: at most this many image indices in memory.
_DRAW_BUDGET = 4_000_000


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent generators, one for the seed draws and one for the image draws, so that
    the seeds-only and images-only bootstraps reuse exactly the hierarchical one's draws."""
    seeds, images = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(seeds), np.random.default_rng(images)


def _percentile(stats: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def _image_chunks(rng: np.random.Generator, n_boot: int, shape: tuple[int, ...]):
    """(start, stop, indices) blocks of the image draws, ``indices``: (stop-start, *shape)."""
    rows = max(1, _DRAW_BUDGET // int(np.prod(shape)))
    for lo in range(0, n_boot, rows):
        hi = min(n_boot, lo + rows)
        yield lo, hi, rng.integers(0, shape[-1], size=(hi - lo, *shape))


def _counts(indices: np.ndarray, size: int) -> np.ndarray:
    """Row-wise bincount: (rows, k) indices in [0, size) -> (rows, size) counts."""
    rows = len(indices)
    flat = (indices + size * np.arange(rows)[:, None]).ravel()
    return np.bincount(flat, minlength=rows * size).reshape(rows, size)


def bootstrap_statistics(
    diff, n_boot: int = N_BOOT, seed: int = 0, design: str = "crossed"
) -> np.ndarray:
    """The ``n_boot`` resampled means of ``diff`` (seeds x test images: the paired per-image
    difference of two nets, one row per seed). Each resample draws the seeds with replacement,
    then the test images with replacement, the same images for both sides of every pair.
    ``crossed`` (default): one image draw shared by all the drawn seeds, because every seed is
    tested on the same images; ``nested``: a fresh image draw for each drawn seed."""
    d = np.asarray(diff, dtype=float)
    n_seeds, n_images = d.shape
    rng_seeds, rng_images = _streams(seed)
    seed_idx = rng_seeds.integers(0, n_seeds, size=(n_boot, n_seeds))
    out = np.empty(n_boot)
    if design == "crossed":
        seed_counts = _counts(seed_idx, n_seeds)  # (B, S)
        for lo, hi, idx in _image_chunks(rng_images, n_boot, (n_images,)):
            image_counts = _counts(idx, n_images)  # (b, N)
            weighted = seed_counts[lo:hi] @ d  # (b, N): each image's sum over drawn seeds
            out[lo:hi] = np.einsum("bn,bn->b", weighted, image_counts)
        return out / (n_seeds * n_images)
    if design == "nested":
        for lo, hi, idx in _image_chunks(rng_images, n_boot, (n_seeds, n_images)):
            out[lo:hi] = d[seed_idx[lo:hi, :, None], idx].mean(axis=(1, 2))
        return out
    raise ValueError(f"design {design!r}: crossed or nested")


def hierarchical_interval(
    diff, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL, design: str = "crossed"
) -> dict:
    """The percentile interval of the mean paired difference over seeds and test images
    (:func:`bootstrap_statistics`): n (seeds), images, mean, ci_low, ci_high."""
    d = np.asarray(diff, dtype=float)
    low, high = _percentile(bootstrap_statistics(d, n_boot, seed, design), level)
    return {"n": d.shape[0], "images": d.shape[1], "mean": float(d.mean()), "ci_low": low,
            "ci_high": high}  # fmt: skip


def seed_bootstrap(values, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL):
    """(low, high): the percentile interval of the mean over seeds resampled alone (the
    hierarchical bootstrap's seed draws)."""
    v = np.asarray(values, dtype=float)
    idx = _streams(seed)[0].integers(0, len(v), size=(n_boot, len(v)))
    return _percentile(v[idx].mean(axis=1), level)


def image_bootstrap(row, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL):
    """(low, high): the percentile interval of one seed's mean over its test images resampled
    alone (the hierarchical bootstrap's image draws)."""
    r = np.asarray(row, dtype=float)
    stats = np.empty(n_boot)
    for lo, hi, idx in _image_chunks(_streams(seed)[1], n_boot, (len(r),)):
        stats[lo:hi] = r[idx].mean(axis=1)
    return _percentile(stats, level)


# ---- how many seeds a claim needs; trends; spread tests ----------------------------------


def seeds_needed(
    mean: float, sd: float, target: float = 0.0, power: float = 0.8, level: float = LEVEL,
    most: int = 100,
) -> float:  # fmt: skip
    """The fewest seeds at which a two-sided paired t-test at ``level`` finds a true mean
    difference ``mean`` (per-seed sd ``sd``) away from ``target`` with probability ``power``;
    nan when more than ``most`` (or nothing to find)."""
    effect = abs(mean - target)
    if not (np.isfinite(effect) and effect > 0):
        return math.nan
    if not np.isfinite(sd) or sd == 0:
        return 2.0 if sd == 0 else math.nan
    for n in range(2, most + 1):
        df = n - 1
        crit = sps.t.ppf(0.5 + level / 2, df)
        nc = effect / sd * math.sqrt(n)
        if sps.nct.sf(crit, df, nc) + sps.nct.cdf(-crit, df, nc) >= power:
            return float(n)
    return math.nan


def log_slope(x, y) -> float:
    """The least-squares slope of ``y`` against ``log(x)``."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.asarray(y, float), 1)[0])


def smaller_spread_p(a, b) -> float:
    """One-sided Brown-Forsythe test that ``a`` is less spread than ``b``: a two-sample
    t-test on the absolute deviations from each sample's median (its square is Levene's F
    with median centring, scipy.stats.levene(center='median'))."""
    za = np.abs(np.asarray(a, float) - np.median(a))
    zb = np.abs(np.asarray(b, float) - np.median(b))
    return float(sps.ttest_ind(za, zb, alternative="less").pvalue)


def fisher_combined(pvalues) -> float:
    """Fisher's method: one p-value from independent ones (one per seed)."""
    p = [x for x in pvalues if np.isfinite(x)]
    return float(sps.combine_pvalues(p, method="fisher").pvalue) if p else math.nan
