"""What a supernet made of cells of a :class:`~.spaces.SearchSpace` offers, whatever the space
(docs/method_siblings.md sections 1-2): sharing groups of cells, gates a method attaches,
BayesNAS's switch layout, architectures as operations per edge, and the derived cell written as
the field writes it.

A subclass sets ``space`` and ``cell_types`` (the type of every cell, in order) and has
``cells()`` whose ``edges`` are :class:`~.mixed_edge.MixedEdge` s in the space's edge order.
"""

from __future__ import annotations

import torch

from ..architecture import Architecture
from ..errors import PgnasError
from .base import Supernet, SwitchLayout
from .mixed_edge import SHARING, sites_of
from .spaces import SearchSpace


class CellSpaceSupernet(Supernet):
    space: SearchSpace  # subclasses' __init__ also sets gating = None and share = "all"

    def cells(self) -> list:
        raise NotImplementedError

    def stage_of(self) -> list[int]:
        """The stage of every cell (``share=stage``)."""
        raise NotImplementedError

    def cell_type_of(self) -> list[int]:
        """The type of every cell (an index into ``space.cell_types``)."""
        return [0] * len(self.cells())

    # ---- sharing groups -----------------------------------------------------------------
    def groups(self, share: str | None = None) -> list[int]:
        """The sharing group of every cell, in order (``share``: one of SHARING). With more
        than one cell type, "all" shares within a type (DARTS: one normal and one reduction
        architecture)."""
        share = share or self.share
        if share not in SHARING:
            raise ValueError(f"share {share!r}: one of {SHARING}")
        n = len(self.cells())
        if share == "all":
            return self.cell_type_of()
        if share == "stage":
            return self.stage_of()
        return list(range(n))

    def num_groups(self, share: str | None = None) -> int:
        return max(self.groups(share)) + 1

    def attach_gating(self, gating, share: str = "all") -> None:
        """A method's gates (a module returning EdgeGates), read by every cell; None: plain."""
        self.share = share
        self.groups(share)  # checks the name
        self.gating = gating

    # ---- switches (BayesNAS): a parent per edge, a child per searched operation -----------
    def switch_layout(self, share: str = "all") -> SwitchLayout:
        sp = self.space
        edges = tuple(sp.edge_label(e) for e in range(len(sp.edges)))
        return SwitchLayout(len(self.cells()), edges, sp.searched_ops, tuple(self.groups(share)))

    def architecture_from_children(self, kept: torch.Tensor) -> Architecture:
        ops, n_edges = self.space.searched_ops, len(self.space.edges)
        chosen = [
            [{op for op, k in zip(ops, kept[u, e]) if k} for e in range(n_edges)]
            for u in range(kept.shape[0])
        ]
        return self.architecture_from_ops(chosen, share="cell")

    # ---- architectures as operations per edge ---------------------------------------------
    def architecture_from_ops(self, chosen, share: str | None = None) -> Architecture:
        """The architecture keeping, on every edge of every cell, all channels of the
        operations ``chosen[group][edge]`` (an op name or a set of names; "none": nothing)
        and nothing of the others."""
        groups = self.groups(share)
        masks = {}
        for k, cell in enumerate(self.cells()):
            for e, edge in enumerate(cell.edges):
                want = chosen[groups[k]][e]
                want = {want} if isinstance(want, str) else set(want)
                for name, op in zip(self.space.searched_ops, edge.ops):
                    for site in sites_of(op):
                        fill = 1.0 if name in want else 0.0
                        masks[site.name] = torch.full((site.channels,), fill)
        return self.architecture_from_masks(masks)

    def ops_of(self, arch: Architecture) -> list[list[tuple[str, ...]]]:
        """For every cell (in order) and edge: the operations that keep a channel."""
        kept = {s.name: len(s.kept) > 0 for s in arch.sites}
        names = self.space.searched_ops
        return [
            [
                tuple(
                    name
                    for name, op in zip(names, edge.ops)
                    if any(kept[s.name] for s in sites_of(op))
                )
                for edge in cell.edges
            ]
            for cell in self.cells()
        ]

    def cell_string(self, arch: Architecture) -> str | None:
        """``arch``'s cell as the field writes it (NAS-Bench-201 arch string, DARTS
        Genotype): the first cell of every type. None when the format cannot hold it (a
        NAS-Bench-201 edge keeping several ops, as PGNAS may derive)."""
        ops, types = self.ops_of(arch), self.cell_type_of()
        first = [ops[types.index(t)] for t in range(len(self.space.cell_types)) if t in types]
        try:
            return self.space.to_string(first)
        except PgnasError:
            return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gating is None:
            return self.body(x)
        return self.body(x, self.gating(), self.groups())
