"""The three accuracies of every method, each named for what it is, with intervals over seeds:

- ``supernet``: the trained supernet as its method evaluates it (``supernet_test_acc``: DARTS's
  and BaLeNAS's softmax mixture, PGNAS's posterior mean, BayesNAS with every switch);
- ``inherited``: the derived net with the weights it inherits from the supernet (``test_acc``);
- ``scratch``: the same architecture trained from fresh weights (``test_acc_scratch``).

Each interval is the crossed bootstrap over seeds and test images where every seed saved the
net's per-image test bits (the study's ``test_correct.npz``; docs/statistics.md), else the
95% t-interval over seeds (none with one seed). Results made before summary.json version 2
recorded DARTS's and BaLeNAS's argmax cell as their ``supernet_test_acc``; those numbers
(equal to ``test_acc`` in every seed) are not the mixture's and are left out.

:func:`search_learned` says beside them whether each search left its starting point (the
final search diagnostic of :data:`~pgnas_core.methods.diagnostics.LEARNED_RULES`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...methods.diagnostics import LEARNED_RULES, learned
from .evidence import of_table
from .stats import LEVEL, hierarchical_interval, t_interval

#: kind -> (the study table's metric, what the number is)
KINDS = {
    "supernet": ("supernet_test_acc", "supernet (mixture)"),
    "inherited": ("test_acc", "derived, inherited weights"),
    "scratch": ("test_acc_scratch", "derived, from scratch"),
}
T_INTERVAL, BOOTSTRAP = "t over seeds", "bootstrap over seeds and test images"
#: The methods whose summary.json version 1 recorded the argmax cell as the supernet.
ARGMAX_V1_METHODS = ("darts", "balenas")
#: method -> its display name
NAMES = {"pgnas": "PGNAS", "random": "Random", "darts": "DARTS", "balenas": "BaLeNAS",
         "bayesnas": "BayesNAS"}  # fmt: skip


def _v1_supernet(rows: pd.DataFrame) -> bool:
    """Whether one (config, method)'s ``supernet_test_acc`` is a version-1 DARTS/BaLeNAS
    record: the argmax cell's number, equal to ``test_acc`` in every seed."""
    if str(rows["method"].iloc[0]) not in ARGMAX_V1_METHODS:
        return False
    sup = rows[rows["metric"] == KINDS["supernet"][0]].groupby("seed")["value"].mean()
    der = rows[rows["metric"] == KINDS["inherited"][0]].groupby("seed")["value"].mean()
    both = sup.index.intersection(der.index)
    return len(both) > 0 and len(both) == len(sup) and bool(np.allclose(sup[both], der[both]))


def accuracy_values(table: pd.DataFrame) -> pd.DataFrame:
    """The three accuracies per seed: columns config, method, seed, kind, label, metric,
    value (a study's tidy table in; version-1 argmax "supernet" numbers left out)."""
    metric_kind = {metric: kind for kind, (metric, _) in KINDS.items()}
    out = []
    for _, rows in table.groupby(["config", "method"], sort=False):
        acc = rows[rows["metric"].isin(metric_kind)]
        if _v1_supernet(rows):
            acc = acc[acc["metric"] != KINDS["supernet"][0]]
        out.append(acc)
    cols = ["config", "method", "seed", "kind", "label", "metric", "value"]
    if not out:
        return pd.DataFrame(columns=cols)
    acc = pd.concat(out, ignore_index=True)
    acc["kind"] = acc["metric"].map(metric_kind)
    acc["label"] = acc["kind"].map(lambda k: KINDS[k][1])
    return acc[cols].reset_index(drop=True)


def _bits(table: pd.DataFrame, values: pd.DataFrame) -> np.ndarray | None:
    """seeds x test images: the per-image correctness of one net in each of its seeds, or
    None unless every seed saved bits that reproduce its accuracy, on the same test images."""
    ev = of_table(table)
    if not ev.correct:
        return None
    rows, digests = [], set()
    for _, r in values.iterrows():
        key = (r["config"], r["seed"], r["method"], r["metric"])
        bits = ev.bits(*key)
        if bits is None or abs(bits.mean() - float(r["value"])) > 1e-9:
            return None
        rows.append(bits)
        digests.add(ev.digest(*key))
    if len({len(b) for b in rows}) != 1 or len(digests) != 1:
        return None
    return np.stack(rows).astype(float)


