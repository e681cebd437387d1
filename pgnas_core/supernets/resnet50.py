"""The inflated ResNet-50 family (SupNet-R-50, paper Table 9).

ResNet-50 (He et al. 2016; torchvision's v1.5: the stride sits in the 3x3 conv) with every
3x3 conv replaced by four parallel convs of a quarter of the output channels each, their
outputs concatenated (supplement section 1.2). Branches have receptive fields 1, 3, 5 and 9.

Which reading of the supplement: it says the 5x5 and 9x9 are mimicked by dilated 3x3 and 5x5
convs. Counted on the ``meta`` device, the readings give (full supernet, 1000 classes):

    1x1, 3x3, 3x3 dil 2 (5x5 field), 5x5 dil 2 (9x9 field)   28.1M   (-36% of 44.0M)
    1x1, 3x3, 5x5, 9x9 (no dilation)                         50.7M   (+15%)
    1x1, 3x3, 3x3 dil 2 (5x5 field), 9x9                     45.7M   (+3.9%)

Only the last is within 5% of the paper's 44.0M, so it is the default of ``supnet_r50``:
``branches=((1, 1), (3, 1), (3, 2), (9, 1))`` as (kernel, dilation). The fully dilated reading
is one override away (``branches=[[1, 1], [3, 1], [3, 2], [5, 2]]``).

Dropout sites: on the input of every conv except the stem (conv1, each of the four branch
convs, conv3, the projection shortcut) and of the classifier. Each branch conv has its own
site, so each is its own operation and can be dropped whole. The ``kernel`` tag of a branch
is its receptive field.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.compact_ops import ConstantFeatures, Parallel, SelectChannels, positions
from ..nn.masked_op import MaskedOp
from ..nn.sites import DropoutSite
from .base import Supernet
from .registry import register_supernet


def _conv_op(cin: int, cout: int, k: int, stride: int = 1, dilation: int = 1, **tags) -> MaskedOp:
    site = DropoutSite(cin, kernel=dilation * (k - 1) + 1, **tags)
    conv = nn.Conv2d(
        cin, cout, k, stride, padding=dilation * (k - 1) // 2, dilation=dilation, bias=False
    )
    return MaskedOp([site], conv, nn.BatchNorm2d(cout))


def _split(channels: int, parts: int) -> list[int]:
    """``channels`` split into ``parts`` near-equal groups (the first ones get the remainder)."""
    return [channels // parts + (i < channels % parts) for i in range(parts)]


class InflatedBottleneck(nn.Module):
    """``relu(conv3(relu(cat_b branch_b(relu(conv1(x))))) + shortcut(x))``."""

    def __init__(
        self, conv1: MaskedOp, branches: list[MaskedOp], conv3: MaskedOp, shortcut: MaskedOp | None
    ):
        super().__init__()
        self.conv1, self.branches, self.conv3 = conv1, nn.ModuleList(branches), conv3
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.conv1(x))
        out = torch.cat([b(out) for b in self.branches], dim=1)
        out = self.conv3(F.relu(out))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))

    def compact(self) -> nn.Module:
        """The block under its sites' hard masks, with unused channels and branches removed."""
        shortcut = None if self.shortcut is None else self.shortcut.compact()
        k3 = self.conv3.kept_inputs()[0]
        if k3.numel() == 0:  # nothing reaches conv3: the main path is its BN constant
            g = self.conv1.geometry().then(self.branches[0].geometry()).then(self.conv3.geometry())
            return CompactBottleneck(
                ConstantFeatures(self.conv3.constant_output(None), g), shortcut
            )
        # Which output channels of each branch conv3 keeps; which conv1 channels those branches use.
        needs, start = [], 0
        for b in self.branches:
            n = b.out_channels
            inside = (k3 >= start) & (k3 < start + n)
            needs.append(k3[inside] - start)
            start += n
        used = [(b, need) for b, need in zip(self.branches, needs) if need.numel() > 0]
        kept1 = [b.kept_inputs()[0] for b, _ in used]
        need1 = torch.unique(torch.cat(kept1)) if kept1 else torch.zeros(0, dtype=torch.long)
        if need1.numel() == 0:  # every used branch is a constant: conv1 only carries the shape
            conv1 = ConstantFeatures(torch.zeros(0), self.conv1.geometry())
        else:
            conv1 = self.conv1.compact(need1)
        mids = []
        for (b, need), k in zip(used, kept1):
            if k.numel() == 0:
                mids.append(b.compact(need))  # the branch's BN constant
            else:
                mids.append(
                    nn.Sequential(
                        SelectChannels(positions(k, need1)), b.compact(need, input_is_kept=True)
                    )
                )
        main = nn.Sequential(
            conv1, nn.ReLU(), Parallel(mids), nn.ReLU(), self.conv3.compact(input_is_kept=True)
        )
        return CompactBottleneck(main, shortcut)


