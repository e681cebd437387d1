"""Fresh weights for an architecture: training it from scratch, or scoring it where
training-free proxies are taken."""

from __future__ import annotations

import copy

import torch
from torch import nn


def reinitialise(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` with default-initialised weights (seeded; torch's global generator
    is left as it was) and fresh BN statistics."""
    net = copy.deepcopy(model)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm)):
                m.reset_parameters()
    finally:
        torch.random.set_rng_state(state)
    return net
