"""BayesNAS's pruning, measured (docs/method_siblings.md section 6): accuracy before and after
pruning, and pruning by posterior relevance against pruning by switch magnitude at equal sparsity --
the numbers behind notebook 11 and its threshold slider."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..data import load_data, stack_split
from ..train.evaluation import evaluate
from .results import operation_table, site_tags
from .run_dir import RunDir, load_supernet


class PrunedRun:
    """A trained BayesNAS run, loaded once, pruned and evaluated any number of ways (with the
    trained switch values; pruned switches' operations absent)."""

    def __init__(self, run_dir: str | Path):
        self.run_dir = str(run_dir)
        cfg = RunDir(run_dir).read_config()
        self.net, self.method = load_supernet(run_dir)
        self.method.require("pruning", "the pruning analysis")
        data = load_data(cfg.data)
        self.method.bind_data(data)
        self.splits = {"val": stack_split(data.val), "test": stack_split(data.test)}
        self.batch = cfg.data.eval_batch_size
        self.children = int(self.method.gamma["child"].numel())
        self.parents = int(self.method.gamma["parent"].numel())
        self._unpruned: dict | None = None

    def evaluate(self, kept: dict | None) -> dict:
        """Validation and test accuracy of the supernet pruned to ``kept`` (None: unpruned)."""
        net, method = self.net, self.method
        if kept is None:
            if self._unpruned is None:
                with method.evaluation_mode(net):
                    self._unpruned = self._accuracies()
            return self._unpruned
        with method.derived_mode(net, method.architecture(net, kept)):
            return self._accuracies()

    def _accuracies(self) -> dict:
        return {s: evaluate(self.net, *xy, self.batch)["acc"] for s, xy in self.splits.items()}

    def test_correct(self, kept: dict | None):
        """Which test images the supernet pruned to ``kept`` (None: unpruned) gets right (a
        bool array in the test split's order)."""
        net, method = self.net, self.method
        mode = (
            method.evaluation_mode(net)
            if kept is None
            else method.derived_mode(net, method.architecture(net, kept))
        )
        with mode:
            r = evaluate(net, *self.splits["test"], self.batch, per_image=True)
        return r["correct"].numpy()

    def at_threshold(self, threshold: float, by: str = "relevance") -> dict:
        """What BayesNAS's derivation keeps at ``threshold``, and its accuracies."""
        kept = self.method.kept(self.net, by=by, threshold=threshold)
        return {"threshold": threshold, "by": by, **self._row(kept)}

    def switch_table(self, threshold: float, by: str = "relevance") -> pd.DataFrame:
        """switches.csv's rows for the trained switches, "kept" at ``threshold``."""
        kept = self.method.kept(self.net, by=by, threshold=threshold)
        return pd.DataFrame(self.method.epoch_tables(self.net, -1, kept)["switches"])

    def at_count(self, count: int, by: str) -> dict:
        """The ``count`` best children by ``by`` (equal sparsity), and its accuracies."""
        kept = self.method.kept(self.net, by=by, keep_children=count)
        return {"by": by, **self._row(kept)}

    def _row(self, kept: dict) -> dict:
        acc = self.evaluate(kept)
        ops = self.kept_operations(kept)
        return {
            "kept_children": int(kept["child"].sum()),
            "kept_parents": int(kept["parent"].sum()),
            "children": self.children,
            "orphans": int((~ops["parent_kept"]).sum()),
            "dead_cells": dead_cells(ops, self.method.layout),
            "val_acc": acc["val"],
            "test_acc": acc["test"],
        }

    def kept_operations(self, kept: dict) -> pd.DataFrame:
        """The operations alive in the architecture derived from ``kept`` (read back from the
        Architecture, not from ``kept``), each with whether its edge's parent switch is kept:
        HARD says none may live under a pruned parent."""

        arch = self.method.architecture(self.net, kept)
        table = operation_table(arch, site_tags(arch))
        layout = self.method.layout
        units = {sb: u for u, sb in enumerate(sorted(set(zip(table["stage"], table["block"]))))}
        alive = table[table["kept"]].copy()
        unit = [units[sb] for sb in zip(alive["stage"], alive["block"])]
        edge = [layout.edges.index(b) if b in layout.edges else 0 for b in alive["branch"]]
        groups = [layout.groups[u] for u in unit]
        alive["unit"] = unit
        alive["parent_kept"] = kept["parent"][groups, edge].tolist() if len(alive) else []
        return alive


def dead_cells(ops: pd.DataFrame, layout) -> int:
    """Cells whose alive edges do not connect their input node to their output node, so they
    pass nothing on (pruning by relevance can leave these); 0 for blocks, which keep their
    shortcut. ``ops``: :meth:`PrunedRun.kept_operations`."""
    if not all("<-" in e for e in layout.edges):
        return 0
    pairs = [tuple(int(v) for v in e.split("<-")) for e in layout.edges]
    output = max(j for j, _ in pairs)
    inputs = min(j for j, _ in pairs)  # nodes before the first computed one (DARTS: 2)
    dead = 0
    for u in range(layout.units):
        alive = {pairs[layout.edges.index(b)] for b in ops.loc[ops["unit"] == u, "branch"]}
        reached = set(range(inputs))
        for j in range(inputs, output + 1):
            if any((j, i) in alive for i in reached):
                reached.add(j)
        # one input node: the last node is the output; DARTS concatenates every computed node
        dead += output not in reached if inputs == 1 else len(reached) == inputs
    return dead


def pruning_study(
    run: str | Path | PrunedRun,
    fractions: Sequence[float] = (0.1, 0.25, 0.5, 0.75),
    by: Sequence[str] = ("relevance", "magnitude"),
) -> pd.DataFrame:
    """Accuracy of the run's supernet pruned to each fraction of its child switches, ranked by
    posterior relevance and by switch magnitude (equal sparsity), plus the unpruned supernet
    (``by = none``). One row per (fraction, ranking). ``run``: a run directory or a loaded
    :class:`PrunedRun`."""
    run = run if isinstance(run, PrunedRun) else PrunedRun(run)
    full = run.evaluate(None)
    rows = [
        {
            "fraction": 1.0,
            "by": "none",
            "kept_children": run.children,
            "kept_parents": run.parents,
            "children": run.children,
            "orphans": 0,
            "dead_cells": 0,
            "val_acc": full["val"],
            "test_acc": full["test"],
        }
    ]
    for f in fractions:
        count = max(1, round(f * run.children))
        rows += [{"fraction": f, **run.at_count(count, b)} for b in by]
    return pd.DataFrame(rows)
