"""PGNAS (Zhou et al., AAAI 2020; docs/method_pgnas.md): a dropout site on every conv input learns
one drop probability p jointly with the weights (relaxed Bernoulli masks, Eq. 16; the negative ELBO
of Eq. 14-15); candidates are sampled from the learned p and ranked on validation data."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

from ..settings import Range, check_settings, setting
from ..supernets import configure_sites
from ..train.loss import WEIGHT_TERMS, regulariser
from .base import DeriveContext, SearchMethod
from .diagnostics import keep_spread
from .registry import register_method
from .sample_and_rank import export_sampled, sample_and_rank


@dataclass
class PosteriorConfig:
    """PGNAS's settings, which the Random baseline shares."""

    tau: float = setting(
        0.2, "temperature of the relaxed Bernoulli mask (Eq. 16)", bounds=Range(0, 10, "(]")
    )
    p_init: float = setting(0.1, "initial drop probability of every site", bounds=Range(0, 1, "()"))
    l2: float = setting(
        50.0,
        "squared prior length-scale l^2: the scale of the weight term (Eq. 15)",
        bounds=Range(0, 1e6),
    )
    n_train: float | None = setting(
        None, "N of Eq. 14", bounds=Range(0, 1e9, "(]"), null="the training-set length"
    )
    weight_term: str = setting(
        "coupled",
        "coupled: l2 (1-p) ||M||^2 | constant: l2 ||M||^2 (Table 2)",
        choices=WEIGHT_TERMS,
    )
    rescale: bool = setting(
        False, "inverted-dropout coordinates (kept channels / (1-p)); off: the official code"
    )
    random_p: float = setting(
        0.1, "the fixed drop rate of the Random baseline", bounds=Range(0, 1, "()")
    )

    def validate(self) -> PosteriorConfig:
        check_settings(self, "posterior")
        return self


@register_method
class PGNAS(SearchMethod):
    name = "pgnas"
    settings_section = "posterior"
    settings_class = PosteriorConfig
    derivation = "sample_and_rank"
    description = "learned drop probability per dropout site; C posterior samples ranked on val"
    supernet_evaluation = "posterior mean"

    export_help = "it exports a sampled candidate (--seed, default: the ranked winner)"
    epoch_table_names = ("keep_probs",)  # keep_probs.csv: one row per site and epoch

    learn_p = True  # the Random baseline fixes p instead
    train_site_mode = "relaxed"  # concrete masks, so gradients reach p (Eq. 16)

    @property
    def weight_term(self) -> str:
        return self.settings.weight_term

    @property
    def initial_p(self) -> float:
        return self.settings.p_init

    # ---- gating: a dropout site on every conv input -------------------------------------
    def create(self, options: dict):
        s = self.settings
        return configure_sites(
            super().create(options),
            p_init=self.initial_p,
            tau=s.tau,
            rescale=s.rescale,
            learnable=self.learn_p,
        )

    def build_supernet(self, data):
        net = super().build_supernet(data)
        self.n_train = self.settings.n_train or self.n_train
        return net

    def gate_for_training(self, net, epoch: int = 1) -> None:
        net.set_site_mode(self.train_site_mode)

    def gate_for_evaluation(self, net) -> None:
        net.set_site_mode("mean")

    @contextmanager
    def evaluation_mode(self, net):
        with net.site_mode("mean"):  # the posterior-mean network
            yield net

    # ---- learned: the weights and one p logit per site ----------------------------------
    def param_groups(self, net) -> list[dict]:
        t = self.cfg.train
        groups = [{"params": net.weight_parameters(), "lr": t.lr, "name": "weights"}]
        thetas = [p for p in net.site_parameters() if p.requires_grad]
        if thetas:
            groups.append({"params": thetas, "lr": t.lr * t.p_lr_scale, "name": "p_logits"})
        return groups

    def loss_terms(self, net):
        """R / N of Eq. 14-15 (no other weight decay)."""
        return regulariser(net, self.settings.l2, self.weight_term).total / self.n_train

    # ---- records ------------------------------------------------------------------------
    def epoch_stats(self, net) -> dict:
        keep = [s.keep_prob.item() for s in net.sites()]
        return dict(
            mean_keep=sum(keep) / len(keep),
            min_keep=min(keep),
            max_keep=max(keep),
            std_keep=keep_spread(keep),
        )

    def epoch_tables(self, net, epoch: int) -> dict[str, list[dict]]:
        return {"keep_probs": [{"epoch": epoch, **row} for row in net.site_table()]}

    def loss_term_settings(self) -> list[str]:
        return [f"posterior.l2={self.settings.l2:g}"]

    def divergence_causes(self) -> list[str]:
        s = self.settings
        if s.l2 <= 0:
            return []
        n = s.n_train if s.n_train else "the training-set length"
        return [f"posterior.l2={s.l2} over N={n} may be too large"]

    # ---- derivation: sample C candidates, rank them on validation -----------------------
    def derive(self, net, data, ctx: DeriveContext):
        return sample_and_rank(net, data, self.cfg, ctx)

    def export(self, net, data, request):
        return export_sampled(self, net, data, request)
