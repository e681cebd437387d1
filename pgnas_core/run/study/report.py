"""The README's tables, generated from the reference results so that they cannot drift from
them (``python scripts/update_readme.py`` rewrites the marked blocks; a test compares)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from .claims import CLAIMS, learned_aside, verdicts
from .reference import load_study_folder, reference_root

#: The columns of a study's tidy table (results.csv), for a study not run yet.
TABLE_COLUMNS = ["study", "tier", "config", "method", "seed", "metric", "value"]
#: A generated README block: ``<!-- name:start -->`` ... ``<!-- name:end -->``.
BLOCK = re.compile(
    r"(<!-- (?P<name>[a-z_]+):start -->\n)(?P<body>.*?)(<!-- (?P=name):end -->)", re.S
)


def _spec(*values: float) -> str:
    """Counts (params, FLOPs) as whole numbers with separators, accuracies to 3 decimals."""
    finite = [abs(v) for v in values if not math.isnan(v)]
    return ",.0f" if finite and max(finite) >= 1000 else ".3f"


def _fmt(mean: float, sd: float, spec: str = ".3f") -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    text = format(mean, spec)
    return text if sd is None or math.isnan(sd) else f"{text} ± {format(sd, spec)}"


def _interval(v) -> str:
    """a - b with its interval (or its p-value), and which interval it is."""
    if math.isnan(v["difference"]):
        return "-"
    signed = "+" + _spec(v["a_mean"], v["b_mean"], v["difference"])
    text = f"{v['difference']:{signed}}"
    if not math.isnan(v["ci_low"]):
        text += f" [{v['ci_low']:{signed}}, {v['ci_high']:{signed}}]"
    elif not math.isnan(v.get("p_value", math.nan)):
        text += f", p = {v['p_value']:.2g}"
    return f"{text} ({v.get('interval', 't over seeds')})"


def _seeds(v) -> str:
    need = v.get("seeds_needed", math.nan)
    if math.isnan(v["ci_low"]) and math.isnan(v.get("p_value", math.nan)):
        return str(v["seeds"])  # no interval to size (no data, one seed, a structural claim)
    return f"{v['seeds']} ({'>100' if math.isnan(need) else int(need)})"


def claims_markdown(root: Path | None = None) -> str:
    """One row per paper claim: the paper's numbers and configuration, ours (a and b, mean ±
    sd over seeds), the interval, the seeds we have and would need, and the verdict, from the
    reference results."""
    root = Path(root or reference_root())
    lines = [
        "| paper item | claim | paper | paper's setting / ours | ours: a | ours: b | "
        "a - b, 95% interval | seeds (needed) | verdict |",
        "|---|---|---|---|---|---|---|---:|---|",
    ]
    made = []
    for study in dict.fromkeys(c.study for c in CLAIMS if c.item != "toolkit"):
        if (root / study).is_dir():
            table, info = load_study_folder(root / study)
            made.append(f"`{study}` {provenance_of(info)}")
        else:  # a study newer than the reference results: its claims say "no data yet"
            table = pd.DataFrame(columns=TABLE_COLUMNS)
            made.append(f"`{study}` (not run yet)")
        for _, v in verdicts(table, study).iterrows():
            if v["item"] == "toolkit":
                continue
            spec = _spec(v["a_mean"], v["b_mean"])
            beside = f" ({v['beside']})" if v["beside"] else ""
            lines.append(
                f"| {v['item']} | {v['statement']}{beside} | {v['paper']} | "
                f"{v['paper_setting'] or '-'} / {v['our_setting'] or '-'} | "
                f"{_fmt(v['a_mean'], v['a_sd'], spec)} | {_fmt(v['b_mean'], v['b_sd'], spec)} | "
                f"{_interval(v)} | {_seeds(v)} | **{v['verdict']}**{learned_aside(v)} |"
            )
    lines += ["", "Made from the reference studies at these commits: " + "; ".join(made) + "."]
    return "\n".join(lines) + "\n"


def provenance_of(info: dict) -> str:
    """The commit(s) a study's runs were made at, with the date of its latest start, and
    whether any start ran on uncommitted changes (``study.json``)."""
    starts = info.get("starts") or [info]
    commits = list(dict.fromkeys(str(s.get("commit") or "unknown")[:7] for s in starts))
    dirty = any(s.get("dirty") for s in starts)
    date = str(info.get("date") or "undated")[:10]
    return f"({', '.join(commits)}{' + uncommitted changes' if dirty else ''}, {date})"


#: (study, config label, what the row is called)
METHOD_ROWS = (
    ("methods_m_small", "method=pgnas", "PGNAS (`pgnas`)", "demo ResNet"),
    ("methods_m_small", "method=random", "Random (`random`)", "demo ResNet"),
    ("methods_m_small", "method=bayesnas", "BayesNAS (`bayesnas`)", "demo ResNet"),
    ("methods_cell", "method=pgnas", "PGNAS (`pgnas`)", "cell space"),
    ("methods_cell", "method=random", "Random (`random`)", "cell space"),
    ("methods_cell", "method=darts", "DARTS (`darts`)", "cell space"),
    ("methods_cell", "method=balenas", "BaLeNAS (`balenas`)", "cell space"),
    ("methods_cell", "method=bayesnas", "BayesNAS (`bayesnas`)", "cell space"),
)


def methods_markdown(root: Path | None = None) -> str:
    """One measured line per method and space (laptop tier, mean ± sd over seeds)."""
    root = Path(root or reference_root())
    lines = [
        "| method | space | test acc, inherited | test acc, from scratch | params | "
        "search s | seeds |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    tables = {}
    for study, config, label, space in METHOD_ROWS:
        if study not in tables:
            tables[study] = load_study_folder(root / study)[0]
        t = tables[study]
        t = t[t["config"] == config]

        def stat(metric, t=t):
            v = t.loc[t["metric"] == metric, "value"]
            if v.empty:
                return "-"
            sd = v.std(ddof=1) if len(v) > 1 else float("nan")
            spec = ",.0f" if metric in ("params", "search_seconds") else ".3f"
            return _fmt(v.mean(), sd, spec)

        lines.append(
            f"| {label} | {space} | {stat('test_acc')} | {stat('test_acc_scratch')} | "
            f"{stat('params')} | {stat('search_seconds')} | {t['seed'].nunique()} |"
        )
    return "\n".join(lines) + "\n"


BLOCKS = {"claims": claims_markdown, "methods": methods_markdown}


def render_readme(text: str, root: Path | None = None) -> str:
    """``text`` with every marked block (``<!-- name:start -->`` ... ``end``) regenerated."""

    def fill(m: re.Match) -> str:
        return m.group(1) + BLOCKS[m.group("name")](root) + m.group(4)

    return BLOCK.sub(fill, text)


def readme_blocks(text: str) -> dict[str, str]:
    return {m.group("name"): m.group("body") for m in BLOCK.finditer(text)}