class CompactBottleneck(nn.Module):
    """``relu(main(x) + shortcut(x))``: an exported bottleneck."""

    def __init__(self, main: nn.Module, shortcut: nn.Module | None):
        super().__init__()
        self.main, self.shortcut = main, shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.main(x) + (x if self.shortcut is None else self.shortcut(x)))


class ResNetTrunk(nn.Module):
    """stem -> blocks -> global average pool -> classifier."""

    def __init__(self, stem: nn.Module, blocks: nn.Sequential, classifier: nn.Module):
        super().__init__()
        self.stem, self.blocks, self.classifier = stem, blocks, classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, C)


class InflatedResNet(Supernet):
    def __init__(
        self,
        layers=(3, 4, 6, 3),
        widths=(64, 128, 256, 512),
        expansion: int = 4,
        branches=((1, 1), (3, 1), (3, 2), (9, 1)),
        stem_channels: int = 64,
        stem_kernel: int = 7,
        stem_stride: int = 2,
        stem_pool: bool = True,
        in_channels: int = 3,
        num_classes: int = 1000,
    ):
        super().__init__()
        layers, widths = tuple(layers), tuple(widths)
        branches = tuple((int(k), int(d)) for k, d in branches)
        if len(layers) != len(widths):
            raise ValueError(f"layers={layers} and widths={widths} must have the same length")
        if not 1 <= len(branches) <= 4 or any(k % 2 == 0 for k, _ in branches):
            raise ValueError(f"branches={branches}: 1 to 4 (odd kernel, dilation) pairs")
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
        blocks, cin = [], stem_channels
        for stage, (n, width) in enumerate(zip(layers, widths)):
            cout = width * expansion
            for b in range(n):
                stride = 2 if (b == 0 and stage > 0) else 1
                tags = dict(stage=stage, block=b)
                conv1 = _conv_op(cin, width, 1, branch="in", layer=1, **tags)
                parts = [
                    _conv_op(width, c, k, stride, d, branch=i, layer=2, **tags)
                    for i, ((k, d), c) in enumerate(zip(branches, _split(width, len(branches))))
                ]
                conv3 = _conv_op(width, cout, 1, branch="out", layer=3, **tags)
                shortcut = None
                if stride != 1 or cin != cout:
                    shortcut = _conv_op(cin, cout, 1, stride, branch="skip", layer=1, **tags)
                blocks.append(InflatedBottleneck(conv1, parts, conv3, shortcut))
                cin = cout
        head = MaskedOp(
            [DropoutSite(cin, stage="head", block=0, branch="fc", layer=1, kernel=1)],
            nn.Linear(cin, num_classes),
        )
        self.body = ResNetTrunk(nn.Sequential(*stem), nn.Sequential(*blocks), head)
        self.finalize()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def compact_module(self) -> nn.Module:
        blocks = [block.compact() for block in self.body.blocks]
        return ResNetTrunk(
            copy.deepcopy(self.body.stem), nn.Sequential(*blocks), self.body.classifier.compact()
        ).eval()


def _family(defaults: dict):
    def build(**overrides) -> InflatedResNet:
        return InflatedResNet(**{**defaults, **overrides})

    return build


_PAPER_R50 = dict(
    layers=(3, 4, 6, 3),
    widths=(64, 128, 256, 512),
    expansion=4,
    branches=((1, 1), (3, 1), (3, 2), (9, 1)),
    stem_channels=64,
    stem_kernel=7,
    stem_stride=2,
    stem_pool=True,
    in_channels=3,
    num_classes=1000,
)


@register_supernet(
    "supnet_r50", family="inflated_resnet", paper=True, paper_params=44.0e6, input_size=224
)
def supnet_r50(**overrides):
    """SupNet-R-50: ResNet-50, each 3x3 conv as four convs of fields 1/3/5/9, ImageNet, 45.7M."""
    return _family(_PAPER_R50)(**overrides)


@register_supernet("supnet_r50_small", family="inflated_resnet", input_size=28)
def supnet_r50_small(**overrides):
    """A small inflated bottleneck ResNet (3 stages of 1 block, 8/16/32) for CPU demos at 28x28."""
    return _family(
        dict(
            layers=(1, 1, 1),
            widths=(8, 16, 32),
            expansion=4,
            branches=((1, 1), (3, 1), (3, 2), (9, 1)),
            stem_channels=16,
            stem_kernel=3,
            stem_stride=1,
            stem_pool=False,
            in_channels=1,
            num_classes=10,
        )
    )(**overrides)


@register_supernet("supnet_r50_tiny", family="inflated_resnet", input_size=32)
def supnet_r50_tiny(**overrides):
    """A tiny SupNet-R-50 with the ImageNet stem (7x7/2, max-pool) for image-folder tests."""
    return _family(
        dict(
            layers=(1, 1),
            widths=(8, 16),
            expansion=4,
            branches=((1, 1), (3, 1), (3, 2), (9, 1)),
            stem_channels=8,
            stem_kernel=7,
            stem_stride=2,
            stem_pool=True,
            in_channels=3,
            num_classes=10,
        )
    )(**overrides)
