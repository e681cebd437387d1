"""The negative ELBO of PGNAS (paper Eq. 14-15, Algorithm 1; SPEC section 1).

    L = (1/M) sum_i CE(y_i, f(x_i; mask_i)) + R / N
    R = sum_j [ l2 (1 - p_j) ||M_j||^2 + K_j (p_j log p_j + (1 - p_j) log(1 - p_j)) ]
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

#: How the weight term couples to the architecture.
#: coupled  - l2 (1 - p) ||M||^2 (PGNAS; l2 ||W||^2 / (1 - p) in inverted coordinates)
#: constant - l2 ||M||^2, a plain weight decay (Table 2's ablation; the Random baseline)
WEIGHT_TERMS = ("coupled", "constant")


@dataclass
class Regulariser:
    weight: torch.Tensor  # sum of the weight (KL-to-prior) terms
    entropy: torch.Tensor  # sum of K_j (p log p + (1-p) log(1-p)): minus the entropy

    @property
    def total(self) -> torch.Tensor:
        return self.weight + self.entropy


def regulariser(supernet, l2: float, weight_term: str = "coupled") -> Regulariser:
    """R of Eq. 15, summed over every dropout site of ``supernet``.

    ``M_j`` is the slice of the weight behind site j; ``K_j`` its number of channels. A site
    whose p is fixed (the Random baseline) contributes plain weight decay and no entropy.
    """
    if weight_term not in WEIGHT_TERMS:
        raise ValueError(f"weight_term {weight_term!r}: one of {WEIGHT_TERMS}")
    weight = entropy = None
    for op in supernet.masked_ops():
        for site, w in op.site_weights():
            sq = w.pow(2).sum()
            p, q = site.p, site.keep_prob
            if weight_term == "constant" or not site.learnable:
                term = l2 * sq
            elif site.rescale:
                term = l2 * sq / q
            else:
                term = l2 * q * sq
            weight = term if weight is None else weight + term
            if site.learnable:
                ent = site.channels * (p * torch.log(p) + q * torch.log(q))
                entropy = ent if entropy is None else entropy + ent
    zero = torch.zeros((), device=next(supernet.parameters()).device)
    return Regulariser(zero if weight is None else weight, zero if entropy is None else entropy)


def negative_elbo(logits: torch.Tensor, targets: torch.Tensor, supernet, l2: float,
                  n_train: float, weight_term: str = "coupled"):
    """Minibatch estimate of the negative ELBO (Eq. 14): ``CE + R / N``.

    Returns ``(loss, ce, reg_over_n)`` so callers can log the two parts separately.
    """
    ce = F.cross_entropy(logits, targets)
    reg = regulariser(supernet, l2, weight_term).total / n_train
    return ce + reg, ce, reg
