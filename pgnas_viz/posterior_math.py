"""What the tau and l2 sliders show, as pure functions (the widgets only draw them).

- the relaxed Bernoulli keep values of a site for a drop probability p and temperature tau
  (paper Eq. 16, via :func:`pgnas_core.nn.sites.concrete_drop`);
- one site's regulariser R_j of Eq. 15 as a function of p, for a weight norm and width
  (computed by :func:`pgnas_core.train.loss.site_terms`, the training loss's own).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch

from pgnas_core.nn.sites import concrete_drop, logit
from pgnas_core.train.loss import site_terms


def relaxed_mask_samples(p: float, tau: float, n: int = 20000, seed: int = 0) -> np.ndarray:
    """``n`` relaxed keep values ``1 - drop`` of a site with drop probability ``p`` (Eq. 16).
    As tau -> 0 they pile up at 0 (with probability p) and 1; large tau blurs them."""
    if not 0 < p < 1:
        raise ValueError(f"p={p}: a drop probability in (0, 1)")
    if tau <= 0:
        raise ValueError(f"tau={tau}: a temperature > 0")
    gen = torch.Generator().manual_seed(seed)
    theta = torch.tensor(logit(p), dtype=torch.float64)
    drop = concrete_drop(theta, (n,), tau, generator=gen)  # (n,)
    return (1.0 - drop).numpy()


def relaxed_mask_stats(keep: np.ndarray, low: float = 0.1, high: float = 0.9) -> dict:
    """Mean keep value and the mass near 0 and near 1."""
    return {
        "mean_keep": float(keep.mean()),
        "p_low": float((keep < low).mean()),
        "p_high": float((keep > high).mean()),
        "low": low,
        "high": high,
    }


def relaxed_mask_text(p: float, tau: float, stats: dict) -> str:
    return (
        f"tau={tau:.2f}, p={p:.2f}: mean keep {stats['mean_keep']:.3f}, "
        f"P(keep<{stats['low']:g})={stats['p_low']:.3f}, "
        f"P(keep>{stats['high']:g})={stats['p_high']:.3f}"
    )


def draw_relaxed_histogram(keep: np.ndarray, p: float, tau: float, ax=None):
    """Histogram of relaxed keep values (:func:`relaxed_mask_samples`) with their mean."""
    from .inputs import axes_or_new

    ax = axes_or_new(ax)
    ax.hist(keep, bins=50, range=(0, 1), color="C0", alpha=0.8, density=True)
    ax.axvline(keep.mean(), color="C3", lw=1.5, label=f"mean {keep.mean():.3f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("relaxed keep value 1 - drop")
    ax.set_ylabel("density")
    ax.set_title(f"Eq. 16 mask: p = {p:.2f}, tau = {tau:.2f}")
    ax.legend(fontsize=8)
    return ax


def regularisation_curve(
    l2: float,
    weight_sq: float = 1.0,
    channels: int = 16,
    n_train: float | None = None,
    p: np.ndarray | None = None,
    weight_term: str = "coupled",
) -> pd.DataFrame:
    """One site's R_j of Eq. 15 against its drop probability p (official coordinates):

        weight  = l2 (1 - p) ||M||^2      (constant: l2 ||M||^2, Table 2's ablation)
        entropy = K (p log p + (1 - p) log(1 - p))

    divided by ``n_train`` (N of Eq. 14) when given, as in the loss.
    """
    p = np.linspace(0.005, 0.995, 199) if p is None else np.asarray(p, dtype=float)
    theta = torch.logit(torch.as_tensor(p, dtype=torch.float64))
    w, e = site_terms(
        theta,
        torch.tensor(float(weight_sq), dtype=torch.float64),
        torch.tensor(float(channels), dtype=torch.float64),
        weight_term,
    )
    weight, entropy = l2 * w.numpy(), e.numpy()  # the training loss's own R_j (Eq. 15)
    scale = 1.0 / n_train if n_train else 1.0
    return pd.DataFrame(
        {
            "p": p,
            "weight": weight * scale,
            "entropy": entropy * scale,
            "total": (weight + entropy) * scale,
        }
    )


def regulariser_optimum(l2: float, weight_sq: float = 1.0, channels: int = 16) -> float:
    """The p minimising R_j alone: dR/dp = -l2 ||M||^2 + K logit(p) = 0, so
    p* = sigmoid(l2 ||M||^2 / K). The data term pulls p back down where channels matter."""
    z = l2 * weight_sq / channels
    return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0


def typical_site_norms(supernet) -> tuple[float, int]:
    """Median ||M_j||^2 and median K_j over a supernet's sites: the "typical" site for the
    l2 widget."""
    norms, widths = [], []
    for op in supernet.masked_ops():
        for site, w in op.site_weights():
            norms.append(float(w.detach().pow(2).sum()))
            widths.append(site.channels)
    return float(np.median(norms)), int(np.median(widths))


def draw_regularisation(
    curve: pd.DataFrame, ax=None, l2: float | None = None, p_star: float | None = None
):
    """The two terms of one site's R_j and their sum (:func:`regularisation_curve`)."""
    from .inputs import axes_or_new

    ax = axes_or_new(ax)
    ax.plot(curve["p"], curve["weight"], label="weight l2 (1-p) ||M||^2", color="C0")
    ax.plot(curve["p"], curve["entropy"], label="K (p log p + (1-p) log(1-p))", color="C2")
    ax.plot(curve["p"], curve["total"], label="R_j total", color="k", lw=2)
    if p_star is not None:
        ax.axvline(p_star, color="C3", ls="--", lw=1, label=f"argmin R_j: p = {p_star:.2f}")
    ax.set_xlabel("drop probability p")
    ax.set_ylabel("R_j")
    ax.set_title("one site's regulariser" + (f", l2 = {l2:.3g}" if l2 is not None else ""))
    ax.legend(fontsize=7)
    return ax


def nearest_sweep_row(sweep: pd.DataFrame, l2: float) -> pd.Series:
    """The trained net whose l2 is nearest to ``l2`` on a log scale (l2 = 0 counts as the
    smallest positive value of the sweep divided by 10)."""
    values = sweep["l2"].astype(float).to_numpy()
    floor = values[values > 0].min() / 10 if (values > 0).any() else 1e-6
    dist = np.abs(np.log(np.maximum(values, floor)) - math.log(max(l2, floor)))
    return sweep.iloc[int(np.argmin(dist))]
