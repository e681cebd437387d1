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

from ..nn.masked_op import MaskedOp
from ..nn.sites import DropoutSite
from .base import Supernet
from .enas_cells import (
    NORMAL_ARC,
    REDUCE_ARC,
    Cell,
    DropPath,
    build_cell,
    compact_cell,
)
from .registry import register_supernet


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
