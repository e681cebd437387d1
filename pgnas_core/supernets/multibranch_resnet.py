"""The multi-branch ResNet family (SupNet-M / SupNet-MI, after shake-shake 26 2x96d).

Stem 3x3 conv; 3 stages of residual blocks; a block is ``skip(x) + sum_b branch_b(x)`` with
branch ``ReLU-Conv-BN-ReLU-Conv-BN`` (kernel size per branch); the downsampling skip is two
concatenated ``AvgPool(1x1, stride 2)-Conv1x1`` paths (the second shifted by one pixel);
then ReLU-GAP-FC. Every conv except the stem, and the classifier, has a dropout site.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..architecture import Architecture
from ..nn.compact_ops import Chain, compact_chain
from ..nn.masked_op import MaskedOp
from ..nn.sites import DropoutSite
from .base import Supernet, SwitchLayout
from .registry import register_supernet


def _conv_op(cin: int, cout: int, k: int, stride: int, absent: bool = False, **tags) -> MaskedOp:
    site = DropoutSite(cin, kernel=k, **tags)
    conv = nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False)
    return MaskedOp([site], conv, nn.BatchNorm2d(cout), absent_when_empty=absent)


class DownsampleSkip(nn.Module):
    """Shake-shake's downsampling shortcut: ReLU, two AvgPool(1, s)-Conv1x1-BN paths, concat."""

    def __init__(self, stride: int, path1: nn.Module, path2: nn.Module):
        super().__init__()
        self.stride, self.path1, self.path2 = stride, path1, path2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        y1 = F.avg_pool2d(x, 1, self.stride)
        y2 = F.avg_pool2d(F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1)), 1, self.stride)  # shift by one
        return torch.cat([self.path1(y1), self.path2(y2)], dim=1)


class StridedSkip(nn.Module):
    """``DownsampleSkip`` with ``avg_pool2d(x, 1, s)`` written as the equal slice ``[::s]``
    (exact, and cheaper: evaluation copies only)."""

    def __init__(self, skip: DownsampleSkip):
        super().__init__()
        self.stride, self.path1, self.path2 = skip.stride, skip.path1, skip.path2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        s = self.stride
        y1 = x[:, :, ::s, ::s]
        y2 = F.pad(x[:, :, 1:, 1:], (0, 1, 0, 1))[:, :, ::s, ::s]
        return torch.cat([self.path1(y1), self.path2(y2)], dim=1)


class ResidualBlock(nn.Module):
    def __init__(self, skip: nn.Module, branches: list[nn.Module]):
        super().__init__()
        self.skip = skip
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor, scale=None, weights=None) -> torch.Tensor:
        """``skip(x) + sum_b w_b branch_b(scale * x)`` (switches: BayesNAS; else 1)."""
        out = self.skip(x)
        xb = x if scale is None else x * scale
        for b, branch in enumerate(self.branches):
            out = out + (branch(xb) if weights is None else weights[b] * branch(xb))
        return out


class ScaledBranch(nn.Module):
    """``out_scale * branch(in_scale * x)``: a compact branch with its switches' values."""

    def __init__(self, branch: nn.Module, in_scale: float, out_scale: float):
        super().__init__()
        self.branch = branch
        self.register_buffer("in_scale", torch.tensor(float(in_scale)))
        self.register_buffer("out_scale", torch.tensor(float(out_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch(x * self.in_scale) * self.out_scale


class ResNetBody(nn.Module):
    """stem -> blocks -> ReLU -> global average pool -> classifier."""

    def __init__(self, stem: nn.Module, blocks: nn.Sequential, classifier: nn.Module):
        super().__init__()
        self.stem, self.blocks, self.classifier = stem, blocks, classifier

    def forward(self, x: torch.Tensor, gates=None) -> torch.Tensor:
        h = self.stem(x)
        if gates is None:
            h = self.blocks(h)
        else:  # switches: block u's input scale and branch weights
            for u, block in enumerate(self.blocks):
                h = block(h, gates.input_scale[u, 0], gates.op_weights[u, 0])
        x = F.relu(h)
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, C)


class BodyFromStem(nn.Module):
    """A compact ``ResNetBody`` without its stem: its input is the stem's cached output."""

    def __init__(self, body: ResNetBody):
        super().__init__()
        self.blocks, self.classifier = body.blocks, body.classifier

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(h))
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(h, 1), 1))


