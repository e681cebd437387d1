"""Evaluation-only copies of compact nets: eval-mode BatchNorm folded into the preceding conv.

``fold_batchnorm(net)`` returns a deep copy in which every ``Conv2d`` directly followed by a
``BatchNorm2d`` inside an ``nn.Sequential`` (the layout of :meth:`MaskedOp.compact` and the
stems) becomes one ``Conv2d`` with a bias, and the BN an ``nn.Identity``:
``w' = w * g / sqrt(v + eps)``, ``b' = (b - m) * g / sqrt(v + eps) + beta``. This is exact in
real arithmetic; in float32 the logits move at rounding level only (tests: within 1e-4).
The exported subnet keeps its BN: only the ranker's evaluation copy is folded.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .compact_ops import with_weights


@torch.no_grad()
def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """One conv equal to ``bn(conv(x))`` with ``bn`` in eval mode."""
    scale = (
        bn.weight / torch.sqrt(bn.running_var + bn.eps)
        if bn.affine
        else 1.0 / torch.sqrt(bn.running_var + bn.eps)
    )
    shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
    b = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return with_weights(
        nn.Conv2d,
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        padding_mode=conv.padding_mode,
        weight=conv.weight * scale.view(-1, 1, 1, 1),
        bias=(b - bn.running_mean) * scale + shift,
    ).eval()


def fold_batchnorm(net: nn.Module, inplace: bool = False) -> nn.Module:
    """A copy of ``net`` (eval mode) with each Sequential's Conv2d -> BatchNorm2d pair folded.

    BNs in training mode or without running statistics are left alone."""
    if not inplace:
        net = copy.deepcopy(net)
    net.eval()
    for seq in [m for m in net.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for a, b in zip(names, names[1:]):
            conv, bn = seq._modules[a], seq._modules[b]
            if (
                type(conv) is nn.Conv2d
                and type(bn) is nn.BatchNorm2d
                and not bn.training
                and bn.track_running_stats
                and bn.running_var is not None
                and conv.out_channels == bn.num_features
            ):
                seq._modules[a] = fold_conv_bn(conv, bn)
                seq._modules[b] = nn.Identity()
    return net
