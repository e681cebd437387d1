"""The diagonal of the generalised Gauss-Newton matrix of the cross-entropy with respect to a
few scalar parameters (BayesNAS's switches, docs/method_siblings.md section 5), two ways:
:func:`diagonal_ggn` with torch.func for any parameters (the reference), and
:func:`per_sample_ggn_diagonal` for gates that multiply activations (what BayesNAS runs:
C backward passes per batch, the memory of one training step).

For a batch of N images with logits z_n(s) and softmax p_n, the GGN of the mean cross-entropy
is ``G = (1/N) sum_n J_n' (diag(p_n) - p_n p_n') J_n`` with ``J_n = dz_n/ds``; its diagonal
is averaged over the batches given. Per-sample Jacobians come from ``vmap(jacrev(...))``, so
batch norm runs in eval mode (with its running statistics), as the network is evaluated.
They are taken ``chunk_size`` samples at a time: vmap over N samples and C classes holds N*C
backward passes at once (13 GB for a batch of 96 on ``supnet_cell_small``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch.func import functional_call, jacrev, vmap


def diagonal_ggn(
    net: torch.nn.Module,
    params: dict[str, torch.Tensor],
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    chunk_size: int = 16,
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
            for chunk in x.split(chunk_size):
                diag = _chunk_sum(
                    lambda p, xn: functional_call(net, p, (xn[None],))[0],
                    {k: params[k].detach() for k in names},
                    chunk,
                )
                for k in names:
                    total[k] += diag[k] / len(x)
            count += 1
    finally:
        net.train(was_training)
    return {k: v / max(count, 1) for k, v in total.items()}


def _chunk_sum(logits_of: Callable, params: dict, x: torch.Tensor) -> dict:
    """diag(sum_n J_n' H_n J_n) over the samples of ``x`` (H_n: the softmax's Hessian)."""
    jac = vmap(jacrev(logits_of), in_dims=(None, 0))(params, x)  # name -> (N, C, *shape)
    with torch.no_grad():
        logits = vmap(logits_of, in_dims=(None, 0))(params, x)  # (N, C)
        p = logits.softmax(-1)
        h = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]  # (N, C, C)
    out = {}
    for k, j in jac.items():
        flat = j.reshape(j.shape[0], j.shape[1], -1)  # (N, C, S)
        out[k] = torch.einsum("ncs,ncd,nds->s", flat, h, flat).reshape(j.shape[2:])
    return out


def per_sample_ggn_diagonal(
    net: torch.nn.Module,
    per_sample: Callable,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
) -> dict[str, torch.Tensor]:
    """The same diagonal for scalar gates (switches) that multiply activations, in C
    backward passes per batch instead of N * C: ``per_sample(n)`` is a context manager under
    which ``net`` uses one copy of every gate per sample and yields them, name -> a leaf of
    shape ``(*gate_shape, n, 1, ...)``. Sample n touches only its copies, so their gradients
    are the per-sample gradients. With ``H_n = L_n L_n'``, ``L_n = diag(sqrt p_n) -
    p_n sqrt(p_n)'`` (exact, since the p_n sum to 1), the diagonal is ``sum_n sum_c
    (J_n' L_n[:, c])^2``: one backward of ``sum_n L_n[:, c]' z_n`` per class c."""
    was_training = net.training
    net.eval()  # batch norm per sample (running statistics): samples stay independent
    total, count = {}, 0
    try:
        for x, _ in batches:
            with per_sample(len(x)) as leaves:
                logits = net(x)
            p = logits.detach().softmax(-1)
            root = p.sqrt()
            factor = torch.diag_embed(root) - p[:, :, None] * root[:, None, :]  # (N, C, C)
            classes = logits.shape[1]
            for c in range(classes):
                grads = torch.autograd.grad(
                    (factor[:, :, c] * logits).sum(),
                    list(leaves.values()),
                    retain_graph=c < classes - 1,
                )
                for k, g in zip(leaves, grads):
                    per_gate = g.detach().reshape(*g.shape[: g.dim() - x.dim()], len(x))
                    square = (per_gate**2).sum(-1) / len(x)
                    total[k] = total[k] + square if k in total else square
            count += 1
    finally:
        net.train(was_training)
    return {k: v / max(count, 1) for k, v in total.items()}


def dominant_hessian_eigenvalue(
    loss_of: Callable[[torch.Tensor], torch.Tensor], at: torch.Tensor, iters: int = 8
) -> float:
    """The eigenvalue of largest magnitude of the Hessian of ``loss_of`` at ``at`` (a small
    tensor, e.g. architecture logits), by power iteration with Hessian-vector products
    (double backward). The start vector is seeded (the global RNG is left alone)."""
    g = torch.Generator().manual_seed(0)
    v = torch.randn(at.shape, generator=g, dtype=at.dtype).to(at.device)
    v = v / v.norm()
    value = 0.0
    for _ in range(iters):
        p = at.detach().clone().requires_grad_()
        (grad,) = torch.autograd.grad(loss_of(p), p, create_graph=True)
        (hv,) = torch.autograd.grad(grad, p, grad_outputs=v)
        value = float((hv * v).sum())
        v = hv / hv.norm().clamp_min(1e-12)
    return value