class MultiBranchResNet(Supernet):
    def __init__(
        self,
        widths=(96, 192, 384),
        blocks_per_stage: int = 4,
        branch_kernels=(3, 3),
        stem_channels: int = 16,
        in_channels: int = 3,
        num_classes: int = 10,
        stem_stride: int = 1,
        switches: bool = False,
    ):
        """``switches``: built for BayesNAS's switches (a parent per block over its branches,
        a child per branch output): a branch with every input dropped is absent (zero), not
        its BN's constant, and the export keeps the switches' values."""
        super().__init__()
        widths, branch_kernels = tuple(widths), tuple(branch_kernels)
        self.switches, self.gating = switches, None
        if not 1 <= len(branch_kernels) <= 4:
            raise ValueError(f"branch_kernels={branch_kernels}: 1 to 4 branches")
        stem = nn.Sequential(
            nn.Conv2d(in_channels, stem_channels, 3, stem_stride, 1, bias=False),
            nn.BatchNorm2d(stem_channels),
        )
        blocks, cin = [], stem_channels
        for stage, width in enumerate(widths):
            for b in range(blocks_per_stage):
                stride = 2 if (b == 0 and stage > 0) else 1
                tags = dict(stage=stage, block=b)
                branches = [
                    Chain(
                        [
                            _conv_op(cin, width, k, stride, switches, branch=i, layer=1, **tags),
                            _conv_op(width, width, k, 1, switches, branch=i, layer=2, **tags),
                        ]
                    )
                    for i, k in enumerate(branch_kernels)
                ]
                if stride == 1 and cin == width:
                    skip = nn.Identity()
                else:
                    half = width // 2
                    skip = DownsampleSkip(
                        stride,
                        *(
                            _conv_op(cin, n, 1, 1, branch="skip", layer=1, path=j, **tags)
                            for j, n in enumerate((half, width - half))
                        ),
                    )
                blocks.append(ResidualBlock(skip, branches))
                cin = width
        head = MaskedOp(
            [DropoutSite(cin, stage="head", block=0, branch="fc", layer=1, kernel=1)],
            nn.Linear(cin, num_classes),
        )
        self.body = ResNetBody(stem, nn.Sequential(*blocks), head)
        self.finalize()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x, None if self.gating is None else self.gating())

    # ---- switches (BayesNAS): a parent per block, a child per branch -------------------------
    def switch_layout(self, share: str = "all") -> SwitchLayout | None:
        if not self.switches:
            return None
        n = len(self.body.blocks)
        kernels = [
            op.conv.kernel_size[0] for op in (br.ops[0] for br in self.body.blocks[0].branches)
        ]
        children = tuple(f"branch{i} {k}x{k}" for i, k in enumerate(kernels))
        return SwitchLayout(n, ("block",), children, tuple(range(n)))  # no sharing: blocks differ

    def attach_gating(self, gating: nn.Module | None, share: str = "all") -> None:
        if not self.switches:
            raise TypeError("build the supernet with switches=True to gate it")
        self.gating = gating

    def architecture_from_children(self, kept: torch.Tensor) -> Architecture:
        masks = {}
        for u, block in enumerate(self.body.blocks):
            for b, branch in enumerate(block.branches):
                for op in branch.ops:
                    for site in op.sites:
                        masks[site.name] = torch.full((site.channels,), float(kept[u, 0, b]))
        for s in self.sites():  # the skips' and the classifier's sites: kept whole
            masks.setdefault(s.name, torch.ones(s.channels))
        return self.architecture_from_masks(masks)

    def compact_module(self) -> nn.Module:
        gates = self.gating() if self.gating is not None else None
        blocks = []
        for u, block in enumerate(self.body.blocks):
            branches = []
            for b, br in enumerate(block.branches):
                part = compact_chain(list(br.ops))
                if part is None:
                    continue  # an absent branch (switches): zero
                if self.switches:  # the structure never depends on the switches' values
                    a = 1.0 if gates is None else float(gates.input_scale[u, 0])
                    w = 1.0 if gates is None else float(gates.op_weights[u, 0, b])
                    part = ScaledBranch(part, a, w)
                branches.append(part)
            skip = block.skip
            if isinstance(skip, DownsampleSkip):
                # each path's input is already pooled, so a constant path needs no upstream
                skip = DownsampleSkip(skip.stride, skip.path1.compact(), skip.path2.compact())
            blocks.append(ResidualBlock(skip, branches))
        stem = copy.deepcopy(self.body.stem)
        return ResNetBody(stem, nn.Sequential(*blocks), self.body.classifier.compact()).eval()

    def shared_stem(self) -> nn.Module:
        return self.body.stem  # a plain conv + BN: no dropout site, copied as is by the export

    def evaluation_module(self, compact: nn.Module, from_stem: bool = False) -> nn.Module:
        for m in list(compact.modules()):
            for name, child in list(m._modules.items()):
                if type(child) is DownsampleSkip:
                    m._modules[name] = StridedSkip(child)
        return BodyFromStem(compact) if from_stem else compact


def _family(defaults: dict):
    def build(**overrides) -> MultiBranchResNet:
        return MultiBranchResNet(**{**defaults, **overrides})

    return build


_PAPER_M = dict(widths=(96, 192, 384), blocks_per_stage=4, branch_kernels=(3, 3), stem_channels=16)


@register_supernet("supnet_m", family="multibranch_resnet", paper=True, paper_params=26.2e6)
def supnet_m(**overrides):
    """SupNet-M: two-branch ResNet 26 2x96d (shake-shake's net), CIFAR, 26.2M params."""
    return _family(_PAPER_M)(**overrides)


@register_supernet("supnet_mi", family="multibranch_resnet", paper=True, paper_params=72.7e6)
def supnet_mi(**overrides):
    """SupNet-MI: SupNet-M inflated to widths 160/320/640, CIFAR, 72.7M params."""
    return _family({**_PAPER_M, "widths": (160, 320, 640)})(**overrides)


@register_supernet("supnet_m_tiny", family="multibranch_resnet", input_size=8)
def supnet_m_tiny(**overrides):
    """A tiny two-branch ResNet (8/16/32 wide, 1 block per stage) for tests and digits."""
    return _family(
        dict(
            widths=(8, 16, 32),
            blocks_per_stage=1,
            branch_kernels=(3, 3),
            stem_channels=8,
            in_channels=1,
        )
    )(**overrides)


@register_supernet("supnet_m_small", family="multibranch_resnet", input_size=28)
def supnet_m_small(**overrides):
    """A small two-branch ResNet (3x3 and 5x5 branches, 16/32/64, stride-2 stem) for CPU demos.

    Meant for 28x28 images: the stride-2 stem makes it about four times cheaper per image."""
    return _family(
        dict(
            widths=(16, 32, 64),
            blocks_per_stage=1,
            branch_kernels=(3, 5),
            stem_channels=16,
            in_channels=1,
            stem_stride=2,
        )
    )(**overrides)
