"""The searched architecture as a graph, in the style of the supplement's Fig. 2.

Each operation (masked conv or linear) is a node labelled with the proportion of its input
kernels kept (and its kernel size); operations with nothing kept are omitted. Edges follow the
data flow derived from the sites' tags, generically over supernet families: stages in order,
blocks in order within a stage, the branches of a block as parallel paths into a merge node,
the layers of a branch in sequence. Returns a ``graphviz.Digraph`` (Jupyter renders it).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import graphviz
import pandas as pd

from pgnas_core.architecture import Architecture
from pgnas_core.run.results import RunResults, as_run, keep_prob_table, operation_table, site_tags

from .inputs import is_run

INSTALL_HINT = (
    "graphviz's `dot` program is not installed, so graphs cannot be drawn as "
    "images (the Digraph and its DOT source still work): install it with "
    "`apt-get install graphviz` or `conda install -c conda-forge graphviz`"
)


def dot_available() -> bool:
    return shutil.which("dot") is not None


def warn_if_no_dot() -> bool:
    """One warning line with the install hint when `dot` is missing; True when it is there."""
    if dot_available():
        return True
    warnings.warn(INSTALL_HINT, RuntimeWarning, stacklevel=3)
    return False


class ArchitectureGraph(graphviz.Digraph):
    """A Digraph that remembers which operations it draws (``ops``) and, without `dot`,
    shows its DOT source in Jupyter instead of failing."""

    ops: list[str]

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        if not dot_available():
            return {"text/plain": f"{INSTALL_HINT}\n\n{self.source}"}
        return super()._repr_mimebundle_(include=include, exclude=exclude, **kwargs)


def _keep_prob_map(keep_probs) -> dict[str, float] | None:
    if keep_probs is None:
        return None
    if isinstance(keep_probs, pd.DataFrame):
        last = keep_prob_table(keep_probs)
        return dict(zip(last["site"], last["keep_prob"].astype(float)))
    return {k: float(v) for k, v in dict(keep_probs).items()}


def _op_title(row: dict) -> str:
    branch, kernel = row.get("branch"), row.get("kernel")
    if isinstance(branch, str) and not branch.isdigit() and branch in ("fc", "linear", "head"):
        return "fc"
    name = f"conv{kernel}x{kernel}" if kernel is not None else "op"
    return f"{branch} {name}" if isinstance(branch, str) and not branch.isdigit() else name


def _label(row: dict, full: bool) -> str:
    kept, ch = int(row["kept_channels"]), int(row["channels"])
    lines = [f"{row['kept_fraction']:.2f}  {_op_title(row)}"]
    lines.append(f"{ch} in" if full else f"{kept}/{ch} kept")
    if "keep_prob" in row and pd.notna(row["keep_prob"]):
        lines.append(f"1-p = {row['keep_prob']:.2f}")
    return "\n".join(lines)


#: Branches that run beside the block (shortcuts): they never feed another branch.
SKIP_BRANCHES = ("skip", "shortcut", "identity")


def _blocks(ops: pd.DataFrame) -> list[tuple[object, object, list[dict]]]:
    """[(stage, block, op rows)] in the supernet's order."""
    blocks: dict[tuple, list] = {}
    for row in ops.to_dict("records"):
        blocks.setdefault((row.get("stage"), row.get("block")), []).append(row)
    return [(s, b, rows) for (s, b), rows in blocks.items()]


def _order(value):
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def block_edges(rows: list[dict]) -> tuple[dict[str, list[str]], list[str]]:
    """The data flow inside one block, from tags alone: each op's predecessors (empty: the
    block's input) and the ops that end the block (merged into its output).

    An op follows the ops of its own branch at the previous layer; the first op of a branch
    follows the last ops of the other (non-shortcut) branches at the highest lower layer
    (e.g. ResNet-50's ``in`` 1x1 -> four kernel branches -> ``out`` 1x1); ops sharing a
    branch and a layer run side by side.
    """

    def layer(r):
        return _order(r.get("layer"))

    last_layer: dict = {}
    for r in rows:
        b = r.get("branch")
        last_layer[b] = max(last_layer.get(b, layer(r)), layer(r))
    preds: dict[str, list[str]] = {}
    for r in rows:
        b, lr = r.get("branch"), layer(r)
        own = [o for o in rows if o.get("branch") == b and layer(o) < lr]
        if own:
            top = max(layer(o) for o in own)
            preds[r["op"]] = [o["op"] for o in own if layer(o) == top]
            continue
        feeders = [
            o
            for o in rows
            if o.get("branch") != b
            and layer(o) < lr
            and str(o.get("branch")) not in SKIP_BRANCHES
            and layer(o) == last_layer[o.get("branch")]
        ]
        if feeders:
            top = max(layer(o) for o in feeders)
            feeders = [o for o in feeders if layer(o) == top]
        preds[r["op"]] = [o["op"] for o in feeders]
    fed = {p for ps in preds.values() for p in ps}
    return preds, [r["op"] for r in rows if r["op"] not in fed]


