"""The diagonal of the generalised Gauss-Newton matrix of the cross-entropy with respect to a
few scalar parameters (BayesNAS's switches, SPEC_METHODS section 3), with torch.func.

For a batch of N images with logits z_n(s) and softmax p_n, the GGN of the mean cross-entropy
is ``G = (1/N) sum_n J_n' (diag(p_n) - p_n p_n') J_n`` with ``J_n = dz_n/ds``; its diagonal
is averaged over the batches given. Per-sample Jacobians come from ``vmap(jacrev(...))``, so
batch norm runs in eval mode (with its running statistics), as the network is evaluated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.func import functional_call, jacrev, vmap


def diagonal_ggn(
    net: torch.nn.Module,
    params: dict[str, torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
) -> dict[str, torch.Tensor]:
    """diag(GGN) of the mean cross-entropy w.r.t. ``params`` (name -> tensor of ``net``),
    averaged over ``batches``; the other parameters and buffers stay as they are."""
    names = list(params)
    was_training = net.training
    net.eval()
    try:
        total = {k: torch.zeros_like(v) for k, v in params.items()}
        count = 0
        for x, _ in batches:
            diag = _batch_diagonal(
                lambda p, xn: functional_call(net, p, (xn[None],))[0],
                {k: params[k].detach() for k in names},
                x,
            )
            for k in names:
                total[k] += diag[k]
            count += 1
    finally:
        net.train(was_training)
    return {k: v / max(count, 1) for k, v in total.items()}


def _batch_diagonal(logits_of: Callable, params: dict, x: torch.Tensor) -> dict:
    """diag((1/N) sum_n J_n' H_n J_n) for one batch (H_n: the softmax's Hessian)."""
    jac = vmap(jacrev(logits_of), in_dims=(None, 0))(params, x)  # name -> (N, C, *shape)
    with torch.no_grad():
        logits = vmap(logits_of, in_dims=(None, 0))(params, x)  # (N, C)
        p = logits.softmax(-1)
        h = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (N, C, C)
    out = {}
    for k, j in jac.items():
        flat = j.reshape(j.shape[0], j.shape[1], -1)  # (N, C, S)
        out[k] = torch.einsum("ncs,ncd,nds->s", flat, h, flat).reshape(j.shape[2:]) / len(x)
    return out
