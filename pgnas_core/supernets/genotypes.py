"""Derived cells written as the field writes them, so that a result can be looked up or rebuilt
with the field's own tools.

- NAS-Bench-201's arch string (Dong and Yang, ICLR 2020): node by node, each incoming edge as
  ``op~i``, nodes separated by ``+``: ``|nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|``. The
  benchmark's API looks a cell up by this string.
- DARTS's ``Genotype`` (Liu et al., ICLR 2019, ``genotypes.py``): the kept ``(op, input)`` pairs
  of the normal and the reduction cell, two per intermediate node, and the nodes concatenated.

Both print and parse (without ``eval``), and round-trip. A cell is given as ``nodes``: one list
per non-input node of its incoming ``(op, from_node)`` pairs, in our op names.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from ..errors import PgnasError

#: our NAS-Bench-201 op names -> the benchmark's (the others are spelled alike)
NB201_NAMES = {"conv_1x1": "nor_conv_1x1", "conv_3x3": "nor_conv_3x3"}
_FROM_NB201 = {v: k for k, v in NB201_NAMES.items()}
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

Nodes = list[list[tuple[str, int]]]


def nb201_string(nodes: Nodes) -> str:
    """``nodes[j - 1]``: node j's incoming (op, i) pairs, one per earlier node i (ours: conv_1x1,
    conv_3x3 are written nor_conv_1x1, nor_conv_3x3)."""
    parts = []
    for j, edges in enumerate(nodes, start=1):
        if sorted(i for _, i in edges) != list(range(j)):
            raise PgnasError(
                f"NAS-Bench-201 node {j} needs exactly one edge from each of nodes 0..{j - 1}, "
                f"got inputs {[i for _, i in edges]}"
            )
        parts.append("|" + "|".join(f"{NB201_NAMES.get(op, op)}~{i}" for op, i in edges) + "|")
    return "+".join(parts)


def parse_nb201(text: str) -> Nodes:
    """The nodes of a NAS-Bench-201 arch string, in our op names."""
    nodes = []
    for j, part in enumerate(text.strip().split("+"), start=1):
        if not (part.startswith("|") and part.endswith("|")) or len(part) < 3:
            raise PgnasError(f"NAS-Bench-201 arch string: node {j} {part!r} is not |op~i|...|")
        edges = []
        for item in part[1:-1].split("|"):
            op, sep, frm = item.partition("~")
            if not sep or not frm.isdigit() or op not in NB201_OPS:
                raise PgnasError(
                    f"NAS-Bench-201 arch string: {item!r} in node {j} is not op~i with op one "
                    f"of {', '.join(NB201_OPS)}"
                )
            edges.append((_FROM_NB201.get(op, op), int(frm)))
        if sorted(i for _, i in edges) != list(range(j)):
            raise PgnasError(
                f"NAS-Bench-201 arch string: node {j} must have one edge from each of nodes "
                f"0..{j - 1}, got {[i for _, i in edges]}"
            )
        nodes.append(edges)
    return nodes


class Genotype(NamedTuple):
    """DARTS's genotype: ``normal``/``reduce`` list (op, input) pairs, two per intermediate node
    (inputs 0 and 1 are the two previous cells, 2.. the intermediate nodes)."""

    normal: list[tuple[str, int]]
    normal_concat: list[int]
    reduce: list[tuple[str, int]]
    reduce_concat: list[int]


def genotype_string(g: Genotype) -> str:
    """As DARTS prints it: ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4,
    5], reduce=[...], reduce_concat=[2, 3, 4, 5])``."""
    return (
        f"Genotype(normal={[(str(o), int(i)) for o, i in g.normal]}, "
        f"normal_concat={[int(i) for i in g.normal_concat]}, "
        f"reduce={[(str(o), int(i)) for o, i in g.reduce]}, "
        f"reduce_concat={[int(i) for i in g.reduce_concat]})"
    )


def parse_genotype(text: str) -> Genotype:
    """A ``Genotype(...)`` as DARTS and its successors write it (lists or ``range(2, 6)`` for the
    concats, any whitespace), read as literals only."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise PgnasError(f"Genotype string: not Python syntax ({e.msg})") from None
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "Genotype"):
        raise PgnasError("Genotype string: expected Genotype(normal=..., reduce=...)")
    fields = list(Genotype._fields)
    values = dict(zip(fields, call.args))
    values.update({k.arg: k.value for k in call.keywords})
    missing = [f for f in fields if f not in values]
    if missing or len(values) != len(fields):
        raise PgnasError(f"Genotype string: needs exactly the fields {fields}, missing {missing}")
    out = {}
    for name, node in values.items():
        value = _literal(node, name)
        if name.endswith("concat"):
            if not all(isinstance(i, int) for i in value):
                raise PgnasError(f"Genotype string: {name} must list node numbers")
            out[name] = list(value)
        else:
            if not all(
                isinstance(p, tuple)
                and len(p) == 2
                and isinstance(p[0], str)
                and isinstance(p[1], int)
                for p in value
            ):
                raise PgnasError(f"Genotype string: {name} must list (op, input) pairs")
            out[name] = [(op, i) for op, i in value]
    return Genotype(**out)


def _is_pair(p) -> bool:
    return isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], int)


def _literal(node: ast.AST, name: str):
    """A literal, or ``range(a, b)`` (DARTS's concats)."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "range":
        return list(range(*(ast.literal_eval(a) for a in node.args)))
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise PgnasError(f"Genotype string: {name} is not a literal") from None


def genotype_nodes(pairs: list[tuple[str, int]], per_node: int = 2) -> Nodes:
    """A genotype's flat pair list, grouped by intermediate node."""
    return [pairs[k : k + per_node] for k in range(0, len(pairs), per_node)]
