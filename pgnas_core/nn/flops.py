"""Parameter and FLOP counts of a (compact) network: the paper's "Params" columns."""

from __future__ import annotations

import torch
from torch import nn


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def count_flops(module: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one input through ``module``'s convolutions and linear layers (multiply and
    add counted separately), with forward hooks. It counts what torch's ``FlopCounterMode``
    counts for these nets (tests compare the two) and is about 50x faster, which matters
    when every ranked candidate is counted."""
    total = 0

    def conv_hook(m, inp, out):
        nonlocal total
        kh, kw = m.kernel_size
        total += 2 * out.numel() * (m.in_channels // m.groups) * kh * kw

    def linear_hook(m, inp, out):
        nonlocal total
        total += 2 * out.numel() * m.in_features

    hooks = []
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    p = next(module.parameters(), None)
    was_training = module.training
    module.eval()
    try:
        module(torch.zeros(1, *input_shape, device=p.device if p is not None else "cpu"))
    finally:
        for h in hooks:
            h.remove()
        module.train(was_training)
    return int(total)
