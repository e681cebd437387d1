"""The ENAS micro-cell family (SupNet-E / SupNet-EI, paper Tables 3, 5, 7).

The fixed-arc CIFAR network of ENAS (Pham et al. 2018, ``micro_child.py``): a 3x3 stem conv
(3C channels); ``num_layers + 2`` cells, of which two (after each third) are reduction cells
that double C; then ReLU-GAP-FC; an auxiliary head after the second reduction cell.

A cell takes the outputs of the two previous cells. The older one is calibrated to C channels
(a ReLU + factorized reduction when its resolution is twice the newer one's, else ReLU-Conv1x1-
BN), the newer one by ReLU-Conv1x1-BN if its width differs, then by the cell's "base"
ReLU-Conv1x1-BN. Each of the 5 nodes sums two operations on earlier states, as the arc says
(``x_id x_op y_id y_op`` per node; ops 0 sep3x3, 1 sep5x5, 2 avgpool3x3, 3 maxpool3x3,
4 identity; in a reduction cell, ops on the cell inputs have stride 2, an identity then being a
factorized reduction). The cell's output concatenates the nodes no other node uses.
A separable conv is ``ReLU-depthwise kxk-pointwise 1x1-BN`` done twice.

Dropout sites: on every conv input except the stem's: each separable conv's pointwise input
(the depthwise conv is the ``pre`` of its :class:`MaskedOp`, pruned with the mask), every
1x1 calibration and base conv, each path of each factorized reduction, and the classifier.

What counts as an operation (Table 7's operation-level drop): each masked conv, i.e. each half
of a separable conv, each 1x1 conv and each factorized-reduction path. Pooling and identity
ops have no weights and no dropout site: they are never dropped and are not counted.

The auxiliary head (ENAS: ReLU, AvgPool 5/3, Conv1x1 128, BN, ReLU, Conv 768 over the whole
map, BN, ReLU, GAP, FC) is a training aid, not part of the searched architecture: it has no
dropout sites (so no prior term) and the export leaves it out. ``net(x)`` returns the main
logits only; during a training forward the head's logits are kept on ``net.aux_logits`` and
:func:`aux_loss` gives ``aux_weight * CE`` (the training loop adds it to the loss).

Drop-path (ENAS's ``_apply_drop_path``): during training, the output of every non-identity
op is zeroed per sample with probability ``1 - keep`` (and rescaled), where keep falls
linearly with the cell index to ``drop_path_keep`` in the last cell, and is ramped in over the
first ``drop_path_ramp_steps`` training steps (ENAS ramps over the whole run; 0: no ramp).
Off (``drop_path_keep=1``) in the small presets.

The export keeps the cells' outputs whole (every node's channels): it prunes inside each
separable conv and replaces a conv whose whole input is dropped by its BN constant.

Parameter counts (meta device, dropout-site logits excluded), with the aux head / without:
``supnet_e`` (C=36) 4.39M / 3.89M, ``supnet_ei`` (C=72) 15.37M / 14.78M. The paper's 4.6M and
15.3M match the counts with the head (-4.6% and +0.5%), so the head is on by default.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.compact_ops import Chain, compact_chain
from ..nn.masked_op import MaskedOp
from ..nn.sites import DropoutSite
from .base import Supernet
from .registry import register_supernet

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


class AuxHead(nn.Module):
    """ENAS's auxiliary classifier (no dropout sites; training only)."""

    def __init__(self, cin: int, num_classes: int, size: int):
        super().__init__()
        pooled = max((size - 5) // 3 + 1, 1)
        self.pool = nn.AvgPool2d(5, 3) if size >= 5 else nn.AdaptiveAvgPool2d(1)
        self.proj = nn.Sequential(
            nn.Conv2d(cin, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(),
            nn.Conv2d(128, 768, pooled, padding="same", bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(),
        )
        self.fc = nn.Linear(768, num_classes, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.pool(F.relu(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, classes)


class ENASTrunk(nn.Module):
    """stem -> cells (each on the two previous outputs) -> ReLU -> GAP -> classifier."""

    def __init__(self, stem: nn.Module, cells: list[Cell], classifier: nn.Module):
        super().__init__()
        self.stem, self.cells, self.classifier = stem, nn.ModuleList(cells), classifier

    def features(self, x: torch.Tensor, tap: int | None = None):
        """The last cell's output, and the output of cell ``tap`` (None if not asked)."""
        s0 = s1 = self.stem(x)
        tapped = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == tap:
                tapped = s1
        return s1, tapped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.features(x)[0])
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, C)


class ENASNet(Supernet):
    def __init__(
        self,
        out_filters: int = 36,
        num_layers: int = 15,
        normal_arc=NORMAL_ARC,
        reduce_arc=REDUCE_ARC,
        stem_multiplier: int = 3,
        stem_stride: int = 1,
        aux_weight: float = 0.4,
        drop_path_keep: float = 0.6,
        drop_path_ramp_steps: int = 0,
        input_size: int = 32,
        in_channels: int = 3,
        num_classes: int = 10,
    ):
        super().__init__()
        normal_arc, reduce_arc = tuple(normal_arc), tuple(reduce_arc)
        for arc in (normal_arc, reduce_arc):
            if len(arc) % 4 or any(
                not 0 <= arc[4 * n + j] < n + 2 for n in range(len(arc) // 4) for j in (0, 2)
            ):
                raise ValueError(f"arc {arc}: 4 numbers per node, inputs among earlier states")
        if out_filters % 2:
            raise ValueError(f"out_filters={out_filters}: must be even (factorized reductions)")
        if not 0 < drop_path_keep <= 1:
            raise ValueError(f"drop_path_keep={drop_path_keep}: a number in (0, 1]")
        self.in_channels = in_channels
        self.aux_weight = float(aux_weight)
        self.drop_path_ramp_steps = int(drop_path_ramp_steps)
        self.register_buffer("train_steps", torch.zeros((), dtype=torch.long))
        self.aux_logits: torch.Tensor | None = None

        c = out_filters
        stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_multiplier * c, 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(stem_multiplier * c),
        )
        pool_distance = num_layers // 3
        pool_layers = (pool_distance, 2 * pool_distance + 1)
        total = num_layers + 2
        widths = [stem_multiplier * c, stem_multiplier * c]  # channels of the last two outputs
        larger = False  # is the older input at twice the newer one's resolution?
        cells, stage, size = [], 0, -(-input_size // stem_stride)
        self.aux_layer = pool_layers[-1] + 1 if self.aux_weight > 0 else None
        aux_in = None
        for layer_id in range(total):
            reduction = layer_id in pool_layers
            if reduction:
                c, stage, size = 2 * c, stage + 1, -(-size // 2)
            keep = 1.0 - (layer_id + 1) / total * (1.0 - drop_path_keep)
            arc = reduce_arc if reduction else normal_arc
            cell = build_cell(
                arc, widths[0], widths[1], larger, c, reduction, keep, stage, layer_id
            )
            cells.append(cell)
            widths = [widths[1], c * len(cell.outputs)]
            larger = reduction
            if layer_id == self.aux_layer:
                aux_in = (widths[1], size)
        head = MaskedOp(
            [DropoutSite(widths[1], stage="head", block=0, branch="fc", layer=1, kernel=1)],
            nn.Linear(widths[1], num_classes),
        )
        self.body = ENASTrunk(stem, cells, head)
        self.aux_head = AuxHead(aux_in[0], num_classes, aux_in[1]) if aux_in else None
        self._drop_paths = [m for m in self.body.modules() if isinstance(m, DropPath)]
        self.finalize()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self._drop_paths:
            ramp = self.drop_path_ramp_steps
            ratio = 1.0 if ramp <= 0 else min(1.0, (self.train_steps.item() + 1) / ramp)
            for m in self._drop_paths:
                m.ratio = ratio
            self.train_steps += 1
        tap = self.aux_layer if self.training and self.aux_head is not None else None
        feats, tapped = self.body.features(x, tap)
        self.aux_logits = self.aux_head(tapped) if tapped is not None else None
        feats = F.relu(feats)
        return self.body.classifier(torch.flatten(F.adaptive_avg_pool2d(feats, 1), 1))

    def compact_module(self) -> nn.Module:
        body = self.body
        cells = [compact_cell(c) for c in body.cells]
        return ENASTrunk(copy.deepcopy(body.stem), cells, body.classifier.compact()).eval()


def aux_loss(net: nn.Module, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor | None:
    """``aux_weight * CE`` of the auxiliary logits of the last training forward (ENAS adds it
    to the loss with weight 0.4); None for a net without an auxiliary head, or after an
    eval-mode forward."""
    logits = getattr(net, "aux_logits", None)
    if logits is None:
        return None
    weight = getattr(net, "aux_weight", 0.0)  # fp32 loss, also from bf16 (autocast) logits
    return weight * F.cross_entropy(logits.float(), targets, reduction=reduction)


def _family(defaults: dict):
    def build(**overrides) -> ENASNet:
        return ENASNet(**{**defaults, **overrides})

    return build


_PAPER_E = dict(
    out_filters=36,
    num_layers=15,
    normal_arc=NORMAL_ARC,
    reduce_arc=REDUCE_ARC,
    aux_weight=0.4,
    drop_path_keep=0.6,
    input_size=32,
    in_channels=3,
    num_classes=10,
)


@register_supernet("supnet_e", family="enas", paper=True, paper_params=4.6e6)
def supnet_e(**overrides):
    """SupNet-E: ENAS micro cells, the paper's arc, 15 layers, 36 filters, aux head, CIFAR, 4.6M."""
    return _family(_PAPER_E)(**overrides)


@register_supernet("supnet_ei", family="enas", paper=True, paper_params=15.3e6)
def supnet_ei(**overrides):
    """SupNet-EI: SupNet-E with doubled channels (72 filters), CIFAR, 15.3M params."""
    return _family({**_PAPER_E, "out_filters": 72})(**overrides)


@register_supernet("supnet_e_small", family="enas", input_size=28)
def supnet_e_small(**overrides):
    """A small ENAS micro-cell net (paper arc, 3+2 layers, 8 filters) for CPU demos at 28x28.

    Stride-2 stem, no aux head or drop-path."""
    return _family(
        dict(
            out_filters=8,
            num_layers=3,
            stem_stride=2,
            aux_weight=0.0,
            drop_path_keep=1.0,
            input_size=28,
            in_channels=1,
            num_classes=10,
        )
    )(**overrides)
