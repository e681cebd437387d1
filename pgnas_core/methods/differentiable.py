"""What DARTS and BaLeNAS share (docs/method_siblings.md sections 1, 3-4): architecture logits alpha
over the operations of every edge of the cell space, a softmax-mixed edge, bilevel first-order
training (the weights on one half of the training split, alpha on the other, one alpha step before
every weight step) and derivation by argmax per edge.

The subclasses say only how alpha is learned (:meth:`DifferentiableMethod.arch_step`).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..data import stack_split
from ..data.order import batch_at, mix_seed
from ..data.splits import split_in_two
from ..errors import PgnasError
from ..rank import export_subnet
from ..rank.bn_recalibration import bn_statistics_kept
from ..settings import Range, setting
from ..supernets import configure_sites
from ..supernets.cell_space import CellSpaceSupernet
from ..supernets.mixed_edge import SHARING, EdgeGates
from ..supernets.spaces import SearchSpace
from ..train.curvature import dominant_hessian_eigenvalue
from ..train.distributed import context
from ..train.evaluation import evaluate
from ..train.finetune import train_from_scratch
from ..train.kill_hook import kill_hook
from .base import DeriveContext, Derived, Exported, ExportRequest, SearchMethod
from .diagnostics import alpha_entropy, max_op_weight, mu_spread_over_sigma


@dataclass
class BilevelSettings:
    """Fields every differentiable method's settings section has."""

    share: str = setting(
        "all",
        "cells that read the same alpha: all | stage | cell (NAS-Bench-201: all)",
        choices=SHARING,
    )
    arch_fraction: float = setting(
        0.5,
        "the training split's share that trains alpha (the rest trains the weights)",
        bounds=Range(0, 1, "()"),
    )
    init_std: float = setting(
        1e-3, "alpha starts at init_std * N(0, 1), as in DARTS", bounds=Range(0, 10)
    )
    weight_decay: float = setting(
        3e-4, "weight decay of the weights (SGD), as in DARTS", bounds=Range(0, 1)
    )
    beta1: float = setting(
        0.5,
        "the architecture optimiser's first-moment decay (DARTS's Adam)",
        bounds=Range(0, 1, "[)"),
    )
    beta2: float = setting(
        0.999, "the architecture optimiser's second-moment decay", bounds=Range(0, 1, "[)")
    )
    # The supernet's BN statistics were gathered on softmax-weighted mixtures, whose scale a
    # single operation at weight 1 does not have.
    bn_recalibration_batches: int = setting(
        10,
        "re-estimate a derived net's BN statistics on this many training batches "
        "(0: keep the supernet's)",
        bounds=Range(0, 100_000),
    )
    eigen_iters: int = setting(
        8,
        "power iterations for the dominant Hessian eigenvalue of the architecture loss in "
        "alpha, recorded per epoch (0: not measured)",
        bounds=Range(0, 10_000),
    )
    # DARTS-PT, and most DARTS variants, warm the weights up first: alpha learned against
    # untrained operations favours the parameter-free ones.
    arch_warmup_epochs: int = setting(
        0,
        "epochs of weight steps alone before alpha steps start (0: from the first epoch, as DARTS)",
        bounds=Range(0, 100_000),
    )
    arch_steps: int = setting(
        1,
        "architecture steps before every weight step, each on its own batch",
        bounds=Range(1, 100),
    )


class ArchLogits(nn.Module):
    """alpha (G, E, ops) over the space's operations per sharing group and edge; the mixed
    edges read ``softmax(alpha)`` (of which "none" contributes nothing). ``override``: logits
    to use instead of alpha for the next forward passes (a sample of BaLeNAS's Gaussian)."""

    def __init__(self, groups: int, init_std: float, space: SearchSpace):
        super().__init__()
        self.alpha = nn.Parameter(init_std * torch.randn(groups, len(space.edges), len(space.ops)))
        self.space = space
        self.use(None)

    def use(self, logits: torch.Tensor | None) -> None:
        """Read ``logits`` instead of alpha (None: alpha again). Set past nn.Module, which
        would register a Parameter passed here (alpha itself) as a second parameter."""
        object.__setattr__(self, "override", logits)

    def forward(self) -> EdgeGates:
        logits = self.alpha if self.override is None else self.override
        weights = F.softmax(logits, dim=-1)
        return EdgeGates(op_weights=self.space.searched_weights(weights))  # (G, E, ops - 1)


