"""A masked operation: dropout site(s) on the input of one conv (or linear), then its BN.

This is the unit every supernet is built from. It knows the weight each site guards (for the
regulariser, Eq. 15) and how to shrink itself to a candidate's kept channels (the export).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .compact_ops import (
    ChannelScale,
    ConstantFeatures,
    Geometry,
    SelectChannels,
    conv_geometry,
    with_weights,
)
from .sites import DropoutSite


class MaskedOp(nn.Module):
    """``bn(conv(pre(x) * mask))``.

    ``sites`` cover consecutive slices of the input channels (one site for a plain conv; one
    per source feature group for a DenseNet layer). ``pre`` is an optional depthwise conv
    applied before the mask (a separable conv's depthwise half); its channels are pruned
    together with the mask.
    """

    def __init__(
        self,
        sites: list[DropoutSite],
        conv: nn.Conv2d | nn.Linear,
        bn: nn.Module | None = None,
        pre: nn.Conv2d | None = None,
        absent_when_empty: bool = False,
    ):
        super().__init__()
        # An op whose input is entirely dropped under a hard mask: by default the constant its
        # BN makes of zeros (the export keeps it); with absent_when_empty, nothing (the
        # cell space, where an edge without operations is "none").
        self.absent_when_empty = absent_when_empty
        self.sites = nn.ModuleList(sites)
        self.conv = conv
        self.bn = bn if bn is not None else nn.Identity()
        self.pre = pre
        bounds, start = [], 0
        for s in sites:
            bounds.append((start, start + s.channels))
            start += s.channels
        in_channels = conv.in_features if isinstance(conv, nn.Linear) else conv.in_channels
        if start != in_channels:
            raise ValueError(f"sites cover {start} channels, the conv takes {in_channels}")
        if isinstance(conv, nn.Conv2d) and conv.groups != 1:
            raise ValueError("a masked conv must have groups=1 (put depthwise convs in `pre`)")
        self.bounds = bounds

    @property
    def in_channels(self) -> int:
        return self.bounds[-1][1]

    @property
    def out_channels(self) -> int:
        return (
            self.conv.out_features if isinstance(self.conv, nn.Linear) else self.conv.out_channels
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre is not None:
            x = self.pre(x)
        if len(self.sites) == 1:
            x = self.sites[0](x)
        else:
            keeps = [s.keep_weights(x.shape[0]) for s in self.sites]
            if any(k is not None for k in keeps):
                full = [
                    torch.ones(1, s.channels, device=x.device, dtype=x.dtype) if k is None else k
                    for s, k in zip(self.sites, keeps)
                ]
                b = max(k.shape[0] for k in full)
                keep = torch.cat([k.expand(b, -1) for k in full], dim=1)  # (B, C_in)
                x = x * keep.view(b, -1, *([1] * (x.dim() - 2)))
        out = self.bn(self.conv(x))
        if self.absent_when_empty and all(s.mode == "hard" for s in self.sites):
            masks = torch.cat([s.hard_mask.view(-1, s.channels) for s in self.sites], dim=1)
            present = (masks.sum(1) > 0).to(out.dtype)  # (1,) or one per sample row
            out = out * present.view(-1, *([1] * (out.dim() - 1)))
        return out

    def site_weights(self):
        """(site, the slice of the weight it guards): ``M_j`` of Eq. 15."""
        for site, (a, b) in zip(self.sites, self.bounds):
            yield site, self.conv.weight[:, a:b]

    # ---- export -------------------------------------------------------------------------
    def kept_inputs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices of kept input channels, and the multiplier each kept channel gets."""
        masks, scales = [], []
        for s in self.sites:
            m = s.hard_mask.detach().reshape(-1)
            if m.numel() != s.channels:
                raise ValueError(f"site {s.name}: export needs one mask shared by all inputs")
            masks.append(m)
            scales.append(m / s.keep_prob.detach() if s.rescale else m)
        mask, scale = torch.cat(masks), torch.cat(scales)
        idx = torch.nonzero(mask != 0).flatten()
        return idx, scale[idx]

    def geometry(self) -> Geometry:
        g = conv_geometry(self.conv)
        return g if self.pre is None else conv_geometry(self.pre).then(g)

    def constant_output(self, out_idx: torch.Tensor | None) -> torch.Tensor:
        """What this op outputs (eval mode) when every input channel is dropped."""
        if isinstance(self.conv, nn.Linear):
            n = self.conv.out_features
        else:
            n = self.conv.out_channels
        bias = self.conv.bias.detach() if self.conv.bias is not None else torch.zeros(n)
        with torch.no_grad():
            bn = self.bn
            if isinstance(bn, nn.BatchNorm2d):
                value = bn(bias.view(1, n, 1, 1).to(bn.running_mean)).view(n)  # bn is in eval mode
            else:
                value = bn(bias.view(1, n)).view(n)
        return value if out_idx is None else value[out_idx]

    def compact(
        self,
        out_idx: torch.Tensor | None = None,
        input_is_kept: bool = False,
        upstream: Geometry | None = None,
        no_input: bool = False,
    ) -> nn.Module:
        """A plain module equal to this op under the sites' hard masks (eval mode).

        out_idx: output channels some consumer keeps (None: all).
        input_is_kept: the incoming tensor already holds only the kept channels, in order
            (the previous op of a chain was pruned to them); otherwise they are selected.
        upstream: geometry of removed ops before this one, for a constant output's shape.
        no_input: the op receives zeros (an absent op before it): its BN's constant.
        """
        in_idx, scale = self.kept_inputs()
        if in_idx.numel() == 0 or no_input:
            g = self.geometry() if upstream is None else upstream.then(self.geometry())
            linear = isinstance(self.conv, nn.Linear)
            return ConstantFeatures(self.constant_output(out_idx), None if linear else g)
        conv, bn = self.conv, self.bn
        w = conv.weight.detach()
        if out_idx is not None:
            w = w[out_idx]
        w = w[:, in_idx] * scale.view(1, -1, *([1] * (w.dim() - 2)))
        bias = None if conv.bias is None else conv.bias.detach()
        if bias is not None and out_idx is not None:
            bias = bias[out_idx]
        if isinstance(conv, nn.Linear):
            new = with_weights(nn.Linear, w.shape[1], w.shape[0], weight=w, bias=bias)
        else:
            geometry = (conv.kernel_size, conv.stride, conv.padding, conv.dilation)
            new = with_weights(nn.Conv2d, w.shape[1], w.shape[0], *geometry, weight=w, bias=bias)
        layers: list[nn.Module] = []
        if not input_is_kept:
            layers.append(SelectChannels(in_idx))
        if self.pre is not None:
            layers.append(_slice_depthwise(self.pre, in_idx))
        layers.append(new)
        if isinstance(bn, nn.BatchNorm2d):
            layers.append(_slice_bn(bn, out_idx))
        return nn.Sequential(*layers)


def _slice_bn(bn: nn.BatchNorm2d, idx: torch.Tensor | None) -> nn.BatchNorm2d:
    idx = torch.arange(bn.num_features) if idx is None else idx
    new = nn.BatchNorm2d(len(idx), eps=bn.eps, momentum=bn.momentum, affine=bn.affine)
    with torch.no_grad():
        new.running_mean.copy_(bn.running_mean[idx])
        new.running_var.copy_(bn.running_var[idx])
        if bn.affine:
            new.weight.copy_(bn.weight[idx])
            new.bias.copy_(bn.bias[idx])
    return new.eval()


def _slice_depthwise(conv: nn.Conv2d, idx: torch.Tensor) -> nn.Conv2d:
    return with_weights(
        nn.Conv2d,
        len(idx),
        len(idx),
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        groups=len(idx),
        weight=conv.weight[idx],
        bias=None if conv.bias is None else conv.bias[idx],
    )


class MaskedParamFree(MaskedOp):
    """``op(x * mask)`` for a parameter-free operation (identity, pooling) with one dropout
    site on its input: searchable like a conv (all channels dropped = the operation is
    gone), with no weight behind the site (Eq. 15's weight term is 0, its entropy term stays).

    ``op`` must act channel by channel (identity, average pooling), so that masking its
    input equals masking its output."""

    def __init__(self, site: DropoutSite, op: nn.Module | None = None):
        nn.Module.__init__(self)
        self.sites = nn.ModuleList([site])
        self.op = op if op is not None else nn.Identity()
        self.bounds = [(0, site.channels)]
        self.pre = None

    @property
    def out_channels(self) -> int:
        return self.sites[0].channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(self.sites[0](x))

    def site_weights(self):
        site = self.sites[0]
        yield site, site.theta.new_zeros(0)  # ||M||^2 = 0: no weight behind the site

    def geometry(self) -> Geometry:
        return conv_geometry(self.op)

    def constant_output(self, out_idx: torch.Tensor | None) -> torch.Tensor:
        n = self.out_channels if out_idx is None else len(out_idx)
        return torch.zeros(n)  # no input, no bias: zeros

    def compact(self, out_idx=None, input_is_kept=False, upstream=None, no_input=False):
        """The op on the kept channels, the others zero (all output channels stay); None
        when nothing is kept (its output is zero: the caller leaves it out)."""
        idx, scale = self.kept_inputs()
        if idx.numel() == 0 or no_input:
            return None
        scales = torch.zeros(self.out_channels)
        scales[idx] = scale.to(scales)
        if bool((scales == 1).all()):
            return copy.deepcopy(self.op)
        return nn.Sequential(ChannelScale(scales), copy.deepcopy(self.op))
