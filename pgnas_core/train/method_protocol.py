"""What the training loop needs from a search method, and where it writes."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import nn


class TrainingMethod(Protocol):
    """What the loop needs from a search method (``pgnas_core.methods.SearchMethod``)."""

    name: str

    def build_supernet(self, data) -> nn.Module: ...  # the supernet, its units gated
    def training_split(self, data): ...  # the dataset the weights train on
    def num_epochs(self) -> int: ...  # how many epochs the training has
    def split_for_epoch(self, data, epoch: int): ...  # an epoch's data (phases: BayesNAS)
    def make_optimizer(self, net, steps_per_epoch: int) -> torch.optim.Optimizer: ...
    def make_scheduler(self, opt, steps_per_epoch: int): ...  # train.schedule, per step
    def gate_for_training(self, net, epoch: int) -> None: ...  # at the start of every epoch
    def loss_terms(self, net) -> torch.Tensor: ...  # added to the CE of every step
    def before_step(self, net, epoch: int, step: int) -> None: ...  # e.g. an architecture step
    def after_epoch(self, net, epoch: int, data) -> None: ...  # e.g. BayesNAS's prior update
    def evaluation_mode(self, net) -> AbstractContextManager: ...  # the net validated per epoch
    def epoch_derived_mode(self, net) -> AbstractContextManager | None: ...  # val_acc_derived
    def gate_for_evaluation(self, net) -> None: ...  # how the trained net is handed back
    def epoch_stats(self, net) -> dict: ...  # extra history.csv columns
    def epoch_tables(self, net, epoch: int) -> dict[str, list[dict]]: ...  # per-epoch rows
    def state_dict(self) -> dict: ...  # what the method keeps outside the net (checkpointed)
    def load_state_dict(self, state: dict) -> None: ...
    def divergence_causes(self) -> list[str]: ...
    def step_settings(self) -> dict[str, str]: ...  # group name -> "field=value" of its lr
    def arch_groups(self, net) -> list[dict]: ...  # groups it steps itself (DARTS's alpha)
    def loss_term_settings(self) -> list[str]: ...  # the settings that scale loss_terms


@dataclass(frozen=True)
class TrainingFiles:
    """Where a training writes (the run directory's layout decides the names)."""

    history: Path  # one row per epoch
    checkpoints: Path  # a folder
    tables: dict[str, Path] = field(default_factory=dict)  # the method's per-epoch tables
