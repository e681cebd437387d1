"""BayesNAS (Zhou et al., ICML 2019; docs/method_siblings.md section 5): architecture search as
compression with hierarchical automatic relevance determination (HARD) priors on switches.

Every edge of the cell space has a parent switch ``s_e`` multiplying its input and every
operation a child switch ``s_ek`` multiplying its output (after its last normalisation):
``out_e = sum_k s_ek op_k(s_e x)``, all starting at 1. A *group* is one switch across the cells
that share an architecture (``bayesnas.share``): a vector with one entry per cell.

- Phase A: the weights alone (switches fixed at 1) on a seeded ``warmup_fraction`` of the
  training split, ``warmup_epochs`` passes.
- Phase B: weights (SGD, weight decay) and switches (no decay) on the disjoint rest, one pass,
  minimising ``CE + lam sum_e omega_e ||s_e|| + lam_child sum_ek omega_ek ||s_ek||`` (a
  weighted group lasso); then one Laplace / ARD update from the diagonal GGN of the CE in the
  switches (:mod:`pgnas_core.train.curvature`, averaged over ``hessian_batches`` batches)::

      H_j = diag GGN_j x scale / lambda (its level; scale: bayesnas.hessian_scale)
      C_j = (1 / gamma_g + H_j)^-1                          (posterior variance)
      omega_g = sqrt(sum_cells |1/gamma_g - C_j / gamma_g^2|)
      gamma_g = ||s_g|| / omega_g
      gamma_child <- (1/gamma_child + 1/gamma_parent)^-1   (HARD: a pruned parent prunes)

  ``rounds`` > 1 repeats phase B and the update (T; the paper's is 1).
- Derivation: every child whose relevance exceeds ``threshold`` times the largest child
  relevance is kept, under a kept parent; several operations may survive on an edge, an edge
  whose parent is pruned is "none". ``prune_by: magnitude`` ranks by ``||s_g||`` instead.

Choices of ours (documented deviations): gamma and omega start at 1 (the official code draws
them uniformly in [0, 1]: ``init: uniform``); phase A and B are disjoint; the GGN is averaged
over M batches (the official code uses the last batch of 18 images) and computed with
torch.func, in eval mode, then scaled to a sum over the switch split (``hessian_scale: data``,
the Laplace approximation's; the official code sums over one batch: ``batch``); the switches
may learn faster than the weights (``switch_lr_scale``; the official code: 1).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from ..data import stack_split
from ..data.order import mix_seed
from ..data.splits import split_in_two
from ..errors import PgnasError
from ..rank import export_subnet
from ..supernets import configure_sites
from ..train.curvature import per_sample_ggn_diagonal
from ..train.evaluation import evaluate
from .base import DeriveContext, Derived, Exported, ExportRequest, SearchMethod
from .bayesnas_settings import BayesnasConfig
from .diagnostics import spearman, switch_sparsity
from .registry import register_method
from .switches import Switches, ard_update


@register_method
class BayesNAS(SearchMethod):
    name = "bayesnas"
    settings_section = "bayesnas"
    settings_class = BayesnasConfig
    derivation = "prune"
    capabilities = frozenset({"pruning"})
    description = "switches with hierarchical ARD priors, one epoch, pruned by posterior relevance"
    supernet_evaluation = "every switch"
    export_help = "it exports the pruned net (no options)"
    epoch_table_names = ("switches",)

    # ---- gating: switches on every edge's input and every operation's output ------------
    def create(self, options: dict):
        """The supernet with switches: the cell space (a parent per edge, a child per
        operation), or a multi-branch ResNet built with ``switches`` (a parent per block, a
        child per branch)."""
        net = super().create(options)
        if net.switch_layout() is None:
            try:
                net = super().create({**options, "switches": True})
            except PgnasError:
                pass
        if net.switch_layout() is None:
            raise PgnasError(
                f"method bayesnas needs a supernet with switches: the cell space (supnet_cell, "
                f"supnet_cell_small, supnet_cell_tiny) or a multi-branch ResNet (supnet_m, "
                f"supnet_mi, supnet_m_small, supnet_m_tiny), not {self.cfg.supernet.name}"
            )
        configure_sites(net, learnable=False)  # channels are not searched: sites off
        net.set_site_mode("off")
        self.layout = layout = net.switch_layout(self.settings.share)
        net.attach_gating(
            Switches(layout.units, len(layout.edges), len(layout.children)), share="cell"
        )  # one switch per unit; groups only tie their priors
        self._init_state()
        return net

    def _init_state(self) -> None:
        """gamma and omega per group, and the group structure: which units share switches."""
        s, layout = self.settings, self.layout
        groups = torch.tensor(layout.groups)
        self.membership = (groups[None] == torch.arange(int(groups.max()) + 1)[:, None]).float()
        g = self.membership.shape[0]
        shapes = {
            "parent": (g, len(layout.edges)),
            "child": (g, len(layout.edges), len(layout.children)),
        }
        if s.init == "uniform":
            gen = torch.Generator().manual_seed(mix_seed(self.cfg.train.seed, 0x6A4))
            self.gamma = {k: torch.rand(v, generator=gen) for k, v in shapes.items()}
            self.omega = {k: torch.rand(v, generator=gen) for k, v in shapes.items()}
        else:
            self.gamma = {k: torch.ones(v) for k, v in shapes.items()}
            self.omega = {k: torch.ones(v) for k, v in shapes.items()}
        self.variance = {
            k: torch.full((len(groups), *v[1:]), float("nan")) for k, v in shapes.items()
        }

    # ---- splits and schedule: phase A (warm-up), then rounds of phase B -------------------
    def _splits(self, data):
        if getattr(self, "_split_of", None) is not data:
            seed = mix_seed(self.cfg.data.split_seed, 0xBA1E)
            self._warmup, self._switch_split = split_in_two(
                data.train, self.settings.warmup_fraction, seed
            )
            self._split_of = data
            self._switch_size = len(self._switch_split)
        return self._warmup, self._switch_split

    def training_split(self, data):
        return self._splits(data)[1]

    def num_epochs(self) -> int:
        return self.settings.warmup_epochs + self.settings.rounds

    def in_warmup(self, epoch: int) -> bool:
        return epoch <= self.settings.warmup_epochs

    def split_for_epoch(self, data, epoch: int):
        warmup, switch_split = self._splits(data)
        return warmup if self.in_warmup(epoch) else switch_split

    def gate_for_training(self, net, epoch: int = 1) -> None:
        net.set_site_mode("off")
        learn = not self.in_warmup(epoch)  # phase A: the switches stay at 1
        for p in (net.gating.parent, net.gating.child):
            p.requires_grad_(learn)
        self._phase_b = learn

    def gate_for_evaluation(self, net) -> None:
        net.set_site_mode("off")

    # ---- what is learned ----------------------------------------------------------------
    def param_groups(self, net) -> list[dict]:
        s = self.settings
        switches = [net.gating.parent, net.gating.child]
        ids = {id(p) for p in switches}
        weights = [p for p in net.parameters() if id(p) not in ids and not _is_theta(net, p)]
        return [
            {"params": weights, "lr": s.lr, "weight_decay": s.weight_decay, "name": "weights"},
            {
                "params": switches,
                "lr": s.lr * s.switch_lr_scale,
                "weight_decay": 0.0,
                "name": "switches",
            },
        ]

    def step_settings(self) -> dict[str, str]:
        s = self.settings
        lr = f"bayesnas.lr={s.lr:g}"
        if s.switch_lr_scale == 1:
            return {"weights": lr, "switches": lr}
        return {"weights": lr, "switches": f"{lr} x bayesnas.switch_lr_scale={s.switch_lr_scale:g}"}

    def loss_term_settings(self) -> list[str]:
        s = self.settings
        child = [f"bayesnas.lam_child={s.lam_child:g}"] if s.lam_child is not None else []
        return [f"bayesnas.lam={s.lam:g}", *child]

    def make_optimizer(self, net, steps_per_epoch: int) -> torch.optim.Optimizer:
        s = self.settings
        return torch.optim.SGD(self.param_groups(net), lr=s.lr, momentum=s.momentum)

    def make_scheduler(self, opt, steps_per_epoch: int):
        """A constant rate (bayesnas.lr), as the official code: phase B is one pass."""
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)

    def lams(self) -> tuple[float, float]:
        s = self.settings
        return s.lam, s.lam_child if s.lam_child is not None else s.lam

    def group_norms(self, net) -> dict[str, torch.Tensor]:
        """||s_g||: each switch's norm over the cells of its group, (G, 6) and (G, 6, 4)."""
        m = self.membership.to(net.gating.parent.device)
        out = {}
        for level in ("parent", "child"):
            s = getattr(net.gating, level)
            sq = m @ s.pow(2).reshape(s.shape[0], -1)  # (G, -1)
            out[level] = sq.clamp_min(0).sqrt().reshape(m.shape[0], *s.shape[1:])
        return out

    def loss_terms(self, net) -> torch.Tensor:
        """The weighted group lasso (phase B only)."""
        if not getattr(self, "_phase_b", False):
            return torch.zeros((), device=net.gating.parent.device)
        lam_p, lam_c = self.lams()
        norms = self.group_norms(net)
        dev = norms["parent"].device
        return (
            lam_p * (self.omega["parent"].to(dev) * norms["parent"]).sum()
            + lam_c * (self.omega["child"].to(dev) * norms["child"]).sum()
        )

    # ---- the Laplace / ARD update after each phase-B pass -------------------------------
    def after_epoch(self, net, epoch: int, data) -> None:
        if self.in_warmup(epoch):
            return
        self.update_priors(net, self.curvature_batches(data))

    def curvature_batches(self, data) -> list:
        """The M batches the diagonal GGN is averaged over: the first M of the switch split,
        un-augmented and in a fixed order (the same ones every round)."""
        x, y = stack_split(self.training_split(data))  # un-augmented, as evaluated
        b, m = self.cfg.data.batch_size, self.settings.hessian_batches
        return [
            (x[i * b : (i + 1) * b], y[i * b : (i + 1) * b]) for i in range(m) if i * b < len(x)
        ]

    def hessian_scale(self, data_size: int | None) -> float:
        """The factor on the mean CE's diagonal GGN (``bayesnas.hessian_scale``)."""
        how = self.settings.hessian_scale
        if how == "batch":
            return float(self.cfg.data.batch_size)
        if how == "data":
            if data_size is None:
                raise PgnasError("bayesnas.hessian_scale=data needs the switch split's size")
            return float(data_size)
        return 1.0

    @torch.no_grad()
    def update_priors(self, net, batches) -> None:
        """One HARD/ARD update: posterior variances, omega and gamma of every group."""
        device = net.gating.parent.device
        batches = [(x.to(device), y.to(device)) for x, y in batches]
        with torch.enable_grad():
            h = per_sample_ggn_diagonal(net, net.gating.per_sample, batches)
        scale = self.hessian_scale(data_size=getattr(self, "_switch_size", None))
        lams = dict(zip(("parent", "child"), self.lams()))
        norms = self.group_norms(net)
        for level in ("parent", "child"):
            self.variance[level], self.omega[level], self.gamma[level] = ard_update(
                self.gamma[level],
                h[f"gating.{level}"].cpu() * scale / lams[level],
                norms[level].cpu(),
                self.membership,
            )
        # HARD: a child's variance is (1/gamma_child + 1/gamma_parent)^-1, kept as its gamma
        # (as the official code does), so a pruned parent prunes its children in later rounds
        gp = self.gamma["parent"].clamp_min(1e-30)[..., None]
        self.gamma["child"] = 1 / (1 / self.gamma["child"].clamp_min(1e-30) + 1 / gp)

    def relevance(self) -> dict[str, torch.Tensor]:
        """The posterior relevance of every group: its gamma (a child's already carries its
        parent's, the HARD rule of :meth:`update_priors`)."""
        return {"parent": self.gamma["parent"], "child": self.gamma["child"]}

    def scores(self, net, by: str | None = None) -> dict[str, torch.Tensor]:
        by = by or self.settings.prune_by
        if by == "relevance":
            return self.relevance()
        return {k: v.detach().cpu() for k, v in self.group_norms(net).items()}

    def kept(
        self,
        net,
        by: str | None = None,
        threshold: float | None = None,
        keep_children: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Which switches survive: parents above ``threshold`` x the largest parent score,
        children above it x the largest child score and under a kept parent; or, with
        ``keep_children``, the top that many children (equal sparsity for comparisons)."""
        sc = self.scores(net, by)
        t = self.settings.threshold if threshold is None else threshold
        parent = sc["parent"] > t * sc["parent"].max()
        if keep_children is not None:
            flat = sc["child"].flatten()
            top = torch.zeros_like(flat, dtype=torch.bool)
            top[flat.argsort(descending=True)[:keep_children]] = True
            child = top.view_as(sc["child"])
            parent = child.any(-1)
        else:
            child = sc["child"] > t * sc["child"].max()
        return {"parent": parent, "child": child & parent[..., None]}

    def architecture(self, net, kept: dict[str, torch.Tensor]):
        """The architecture keeping every unit's surviving children (its group's)."""
        groups = torch.tensor(self.layout.groups)
        return net.architecture_from_children(kept["child"][groups])

    # ---- evaluation and derivation --------------------------------------------------------
    @property
    def bn_recalibration_batches(self) -> int:
        return self.settings.bn_recalibration_batches

    def build_supernet(self, data):
        net = super().build_supernet(data)
        self.bind_data(data)
        return net

    @contextmanager
    def evaluation_mode(self, net):
        """The supernet with every switch (before pruning), BN statistics recalibrated."""
        with self.recalibrated(net):
            yield net

    def epoch_derived_mode(self, net):
        """The net pruned by the run's rule, with the trained switch values."""
        return self.derived_mode(net, self.architecture(net, self.kept(net)))

    @contextmanager
    def derived_mode(self, net, arch):
        """The supernet restricted to ``arch`` with the trained switch values (pruned
        switches' operations absent), BN statistics recalibrated for it."""
        net.apply_architecture(arch)
        try:
            with self.recalibrated(net):
                yield net
        finally:
            self.gate_for_evaluation(net)

    def derive(self, net, data, ctx: DeriveContext) -> Derived:
        self.bind_data(data)
        arch = self.architecture(net, self.kept(net))
        with self.derived_mode(net, arch):
            compact = export_subnet(net, arch)
        x, y = stack_split(data.val)
        val = evaluate(
            compact.to(next(net.parameters()).device), x, y, self.cfg.data.eval_batch_size
        )
        return Derived(arch, compact, {"val_acc": val["acc"], "val_loss": val["loss"]})

    def export(self, net, data, request: ExportRequest) -> list[Exported]:
        """The net pruned by the run's rule (``prune_by``, ``threshold``)."""
        request.refuse(self, "seed", "sample")
        self.bind_data(data)
        arch = self.architecture(net, self.kept(net))
        with self.derived_mode(net, arch):
            compact = export_subnet(net, arch)
        s = self.settings
        record = {"derived": "pruned", "prune_by": s.prune_by, "threshold": s.threshold}
        return [Exported("subnet_pruned", compact, arch, record, "pruned net")]

    # ---- records ------------------------------------------------------------------------
    def epoch_stats(self, net) -> dict:
        kept = self.kept(net)
        norms = self.group_norms(net)["child"].detach().cpu()
        return {
            "kept_parents": float(kept["parent"].float().mean()),
            "kept_children": float(kept["child"].float().mean()),
            "switch_sparsity": switch_sparsity(norms, self.settings.threshold),
            "relevance_spearman": spearman(self.relevance()["child"], norms),
        }

    def epoch_tables(self, net, epoch: int, kept: dict | None = None) -> dict[str, list[dict]]:
        """One row per switch entry (unit, edge, op or "parent"): its value, its group's gamma
        and omega, its posterior variance, its relevance, whether it is kept (by the run's
        rule, or by ``kept`` from :meth:`kept` with other settings)."""
        kept = self.kept(net) if kept is None else kept
        rel, layout = self.relevance(), self.layout
        values = {
            "parent": net.gating.parent.detach().cpu(),
            "child": net.gating.child.detach().cpu(),
        }
        children = [("parent", None)] + [("child", i) for i in range(len(layout.children))]
        rows = []
        for k, g in enumerate(layout.groups):
            for e, edge in enumerate(layout.edges):
                for level, op_index in children:
                    idx = (e,) if op_index is None else (e, op_index)
                    rows.append(
                        {
                            "epoch": epoch,
                            "unit": k,
                            "group": g,
                            "edge": edge,
                            "op": "parent" if op_index is None else layout.children[op_index],
                            "level": level,
                            "value": float(values[level][(k, *idx)]),
                            "gamma": float(self.gamma[level][(g, *idx)]),
                            "omega": float(self.omega[level][(g, *idx)]),
                            "variance": float(self.variance[level][(k, *idx)]),
                            "relevance": float(rel[level][(g, *idx)]),
                            "kept": bool(kept[level][(g, *idx)]),
                        }
                    )
        return {"switches": rows}

    def state_dict(self) -> dict:
        return {
            "gamma": dict(self.gamma),
            "omega": dict(self.omega),
            "variance": dict(self.variance),
        }

    def load_state_dict(self, state: dict) -> None:
        for key in ("gamma", "omega", "variance"):
            if key in state:
                setattr(self, key, {k: v.clone() for k, v in state[key].items()})


def _is_theta(net, p) -> bool:
    return any(p is s.theta for s in net.sites())