class DifferentiableMethod(SearchMethod):
    """Base of DARTS and BaLeNAS on a cell space (NAS-Bench-201's or DARTS's)."""

    derivation = "argmax"
    epoch_table_names = ("arch_params", "derived")
    export_help = "it exports the argmax cell (no options)"

    # ---- gating: a softmax over every edge's operations ---------------------------------
    def create(self, options: dict) -> CellSpaceSupernet:
        net = super().create(options)
        if not isinstance(net, CellSpaceSupernet):
            raise PgnasError(
                f"method {self.name} searches a cell space: set supernet.name "
                f"to supnet_cell, supnet_cell_small, supnet_cell_tiny, supnet_darts, "
                f"supnet_darts_small or supnet_darts_tiny, not {self.cfg.supernet.name}"
            )
        if context().enabled:
            raise PgnasError(
                f"method {self.name} runs in one process (its architecture steps "
                f"are not distributed): run it without torchrun"
            )
        configure_sites(net, learnable=False)  # the sites stay off: channels are not searched
        net.set_site_mode("off")
        s = self.settings
        net.attach_gating(ArchLogits(net.num_groups(s.share), s.init_std, net.space), s.share)
        return net

    def arch_parameters(self, net) -> list[nn.Parameter]:
        return [net.gating.alpha]

    #: the field of the settings section that sizes alpha's steps (darts.arch_lr)
    arch_step_field: ClassVar[str] = "arch_lr"

    def arch_groups(self, net) -> list[dict]:
        return [{"name": "alpha", "params": self.arch_parameters(net)}]

    def step_settings(self) -> dict[str, str]:
        f = self.arch_step_field
        value = getattr(self.settings, f)
        return {**super().step_settings(), "alpha": f"{self.settings_section}.{f}={value:g}"}

    def gate_for_training(self, net, epoch: int = 1) -> None:
        net.set_site_mode("off")

    def gate_for_evaluation(self, net) -> None:
        net.gating.use(None)
        net.set_site_mode("off")

    supernet_evaluation = "softmax mixture"

    @contextmanager
    def evaluation_mode(self, net):
        """The mixture supernet: every edge the softmax-weighted sum of its operations."""
        self.gate_for_evaluation(net)
        yield net

    def epoch_derived_mode(self, net):
        """The argmax architecture with the supernet's weights (each kept op at weight 1)."""
        return self.derived_mode(net, self.argmax_architecture(net))

    @contextmanager
    def derived_mode(self, net, arch):
        """The supernet restricted to ``arch``, each kept op at weight 1, its BN statistics
        re-estimated for that architecture (the supernet's come back afterwards)."""
        gating = net.gating
        net.gating = None
        net.apply_architecture(arch)
        try:
            with self.recalibrated(net):
                yield net
        finally:
            net.gating = gating
            self.gate_for_evaluation(net)

    @property
    def bn_recalibration_batches(self) -> int:
        return self.settings.bn_recalibration_batches

    # ---- which splits: weights on one part of the training split, alpha on the other ----
    def _splits(self, data):
        if getattr(self, "_split_of", None) is not data:
            f = self.settings.arch_fraction
            seed = mix_seed(self.cfg.data.split_seed, 0xB11E)
            self._weight_split, self.arch_split = split_in_two(data.train, 1 - f, seed)
            self._split_of = data
        return self._weight_split, self.arch_split

    def training_split(self, data):
        return self._splits(data)[0]

    # ---- what is learned: the weights (SGD) and alpha (the subclass) ------------------------
    def param_groups(self, net) -> list[dict]:
        arch = {id(p) for p in self.arch_parameters(net)}
        weights = [p for p in net.parameters() if p.requires_grad and id(p) not in arch]
        return [{"params": weights, "lr": self.cfg.train.lr, "name": "weights"}]

    @property
    def weight_decay(self) -> float:
        return self.settings.weight_decay

    def build_supernet(self, data):
        net = super().build_supernet(data)
        self.bind_data(data)
        self.n_arch = len(self._splits(data)[1])  # N_v: the architecture half's size
        self.arch_optimizer = self.make_arch_optimizer(net)
        self._net = net
        self._arch_steps, self._arch_kill = 0, kill_hook("arch")
        return net

    def before_step(self, net, epoch: int, step: int) -> None:
        """``arch_steps`` architecture steps (first order), on the architecture half's
        batches ``step * arch_steps + i``; none during the first ``arch_warmup_epochs``."""
        t, s = self.cfg.train, self.settings
        if epoch <= s.arch_warmup_epochs:
            return
        device = next(net.parameters()).device
        for i in range(s.arch_steps):
            at = step * s.arch_steps + i
            x, y = batch_at(
                self.arch_split, self.cfg.data.batch_size, mix_seed(t.seed, 0xA4C), epoch, at
            )
            torch.manual_seed(mix_seed(t.seed, epoch, at, 0xA5C))  # this step's samples
            self.arch_step(net, x.to(device), y.to(device))
            self._arch_steps += 1
            if self._arch_kill is not None:  # the resume tests' kill point inside a step
                self._arch_kill(self._arch_steps)

    def after_epoch(self, net, epoch: int, data) -> None:
        """The dominant eigenvalue of the architecture loss's Hessian in alpha (BaLeNAS's
        claim: smaller than DARTS's), on the first batch of the architecture half, BN in
        training mode as in the architecture steps (its statistics restored afterwards)."""
        self._eigenvalue = None
        iters = self.settings.eigen_iters
        if iters <= 0:
            return
        x, y = stack_split(self.arch_split)
        b = self.cfg.data.batch_size
        device = next(net.parameters()).device
        x, y = x[:b].to(device), y[:b].to(device)

        def loss_of(alpha):
            net.gating.use(alpha)
            try:
                return F.cross_entropy(net(x), y)
            finally:
                net.gating.use(None)

        with bn_statistics_kept(net):
            self._eigenvalue = dominant_hessian_eigenvalue(
                loss_of, net.gating.alpha.detach(), iters
            )

    def arch_loss_grad(self, net, x, y, logits: torch.Tensor) -> torch.Tensor:
        """d CE(val batch) / d alpha at ``logits`` (the mixed edges read them)."""
        net.gating.use(logits)
        try:
            loss = F.cross_entropy(net(x), y)
            (g,) = torch.autograd.grad(loss, [logits])
        finally:
            net.gating.use(None)
        return g

    # subclasses: make_arch_optimizer(net), arch_step(net, x, y), sigma(net) -> (G, E, 5)
    def make_arch_optimizer(self, net):
        raise NotImplementedError

    def arch_step(self, net, x, y) -> None:
        raise NotImplementedError

    def sigma(self, net) -> torch.Tensor | None:
        return None

    # ---- records ------------------------------------------------------------------------
    def argmax_choice(self, net) -> list[list[str]]:
        """The operation each edge of each group keeps, as the space derives it from alpha
        (NAS-Bench-201: argmax per edge, "none" allowed; DARTS: top-2 edges per node)."""
        return [net.space.derive(a) for a in net.gating.alpha.detach()]

    def argmax_architecture(self, net):
        return net.architecture_from_ops(self.argmax_choice(net))

    def epoch_stats(self, net) -> dict:
        chosen = [op for row in self.argmax_choice(net) for op in row]
        space = net.space
        stats = {
            "param_free_fraction": sum(op in space.param_free for op in chosen) / len(chosen),
            "none_fraction": sum(op == "none" for op in chosen) / len(chosen),
        }
        alpha = net.gating.alpha.detach()
        stats["max_op_weight"] = max_op_weight(alpha)
        stats["alpha_entropy"] = alpha_entropy(alpha)
        sigma = self.sigma(net)
        if sigma is not None:
            stats["mean_sigma"] = float(sigma.mean())
            stats["mu_spread_over_sigma"] = mu_spread_over_sigma(alpha, sigma)
        if getattr(self, "_eigenvalue", None) is not None:
            stats["hessian_eigenvalue"] = self._eigenvalue
        return stats

    def epoch_tables(self, net, epoch: int) -> dict[str, list[dict]]:
        alpha = net.gating.alpha.detach()
        weight = F.softmax(alpha, -1)
        sigma = self.sigma(net)
        space = net.space
        params = []
        for g in range(alpha.shape[0]):
            for e in range(len(space.edges)):
                for k, op in enumerate(space.ops):
                    row = {
                        "epoch": epoch,
                        "group": g,
                        "edge": space.edge_label(e),
                        "op": op,
                        "alpha": float(alpha[g, e, k]),
                        "weight": float(weight[g, e, k]),
                    }
                    if sigma is not None:
                        row["sigma"] = float(sigma[g, e, k])
                    params.append(row)
        derived = [
            {
                "epoch": epoch,
                "group": g,
                "edge": space.edge_label(e),
                "op": op,
                "param_free": op in space.param_free,
            }
            for g, row in enumerate(self.argmax_choice(net))
            for e, op in enumerate(row)
        ]
        return {"arch_params": params, "derived": derived}

    # ---- derivation: argmax per edge ----------------------------------------------------
    def derive(self, net, data, ctx: DeriveContext) -> Derived:
        return self.derived_from(net, data, self.argmax_architecture(net))

    def derived_from(self, net, data, arch, selection: dict | None = None, tables=None):
        """Export ``arch`` (the supernet's weights, each kept op at weight 1, BN statistics
        recalibrated for it) and measure it on the validation split."""
        self.bind_data(data)
        with self.derived_mode(net, arch):
            compact = export_subnet(net, arch)
        device = next(net.parameters()).device
        x, y = stack_split(data.val)
        val = evaluate(compact.to(device), x, y, self.cfg.data.eval_batch_size)
        sel = {"val_acc": val["acc"], "val_loss": val["loss"], **(selection or {})}
        return Derived(arch, compact, sel, tables or {})

    def export(self, net, data, request: ExportRequest) -> list[Exported]:
        """The argmax cell (BN statistics recalibrated for it); with ``request.sample``
        draws of the method's posterior (:meth:`export_samples`)."""
        request.refuse(self, "seed")
        if request.sample is not None:
            return self.export_samples(net, data, request.sample)
        arch = self.argmax_architecture(net)
        compact = self.compact(net, data, arch)
        record = {"derived": "argmax", "cell": net.cell_string(arch)}
        return [Exported("subnet_argmax", compact, arch, record, "argmax cell")]

    def export_samples(self, net, data, k: int) -> list[Exported]:
        """``k`` architectures drawn from a posterior over alpha (BaLeNAS); DARTS has none."""
        raise PgnasError(f"--sample does not apply to a {self.name} run: {self.export_help}")

    def compact(self, net, data, arch) -> nn.Module:
        """``arch`` as a compact net with the supernet's weights, BN recalibrated for it."""
        self.bind_data(data)
        with self.derived_mode(net, arch):
            return export_subnet(net, arch)

    def scratch_accuracy(self, compact, data, epochs: int) -> float:
        """Test accuracy of ``compact``'s architecture trained from fresh weights for
        ``epochs`` (the run's learning rate, batch and seed; fine-tuning's schedule)."""
        t, d = self.cfg.train, self.cfg.data
        net = train_from_scratch(
            compact, data.train, epochs, t.lr, d.batch_size, t.seed, progress=False
        )
        return evaluate(net, *stack_split(data.test), d.eval_batch_size)["acc"]

    def state_dict(self) -> dict:
        return {"arch_optimizer": self.arch_optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if "arch_optimizer" in state and getattr(self, "arch_optimizer", None) is not None:
            self.arch_optimizer.load_state_dict(state["arch_optimizer"])
