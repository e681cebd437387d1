"""The DenseNet family (SupNet-D-121, paper Table 8).

DenseNet-BC (Huang et al. 2017; torchvision's layout): a stem (7x7 conv, BN, ReLU, max-pool),
dense blocks of layers ``BN-ReLU-Conv1x1-BN-ReLU-Conv3x3`` whose input is the concatenation of
the block input and every earlier layer's output, transitions ``BN-ReLU-Conv1x1-AvgPool2x2``
that halve the channels, then BN-ReLU-GAP-FC.

Dropout sites: one per *source feature group* of every concatenated input (the block input,
and each earlier layer's ``growth`` channels) on the first conv of each dense layer, on each
transition conv and on the classifier, so a whole source can be dropped; and one on the 3x3
conv's input. The ``branch`` tag of a source site is the source's index (0: the block input,
i: the output of layer i of the block).

``supnet_d121`` (growth 32, blocks 6/12/24/16, bottleneck 4x, compression 0.5, 1000 classes)
has 7,978,856 weights (torchvision's DenseNet-121 count; the paper: about 8M) and 655 dropout sites.

The export removes what no consumer keeps: a layer whose output every later consumer drops is
not computed at all, and only the kept channels of each source are concatenated.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.compact_ops import (
    ConstantFeatures,
    Geometry,
    SelectChannels,
    conv_geometry,
    positions,
    with_weights,
)
from ..nn.masked_op import MaskedOp, _slice_bn
from ..nn.sites import DropoutSite
from .base import Supernet
from .registry import register_supernet

_EMPTY = torch.zeros(0, dtype=torch.long)


def _source_sites(sources: list[int], **tags) -> list[DropoutSite]:
    return [DropoutSite(c, branch=j, kernel=1, **tags) for j, c in enumerate(sources)]


class DenseLayer(nn.Module):
    """``conv2(relu(conv1(relu(norm1(x)))))``; conv1 has one site per source of ``x``."""

    def __init__(self, sources: list[int], growth: int, bn_size: int, stage: int, block: int):
        super().__init__()
        cin, mid = sum(sources), bn_size * growth
        self.norm1 = nn.BatchNorm2d(cin)
        self.conv1 = MaskedOp(
            _source_sites(sources, stage=stage, block=block, layer=1),
            nn.Conv2d(cin, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
        )
        site = DropoutSite(mid, stage=stage, block=block, branch="bottleneck", layer=2, kernel=3)
        self.conv2 = MaskedOp([site], nn.Conv2d(mid, growth, 3, padding=1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(F.relu(self.norm1(x)))))

    def compact(self, available: torch.Tensor, need: torch.Tensor) -> nn.Module:
        """The layer on a compact input holding the ``available`` channels, producing ``need``."""
        k1, k2 = self.conv1.kept_inputs()[0], self.conv2.kept_inputs()[0]
        if k2.numel() == 0:
            return self.conv2.compact(need)  # a constant (zeros: no BN, no bias)
        if k1.numel() == 0:
            return nn.Sequential(
                self.conv1.compact(k2), nn.ReLU(), self.conv2.compact(need, input_is_kept=True)
            )
        return nn.Sequential(
            SelectChannels(positions(k1, available)),
            _slice_bn(self.norm1, k1),
            nn.ReLU(),
            self.conv1.compact(k2, input_is_kept=True),
            nn.ReLU(),
            self.conv2.compact(need, input_is_kept=True),
        )


class DenseBlock(nn.Module):
    def __init__(self, cin: int, layers: int, growth: int, bn_size: int, stage: int):
        super().__init__()
        self.sources = [cin] + [growth] * layers  # channels of each source feature group
        self.layers = nn.ModuleList(
            DenseLayer(self.sources[: i + 1], growth, bn_size, stage, i) for i in range(layers)
        )

    @property
    def out_channels(self) -> int:
        return sum(self.sources)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return torch.cat(feats, dim=1)


class CompactDenseBlock(nn.Module):
    """An exported dense block: only the layers some consumer uses, on kept channels."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return torch.cat(feats, dim=1)


