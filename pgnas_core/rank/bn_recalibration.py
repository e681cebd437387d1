"""Batch-norm recalibration (off by default, as in the paper): before a candidate is scored,
its BN statistics are re-estimated on a few training batches under its hard masks."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def bn_modules(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@torch.no_grad()
def recalibrate_bn(
    supernet: nn.Module, x_train: torch.Tensor, batches: int, batch_size: int
) -> None:
    """Re-estimate every BN's running statistics under the current hard masks.

    The statistics become the plain average over ``batches`` consecutive batches of
    ``x_train`` (BN momentum None); weights are untouched. See :func:`bn_statistics_kept`
    to restore the supernet's own statistics afterwards.
    """
    bns = bn_modules(supernet)
    saved = [(m.momentum, m.training) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average
        m.train()
    for j in range(batches):
        i = (j * batch_size) % max(len(x_train) - batch_size + 1, 1)
        supernet(x_train[i : i + batch_size])
    for m, (momentum, training) in zip(bns, saved):
        m.momentum = momentum
        m.train(training)


def bn_state(net: nn.Module) -> list[tuple[torch.Tensor, ...]]:
    return [
        (m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
        for m in bn_modules(net)
    ]


def load_bn_state(net: nn.Module, state) -> None:
    for m, (mean, var, nbt) in zip(bn_modules(net), state):
        m.running_mean.copy_(mean)
        m.running_var.copy_(var)
        m.num_batches_tracked.copy_(nbt)


@contextmanager
def bn_statistics_kept(net: nn.Module, enabled: bool = True):
    """Inside, BN statistics may be recalibrated; on leaving, the net's own come back."""
    saved = bn_state(net) if enabled else None
    try:
        yield
    finally:
        if saved is not None:
            load_bn_state(net, saved)
