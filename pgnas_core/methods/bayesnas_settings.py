"""The ``bayesnas`` section: BayesNAS's settings (its method is in :mod:`.bayesnas`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Range, check_settings, setting
from ..supernets.mixed_edge import SHARING

PRUNE_BY = ("relevance", "magnitude")
INITS = ("one", "uniform")


@dataclass
class BayesnasConfig:
    """BayesNAS's settings: the group lasso on the switches, its two phases and the pruning.

    The paper's numbers for these defaults are unverified."""

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
    lr: float = setting(
        0.1, "learning rate of SGD on the weights and switches", bounds=Range(0, 10, "(]")
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