class Transition(nn.Module):
    """``avgpool(conv(relu(norm(x))))``; the conv has one site per source of the block."""

    def __init__(self, sources: list[int], cout: int, stage: int):
        super().__init__()
        cin = sum(sources)
        self.norm = nn.BatchNorm2d(cin)
        self.conv = MaskedOp(
            _source_sites(sources, stage=stage, block="transition", layer=1),
            nn.Conv2d(cin, cout, 1, bias=False),
        )
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(F.relu(self.norm(x))))

    def compact(self, available: torch.Tensor, need: torch.Tensor) -> nn.Module:
        if need.numel() == 0:  # the next block uses none of it: only its shape matters
            return ConstantFeatures(torch.zeros(0), Geometry(((2, 2, 0, 1),)))
        k = self.conv.kept_inputs()[0]
        if k.numel() == 0:
            return nn.Sequential(self.conv.compact(need), nn.AvgPool2d(2, 2))
        return nn.Sequential(
            SelectChannels(positions(k, available)),
            _slice_bn(self.norm, k),
            nn.ReLU(),
            self.conv.compact(need, input_is_kept=True),
            nn.AvgPool2d(2, 2),
        )


class DenseHead(nn.Module):
    """``fc(gap(relu(norm(x))))``; the classifier has one site per source of the last block."""

    def __init__(self, sources: list[int], num_classes: int):
        super().__init__()
        cin = sum(sources)
        self.norm = nn.BatchNorm2d(cin)
        self.fc = MaskedOp(
            _source_sites(sources, stage="head", block=0, layer=1), nn.Linear(cin, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, C)

    def compact(self, available: torch.Tensor) -> nn.Module:
        k = self.fc.kept_inputs()[0]
        if k.numel() == 0:
            return self.fc.compact()  # the classifier's bias
        return nn.Sequential(
            SelectChannels(positions(k, available)),
            _slice_bn(self.norm, k),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            self.fc.compact(input_is_kept=True),
        )


class DenseTrunk(nn.Module):
    """stem -> (block -> transition)* -> block -> head; used by the supernet and its export."""

    def __init__(
        self,
        stem: nn.Module,
        blocks: list[nn.Module],
        transitions: list[nn.Module],
        head: nn.Module,
    ):
        super().__init__()
        self.stem, self.head = stem, head
        self.blocks, self.transitions = nn.ModuleList(blocks), nn.ModuleList(transitions)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        return self.head(x)


def _source_kept(op: MaskedOp) -> list[torch.Tensor]:
    """Kept channel indices of each site of ``op``, local to its source."""
    return [torch.nonzero(s.hard_mask.detach().reshape(-1) != 0).flatten().cpu() for s in op.sites]


def _union(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.unique(torch.cat([a, b]))  # sorted


def _available(sources: list[int], need: list[torch.Tensor]) -> torch.Tensor:
    """Indices (in the full concatenation) of the channels a compact concatenation holds."""
    out, start = [], 0
    for c, n in zip(sources, need):
        out.append(n + start)
        start += c
    return torch.cat(out) if out else _EMPTY


class DenseNet(Supernet):
    def __init__(
        self,
        blocks=(6, 12, 24, 16),
        growth: int = 32,
        bn_size: int = 4,
        stem_channels: int = 64,
        stem_kernel: int = 7,
        stem_stride: int = 2,
        stem_pool: bool = True,
        compression: float = 0.5,
        in_channels: int = 3,
        num_classes: int = 1000,
    ):
        super().__init__()
        self.in_channels = in_channels
        stem = [
            nn.Conv2d(
                in_channels, stem_channels, stem_kernel, stem_stride, stem_kernel // 2, bias=False
            ),
            nn.BatchNorm2d(stem_channels),
            nn.ReLU(),
        ]
        if stem_pool:
            stem.append(nn.MaxPool2d(3, 2, 1))
        dense, transitions, cin = [], [], stem_channels
        for stage, n in enumerate(blocks):
            block = DenseBlock(cin, n, growth, bn_size, stage)
            dense.append(block)
            cin = block.out_channels
            if stage < len(blocks) - 1:
                cout = int(cin * compression)
                transitions.append(Transition(block.sources, cout, stage))
                cin = cout
        head = DenseHead(dense[-1].sources, num_classes)
        self.body = DenseTrunk(nn.Sequential(*stem), dense, transitions, head)
        self.finalize()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def compact_module(self) -> nn.Module:
        body = self.body
        blocks, trans = list(body.blocks), list(body.transitions)
        out_blocks, out_trans = [None] * len(blocks), [None] * len(trans)
        head = None
        need_next: torch.Tensor | None = None  # channels of the next block's input to produce
        for b in reversed(range(len(blocks))):
            block = blocks[b]
            final = trans[b].conv if b < len(trans) else body.head.fc
            need = _source_kept(final)  # per source, grown by every consumer below
            computed = []
            for i in reversed(range(len(block.layers))):
                layer = block.layers[i]
                if need[i + 1].numel() == 0:
                    continue  # no consumer keeps any output of this layer
                computed.append(i)
                if layer.conv2.kept_inputs()[0].numel() and layer.conv1.kept_inputs()[0].numel():
                    for j, kept in enumerate(_source_kept(layer.conv1)):
                        need[j] = _union(need[j], kept)
            layers = [
                block.layers[i].compact(
                    _available(block.sources[: i + 1], need[: i + 1]), need[i + 1]
                )
                for i in sorted(computed)
            ]
            out_blocks[b] = CompactDenseBlock(layers)
            available = _available(block.sources, need)
            if b < len(trans):
                out_trans[b] = trans[b].compact(available, need_next)
            else:
                head = body.head.compact(available)
            need_next = need[0]
        stem = _compact_stem(body.stem, need_next)
        return DenseTrunk(stem, out_blocks, out_trans, head).eval()


def _compact_stem(stem: nn.Sequential, need: torch.Tensor) -> nn.Module:
    """The stem producing only the ``need`` channels the first block uses."""
    conv, bn = stem[0], stem[1]
    if need.numel() == 0:
        g = Geometry()
        for m in stem:
            g = g.then(conv_geometry(m))
        return ConstantFeatures(torch.zeros(0), g)
    new = with_weights(
        nn.Conv2d,
        conv.in_channels,
        len(need),
        conv.kernel_size,
        conv.stride,
        conv.padding,
        weight=conv.weight[need],
    )
    return nn.Sequential(new, _slice_bn(bn, need), *stem[2:])


def _family(defaults: dict):
    def build(**overrides) -> DenseNet:
        return DenseNet(**{**defaults, **overrides})

    return build


_PAPER_D121 = dict(
    blocks=(6, 12, 24, 16),
    growth=32,
    bn_size=4,
    stem_channels=64,
    stem_kernel=7,
    stem_stride=2,
    stem_pool=True,
    compression=0.5,
    in_channels=3,
    num_classes=1000,
)


@register_supernet("supnet_d121", family="densenet", paper=True, paper_params=8.0e6, input_size=224)
def supnet_d121(**overrides):
    """SupNet-D-121: DenseNet-121, one dropout site per source feature group, ImageNet, 8.0M."""
    return _family(_PAPER_D121)(**overrides)


@register_supernet("supnet_d121_small", family="densenet", input_size=28)
def supnet_d121_small(**overrides):
    """A small DenseNet-BC (3 blocks of 3 layers, growth 8, 3x3 stem) for CPU demos at 28x28."""
    return _family(
        dict(
            blocks=(3, 3, 3),
            growth=8,
            bn_size=4,
            stem_channels=16,
            stem_kernel=3,
            stem_stride=1,
            stem_pool=False,
            compression=0.5,
            in_channels=1,
            num_classes=10,
        )
    )(**overrides)


@register_supernet("supnet_d121_tiny", family="densenet", input_size=32)
def supnet_d121_tiny(**overrides):
    """A tiny SupNet-D-121 with the ImageNet stem (7x7/2, max-pool) for image-folder tests."""
    return _family(
        dict(
            blocks=(2, 2),
            growth=4,
            bn_size=2,
            stem_channels=8,
            stem_kernel=7,
            stem_stride=2,
            stem_pool=True,
            compression=0.5,
            in_channels=3,
            num_classes=10,
        )
    )(**overrides)
