"""What every supernet offers: its dropout sites, their modes, and candidate masks."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from ..architecture import Architecture, SiteChoice, freeze_options
from ..nn.masked_op import MaskedOp
from ..nn.sites import DropoutSite


@dataclass(frozen=True)
class SwitchLayout:
    """Where a supernet takes switches (BayesNAS): ``units`` (cells, blocks) of ``edges``
    parent switches, each over ``children`` child switches (one per operation or branch);
    ``groups``: each unit's sharing group (units of one group share an architecture)."""

    units: int
    edges: tuple[str, ...]  # the parents' names within a unit
    children: tuple[str, ...]  # the children's names under a parent
    groups: tuple[int, ...]


class Supernet(nn.Module):
    """Base class. Subclasses build their layers from :class:`MaskedOp` and implement
    :meth:`compact_module` (the export of a candidate as a plain, smaller network)."""

    registry_name: str = ""
    options: dict = {}

    def finalize(self) -> None:
        """Call at the end of ``__init__``: names every site after its module path."""
        for op_name, op in self.named_modules():
            if isinstance(op, MaskedOp):
                for i, site in enumerate(op.sites):
                    site.name = f"{op_name}.sites.{i}"
                    site.op = op_name

    # ---- sites ----------------------------------------------------------------------------
    def sites(self) -> list[DropoutSite]:
        return [m for m in self.modules() if isinstance(m, DropoutSite)]

    def masked_ops(self) -> list[MaskedOp]:
        return [m for m in self.modules() if isinstance(m, MaskedOp)]

    def site_parameters(self) -> list[nn.Parameter]:
        return [s.theta for s in self.sites()]

    def weight_parameters(self) -> list[nn.Parameter]:
        thetas = {id(t) for t in self.site_parameters()}
        return [p for p in self.parameters() if id(p) not in thetas]

    def set_site_mode(self, mode: str) -> None:
        for s in self.sites():
            s.set_mode(mode)

    @contextmanager
    def site_mode(self, mode: str):
        before = [(s, s.mode) for s in self.sites()]
        self.set_site_mode(mode)
        try:
            yield self
        finally:
            for s, m in before:
                s.mode = m

    def set_tau(self, tau: float) -> None:
        for s in self.sites():
            s.tau = tau

    def keep_probs(self) -> dict[str, float]:
        return {s.name: s.keep_prob.item() for s in self.sites()}

    def site_table(self) -> list[dict]:
        """One row per site: name, operation, channels, tags and the current keep-probability."""
        return [
            dict(site=s.name, op=s.op, channels=s.channels, keep_prob=s.keep_prob.item(), **s.tags)
            for s in self.sites()
        ]

    # ---- candidates -----------------------------------------------------------------------
    def architecture_from_masks(self, masks: dict[str, torch.Tensor]) -> Architecture:
        choices = []
        for s in self.sites():
            kept = torch.nonzero(masks[s.name].reshape(-1) != 0).flatten().tolist()
            choices.append(SiteChoice(s.name, s.op, s.channels, tuple(kept)))
        return Architecture(self.registry_name, freeze_options(self.options), tuple(choices))

    def apply_architecture(self, arch: Architecture) -> None:
        """Set every site's hard mask to the candidate's kept channels and switch to hard mode."""
        if arch.supernet != self.registry_name:
            raise ValueError(
                f"architecture is of {arch.supernet!r}, this is {self.registry_name!r}"
            )
        by_name = {c.name: c for c in arch.sites}
        for s in self.sites():
            if s.name not in by_name:
                raise ValueError(f"architecture has no choice for site {s.name}")
            mask = torch.zeros(s.channels, device=s.theta.device)
            mask[list(by_name[s.name].kept)] = 1.0
            s.hard_mask = mask
            s.mode = "hard"

    def full_architecture(self) -> Architecture:
        """Every channel kept."""
        return self.architecture_from_masks({s.name: torch.ones(s.channels) for s in self.sites()})

    def compact_module(self) -> nn.Module:
        """A plain module equal (eval mode) to this supernet under the sites' hard masks."""
        raise NotImplementedError

    # ---- switches (BayesNAS) ----------------------------------------------------------------
    def switch_layout(self, share: str = "all") -> SwitchLayout | None:
        """Where this family takes parent and child switches; None: it takes none."""
        return None

    def attach_gating(self, gating: nn.Module | None, share: str = "all") -> None:
        """A method's gates (a module returning per-unit scales), read in the forward pass."""
        raise TypeError(f"{type(self).__name__} takes no gates")

    def architecture_from_children(self, kept: torch.Tensor) -> Architecture:
        """The architecture keeping the (units, edges, children) marked True, whole."""
        raise TypeError(f"{type(self).__name__} takes no switches")

    # ---- what a ranker may share between candidates ---------------------------------------
    def shared_stem(self) -> nn.Module | None:
        """The first module of every candidate's compact net, the same in all of them (no
        dropout site in it), so a ranker can run it once and cache its output; None when
        this family has no such split point."""
        return None

    def evaluation_module(self, compact: nn.Module, from_stem: bool = False) -> nn.Module:
        """An evaluation-only equivalent of ``compact`` (this family's compact export): the
        same outputs, computed faster where the family knows how. With ``from_stem`` its
        input is :meth:`shared_stem`'s output instead of the image."""
        if from_stem:
            raise TypeError(f"{type(self).__name__} has no shared stem")
        return compact


def configure_sites(
    net: Supernet,
    p_init: float | None = None,
    tau: float | None = None,
    rescale: bool | None = None,
    learnable: bool | None = None,
) -> Supernet:
    """Set the posterior settings of every site (they are not architecture numbers, so they
    are not part of ``create_supernet``'s overrides or of an Architecture's id)."""
    from ..nn.sites import logit

    for s in net.sites():
        if p_init is not None:
            with torch.no_grad():
                s.theta.fill_(logit(p_init))
        if tau is not None:
            s.tau = tau
        if rescale is not None:
            s.rescale = rescale
        if learnable is not None:
            s.theta.requires_grad_(learnable)
    return net
