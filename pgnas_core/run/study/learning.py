"""Whether the runs behind a claim learned: each side's runs' final search diagnostics (the
study table's last-epoch values) judged by :func:`~pgnas_core.methods.diagnostics.learned`,
as one note shown beside the verdict (a verdict on searches that never left their start
says little about the methods).

- ``yes``: every run of a method that learns (DARTS, BaLeNAS, BayesNAS, PGNAS) learned;
- ``no: DARTS max op weight 0.2-0.26 < 0.4 in 3 of 3 seeds``: the runs that did not;
- ``unknown (runs predate the diagnostics)``: the table has no diagnostic for them;
- empty: no side ran a method that learns (Random only, or no data).
"""

from __future__ import annotations

import pandas as pd

from ...methods.diagnostics import LEARNED_RULES, learned, learns, shortfall
from .claim_types import Claim, Side

YES = "yes"
UNKNOWN = "unknown (runs predate the diagnostics)"
NAMES = {"darts": "DARTS", "balenas": "BaLeNAS", "bayesnas": "BayesNAS", "pgnas": "PGNAS"}


def _groups(claim: Claim, table: pd.DataFrame) -> dict[tuple[str, str], pd.DataFrame]:
    """(config, method) -> its rows, for every run of a learning method on either side."""
    sides = [claim.a] + ([claim.b] if isinstance(claim.b, Side) else [])
    groups = {}
    for side in sides:
        m = pd.Series(True, index=table.index)
        if side.config is not None:
            m &= table["config"] == side.config
        if side.method is not None:
            m &= table["method"] == side.method
        for (config, method), rows in table[m].groupby(["config", "method"], sort=False):
            if learns(str(method)):
                groups.setdefault((str(config), str(method)), rows)
    return groups


def learned_note(claim: Claim, table: pd.DataFrame) -> str:
    """Whether the runs on the claim's sides learned (see the module's docstring)."""
    if table.empty:
        return ""
    groups = _groups(claim, table)
    methods = [method for _, method in groups]
    failed, unknown = [], 0
    for (config, method), rows in groups.items():
        key = LEARNED_RULES[method][0]
        values = rows[rows["metric"] == key].groupby("seed")["value"].mean()
        seeds = sorted(rows["seed"].unique())
        said = {s: learned(method, {key: values[s]} if s in values.index else None) for s in seeds}
        unknown += sum(ok is None for ok in said.values())
        bad = [float(values[s]) for s, ok in said.items() if ok is False]
        if bad:
            name = NAMES.get(method, method)
            name += f" {config}" if methods.count(method) > 1 else ""
            failed.append(f"{name} {shortfall(method, bad)} in {len(bad)} of {len(seeds)} seeds")
    if failed:
        return "no: " + "; ".join(failed) + ("; other runs unknown" if unknown else "")
    if unknown:
        return UNKNOWN
    return YES if groups else ""