def build_graph(
    ops: pd.DataFrame, show_dropped: bool = False, full: bool = False, title: str = ""
) -> ArchitectureGraph:
    """Draw an operation table (:func:`pgnas_core.run.results.operation_table`)."""
    g = ArchitectureGraph(
        name="architecture",
        graph_attr={"rankdir": "TB", "label": title, "labelloc": "t", "fontsize": "12"},
        node_attr={
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": "white",
            "fontsize": "10",
        },
    )
    g.ops = []
    g.node("__input", "input", shape="oval")
    prev = "__input"
    for i, (stage, block, rows) in enumerate(_blocks(ops)):
        preds, ends = block_edges(rows)
        drawn = {r["op"] for r in rows if r["kept"] or show_dropped}
        memo: dict[str, list[str]] = {}

        def sources(op: str, memo=memo, preds=preds, prev=prev, drawn=drawn) -> list[str]:
            """The drawn nodes feeding ``op`` (an omitted op passes its own inputs on)."""
            if op not in memo:
                out: list[str] = []
                for p in preds[op] or [None]:
                    for s in [prev] if p is None else [p] if p in drawn else sources(p):
                        if s not in out:
                            out.append(s)
                memo[op] = out
            return memo[op]

        with g.subgraph(name=f"cluster_{i}") as c:
            c.attr(
                label=f"stage {stage}, block {block}", style="dashed", color="grey", fontsize="9"
            )
            for row in rows:
                if row["op"] not in drawn:
                    continue
                attrs = (
                    {} if row["kept"] else {"style": "dashed", "color": "grey", "fontcolor": "grey"}
                )
                if row["kept"]:
                    g.ops.append(row["op"])
                    # more kept, darker: Fig. 2's grey numbers, as a fill
                    shade = int(255 - 90 * float(row["kept_fraction"]))
                    attrs["fillcolor"] = f"#{shade:02x}{shade:02x}ff"
                c.node(row["op"], _label(row, full), **attrs)
                for src in sources(row["op"]):
                    g.edge(src, row["op"])
            outs: list[str] = []
            for e in ends:
                for s in [e] if e in drawn else sources(e):
                    if s not in outs:
                        outs.append(s)
            if len(outs) == 1 and outs[0] != prev:
                prev = outs[0]
                continue
            merge = f"__merge_{i}"
            c.node(merge, "+", shape="circle", width="0.3", fixedsize="true")
            for s in outs:
                if s == prev:  # every op of a path dropped: only constants flow on
                    g.edge(prev, merge, style="dashed", label="dropped", fontsize="8")
                else:
                    g.edge(s, merge)
            prev = merge
    g.node("__output", "output", shape="oval")
    g.edge(prev, "__output")
    warn_if_no_dot()
    return g


def architecture_graph(
    arch, keep_probs=None, show_dropped: bool = False, tags=None
) -> ArchitectureGraph:
    """Supp. Fig. 2: the searched architecture, one node per kept operation labelled with the
    proportion of kernels kept; empty operations omitted (drawn dashed with ``show_dropped``).

    ``arch``: an Architecture, or a run directory / RunResults (its winner, with the run's
    tags and final keep-probabilities). ``keep_probs``: site -> keep-probability, or a
    keep_probs table, to print ``1-p`` too. ``tags``: site -> tags (default: from the run,
    else from the supernet built on the meta device).
    """
    if is_run(arch):
        run: RunResults = as_run(arch)
        if run.architecture is None:
            raise FileNotFoundError(f"{run.run_dir}: no subnet/architecture.json (rank first)")
        tags = tags if tags is not None else (run.tags or None)
        keep_probs = keep_probs if keep_probs is not None else run.keep_probs
        arch = run.architecture
    ops = operation_table(
        arch, site_tags(arch if tags is None else tags), _keep_prob_map(keep_probs)
    )
    kept = int(ops["kept"].sum())
    title = (
        f"{arch.supernet}: {kept}/{len(ops)} operations kept, channels dropped "
        f"{arch.channel_drop_proportion:.2f}"
    )
    return build_graph(ops, show_dropped=show_dropped, title=title)


def supernet_graph(supernet_or_arch, keep_probs=None, tags=None) -> ArchitectureGraph:
    """The full supernet drawn the same way (every operation, with its input channels).

    Accepts a Supernet (its current keep-probabilities are printed), an Architecture (of
    that supernet), or a registered supernet name.
    """
    source = supernet_or_arch
    if isinstance(source, str):
        from pgnas_core.run.results import supernet_skeleton

        source = supernet_skeleton(Architecture(source, (), ()))
    if isinstance(source, Architecture):
        arch = Architecture(
            source.supernet,
            source.options,
            tuple(
                type(s)(s.name, s.op, s.channels, tuple(range(s.channels))) for s in source.sites
            ),
        )
    else:  # a Supernet
        arch = source.full_architecture()
        tags = tags if tags is not None else site_tags(source)
        if keep_probs is None and source.sites()[0].theta.device.type != "meta":
            keep_probs = source.keep_probs()
    ops = operation_table(
        arch, site_tags(arch if tags is None else tags), _keep_prob_map(keep_probs)
    )
    title = f"supernet {arch.supernet}: {len(ops)} operations, {len(arch.sites)} sites"
    return build_graph(ops, full=True, title=title)


def render_graph(graph: graphviz.Digraph, path: str | Path, format: str | None = None) -> Path:
    """Write the graph to ``path`` as SVG, PNG or PDF (``format`` defaults to the suffix).

    Without `dot`, writes the DOT source next to it (``.gv``), warns once, and returns that.
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".") or "svg").lower()
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(f"format {fmt!r}: svg, png or pdf")
    path.parent.mkdir(parents=True, exist_ok=True)
    if not warn_if_no_dot():
        src = path.with_suffix(".gv")
        src.write_text(graph.source)
        return src
    path.write_bytes(graph.pipe(format=fmt))
    return path
