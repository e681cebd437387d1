"""The cell search space's searches, drawn: a derived cell as a graph (in the style of the
architecture graphs), the architecture weights per edge over the epochs (softmax of alpha, with
BaLeNAS's sigma as a band), and the fraction of parameter-free operations per epoch."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pgnas_core.architecture import Architecture
from pgnas_core.run.results import as_run, operation_table, site_tags
from pgnas_core.supernets.spaces import NB201_SPACE

from .graph import ArchitectureGraph, warn_if_no_dot
from .inputs import axes_or_new, is_run


def op_colours(ops) -> dict[str, str]:
    """One matplotlib colour per operation, in the space's order."""
    return {op: f"C{i}" for i, op in enumerate(ops)}


OP_COLOURS = op_colours(NB201_SPACE.ops)


def cell_table(arch: Architecture, stage: int = 0, block: int = 0) -> pd.DataFrame:
    """One row per operation of one cell: edge, op, kept fraction (from the sites' tags)."""
    ops = operation_table(arch, site_tags(arch))
    rows = ops[(ops["stage"] == stage) & (ops["block"] == block)]
    if rows.empty:
        raise ValueError(f"{arch.supernet} has no cell at stage {stage}, block {block}")
    return rows.rename(columns={"branch": "edge", "layer": "operation"})[
        ["edge", "operation", "kept", "kept_fraction", "kept_channels", "channels", "op"]
    ].reset_index(drop=True)


def cell_graph(
    arch, stage: int = 0, block: int = 0, show_dropped: bool = False, notes: dict | None = None
):
    """A derived cell: its 4 nodes, and each kept operation as a box on its edge, labelled
    with the proportion of its input channels kept (more kept, darker; an edge with no kept
    operation is "none" and not drawn). ``arch``: an Architecture of a cell supernet, or a
    run directory / RunResults (its winner). ``notes``: (edge, operation) -> a line added
    to its label (e.g. BayesNAS's relevance: :func:`pgnas_viz.relevance_notes`)."""
    if is_run(arch):
        run = as_run(arch)
        if run.architecture is None:
            raise FileNotFoundError(f"{run.run_dir}: no subnet/arch.json (derive first)")
        arch = run.architecture
    table = cell_table(arch, stage, block)
    g = ArchitectureGraph(
        name="cell",
        graph_attr={"rankdir": "LR", "fontsize": "12", "labelloc": "t",
                    "label": f"{arch.supernet}: cell {stage}.{block}"},
        node_attr={"shape": "box", "style": "rounded,filled", "fillcolor": "white",
                   "fontsize": "10"},
    )  # fmt: skip
    g.ops = []
    pairs = [tuple(int(v) for v in e.split("<-")) for e in dict.fromkeys(table["edge"])]
    targets = {j for j, _ in pairs}
    last = max(targets)
    for n in range(last + 1):
        name = "input" if n not in targets else "output" if n == last else str(n)
        g.node(f"n{n}", f"{name} {n}" if name == "input" and min(targets) > 1 else name,
               shape="circle")  # fmt: skip
    for row in table.to_dict("records"):
        if not (row["kept"] or show_dropped):
            continue
        j, i = (int(v) for v in row["edge"].split("<-"))
        attrs = {"style": "dashed", "color": "grey", "fontcolor": "grey"}
        if row["kept"]:
            shade = int(255 - 90 * float(row["kept_fraction"]))
            attrs = {"fillcolor": f"#{shade:02x}{shade:02x}ff"}
            g.ops.append(row["op"])
        label = f"{row['kept_fraction']:.2f}  {row['operation']}"
        note = (notes or {}).get((row["edge"], row["operation"]))
        g.node(row["op"], label if note is None else f"{label}\n{note}", **attrs)
        g.edge(f"n{i}", row["op"])
        g.edge(row["op"], f"n{j}")
    warn_if_no_dot()
    return g


def _weight_quantiles(alpha: np.ndarray, sigma: np.ndarray, n: int = 200, seed: int = 0):
    """(16%, 84%) quantiles of softmax(alpha + sigma * eps) per op: BaLeNAS's spread."""
    rng = np.random.default_rng(seed)
    a = alpha[None] + sigma[None] * rng.standard_normal((n, *alpha.shape))
    w = np.exp(a - a.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return np.quantile(w, 0.16, axis=0), np.quantile(w, 0.84, axis=0)


def plot_arch_weights(arch_params, ax=None, group: int = 0):
    """The architecture weights of every edge over the epochs: softmax(alpha) per operation
    (one panel per edge), with the 16-84% band of softmax(alpha + sigma eps) when the table
    has sigma (BaLeNAS). ``arch_params``: arch_params.csv (a DataFrame, run directory or
    RunResults). ``ax``: one Axes per edge, or None for a new figure (2x3 for NAS-Bench-201's
    6 edges, 3 columns for more); returns them. The edges and operations are the table's."""
    df = _arch_params(arch_params)
    df = df[df["group"] == group]
    edges, ops = list(dict.fromkeys(df["edge"])), list(dict.fromkeys(df["op"]))
    colours = op_colours(ops)
    if ax is None:
        import matplotlib.pyplot as plt

        rows = -(-len(edges) // 3)
        _, ax = plt.subplots(rows, 3, figsize=(13, 3 * rows), sharex=True, sharey=True,
                             layout="constrained")  # fmt: skip
    axes = np.asarray(ax).ravel()
    epochs = sorted(df["epoch"].unique())
    for edge, a in zip(edges, axes):
        d = df[df["edge"] == edge]
        alpha = d.pivot(index="epoch", columns="op", values="alpha")[ops].to_numpy()
        weight = d.pivot(index="epoch", columns="op", values="weight")[ops].to_numpy()
        if "sigma" in d and d["sigma"].notna().all():
            sigma = d.pivot(index="epoch", columns="op", values="sigma")[ops].to_numpy()
            lo, hi = _weight_quantiles(alpha, sigma)
            for k, op in enumerate(ops):
                a.fill_between(epochs, lo[:, k], hi[:, k], color=colours[op], alpha=0.15)
        for k, op in enumerate(ops):
            a.plot(epochs, weight[:, k], color=colours[op], marker=".", label=op)
        a.set_title(f"edge {edge}", fontsize=9)
        a.set_xlabel("epoch")
    axes[0].set_ylabel("softmax(alpha)")
    axes[0].legend(fontsize=7)
    return axes


def plot_param_free_fraction(histories, ax=None, space=NB201_SPACE):
    """Fraction of the argmax architecture's edges that are skip or pooling, per epoch, one
    line per run: ``histories`` maps a label to a history.csv (DataFrame or run)."""
    ax = axes_or_new(ax)
    for label, h in dict(histories).items():
        h = as_run(h).history if is_run(h) else h
        ax.plot(h["epoch"], h["param_free_fraction"], marker="o", label=label)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"edges choosing {' or '.join(space.param_free)}")
    ax.set_title("collapse to parameter-free operations?")
    ax.legend(fontsize=8)
    return ax


def _arch_params(data) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if is_run(data):
        run = as_run(data)
        if "arch_params" not in run.tables:
            raise FileNotFoundError(f"{run.run_dir}: no arch_params.csv (a DARTS/BaLeNAS run)")
        return run.tables["arch_params"]
    raise TypeError(f"expected a DataFrame or a run directory, got {type(data).__name__}")
