"""The ENAS micro cell's parts: drop-path, the masked ops, factorized reduction, nodes, cells
built from an arc, and the compact copy of a cell (the network is in :mod:`.enas`)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.compact_ops import Chain, compact_chain
from ..nn.masked_op import MaskedOp
from ..nn.sites import DropoutSite

#: The paper's fixed arc (docs/method_pgnas.md section 7): normal cell, then reduction cell.
NORMAL_ARC = (0, 2, 0, 0, 0, 4, 0, 1, 0, 4, 1, 1, 1, 0, 0, 1, 0, 2, 1, 1)
REDUCE_ARC = (1, 0, 1, 0, 0, 3, 0, 2, 1, 1, 3, 1, 1, 0, 0, 4, 0, 3, 1, 1)
OP_NAMES = ("sep3x3", "sep5x5", "avgpool3x3", "maxpool3x3", "identity")


def drop_path(
    x: torch.Tensor, keep: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero whole samples with probability ``1 - keep``, rescale the rest by ``1 / keep``."""
    if keep >= 1.0:
        return x
    mask = torch.rand(x.shape[0], 1, 1, 1, device=x.device, generator=generator) < keep
    return x * mask.to(x.dtype) / keep  # (B, 1, 1, 1) broadcast


class DropPath(nn.Module):
    """Drop-path on one op's output, active in training; ``ratio`` (0..1) ramps it in."""

    def __init__(self, op: nn.Module, keep: float):
        super().__init__()
        self.op, self.keep, self.ratio = op, keep, 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.op(x)
        if self.training and self.keep < 1.0:
            x = drop_path(x, 1.0 - self.ratio * (1.0 - self.keep))
        return x

    def extra_repr(self) -> str:
        return f"keep={self.keep:.3f}"


def _conv_op(cin: int, cout: int, **tags) -> MaskedOp:
    """A 1x1 conv + BN with a site on its input (preceded by a ReLU where it is used)."""
    return MaskedOp(
        [DropoutSite(cin, kernel=1, **tags)],
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
    )


def _sep_op(cin: int, cout: int, k: int, stride: int, **tags) -> MaskedOp:
    """Depthwise kxk (``pre``) -> site -> pointwise 1x1 -> BN."""
    depthwise = nn.Conv2d(cin, cin, k, stride, k // 2, groups=cin, bias=False)
    return MaskedOp(
        [DropoutSite(cin, kernel=k, **tags)],
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        pre=depthwise,
    )


class FactorizedReduction(nn.Module):
    """ENAS's stride-2 1x1 reduction: two AvgPool(1, 2)-Conv1x1-BN paths (the second shifted
    by one pixel), concatenated; ``relu`` first where ENAS has one (calibrations)."""

    def __init__(self, path1: nn.Module, path2: nn.Module, relu: bool):
        super().__init__()
        self.path1, self.path2, self.relu = path1, path2, relu

    @classmethod
    def build(cls, cin: int, cout: int, relu: bool, **tags) -> FactorizedReduction:
        half = cout // 2
        return cls(
            _conv_op(cin, half, layer=1, **tags), _conv_op(cin, cout - half, layer=2, **tags), relu
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.relu:
            x = F.relu(x)
        y1 = F.avg_pool2d(x, 1, 2)
        y2 = F.avg_pool2d(F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)), 1, 2)  # shift by one pixel
        return torch.cat([self.path1(y1), self.path2(y2)], dim=1)

    def compact(self) -> FactorizedReduction:
        # The paths see the already pooled input, so a constant path needs no upstream geometry.
        return FactorizedReduction(self.path1.compact(), self.path2.compact(), self.relu)


class Node(nn.Module):
    """``op_x(states[x_id]) + op_y(states[y_id])``."""

    def __init__(self, x_id: int, op_x: nn.Module, y_id: int, op_y: nn.Module):
        super().__init__()
        self.x_id, self.y_id, self.op_x, self.op_y = x_id, y_id, op_x, op_y

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        return self.op_x(states[self.x_id]) + self.op_y(states[self.y_id])


