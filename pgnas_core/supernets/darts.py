"""The DARTS search space (Liu et al., ICLR 2019; docs/method_siblings.md section 2) as a
supernet every method here can search.

A cell has two input nodes, the outputs of the two previous cells preprocessed to C channels
(ReLU-conv1x1-BN, or a FactorizedReduce when the previous-previous output is at double
resolution), and 4 intermediate nodes; node j sums ``op(x_i)`` over every earlier node i (14
edges); the cell outputs the 4 intermediate nodes concatenated (4C channels). Every edge holds
every operation of ``DARTS_SPACE`` but "none". Reduction cells, at 1/3 and 2/3 of the depth,
double C and put stride 2 on the edges from the input nodes. The network: a 3x3 stem conv to
3C channels, the cells, global pooling and a linear classifier.

Methods see it as the NAS-Bench-201 cell (cell.py): sites on every operation's input channels
(PGNAS, Random), or gates per edge and sharing group (DARTS, BaLeNAS, BayesNAS); a sharing
group is a cell type (normal, reduction) unless ``share=cell``.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .cell_space import CellSpaceSupernet
from .darts_ops import FactorizedReduce, darts_op, relu_conv_bn
from .mixed_edge import EdgeGates, MixedEdge, compact_edge
from .registry import register_supernet
from .spaces import DARTS_SPACE

SPACE = DARTS_SPACE


class DartsCell(nn.Module):
    """A search cell (its edges MixedEdges) or a compact one (CompactEdges)."""

    def __init__(self, pre0: nn.Module, pre1: nn.Module, edges: list[nn.Module], reduction: bool):
        super().__init__()
        self.pre0, self.pre1 = pre0, pre1
        self.edges = nn.ModuleList(edges)
        self.reduction = reduction

    def forward(self, s0, s1, weights=None, scales=None):
        states = [self.pre0(s0), self.pre1(s1)]
        for j in range(SPACE.inputs, SPACE.inputs + SPACE.nodes):
            total = 0
            for e, (to, frm) in enumerate(SPACE.edges):
                if to != j:
                    continue
                if weights is None and scales is None:
                    total = total + self.edges[e](states[frm])
                else:
                    w = None if weights is None else weights[e]
                    s = None if scales is None else scales[e]
                    total = total + self.edges[e](states[frm], w, s)
            states.append(total)
        return torch.cat([states[i] for i in SPACE.outputs], dim=1)


def search_cell(k: int, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
    pre0 = FactorizedReduce(c_pp, c) if reduction_prev else relu_conv_bn(c_pp, c)
    edges = []
    for e, (_, frm) in enumerate(SPACE.edges):
        stride = 2 if reduction and frm < SPACE.inputs else 1
        tags = {"stage": k, "block": 0, "branch": SPACE.edge_label(e)}
        edges.append(MixedEdge([darts_op(name, c, stride, **tags) for name in SPACE.searched_ops]))
    return DartsCell(pre0, relu_conv_bn(c_p, c), edges, reduction)


class DartsNet(nn.Module):
    """stem -> cells -> global pooling -> classifier; also the compact export's shape."""

    def __init__(self, stem: nn.Module, cells: nn.ModuleList, classifier: nn.Module):
        super().__init__()
        self.stem, self.cells, self.classifier = stem, cells, classifier

    def forward(self, x, gates: EdgeGates | None = None, groups: list[int] | None = None):
        return self.from_stem(self.stem(x), gates, groups)

    def from_stem(self, h, gates: EdgeGates | None = None, groups: list[int] | None = None):
        s0 = s1 = h
        for k, cell in enumerate(self.cells):
            if gates is None:
                s0, s1 = s1, cell(s0, s1)
            else:
                g = groups[k]
                w = None if gates.op_weights is None else gates.op_weights[g]
                sc = None if gates.input_scale is None else gates.input_scale[g]
                s0, s1 = s1, cell(s0, s1, w, sc)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(s1, 1), 1))  # (B, classes)


