"""The negative ELBO of PGNAS (paper Eq. 14-15, Algorithm 1; docs/method_pgnas.md section 3).

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


def site_terms(
    theta: torch.Tensor,
    weight_sq: torch.Tensor,
    channels: torch.Tensor,
    weight_term: str = "coupled",
    rescale: torch.Tensor | bool = False,
    learnable: torch.Tensor | bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two parts of R_j (Eq. 15) for each site, elementwise: ``R_j = l2 * weight + entropy``.

    weight  = (1 - p_j) ||M_j||^2   (coupled; ||M_j||^2 / (1 - p_j) in inverted coordinates;
              ||M_j||^2 when constant, or for a site whose p is fixed: plain weight decay)
    entropy = K_j (p_j log p_j + (1 - p_j) log(1 - p_j))   (0 for a fixed p)

    ``theta`` are the sites' logits (p = sigmoid(theta)), ``weight_sq`` their ||M_j||^2,
    ``channels`` their K_j. The training loss and the l2 widget both call this.
    """
    if weight_term not in WEIGHT_TERMS:
        raise ValueError(f"weight_term {weight_term!r}: one of {WEIGHT_TERMS}")
    q = torch.sigmoid(-theta)  # keep-probabilities 1 - p
    learnable = torch.as_tensor(learnable, device=q.device)
    if weight_term == "constant":
        factor = torch.ones_like(q)
    else:
        rescale = torch.as_tensor(rescale, device=q.device)
        factor = torch.where(learnable, torch.where(rescale, 1 / q, q), torch.ones_like(q))
    weight = factor * weight_sq
    # p log p + q log q with log p = logsigmoid(theta), log q = logsigmoid(-theta)
    p = torch.sigmoid(theta)
    neg_entropy = p * F.logsigmoid(theta) + q * F.logsigmoid(-theta)
    entropy = torch.where(learnable, channels * neg_entropy, torch.zeros_like(q))
    return weight, entropy


def regulariser(supernet, l2: float, weight_term: str = "coupled") -> Regulariser:
    """R of Eq. 15, summed over every dropout site of ``supernet`` (:func:`site_terms`).

    ``M_j`` is the slice of the weight behind site j; ``K_j`` its number of channels. A site
    whose p is fixed (the Random baseline) contributes plain weight decay and no entropy.

    Vectorised over the sites (one fused norm over all guarded weights, one sigmoid over all
    thetas): it runs every training step, and the per-site version's few hundred tiny ops
    cost about 3% of a step of the demo supernet on a CPU.
    """
    if weight_term not in WEIGHT_TERMS:
        raise ValueError(f"weight_term {weight_term!r}: one of {WEIGHT_TERMS}")
    pairs = [(site, w) for op in supernet.masked_ops() for site, w in op.site_weights()]
    if not pairs:
        zero = torch.zeros((), device=next(supernet.parameters()).device)
        return Regulariser(zero, zero)
    sites = [s for s, _ in pairs]
    # ||M_j||^2 of every site at once (_foreach_norm: what clip_grad_norm_ uses; its gradient
    # at an all-zero slice is 0)
    sq = torch.stack(torch._foreach_norm([w for _, w in pairs])).pow(2)
    theta = torch.stack([s.theta for s in sites]).to(sq.dtype)
    device = sq.device
    learnable = torch.tensor([s.learnable for s in sites], device=device)
    rescale = torch.tensor([s.rescale for s in sites], device=device)
    channels = torch.tensor([float(s.channels) for s in sites], device=device, dtype=sq.dtype)
    weight, entropy = site_terms(theta, sq, channels, weight_term, rescale, learnable)
    return Regulariser(l2 * weight.sum(), entropy[learnable].sum())


def negative_elbo(
    logits: torch.Tensor,
    targets: torch.Tensor,
    supernet,
    l2: float,
    n_train: float,
    weight_term: str = "coupled",
):
    """Minibatch estimate of the negative ELBO (Eq. 14): ``CE + R / N``.

    Returns ``(loss, ce, reg_over_n)`` so callers can log the two parts separately.
    """
    ce = F.cross_entropy(logits, targets)
    reg = regulariser(supernet, l2, weight_term).total / n_train
    return ce + reg, ce, reg