class Cell(nn.Module):
    """One ENAS layer (normal or reduction), from the two previous layers' outputs."""

    def __init__(
        self,
        calib_x: nn.Module,
        calib_y: nn.Module,
        base: nn.Module,
        nodes: list[Node],
        outputs: list[int],
        out_calib: nn.ModuleDict,
    ):
        super().__init__()
        self.calib_x, self.calib_y, self.base = calib_x, calib_y, base
        self.nodes = nn.ModuleList(nodes)
        self.outputs = list(outputs)  # states concatenated into the output
        self.out_calib = out_calib  # str(state) -> factorized reduction, for larger states

    def forward(self, prev_prev: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        states = [self.calib_x(prev_prev), self.base(self.calib_y(prev))]
        for node in self.nodes:
            states.append(node(states))
        outs = [
            self.out_calib[str(i)](states[i]) if str(i) in self.out_calib else states[i]
            for i in self.outputs
        ]
        return torch.cat(outs, dim=1)


def _compact(m: nn.Module) -> nn.Module:
    if isinstance(m, DropPath):
        return _compact(m.op)
    if isinstance(m, Chain):
        return compact_chain(list(m.ops), act_first=m.act_first)
    if isinstance(m, FactorizedReduction):
        return m.compact()
    if isinstance(m, nn.Sequential):
        return nn.Sequential(*(_compact(c) for c in m))
    return copy.deepcopy(m)  # pooling, identity: no weights


def compact_cell(cell: Cell) -> Cell:
    nodes = [Node(n.x_id, _compact(n.op_x), n.y_id, _compact(n.op_y)) for n in cell.nodes]
    out_calib = nn.ModuleDict({k: _compact(v) for k, v in cell.out_calib.items()})
    return Cell(
        _compact(cell.calib_x),
        _compact(cell.calib_y),
        _compact(cell.base),
        nodes,
        cell.outputs,
        out_calib,
    )


def build_cell(
    arc,
    c_prev_prev: int,
    c_prev: int,
    prev_prev_larger: bool,
    c: int,
    reduction: bool,
    drop_keep: float,
    stage: int,
    layer_id: int,
) -> Cell:
    """A cell of ``c`` channels per node from inputs of ``c_prev_prev`` and ``c_prev`` channels
    (the first at twice the resolution when ``prev_prev_larger``)."""
    tags = dict(stage=stage, block=layer_id)
    if prev_prev_larger:
        calib_x = FactorizedReduction.build(c_prev_prev, c, True, branch="calib_x", **tags)
    elif c_prev_prev != c:
        calib_x = Chain([_conv_op(c_prev_prev, c, branch="calib_x", layer=1, **tags)])
    else:
        calib_x = nn.Identity()
    calib_y = (
        Chain([_conv_op(c_prev, c, branch="calib_y", layer=1, **tags)])
        if c_prev != c
        else nn.Identity()
    )
    base = Chain([_conv_op(c, c, branch="base", layer=1, **tags)])
    n_nodes = len(arc) // 4
    used = [False] * (n_nodes + 2)
    nodes = []
    for n in range(n_nodes):
        ops = []
        for side, (sid, op) in zip("xy", (arc[4 * n : 4 * n + 2], arc[4 * n + 2 : 4 * n + 4])):
            used[sid] = True
            stride = 2 if reduction and sid in (0, 1) else 1
            branch = f"{n + 2}{side}"
            if op in (0, 1):
                k = 3 if op == 0 else 5
                m = Chain(
                    [
                        _sep_op(c, c, k, stride, branch=branch, layer=1, **tags),
                        _sep_op(c, c, k, 1, branch=branch, layer=2, **tags),
                    ]
                )
            elif op in (2, 3):
                m = (
                    nn.AvgPool2d(3, stride, 1, count_include_pad=False)
                    if op == 2
                    else nn.MaxPool2d(3, stride, 1)
                )
            elif op == 4:
                m = (
                    FactorizedReduction.build(c, c, False, branch=branch, **tags)
                    if stride == 2
                    else nn.Identity()
                )
            else:
                raise ValueError(f"arc op {op}: expected 0..4 ({', '.join(OP_NAMES)})")
            ops.append(DropPath(m, drop_keep) if op != 4 and drop_keep < 1.0 else m)
        nodes.append(Node(arc[4 * n], ops[0], arc[4 * n + 2], ops[1]))
    outputs = [i for i in range(n_nodes + 2) if not used[i]]
    out_calib = nn.ModuleDict(
        {
            str(i): FactorizedReduction.build(c, c, False, branch=f"out{i}", **tags)
            for i in outputs
            if reduction and i < 2
        }
    )
    return Cell(calib_x, calib_y, base, nodes, outputs, out_calib)
