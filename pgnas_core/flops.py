"""Parameter and FLOP counts of a (compact) network: the paper's "Params" columns."""
from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@torch.no_grad()
def count_flops(module: torch.nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs (multiply and add counted separately) of one forward pass of one input."""
    p = next(module.parameters(), None)
    x = torch.zeros(1, *input_shape, device=p.device if p is not None else "cpu")
    was_training = module.training
    module.eval()
    with FlopCounterMode(display=False) as counter:
        module(x)
    module.train(was_training)
    return int(counter.get_total_flops())
