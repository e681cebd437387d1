"""An edge of a cell space holding every candidate operation (docs/method_siblings.md section 1),
and its compact export; shared by the NAS-Bench-201 and the DARTS cell supernets.

The edge's operations are dropout-site modules (``MaskedOp`` chains for the convs,
``MaskedParamFree`` for skip and pooling, or any module with a ``compact()``): PGNAS and Random
drop their input channels; DARTS, BaLeNAS and BayesNAS gate the edge with :class:`EdgeGates`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..nn.compact_ops import Chain, compact_chain
from ..nn.sites import DropoutSite

SHARING = ("all", "stage", "cell")  # which cells read the same gates


@dataclass
class EdgeGates:
    """What a method's gating gives every edge of every sharing group: ``op_weights`` (G, E,
    ops) multiply the searched operations' outputs; ``input_scale`` (G, E) the edge's input.
    None: not gated (weight 1)."""

    op_weights: torch.Tensor | None = None
    input_scale: torch.Tensor | None = None


class MixedEdge(nn.Module):
    """Every searched operation on one edge, summed (weighted by the gates, if any)."""

    def __init__(self, ops: list[nn.Module]):
        super().__init__()
        self.ops = nn.ModuleList(ops)

    def forward(self, x, weights=None, scale=None):
        if scale is not None:
            x = x * scale
        if weights is None:
            return sum(op(x) for op in self.ops)
        return sum(w * op(x) for w, op in zip(weights, self.ops))


class ScaledOp(nn.Module):
    """``out_scale * op(in_scale * x)``: an operation of a compact cell with the gates it was
    derived under (BayesNAS's switches; 1 for every other method), so that the compact net
    equals the gated supernet and its structure never depends on the gates' values."""

    def __init__(self, op: nn.Module, in_scale: float = 1.0, out_scale: float = 1.0):
        super().__init__()
        self.op = op
        self.register_buffer("in_scale", torch.tensor(float(in_scale)))
        self.register_buffer("out_scale", torch.tensor(float(out_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x * self.in_scale) * self.out_scale


class CompactEdge(nn.Module):
    """The kept operations of one edge, summed; zeros when none is kept (``stride`` 2: zeros
    of half the size, a reduction cell's edge from an input node)."""

    def __init__(self, ops: list[nn.Module], stride: int = 1):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not len(self.ops):
            if self.stride == 1:
                return torch.zeros_like(x)
            return torch.zeros_like(x[:, :, :: self.stride, :: self.stride])
        return sum(op(x) for op in self.ops)


def sites_of(op: nn.Module) -> list[DropoutSite]:
    return [m for m in op.modules() if isinstance(m, DropoutSite)]


@torch.no_grad()
def compact_edge(edge: MixedEdge, in_scale=None, weights=None, stride: int = 1) -> CompactEdge:
    """The edge under its sites' hard masks, each kept op scaled by its gates."""
    ops = []
    for k, op in enumerate(edge.ops):
        if isinstance(op, Chain):
            part = compact_chain(list(op.ops))  # None: an absent conv, its output is zero
        else:
            part = op.compact()  # None: nothing kept, its output is zero
        if part is not None:
            a = 1.0 if in_scale is None else float(in_scale)
            w = 1.0 if weights is None else float(weights[k])
            ops.append(ScaledOp(part, a, w))
    return CompactEdge(ops, stride)
