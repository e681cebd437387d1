"""The ``bayesnas`` section: BayesNAS's settings (its method is in :mod:`.bayesnas`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Range, check_settings, setting
from ..supernets.mixed_edge import SHARING

PRUNE_BY = ("relevance", "magnitude")
INITS = ("one", "uniform")
HESSIAN_SCALES = ("mean", "batch", "data")


@dataclass
class BayesnasConfig:
    """BayesNAS's settings: the group lasso on the switches, its two phases and the pruning.

    The paper's numbers for these defaults are unverified.

    ``hessian_scale``: the Laplace precision of a switch is the curvature of the negative
    log-likelihood of the data it was fitted on, a *sum* over samples, divided by lambda (the
    paper's Gaussian-likelihood variance): ``data`` (the default), the switch split's size x
    the mean GGN. The official code (search/Algorithm.py, ``hessian_control_scalar``) sums the
    curvature over the samples of one batch only (its last, of 18) and divides by lambda
    (``update``): ``batch``, batch_size x the mean GGN. ``mean`` (this toolkit's earlier
    behaviour) leaves H a per-sample average, so small on a small net that gamma ~ ||s|| x
    sqrt(1 + 1/H) ranks the switches by flatness rather than by their values."""

    lam: float = setting(
        0.01,
        "lambda of the group lasso on the parent switches (and the children's)",
        bounds=Range(0, 1000, "(]"),
    )
    lam_child: float | None = setting(
        None, "the children's lambda", bounds=Range(0, 1000, "(]"), null="bayesnas.lam"
    )
    threshold: float = setting(
        0.1,
        "keep children whose relevance > threshold * the largest one",
        bounds=Range(0, 1, "[)"),
    )
    prune_by: str = setting(
        "relevance",
        "relevance (BayesNAS) | magnitude (||s_g||, for comparison)",
        choices=PRUNE_BY,
    )
    share: str = setting(
        "all", "cells whose switches form one group: all | stage | cell", choices=SHARING
    )
    warmup_fraction: float = setting(
        0.1,
        "phase A's share of the training split (seeded, disjoint)",
        bounds=Range(0, 1, "()"),
    )
    warmup_epochs: int = setting(1, "passes of phase A", bounds=Range(0, 100_000))
    rounds: int = setting(
        1,
        "T: phase B passes, each followed by a Laplace/ARD update",
        bounds=Range(1, 10_000),
    )
    hessian_batches: int = setting(
        8, "M: batches the diagonal GGN is averaged over", bounds=Range(1, 100_000)
    )
    hessian_scale: str = setting(
        "data",
        "H_j = diag GGN of the mean CE x 1 (mean) | x batch_size (batch: the official code's "
        "sum over a batch) | x the switch split's size (data: the whole data's NLL)",
        choices=HESSIAN_SCALES,
    )
    lr: float = setting(
        0.1, "learning rate of SGD on the weights and switches", bounds=Range(0, 10, "(]")
    )
    switch_lr_scale: float = setting(
        1.0,
        "the switches' learning rate is bayesnas.lr times this (the official code: 1)",
        bounds=Range(0, 1000, "(]"),
    )
    momentum: float = setting(0.9, "SGD's momentum", bounds=Range(0, 1, "[)"))
    weight_decay: float = setting(
        1e-4, "weight decay of the weights (the switches have none)", bounds=Range(0, 1)
    )
    init: str = setting(
        "one",
        "gamma and omega start at 1 (one) | uniform in [0, 1] (the official code)",
        choices=INITS,
    )
    # the lasso shrinks switches faster than eval-mode running statistics follow
    bn_recalibration_batches: int = setting(
        10,
        "evaluations re-estimate BN statistics on this many training batches (0: off)",
        bounds=Range(0, 100_000),
    )

    def validate(self) -> BayesnasConfig:
        check_settings(self, "bayesnas")
        return self
