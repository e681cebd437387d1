"""The cell search space (docs/method_siblings.md section 2; NAS-Bench-201, Dong and Yang 2020): the
native space of DARTS, BaLeNAS and BayesNAS, and a supernet every method here can search.

A cell has 4 nodes; node j sums ``op_ij(node_i)`` over i < j (6 edges). Every edge holds every
operation of ``NB201_SPACE`` (spaces.py): skip_connect, conv_1x1 and conv_3x3 (ReLU-conv-BN)
and avg_pool_3x3; "none" is the absence of all of them. The network: a 3x3 stem conv, three
stages of N cells at widths C, 2C, 4C with a residual reduction block (NAS-Bench-201's ResNet
basic block, stride 2) between stages, then BN-ReLU, global pooling and a linear classifier.

How each method sees the same supernet (docs/method_siblings.md section 1):
- PGNAS / Random: a dropout site on every operation's input channels (a ``MaskedOp`` for the
  convs, a ``MaskedParamFree`` for skip and pooling); "none" is every operation dropped.
- DARTS / BaLeNAS / BayesNAS attach a ``gating`` module that returns per-edge
  :class:`EdgeGates`: weights of the edge's operations (a softmax over all five, "none"
  included, of which the four real ones are used) and, for BayesNAS, a scale of the edge's
  input. Cells in one sharing group (``share``: all cells, one stage, or each cell alone)
  read the same gates.

A derived architecture is, as for every supernet, the kept channels of every site (any subset
of operations per edge, any channels per operation), and exports as a compact net equal to
the masked supernet. The stem, the reduction blocks and the classifier are fixed (not searched)
and have no sites.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.compact_ops import Chain
from ..nn.masked_op import MaskedOp, MaskedParamFree
from ..nn.sites import DropoutSite
from .cell_space import CellSpaceSupernet
from .mixed_edge import EdgeGates, MixedEdge, compact_edge
from .registry import register_supernet
from .spaces import NB201_SPACE

SPACE = NB201_SPACE


def _op(name: str, c: int, **tags) -> nn.Module:
    site = DropoutSite(c, layer=name, **tags)
    if name == "skip_connect":
        return MaskedParamFree(site)
    if name == "avg_pool_3x3":
        return MaskedParamFree(site, nn.AvgPool2d(3, 1, 1, count_include_pad=False))
    k = 1 if name == "conv_1x1" else 3
    site.tags["kernel"] = k
    conv = nn.Conv2d(c, c, k, 1, k // 2, bias=False)
    # ReLU-conv-BN; with its input dropped the op is absent (output 0), not its BN constant
    return Chain([MaskedOp([site], conv, nn.BatchNorm2d(c), absent_when_empty=True)])


class SearchCell(nn.Module):
    def __init__(self, c: int, stage: int, block: int):
        super().__init__()
        self.edges = nn.ModuleList(
            MixedEdge(
                [
                    _op(name, c, stage=stage, block=block, branch=SPACE.edge_label(e))
                    for name in SPACE.searched_ops
                ]
            )
            for e in range(len(SPACE.edges))
        )

    def forward(self, x, weights=None, scales=None):
        nodes = [x]
        for j in (1, 2, 3):
            total = 0
            for e, (to, frm) in enumerate(SPACE.edges):
                if to == j:
                    w = None if weights is None else weights[e]
                    s = None if scales is None else scales[e]
                    total = total + self.edges[e](nodes[frm], w, s)
            nodes.append(total)
        return nodes[3]


class ResidualReduction(nn.Module):
    """NAS-Bench-201's ResNet basic block with stride 2 (fixed, not searched)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_a = nn.Sequential(
            nn.ReLU(), nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout)
        )
        self.conv_b = nn.Sequential(
            nn.ReLU(), nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        )
        # ceil_mode: odd sizes (Fashion-MNIST's 7x7 after a stride-2 stem) match conv_a's
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, 2, 0, ceil_mode=True), nn.Conv2d(cin, cout, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class CellNet(nn.Module):
    """stem -> [cells, reduction] x 3 -> BN-ReLU -> global pooling -> classifier. Also the
    shape of the compact export (its cells hold CompactEdges)."""

    def __init__(
        self,
        stem: nn.Module,
        stages: nn.ModuleList,
        reductions: nn.ModuleList,
        lastact: nn.Module,
        classifier: nn.Module,
    ):
        super().__init__()
        self.stem, self.stages, self.reductions = stem, stages, reductions
        self.lastact, self.classifier = lastact, classifier

    def forward(
        self, x: torch.Tensor, gates: EdgeGates | None = None, groups: list[int] | None = None
    ) -> torch.Tensor:
        return self.from_stem(self.stem(x), gates, groups)

    def from_stem(
        self, h: torch.Tensor, gates: EdgeGates | None = None, groups: list[int] | None = None
    ) -> torch.Tensor:
        k = 0
        for s, cells in enumerate(self.stages):
            for cell in cells:
                if gates is None:
                    h = cell(h)
                else:
                    g = groups[k]
                    w = None if gates.op_weights is None else gates.op_weights[g]
                    sc = None if gates.input_scale is None else gates.input_scale[g]
                    h = cell(h, w, sc)
                k += 1
            if s < len(self.reductions):
                h = self.reductions[s](h)
        h = self.lastact(h)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))  # (B, C)


