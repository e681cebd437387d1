"""What a search method is (docs/method_siblings.md section 1): a parameterisation of the same
supernet.

A method says how the supernet's searchable units are gated while training, what it learns
(its parameters, their optimiser and its loss terms), which splits it trains on, and how an
architecture is derived at the end (sample and rank, argmax, or prune). The training loop
(:func:`pgnas_core.train.train_supernet`) and the pipeline (:mod:`pgnas_core.run.pipeline`)
call the methods below and know nothing else about a method. Adding one means one module in
this folder (a subclass, registered) and one preset.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd
import torch
from torch import nn

from ..architecture import Architecture
from ..data import stack_split
from ..errors import ConfigError, PgnasError, check_field
from ..rank.bn_recalibration import bn_statistics_kept, recalibrate_bn
from ..settings import check_settings, setting
from ..supernets import create_supernet
from ..train.loop import make_scheduler
from .registry import list_methods

DERIVATIONS = ("sample_and_rank", "argmax", "prune")


@dataclass
class MethodConfig:
    """Which search method runs, and which baselines run beside it on the same data."""

    name: str = setting(
        "pgnas", "the search method (`pgnas presets` describes each)", choices=list_methods
    )
    baselines: list = setting(
        ["random"],
        "also run these methods on the same data, for comparison",
        allowed="a list of other registered methods, each once",
    )

    def validate(self) -> MethodConfig:
        check_settings(self, "method")  # unknown names raise with a suggestion
        check_field(
            "method.baselines",
            self.baselines,
            all(isinstance(b, str) for b in self.baselines)
            and len(set(self.baselines)) == len(self.baselines)
            and self.name not in self.baselines,
            f"a list of other methods, each once ({', '.join(list_methods())})",
        )
        for b in self.baselines:
            if b not in list_methods():
                raise ConfigError(
                    "method.baselines",
                    self.baselines,
                    f"registered methods only: {', '.join(list_methods())}",
                )
        return self


@dataclass
class Derived:
    """The architecture a method derived, its compact network, how it was selected
    (validation numbers, the candidate's seed, ...) and tables to save (e.g. candidates)."""

    architecture: Architecture
    compact: nn.Module
    selection: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class ExportRequest:
    """What ``pgnas export`` asked for: a candidate's ``seed`` (sample-and-rank methods),
    ``sample`` K draws of the method's posterior over architectures (BaLeNAS), or neither
    (the architecture the method derives). ``winner_seed()``: the ranked winner's seed (it
    raises, in one line, when the run has none)."""

    seed: int | None = None
    sample: int | None = None
    winner_seed: Callable[[], int] | None = None

    def refuse(self, method, *options: str) -> None:
        """Stop with one line if any of ``options`` ("seed", "sample") was given."""
        for name in options:
            if getattr(self, name) is not None:
                raise PgnasError(
                    f"--{name} does not apply to a {method.name} run: {method.export_help}"
                )


@dataclass
class Exported:
    """One exported architecture: its default folder name in the method's directory, the
    compact net, the architecture and what identifies it (recorded in arch.json)."""

    name: str
    compact: nn.Module
    architecture: Architecture
    record: dict
    description: str


@dataclass
class DeriveContext:
    """What the run directory lends a derivation: resumable ranking stores."""

    store: Callable  # (rank, world_size) -> pgnas_core.rank.RowStore
    force: bool = False  # set aside saved rows made with other settings
    progress: bool = True
    on_pass: Callable[[int], None] | None = None  # called after each ranking pass (tests)


def supernet_options(cfg, info) -> dict:
    """The construction options of the configured supernet for a dataset."""
    return {
        "in_channels": info.in_channels,
        "num_classes": info.num_classes,
        **cfg.supernet.options,
    }


class SearchMethod:
    """Base class of the registered methods; defaults are single-level SGD training."""

    name: ClassVar[str] = ""
    settings_section: ClassVar[str | None] = None  # the config section of its settings
    settings_class: ClassVar[type | None] = None  # that section's dataclass
    derivation: ClassVar[str] = "sample_and_rank"  # one of DERIVATIONS
    description: ClassVar[str] = ""
    epoch_table_names: ClassVar[tuple[str, ...]] = ()  # the tables epoch_tables() returns
    export_help: ClassVar[str] = ""  # what `pgnas export` writes for it (its error lines)
    #: What :meth:`evaluation_mode` evaluates, in words (summary.json, the CLI's summary)
    supernet_evaluation: ClassVar[str] = "supernet"
    #: The analyses its runs support beyond search, rank and export (CAPABILITIES); an
    #: analysis asks with :meth:`require` instead of calling what only one method has.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def require(self, capability: str, analysis: str) -> None:
        """Stop in one line unless this method's runs support ``capability``."""
        if capability not in self.capabilities:
            from .registry import methods_with

            raise PgnasError(
                f"{analysis} needs a run of {' or '.join(methods_with(capability))}; "
                f"this run is {self.name}"
            )

    def __init__(self, cfg):
        self.cfg = cfg
        self.settings = cfg.section(self.settings_section) if self.settings_section else None
        self.n_train = None  # N of the training split, once bound to data

    # ---- how the searchable units are gated ---------------------------------------------
    def create(self, options: dict) -> nn.Module:
        """The supernet built with resolved ``options``, its units gated for this method."""
        return create_supernet(self.cfg.supernet.name, **options)

    def build_supernet(self, data) -> nn.Module:
        """The supernet for ``data`` (DataSplits), bound to it (N of the training split)."""
        self.n_train = len(self.training_split(data))
        return self.create(supernet_options(self.cfg, data.info))

    def gate_for_training(self, net, epoch: int = 1) -> None:
        """Called at the start of every epoch, after ``net.train()``."""

    def gate_for_evaluation(self, net) -> None:
        """How the trained net is handed back (and evaluated as "the supernet")."""

    @contextmanager
    def evaluation_mode(self, net):
        """The net validated after each epoch and reported as the trained supernet."""
        yield net

    def epoch_derived_mode(self, net):
        """A context in which ``net`` is the architecture the method would derive now, with
        the supernet's weights (validated per epoch as ``val_acc_derived``); None where a
        derivation is too costly to repeat every epoch (sampling and ranking)."""
        return None

    #: A derived net's BN statistics re-estimated on this many training batches under its own
    #: architecture before it is evaluated (0: the supernet's statistics; see recalibrated)
    bn_recalibration_batches: int = 0

    def bind_data(self, data) -> None:
        """Keep the un-augmented training images the BN recalibration runs on."""
        n = self.bn_recalibration_batches * self.cfg.data.batch_size
        if n > 0:
            self._recal_images = stack_split(self.training_split(data))[0][:n]

    @contextmanager
    def recalibrated(self, net):
        """Inside, ``net``'s BN statistics are re-estimated for its current architecture and
        gates (``bn_recalibration_batches`` batches); on leaving, its own come back."""
        images = getattr(self, "_recal_images", None)
        on = self.bn_recalibration_batches > 0 and images is not None
        with bn_statistics_kept(net, on):
            if on:
                was_training = net.training
                net.eval()
                recalibrate_bn(
                    net,
                    images.to(next(net.parameters()).device),
                    self.bn_recalibration_batches,
                    self.cfg.data.batch_size,
                )
                net.train(was_training)
            yield net

    @contextmanager
    def derived_mode(self, net, arch: Architecture):
        """The supernet restricted to ``arch`` (to check the export against it)."""
        net.apply_architecture(arch)
        try:
            yield net
        finally:
            self.gate_for_evaluation(net)

    # ---- what it learns -----------------------------------------------------------------
    def param_groups(self, net) -> list[dict]:
        return [{"params": list(net.parameters()), "lr": self.cfg.train.lr, "name": "weights"}]

    #: SGD's weight decay of the weights (PGNAS: none, its prior's l2 term replaces it)
    weight_decay: float = 0.0

    def make_optimizer(self, net, steps_per_epoch: int) -> torch.optim.Optimizer:
        """SGD with Nesterov momentum over :meth:`param_groups`."""
        t = self.cfg.train
        return torch.optim.SGD(
            self.param_groups(net),
            lr=t.lr,
            momentum=t.momentum,
            nesterov=t.momentum > 0,
            weight_decay=self.weight_decay,
        )

    def make_scheduler(self, opt, steps_per_epoch: int):
        """The learning-rate schedule of ``train.schedule`` (the paper's), per step."""
        return make_scheduler(opt, self.cfg.train, steps_per_epoch)

    def loss_terms(self, net) -> torch.Tensor:
        """What is added to the data term of every step (a scalar)."""
        return torch.zeros((), device=next(net.parameters()).device)

    def before_step(self, net, epoch: int, step: int) -> None:
        """Called before every weight step (after its seeds are set): an architecture step."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    # ---- which splits, how many epochs ----------------------------------------------------
    def training_split(self, data):
        return data.train

    def split_for_epoch(self, data, epoch: int):
        """The data of one epoch (a method with phases trains on different parts)."""
        return self.training_split(data)

    def num_epochs(self) -> int:
        return self.cfg.train.epochs

    def after_epoch(self, net, epoch: int, data) -> None:
        """Called at the end of every epoch, before it is validated and checkpointed."""

    # ---- per-epoch records --------------------------------------------------------------
    def epoch_stats(self, net) -> dict:
        return {}

    def epoch_tables(self, net, epoch: int) -> dict[str, list[dict]]:
        return {}

    def divergence_causes(self) -> list[str]:
        return []

    # ---- what a divergence is blamed on (pgnas_core.train.divergence) -------------------
    def step_settings(self) -> dict[str, str]:
        """Each learned parameter group's name -> the setting that sizes its steps
        (``field=value``), so a divergence names the field behind the group that blew up."""
        t = self.cfg.train
        return {
            "weights": f"train.lr={t.lr:g}",
            "p_logits": f"train.lr={t.lr:g} x train.p_lr_scale={t.p_lr_scale:g}",
        }

    def arch_groups(self, net) -> list[dict]:
        """Parameters this method steps itself, outside the weights' optimizer, as named
        groups ``{"name", "params"}`` (DARTS's alpha)."""
        return []

    def loss_term_settings(self) -> list[str]:
        """The settings that scale :meth:`loss_terms` (``field=value``)."""
        return []

    # ---- derivation ---------------------------------------------------------------------
    def export(self, net, data, request: ExportRequest) -> list[Exported]:
        """The architecture(s) this method found in the trained ``net``, as compact nets
        (``pgnas export``); options that do not apply stop with one line."""
        raise PgnasError(f"method {self.name} has no export")

    def derive(self, net, data, ctx: DeriveContext) -> Derived | None:
        """The architecture this method derives from the trained ``net`` (None on ranks other
        than 0 under torchrun). The test split is never used here."""
        raise NotImplementedError