def accuracy_intervals(table: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """One row per (config, method, kind): method, kind, label, metric, n (seeds), mean, sd,
    ci_low, ci_high and which interval (``interval``; empty where there is none)."""
    acc = accuracy_values(table)
    rows = []
    for (config, method, kind), g in acc.groupby(["config", "method", "kind"], sort=False):
        g = g.groupby("seed", as_index=False).first()  # one value per seed
        mean, sd, low, high, n = t_interval(g["value"], level)
        how = T_INTERVAL if n > 1 else ""
        bits = _bits(table, g)
        if bits is not None:
            boot = hierarchical_interval(bits, level=level)
            low, high, how = boot["ci_low"], boot["ci_high"], BOOTSTRAP
        rows.append({"config": config, "method": method, "kind": kind,
                     "label": KINDS[kind][1], "metric": KINDS[kind][0], "n": n, "mean": mean,
                     "sd": sd, "ci_low": low, "ci_high": high, "interval": how})  # fmt: skip
    order = {k: i for i, k in enumerate(KINDS)}
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["_order"] = out["kind"].map(order)
    first = {c: i for i, c in enumerate(dict.fromkeys(out["config"]))}
    out["_config"] = out["config"].map(first)
    out = out.sort_values(["_config", "method", "_order"], kind="stable")
    return out.drop(columns=["_order", "_config"]).reset_index(drop=True)


def _fmt(mean: float, low: float, high: float) -> str:
    if math.isnan(mean):
        return "-"
    if math.isnan(low):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def accuracy_table(table: pd.DataFrame, level: float = LEVEL) -> pd.DataFrame:
    """The three accuracies side by side, one row per method: ``mean [ci_low, ci_high]`` in a
    column per kind (named for what it is), seeds, and the interval used."""
    iv = accuracy_intervals(table, level)
    if iv.empty:
        return pd.DataFrame(columns=["method", *(label for _, label in KINDS.values())])
    rows = []
    for (config, method), g in iv.groupby(["config", "method"], sort=False):
        row = {"method": NAMES.get(method, method), "config": config}
        for kind, (_, label) in KINDS.items():
            k = g[g["kind"] == kind]
            row[label] = "-" if k.empty else _fmt(*k[["mean", "ci_low", "ci_high"]].iloc[0])
        row["seeds"] = int(g["n"].max())
        row["interval"] = ", ".join(sorted({h for h in g["interval"] if h})) or "none (1 seed)"
        rows.append(row)
    return pd.DataFrame(rows)


def search_learned(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (config, method): the final search diagnostic that says whether the search
    learned (``diagnostic``, its per-seed ``values``), the rule, and ``learned``: yes, no (in
    how many seeds), unknown (no diagnostic recorded) or n/a (nothing to learn: Random)."""
    rows = []
    for (config, method), g in table.groupby(["config", "method"], sort=False):
        row = {"config": config, "method": NAMES.get(method, method)}
        if method not in LEARNED_RULES:
            rows.append({**row, "diagnostic": "", "values": "", "rule": "",
                         "learned": "n/a (no architecture parameters to learn)"})  # fmt: skip
            continue
        key, op, threshold, _ = LEARNED_RULES[method]
        values = g[g["metric"] == key].groupby("seed")["value"].mean()
        seeds = sorted(g["seed"].unique())
        said = [learned(method, {key: values[s]} if s in values.index else None) for s in seeds]
        if all(ok is None for ok in said):
            verdict = "unknown (runs predate the diagnostics)"
        elif all(ok is True for ok in said):
            verdict = "yes"
        else:
            bad = sum(ok is False for ok in said)
            verdict = f"no in {bad} of {len(seeds)} seeds" if bad else "unknown in some seeds"
        rows.append({**row, "diagnostic": key,
                     "values": ", ".join(f"{v:.3g}" for v in values.to_numpy()),
                     "rule": f"{key} {op} {threshold:g}", "learned": verdict})  # fmt: skip
    return pd.DataFrame(rows)


def learned_line(row) -> str:
    """``DARTS: max_op_weight 0.21, 0.23 (learned if >= 0.4): no in 2 of 2 seeds``."""
    if not row["diagnostic"]:
        return f"{row['method']}: {row['learned']}"
    values = row["values"] or "not recorded"
    rule = f"(learned if {row['rule']})"
    return f"{row['method']}: final {row['diagnostic']} {values} {rule}: {row['learned']}"