class CompactCell(nn.Module):
    def __init__(self, edges: list[nn.Module]):
        super().__init__()
        self.edges = nn.ModuleList(edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in (1, 2, 3):
            total = 0
            for e, (to, frm) in enumerate(SPACE.edges):
                if to == j:
                    total = total + self.edges[e](nodes[frm])
            nodes.append(total)
        return nodes[3]


class FromStem(nn.Module):
    """A compact CellNet whose input is its stem's (cached) output."""

    def __init__(self, net: CellNet):
        super().__init__()
        self.net = net

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net.from_stem(h)


class CellSupernet(CellSpaceSupernet):
    space = SPACE

    def __init__(
        self,
        cells_per_stage: int = 5,
        channels: int = 16,
        in_channels: int = 3,
        num_classes: int = 10,
        stem_stride: int = 1,
    ):
        super().__init__()
        c = channels
        widths = (c, 2 * c, 4 * c)
        stem = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, stem_stride, 1, bias=False), nn.BatchNorm2d(c)
        )
        stages = nn.ModuleList(
            nn.ModuleList(SearchCell(w, s, b) for b in range(cells_per_stage))
            for s, w in enumerate(widths)
        )
        reductions = nn.ModuleList(ResidualReduction(a, b) for a, b in zip(widths, widths[1:]))
        lastact = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU())
        self.body = CellNet(stem, stages, reductions, lastact, nn.Linear(widths[-1], num_classes))
        self.cells_per_stage = cells_per_stage
        self.gating: nn.Module | None = None  # set by a method: () -> EdgeGates
        self.share = "all"
        self.finalize()

    # ---- the space ------------------------------------------------------------------------
    def cells(self) -> list[SearchCell]:
        return [cell for stage in self.body.stages for cell in stage]

    def stage_of(self) -> list[int]:
        return [k // self.cells_per_stage for k in range(3 * self.cells_per_stage)]

    # ---- export -----------------------------------------------------------------------------
    def compact_module(self) -> nn.Module:
        """The compact net of the hard masks, each kept operation with the gates' scales (the
        gating's current values; 1 without gating)."""
        b = self.body
        gates = self.gating() if self.gating is not None else EdgeGates()
        groups = self.groups()
        cells = []
        for k, cell in enumerate(self.cells()):
            g = groups[k]
            cells.append(
                CompactCell(
                    [
                        compact_edge(
                            edge,
                            None if gates.input_scale is None else gates.input_scale[g, e],
                            None if gates.op_weights is None else gates.op_weights[g, e],
                        )
                        for e, edge in enumerate(cell.edges)
                    ]
                )
            )
        n = self.cells_per_stage
        stages = nn.ModuleList(nn.ModuleList(cells[s * n : (s + 1) * n]) for s in range(3))
        return CellNet(
            copy.deepcopy(b.stem),
            stages,
            copy.deepcopy(b.reductions),
            copy.deepcopy(b.lastact),
            copy.deepcopy(b.classifier),
        ).eval()

    def shared_stem(self) -> nn.Module:
        return self.body.stem  # a conv + BN, no site: the same in every candidate

    def evaluation_module(self, compact: nn.Module, from_stem: bool = False) -> nn.Module:
        return FromStem(compact) if from_stem else compact


def _family(defaults: dict):
    def build(**overrides) -> CellSupernet:
        return CellSupernet(**{**defaults, **overrides})

    return build


@register_supernet("supnet_cell", family="cell", paper=True, input_size=32)
def supnet_cell(**overrides):
    """The NAS-Bench-201 cell space at paper size (N = 5 cells per stage, C = 16), CIFAR."""
    return _family(dict(cells_per_stage=5, channels=16, in_channels=3))(**overrides)


@register_supernet("supnet_cell_small", family="cell", input_size=28)
def supnet_cell_small(**overrides):
    """The cell space at CPU size (N = 1, C = 16, stride-2 stem) for 28x28 Fashion-MNIST."""
    return _family(dict(cells_per_stage=1, channels=16, in_channels=1, stem_stride=2))(**overrides)


@register_supernet("supnet_cell_tiny", family="cell", input_size=8)
def supnet_cell_tiny(**overrides):
    """A tiny cell-space supernet (N = 1, C = 8) for tests and 8x8 digits."""
    return _family(dict(cells_per_stage=1, channels=8, in_channels=1))(**overrides)
