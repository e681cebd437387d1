"""Small modules the compact export is built from (no dropout sites, no supernet)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Geometry:
    """How a chain of convs maps an input's height and width to its output's."""

    steps: tuple[tuple[int, int, int, int], ...] = ()  # (kernel, stride, padding, dilation)

    def then(self, other: Geometry) -> Geometry:
        return Geometry(self.steps + other.steps)

    def out_size(self, size: int) -> int:
        for k, s, p, d in self.steps:
            size = (size + 2 * p - d * (k - 1) - 1) // s + 1
        return size


def conv_geometry(conv: nn.Module) -> Geometry:
    if isinstance(conv, nn.Conv2d):
        return Geometry(((conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.dilation[0]),))
    if isinstance(conv, (nn.AvgPool2d, nn.MaxPool2d)):
        k, s, p = (conv.kernel_size, conv.stride, conv.padding)
        k, s, p = (v if isinstance(v, int) else v[0] for v in (k, s, p))
        return Geometry(((k, s, p, 1),))
    return Geometry()


def with_weights(cls, *args, weight: torch.Tensor, bias: torch.Tensor | None = None, **kwargs):
    """``cls(*args, **kwargs)`` (a conv or linear layer) holding copies of ``weight`` and
    ``bias``, built on the meta device: no default initialisation and no allocation to throw
    away. Building modules is most of what a compact export costs, paid per candidate when
    ranking."""
    with torch.device("meta"):
        module = cls(*args, bias=bias is not None, **kwargs)
    module.weight = nn.Parameter(weight.detach().clone())
    if bias is not None:
        module.bias = nn.Parameter(bias.detach().clone())
    return module


class ConstantFeatures(nn.Module):
    """The output of an operation that received no input: a per-channel constant (the BN of
    zeros), broadcast to the shape the operation would have produced."""

    def __init__(self, value: torch.Tensor, geometry: Geometry | None):
        super().__init__()
        self.register_buffer("value", value.detach().clone())
        self.geometry = geometry  # None: a linear layer's (B, C) output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        if self.geometry is None:
            return self.value.view(1, -1).expand(b, -1)
        h, w = self.geometry.out_size(x.shape[2]), self.geometry.out_size(x.shape[3])
        return self.value.view(1, -1, 1, 1).expand(b, -1, h, w)  # (B, C, H', W')

    def extra_repr(self) -> str:
        return f"channels={self.value.numel()}"


class SelectChannels(nn.Module):
    """Keep only the given input channels (the kept set of a dropout site)."""

    def __init__(self, index: torch.Tensor):
        super().__init__()
        self.register_buffer("index", index.detach().clone().long())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(1, self.index)

    def extra_repr(self) -> str:
        return f"channels={self.index.numel()}"


class ChannelScale(nn.Module):
    """Multiply each channel by a fixed factor (0 drops it): a parameter-free op's mask."""

    def __init__(self, scales: torch.Tensor):
        super().__init__()
        self.register_buffer("scales", scales.detach().clone().float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scales.view(1, -1, *([1] * (x.dim() - 2)))  # (1, C, 1, 1)

    def extra_repr(self) -> str:
        return f"kept={int((self.scales != 0).sum())}/{self.scales.numel()}"


class Chain(nn.Module):
    """ops applied in order with an activation before each: ``op_n(act(... op_1(act(x))))``."""

    def __init__(self, ops: list[nn.Module], act_first: bool = True):
        super().__init__()
        self.ops = nn.ModuleList(ops)
        self.act_first = act_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, op in enumerate(self.ops):
            if i > 0 or self.act_first:
                x = torch.relu(x)
            x = op(x)
        return x


def compact_chain(
    ops, act_first: bool = True, out_idx: torch.Tensor | None = None
) -> nn.Module | None:
    """Compact a chain of MaskedOps: an op's output channels that the next op's sites drop are
    removed, and ops before an op that received no input are removed altogether. An empty op
    that is absent (``absent_when_empty``) outputs zeros, so the op after it makes its BN's
    constant; None when the chain's last op is absent (its output is zero)."""
    compacted: list[nn.Module] = []
    need = out_idx
    # Find the last op whose whole input is dropped: everything before it is unused.
    start, forced = 0, False
    for i, op in enumerate(ops):
        if op.kept_inputs()[0].numel() == 0:
            start = i
    if ops[start].kept_inputs()[0].numel() == 0 and getattr(ops[start], "absent_when_empty", 0):
        if start == len(ops) - 1:
            return None
        start, forced = start + 1, True  # it gets zeros: conv(0) = 0, its BN a constant
    upstream = Geometry()
    for op in ops[:start]:
        upstream = upstream.then(op.geometry())
    for i in range(len(ops) - 1, start - 1, -1):
        op = ops[i]
        first = i == start
        compacted.append(
            op.compact(
                need,
                input_is_kept=i > start,
                upstream=upstream if first else None,
                no_input=forced and first,
            )
        )
        need = op.kept_inputs()[0]
    compacted.reverse()
    return Chain(compacted, act_first=act_first)


def positions(kept: torch.Tensor, available: torch.Tensor) -> torch.Tensor:
    """Where the channels ``kept`` (sorted indices of the full tensor) sit in a compact tensor
    that holds only the ``available`` channels (sorted, a superset of ``kept``)."""
    return torch.searchsorted(available.to(kept.device), kept)


class Parallel(nn.Module):
    """Several modules on one input, outputs concatenated along channels (a multi-branch
    layer whose branch outputs are concatenated, as in SupNet-R-50)."""

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)