class _FromStem(nn.Module):
    def __init__(self, net: DartsNet):
        super().__init__()
        self.net = net

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net.from_stem(h)


class DartsSupernet(CellSpaceSupernet):
    space = SPACE

    def __init__(
        self,
        cells: int = 8,
        channels: int = 16,
        in_channels: int = 3,
        num_classes: int = 10,
        stem_multiplier: int = 3,
        stem_stride: int = 1,
    ):
        super().__init__()
        c_stem = stem_multiplier * channels
        stem = nn.Sequential(
            nn.Conv2d(in_channels, c_stem, 3, stem_stride, 1, bias=False), nn.BatchNorm2d(c_stem)
        )
        c_pp, c_p, c = c_stem, c_stem, channels
        body, reduction_prev = [], False
        for k in range(cells):
            reduction = k in (cells // 3, 2 * cells // 3)
            c = 2 * c if reduction else c
            body.append(search_cell(k, c_pp, c_p, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, len(SPACE.outputs) * c
        self.body = DartsNet(stem, nn.ModuleList(body), nn.Linear(c_p, num_classes))
        self.gating: nn.Module | None = None  # set by a method: () -> EdgeGates
        self.share = "all"
        self.finalize()

    def cells(self) -> list[DartsCell]:
        return list(self.body.cells)

    def cell_type_of(self) -> list[int]:
        return [int(cell.reduction) for cell in self.body.cells]

    def stage_of(self) -> list[int]:
        """A reduction cell opens a stage (the cells at one resolution)."""
        types = self.cell_type_of()
        return [sum(types[: k + 1]) for k in range(len(types))]

    def compact_module(self) -> nn.Module:
        """The compact net of the hard masks, each kept operation with the gates' scales (the
        gating's current values; 1 without gating)."""
        gates = self.gating() if self.gating is not None else EdgeGates()
        groups = self.groups()
        cells = []
        for k, cell in enumerate(self.cells()):
            g, edges = groups[k], []
            for e, edge in enumerate(cell.edges):
                frm = SPACE.edges[e][1]
                stride = 2 if cell.reduction and frm < SPACE.inputs else 1
                scale = None if gates.input_scale is None else gates.input_scale[g, e]
                weights = None if gates.op_weights is None else gates.op_weights[g, e]
                edges.append(compact_edge(edge, scale, weights, stride))
            pre0, pre1 = copy.deepcopy(cell.pre0), copy.deepcopy(cell.pre1)
            cells.append(DartsCell(pre0, pre1, edges, cell.reduction))
        b = self.body
        net = DartsNet(copy.deepcopy(b.stem), nn.ModuleList(cells), copy.deepcopy(b.classifier))
        return net.eval()

    def shared_stem(self) -> nn.Module:
        return self.body.stem  # a conv + BN, no site: the same in every candidate

    def evaluation_module(self, compact: nn.Module, from_stem: bool = False) -> nn.Module:
        return _FromStem(compact) if from_stem else compact


def _family(defaults: dict):
    def build(**overrides) -> DartsSupernet:
        return DartsSupernet(**{**defaults, **overrides})

    return build


@register_supernet("supnet_darts", family="darts", paper=True, input_size=32)
def supnet_darts(**overrides):
    """The DARTS space at its search size (8 cells, C = 16), CIFAR."""
    return _family(dict(cells=8, channels=16, in_channels=3))(**overrides)


@register_supernet("supnet_darts_small", family="darts", input_size=28)
def supnet_darts_small(**overrides):
    """The DARTS space at CPU size (5 cells, C = 8, stride-2 stem) for 28x28 Fashion-MNIST."""
    return _family(dict(cells=5, channels=8, in_channels=1, stem_stride=2))(**overrides)


@register_supernet("supnet_darts_tiny", family="darts", input_size=8)
def supnet_darts_tiny(**overrides):
    """A tiny DARTS-space supernet (3 cells: normal, reduce, reduce; C = 4) for tests and 8x8
    digits."""
    return _family(dict(cells=3, channels=4, in_channels=1, stem_multiplier=2))(**overrides)
