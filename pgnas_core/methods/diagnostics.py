"""How decisive a search is: one number per method and epoch that says whether its
architecture parameters left their starting point (recorded in ``history.csv``).

- DARTS / BaLeNAS (alpha, or BaLeNAS's mean mu, of shape ``(..., n_ops)``, one row per edge):
  ``max_op_weight`` -- the largest softmax weight of an edge, averaged over edges (1/n_ops
  when uniform, 1 when one-hot); ``alpha_entropy`` -- the softmax's entropy over log(n_ops),
  averaged over edges (1 when uniform, 0 when one-hot); BaLeNAS also ``mu_spread_over_sigma``
  -- the spread of mu over an edge's operations (their standard deviation) over the edge's
  mean sigma, averaged over edges: below about 1 a draw of q reorders the operations freely,
  so its argmax is mostly noise.
- BayesNAS: ``switch_sparsity`` -- the fraction of operation switches whose magnitude is
  below the pruning threshold times the largest one; ``relevance_spearman`` -- the rank
  correlation of the switches' relevance with their magnitude (positive: relevance keeps
  the switches the lasso kept large).
- PGNAS / Random: ``std_keep`` -- the spread of the sites' keep-probabilities (0: every site
  alike, as at initialisation).
"""

from __future__ import annotations

import math

import torch

#: The history.csv columns each diagnostic adds, and what they mean (docs, plots).
DIAGNOSTICS = {
    "max_op_weight": "mean largest softmax weight per edge (1/n_ops uniform, 1 one-hot)",
    "alpha_entropy": "mean entropy of the softmax per edge / log(n_ops) (1 uniform, 0 one-hot)",
    "mu_spread_over_sigma": "mean over edges of std(mu over ops) / mean sigma",
    "switch_sparsity": "fraction of op switches with |s| < threshold * max |s|",
    "relevance_spearman": "Spearman rank correlation of switch relevance with |s|",
    "std_keep": "standard deviation of the sites' keep-probabilities",
}


def op_weights(logits: torch.Tensor) -> torch.Tensor:
    """The softmax over the last dimension (the operations of an edge)."""
    return torch.softmax(logits.detach().double(), dim=-1)


def max_op_weight(logits: torch.Tensor) -> float:
    """The largest operation weight of each edge, averaged over edges."""
    return float(op_weights(logits).amax(-1).mean())


def alpha_entropy(logits: torch.Tensor) -> float:
    """The entropy of each edge's operation weights over log(n_ops), averaged over edges."""
    w = op_weights(logits)
    n = w.shape[-1]
    if n < 2:
        return 0.0
    h = -(w * w.clamp_min(1e-300).log()).sum(-1)
    return float((h / math.log(n)).mean())


def mu_spread_over_sigma(mu: torch.Tensor, sigma: torch.Tensor) -> float:
    """Per edge, the standard deviation of mu over the operations divided by the mean
    sigma of that edge; averaged over edges."""
    spread = mu.detach().double().std(-1, unbiased=False)
    return float((spread / sigma.detach().double().mean(-1).clamp_min(1e-300)).mean())


def switch_sparsity(values: torch.Tensor, threshold: float) -> float:
    """The fraction of switches whose magnitude is below ``threshold`` times the largest."""
    mag = values.detach().abs().flatten().double()
    return float((mag < threshold * mag.max()).double().mean())


def spearman(a: torch.Tensor, b: torch.Tensor) -> float:
    """The Spearman rank correlation of two equally long vectors (ties: average ranks);
    NaN when either is constant."""
    ra, rb = _ranks(a.detach().flatten().double()), _ranks(b.detach().flatten().double())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = (ra.square().sum() * rb.square().sum()).sqrt()
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def _ranks(x: torch.Tensor) -> torch.Tensor:
    """Ranks from 1, ties given the mean of the ranks they span."""
    order = x.argsort()
    sorted_x = x[order]
    ranks = torch.empty_like(x)
    i, n = 0, len(x)
    while i < n:
        j = i
        while j + 1 < n and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def keep_spread(keep_probs: list[float]) -> float:
    """The (population) standard deviation of the keep-probabilities."""
    return float(torch.tensor(keep_probs, dtype=torch.float64).std(unbiased=False))


#: What "the search learned" means per method: (diagnostic, at least / above, threshold, name).
#: DARTS / BaLeNAS: the largest op weight at least 0.4 per edge (uniform over the cell space's
#: 5 ops is 0.2); BayesNAS: relevance ranks the switches as their magnitude does; PGNAS: the
#: keep-probabilities moved apart. Random has nothing to learn (absent).
LEARNED_RULES = {
    "darts": ("max_op_weight", ">=", 0.4, "max op weight"),
    "balenas": ("max_op_weight", ">=", 0.4, "max op weight"),
    "bayesnas": ("relevance_spearman", ">", 0.0, "relevance-|s| Spearman"),
    "pgnas": ("std_keep", ">", 0.01, "keep-probability spread"),
}


def learns(method: str) -> bool:
    """Whether ``method`` has architecture parameters whose learning can be checked."""
    return method in LEARNED_RULES


def learned(method: str, diagnostics: dict | None) -> bool | None:
    """Whether a run of ``method`` left its starting point, from its final diagnostics
    (``summary.json``'s ``supernet.diagnostics``, or a study's last-epoch values). None when
    it cannot say: a method with nothing to learn, or a run that predates the diagnostics.
    A NaN (BayesNAS's Spearman of constant switches) is no evidence of learning."""
    if not learns(method) or not diagnostics:
        return None
    key, op, threshold, _ = LEARNED_RULES[method]
    if diagnostics.get(key) is None:
        return None
    value = float(diagnostics[key])
    return value >= threshold if op == ">=" else value > threshold


def shortfall(method: str, values: list[float]) -> str:
    """What values that did not learn say: ``max op weight 0.24 < 0.4`` (one run) or
    ``max op weight 0.2-0.26 < 0.4`` (their range)."""
    _, op, threshold, name = LEARNED_RULES[method]
    low, high = min(values), max(values)
    said = f"{low:.2g}" if f"{low:.2g}" == f"{high:.2g}" else f"{low:.2g}-{high:.2g}"
    return f"{name} {said} {'<' if op == '>=' else '<='} {threshold:g}"
