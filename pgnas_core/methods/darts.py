"""DARTS, first order (Liu et al. 2019; docs/method_siblings.md sections 3-4): point estimates of
the architecture logits alpha, learned with Adam on the validation half's loss, one step before
every weight step; the architecture is the argmax per edge."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..settings import Range, check_settings, setting
from .differentiable import BilevelSettings, DifferentiableMethod
from .registry import register_method


@dataclass
class DartsConfig(BilevelSettings):
    """DARTS's settings: Adam on alpha, with the DARTS defaults."""

    arch_lr: float = setting(
        3e-4,
        "Adam's learning rate on alpha (3e-3 for minutes-long CPU runs)",
        bounds=Range(0, 1, "(]"),
    )
    arch_weight_decay: float = setting(
        1e-3, "Adam's (L2) weight decay on alpha", bounds=Range(0, 1)
    )

    def validate(self) -> DartsConfig:
        check_settings(self, "darts")
        return self


@register_method
class DARTS(DifferentiableMethod):
    name = "darts"
    capabilities = frozenset({"epoch_architectures"})
    settings_section = "darts"
    settings_class = DartsConfig
    description = "softmax-mixed edges, alpha by Adam on the val half (first order); argmax"

    def make_arch_optimizer(self, net) -> torch.optim.Optimizer:
        s = self.settings
        return torch.optim.Adam(
            [net.gating.alpha],
            lr=s.arch_lr,
            betas=(s.beta1, s.beta2),
            weight_decay=s.arch_weight_decay,
        )

    def arch_step(self, net, x, y) -> None:
        alpha = net.gating.alpha
        alpha.grad = self.arch_loss_grad(net, x, y, alpha)
        self.arch_optimizer.step()
        alpha.grad = None
