"""The DARTS space's operations (Liu et al., ICLR 2019, ``operations.py``), built from dropout-
site modules so that every method searches them (docs/method_siblings.md section 2): a site on
every operation's input channels, as in the NAS-Bench-201 cell. Convolutions are ReLU-conv-BN
(BN without affine parameters, as in DARTS's search); sep_conv is (ReLU, depthwise conv,
pointwise conv, BN) twice; dil_conv is ReLU, depthwise conv of dilation 2, pointwise conv, BN.
skip_connect at stride 2 is a FactorizedReduce.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..nn.compact_ops import Chain, SelectChannels
from ..nn.masked_op import MaskedOp, MaskedParamFree
from ..nn.sites import DropoutSite


def relu_conv_bn(cin: int, cout: int, k: int = 1, stride: int = 1) -> nn.Module:
    """A cell's fixed input preprocessing (no site)."""
    return nn.Sequential(
        nn.ReLU(),
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(cout, affine=False),
    )


class FactorizedReduce(nn.Module):
    """ReLU, two 1x1 stride-2 convs (the second on the input shifted by one pixel),
    concatenated, BN: halves the resolution. Odd sizes are padded on the bottom right, so
    both halves have the same size (DARTS assumes even sizes; for those it is the same)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv_1 = nn.Conv2d(cin, cout // 2, 1, 2, bias=False)
        self.conv_2 = nn.Conv2d(cin, cout - cout // 2, 1, 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, affine=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(x)
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class MaskedFactorizedReduce(MaskedOp):
    """A FactorizedReduce with a dropout site on its input; with its input all dropped
    (hard mask) it is absent (zeros), like every operation of a cell."""

    def __init__(self, site: DropoutSite, cout: int):
        nn.Module.__init__(self)
        self.sites = nn.ModuleList([site])
        self.fr = FactorizedReduce(site.channels, cout)
        self.bounds = [(0, site.channels)]
        self.pre = None
        self.absent_when_empty = True

    @property
    def out_channels(self) -> int:
        return self.fr.bn.num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        site = self.sites[0]
        out = self.fr(site(x))
        if site.mode == "hard":
            present = (site.hard_mask.view(-1, site.channels).sum(1) > 0).to(out.dtype)
            out = out * present.view(-1, *([1] * (out.dim() - 1)))
        return out

    def site_weights(self):
        yield self.sites[0], torch.cat([self.fr.conv_1.weight, self.fr.conv_2.weight])

    @torch.no_grad()
    def compact(self, out_idx=None, input_is_kept=False, upstream=None, no_input=False):
        """The kept input channels into a smaller FactorizedReduce; None when none is kept."""
        idx, scale = self.kept_inputs()
        if idx.numel() == 0:
            return None
        new = FactorizedReduce(len(idx), self.out_channels)
        for a, b in ((new.conv_1, self.fr.conv_1), (new.conv_2, self.fr.conv_2)):
            a.weight.copy_(b.weight[:, idx] * scale.view(1, -1, 1, 1))
        new.bn.load_state_dict(self.fr.bn.state_dict())
        return nn.Sequential(SelectChannels(idx), new).eval()


def _sep_half(c: int, k: int, stride: int, dilation: int, **tags) -> MaskedOp:
    site = DropoutSite(c, **tags)
    pad = dilation * (k - 1) // 2
    dw = nn.Conv2d(c, c, k, stride, pad, dilation=dilation, groups=c, bias=False)
    pw = nn.Conv2d(c, c, 1, bias=False)
    # the depthwise conv runs before the mask: per channel, so it equals masking its input
    return MaskedOp([site], pw, nn.BatchNorm2d(c, affine=False), pre=dw, absent_when_empty=True)


def darts_op(name: str, c: int, stride: int, **tags) -> nn.Module:
    """One candidate operation of an edge (``c`` channels in and out)."""
    tags = {"layer": name, **tags}
    if name == "max_pool_3x3":
        return MaskedParamFree(DropoutSite(c, **tags), nn.MaxPool2d(3, stride, 1))
    if name == "avg_pool_3x3":
        pool = nn.AvgPool2d(3, stride, 1, count_include_pad=False)
        return MaskedParamFree(DropoutSite(c, **tags), pool)
    if name == "skip_connect":
        site = DropoutSite(c, **tags)
        return MaskedParamFree(site) if stride == 1 else MaskedFactorizedReduce(site, c)
    kind, k = name.rsplit("_", 1)[0], int(name[-3])
    if kind == "sep_conv":
        return Chain([_sep_half(c, k, stride, 1, **tags), _sep_half(c, k, 1, 1, **tags)])
    if kind == "dil_conv":
        return Chain([_sep_half(c, k, stride, 2, **tags)])
    raise ValueError(f"unknown DARTS operation {name!r}")
