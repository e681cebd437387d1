"""Training-free proxies: a score of an architecture from one batch, without training it
(BaLeNAS-TF scores its sampled architectures with one; docs/method_siblings.md sections 3-4).

- ``naswot`` (Mellor et al. 2021): how differently the net's ReLUs switch on the images of the
  batch. Each image's binary code is the on/off pattern of every rectified unit (here: the
  inputs of the convolutions and linear layers that follow a ReLU, i.e. whose input is
  non-negative); ``K[i, j]`` = number of units on which images i and j agree; the score is
  ``log |det K|``.
- ``synflow`` (Tanaka et al. 2020, as zero-cost NAS uses it): with every weight replaced by its
  absolute value and an all-ones input, ``R = sum(net(1))``; the score is
  ``sum |theta * dR/dtheta|`` over the conv and linear weights (in float64; BN in eval mode).
- ``grad_norm`` (Abdelfattah et al. 2021): the sum over conv and linear layers of the norm of
  the cross-entropy gradient of their weight on the batch.

The scores are taken at initialisation (:func:`reinitialise`), as training-free proxies are.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.init import reinitialise  # noqa: F401  (proxies are taken at initialisation)

PROXIES = ("naswot", "synflow", "grad_norm")


def _weighted(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@torch.no_grad()
def naswot(model: nn.Module, x: torch.Tensor) -> float:
    """log |det K| of the ReLU-pattern kernel of the batch ``x`` (B images)."""
    codes = []

    def hook(module, inputs, output):
        a = inputs[0]
        if a.numel() and bool((a >= 0).all()):  # a rectified input: its on/off pattern
            codes.append((a > 0).flatten(1).double())

    net = copy.deepcopy(model).train()  # batch statistics, as at initialisation
    handles = [m.register_forward_hook(hook) for m in _weighted(net)]
    try:
        net(x)
    finally:
        for h in handles:
            h.remove()
    if not codes:
        return float("-inf")
    c = torch.cat(codes, 1)  # (B, units)
    k = c @ c.T + (1 - c) @ (1 - c).T  # units - Hamming distance
    return float(torch.linalg.slogdet(k)[1])


def synflow(model: nn.Module, input_shape: tuple[int, ...]) -> float:
    """Synaptic flow of ``model`` (a copy in float64, absolute weights, input of ones)."""
    net = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    out = net(torch.ones(1, *input_shape, dtype=torch.float64))
    out.sum().backward()
    score = 0.0
    for m in _weighted(net):
        if m.weight.grad is not None:
            score += float((m.weight.detach() * m.weight.grad).abs().sum())
    return score


def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Sum of the per-layer norms of the cross-entropy gradient of the weights."""
    net = copy.deepcopy(model).train()
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    return float(sum(m.weight.grad.norm() for m in _weighted(net) if m.weight.grad is not None))


def proxy_score(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The proxy ``name`` (one of PROXIES) of ``model`` on the batch (x, y)."""
    if name == "naswot":
        return naswot(model, x)
    if name == "synflow":
        return synflow(model, tuple(x.shape[1:]))
    if name == "grad_norm":
        return grad_norm(model, x, y)
    raise ValueError(f"proxy {name!r}: one of {PROXIES}")
