"""The Random baseline (Bender et al. 2018; paper Table 3): the PGNAS supernet trained with a
fixed, predefined drop rate (ordinary dropout, hard Bernoulli masks, plain weight decay),
then sampled and ranked the same way with that rate."""

from __future__ import annotations

from .pgnas import PGNAS, PosteriorConfig
from .registry import register_method


@register_method
class RandomBaseline(PGNAS):
    name = "random"
    settings_section = "posterior"
    settings_class = PosteriorConfig
    description = "fixed drop rate posterior.random_p (ordinary dropout); samples ranked on val"
    supernet_evaluation = "mean mask"

    learn_p = False
    train_site_mode = "bernoulli"

    @property
    def weight_term(self) -> str:
        return "constant"  # plain weight decay l2 ||M||^2, not coupled to p

    @property
    def initial_p(self) -> float:
        return self.settings.random_p

    def divergence_causes(self) -> list[str]:
        return []
