"""A cell search space as data (docs/method_siblings.md section 2): its nodes, edges, candidate
operations and cell types, how a cell is derived from per-edge operation weights, and how a
derived cell is written as the field writes it. Methods ask the space; none of them knows an
edge count or an operation list.

- ``NB201_SPACE`` (NAS-Bench-201, Dong and Yang 2020): one input node, 3 computed nodes, every
  earlier node feeding every later one (6 edges), 5 operations; derived by argmax per edge
  ("none" allowed); written as the benchmark's arch string.
- ``DARTS_SPACE`` (Liu et al., ICLR 2019): two input nodes (the two previous cells), 4
  intermediate nodes (2 + 3 + 4 + 5 = 14 edges), 8 operations, a normal and a reduction cell
  type; derived by keeping each intermediate node's two strongest incoming edges, each with its
  strongest operation other than "none"; written as DARTS's ``Genotype``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import PgnasError


@dataclass(frozen=True)
class SearchSpace:
    name: str
    ops: tuple[str, ...]  # every edge's candidates, "none" included
    param_free: tuple[str, ...]  # the operations without weights (what DARTS collapses to)
    inputs: int  # input nodes (numbered first)
    nodes: int  # computed (intermediate) nodes
    cell_types: tuple[str, ...]  # one architecture per type (one alpha per type)
    keep_per_node: int | None = None  # incoming edges a derived node keeps (None: all of them)
    none: str = "none"

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """(to, from) of every edge, in the order the nodes are computed."""
        return tuple((j, i) for j in range(self.inputs, self.inputs + self.nodes) for i in range(j))

    @property
    def searched_ops(self) -> tuple[str, ...]:
        """The operations with a module (and a dropout site): all but "none"."""
        return tuple(op for op in self.ops if op != self.none)

    @property
    def none_index(self) -> int:
        return self.ops.index(self.none)

    @property
    def outputs(self) -> tuple[int, ...]:
        """The nodes a cell's output is made of (the last; DARTS: all intermediate ones)."""
        last = self.inputs + self.nodes
        return tuple(range(self.inputs, last)) if self.keep_per_node else (last - 1,)

    def edge_label(self, edge: int) -> str:
        j, i = self.edges[edge]
        return f"{j}<-{i}"

    def searched_weights(self, weights: torch.Tensor) -> torch.Tensor:
        """``weights[..., ops]`` without "none" (which contributes nothing to a mixed edge)."""
        keep = [k for k in range(len(self.ops)) if k != self.none_index]
        if keep == list(range(1, len(self.ops))):
            return weights[..., 1:]
        return weights[..., keep]

    def derive(self, logits: torch.Tensor) -> list[str]:
        """The operation each edge keeps ("none": dropped), from one cell type's (E, ops)
        architecture logits. NAS-Bench-201: argmax per edge. DARTS: each node's
        ``keep_per_node`` incoming edges of largest non-none softmax weight (ties: the
        earlier edge), each with its strongest non-none operation."""
        logits = logits.detach()
        if self.keep_per_node is None:
            return [self.ops[int(k)] for k in logits.argmax(-1)]
        w = F.softmax(logits.float(), -1)
        w[:, self.none_index] = -1.0  # never chosen
        best = w.max(-1)
        chosen = [self.none] * len(self.edges)
        for j in range(self.inputs, self.inputs + self.nodes):
            incoming = [e for e, (to, _) in enumerate(self.edges) if to == j]
            incoming.sort(key=lambda e: -float(best.values[e]))  # stable: ties keep order
            for e in incoming[: self.keep_per_node]:
                chosen[e] = self.ops[int(best.indices[e])]
        return chosen

    def nodes_of(self, chosen: list) -> list[list[tuple[str, int]]]:
        """One list per computed node of its incoming (op, from_node) pairs: every op kept
        on the edge (``chosen[e]``: a name or a collection of names); NAS-Bench-201 lists
        "none" edges too, DARTS leaves them out."""
        out = [[] for _ in range(self.nodes)]
        for (j, i), ops in zip(self.edges, chosen):
            ops = [ops] if isinstance(ops, str) else list(ops)
            ops = [op for op in ops if op != self.none]
            if not ops and self.keep_per_node is None:
                ops = [self.none]
            out[j - self.inputs] += [(op, i) for op in ops]
        return out

    def to_string(self, chosen_per_type: list[list]) -> str:
        """A derived cell as the field writes it: NAS-Bench-201's arch string (one cell
        type), or DARTS's Genotype (normal and reduction cell; ``chosen_per_type[t][e]``)."""
        from .genotypes import Genotype, genotype_string, nb201_string

        if self.keep_per_node is None:
            return nb201_string(self.nodes_of(chosen_per_type[0]))
        nodes = [self.nodes_of(c) for c in chosen_per_type]
        wrong = [len(n) for cell in nodes for n in cell if len(n) != self.keep_per_node]
        if wrong:  # a Genotype lists exactly keep_per_node (op, input) pairs per node
            raise PgnasError(
                f"a {self.name} Genotype needs {self.keep_per_node} (op, input) pairs per node; "
                f"this cell has a node with {wrong[0]} (channel or pruned subsets, not a "
                f"DARTS cell)"
            )
        pairs = [[p for node in cell for p in node] for cell in nodes]
        concat = list(self.outputs)
        return genotype_string(Genotype(pairs[0], concat, pairs[-1], concat))


NB201_SPACE = SearchSpace(
    name="nb201",
    ops=("none", "skip_connect", "conv_1x1", "conv_3x3", "avg_pool_3x3"),
    param_free=("skip_connect", "avg_pool_3x3"),
    inputs=1,
    nodes=3,
    cell_types=("cell",),
)

DARTS_SPACE = SearchSpace(
    name="darts",
    ops=(
        "none",
        "max_pool_3x3",
        "avg_pool_3x3",
        "skip_connect",
        "sep_conv_3x3",
        "sep_conv_5x5",
        "dil_conv_3x3",
        "dil_conv_5x5",
    ),
    param_free=("max_pool_3x3", "avg_pool_3x3", "skip_connect"),
    inputs=2,
    nodes=4,
    cell_types=("normal", "reduce"),
    keep_per_node=2,
)
