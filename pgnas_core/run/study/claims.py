"""The paper's claims (docs/method_pgnas.md section 9, docs/method_siblings.md section 6) as data
(:mod:`.paper_claims`), and verdicts computed from a study's table, never written by hand.

A ``compare`` claim compares side ``a`` with side ``b`` (another configuration or method of
the same study, on the same seeds; or a constant) on one metric, in the paper's direction.
Its verdict comes from the paired 95% interval of ``a - b``: over seeds and test images (the
hierarchical bootstrap of docs/statistics.md) where both sides saved their per-image test
correctness, else the t-interval over seeds. The ``interval`` column says which.

- **holds**: the interval excludes 0 in the paper's direction;
- **does not hold here**: it excludes 0 in the other direction;
- **not resolved at this size**: it covers 0 (or there is one seed only);
- **no data yet**: the study's results hold nothing for it (a claim newer than them).

A difference of exactly 0 in every seed (say, no operation ever dropped) does not hold.
With a ``margin`` the claim is "a is not worse than b by more than the margin": it holds when
the interval lies above ``-margin``; direction ``equal`` asks the interval to lie inside
``+-margin`` (it fails when it lies wholly outside). ``log`` compares ``log a - log b``
(ratios: search costs). Other kinds:

- ``never``: the metric is 0 in every run (a structural guarantee);
- ``trend``: the per-seed least-squares slope of the metric against log of the grid field
  ``x``, over every configuration, t-interval over seeds against 0;
- ``interior``: per seed, the best interior configuration (by ``x``) minus the better of the
  two ends; it holds when the interval lies above 0 (an interior optimum);
- ``spread``: side a's candidates less (``lower``) spread than side b's, every candidate:
  a one-sided Brown-Forsythe test per seed, combined over seeds by Fisher's method (holds
  when p < 0.05, fails when the opposite one-sided p < 0.05);
- ``stages``: the per-seed least-squares slope of ``<metric>_stage<k>`` (the ``drop_by_depth``
  analysis) against the stage index k, t-interval over seeds against 0 (supp. Fig. 2);
- ``matched``: a ``compare`` against the configuration of ``pick_from`` whose mean ``x``
  metric (params) over the seeds is the largest at most side a's: side b at a's size or
  smaller, chosen by size, never by the compared metric. No data until every configuration
  of ``pick_from`` has some; not resolved when none is at most a's size.

``learned``: whether the runs on the claim's sides learned, by their search diagnostics
(:mod:`.learning`); printed beside the verdict unless "yes".

``seeds_needed``: the seeds a paired t-test would need to resolve the claim at 80% power if
the observed mean difference and per-seed spread were the truth (nan: over 100, or none).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .claim_types import FAILS, HOLDS, NO_DATA, UNRESOLVED, Claim, Side
from .evidence import of_table
from .learning import YES, learned_note
from .paper_claims import CLAIMS
from .side_data import bits_pair, side_series
from .stats import (
    LEVEL,
    fisher_combined,
    hierarchical_interval,
    log_slope,
    seeds_needed,
    smaller_spread_p,
    t_interval,
)

__all__ = ["CLAIMS", "FAILS", "HOLDS", "NO_DATA", "UNRESOLVED", "Claim", "Side", "Verdict"]
T_INTERVAL, BOOTSTRAP = "t over seeds", "bootstrap over seeds and test images"


@dataclass
class Verdict:
    claim: Claim
    n: int
    a_mean: float
    a_sd: float
    b_mean: float
    b_sd: float
    diff: float
    ci_low: float
    ci_high: float
    verdict: str
    interval: str = T_INTERVAL
    p_value: float = math.nan
    seeds_needed: float = math.nan
    beside: str = ""
    learned: str = ""  # did the runs behind it learn (.learning): yes / no: ... / unknown
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        c = self.claim
        return {
            "key": c.key,
            "item": c.item,
            "statement": c.statement,
            "paper": c.paper,
            "metric": c.metric,
            "seeds": self.n,
            "a_mean": self.a_mean,
            "a_sd": self.a_sd,
            "b_mean": self.b_mean,
            "b_sd": self.b_sd,
            "difference": self.diff,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "verdict": self.verdict,
            "learned": self.learned,
            "interval": self.interval,
            "p_value": self.p_value,
            "seeds_needed": self.seeds_needed,
            "beside": self.beside,
            "paper_setting": c.paper_setting,
            "our_setting": c.our_setting,
        }


VERDICT_COLUMNS = (
    "key item statement paper metric seeds a_mean a_sd b_mean b_sd difference ci_low ci_high "
    "verdict learned interval p_value seeds_needed beside paper_setting our_setting"
).split()


def _judge(claim: Claim, n: int, low: float, high: float, sd: float) -> str:
    """The verdict of an interval [low, high] of ``a - b`` (signed as the claim reads)."""
    if n == 0:
        return NO_DATA
    sign = -1.0 if claim.direction == "lower" else 1.0
    low, high = sorted((sign * low, sign * high))
    if n < 2 or math.isnan(low):
        return UNRESOLVED
    if sd == 0 and low == 0 and claim.direction != "equal" and not claim.margin:
        return FAILS  # no difference at all, in every seed, where the paper claims one
    if claim.direction == "equal":  # equivalence: the interval inside +-margin
        inside = -claim.margin < low and high < claim.margin
        outside = high < -claim.margin or low > claim.margin
        return HOLDS if inside else FAILS if outside else UNRESOLVED
    if low > -claim.margin if claim.margin else low > 0:
        return HOLDS
    if high < -claim.margin if claim.margin else high < 0:
        return FAILS
    return UNRESOLVED


def _target(claim: Claim, mean: float) -> float:
    """The value a paired test of the claim must tell the mean difference apart from."""
    sign = -1.0 if claim.direction == "lower" else 1.0
    if claim.direction == "equal":
        return math.copysign(claim.margin, mean)
    return -sign * claim.margin


def _from_differences(claim: Claim, d: np.ndarray, a, b) -> Verdict:
    """A verdict on per-seed differences ``d`` (t-interval), with the sides' own stats."""
    mean, sd, low, high, n = t_interval(d)
    am, asd, *_ = t_interval(a)
    bm, bsd, *_ = t_interval(b)
    need = seeds_needed(mean, sd, _target(claim, mean)) if n else math.nan
    verdict = _judge(claim, n, low, high, sd if n > 1 else math.nan)
    return Verdict(claim, n, am, asd, bm, bsd, mean, low, high, verdict, seeds_needed=need)


def _compare(claim: Claim, table: pd.DataFrame) -> Verdict:
    a = side_series(table, claim.a, claim.metric)
    if isinstance(claim.b, Side):
        b = side_series(table, claim.b, claim.metric)
        seeds = a.index.intersection(b.index)
    else:
        seeds = a.index
        b = pd.Series(float(claim.b), index=seeds)
    a, b = a.loc[seeds].astype(float), b.loc[seeds].astype(float)
    if claim.log:
        v = _from_differences(claim, np.log(a.to_numpy()) - np.log(b.to_numpy()), a, b)
        v.beside = f"ratio a/b = {math.exp(v.diff):.3g}" if v.n else ""
        return v
    v = _from_differences(claim, (a - b).to_numpy(), a, b)
    if not isinstance(claim.b, Side):
        v.b_sd = 0.0
    diff = bits_pair(table, of_table(table), claim, list(seeds))
    if diff is not None and v.n >= 2:
        boot = hierarchical_interval(diff)
        v.ci_low, v.ci_high, v.interval = boot["ci_low"], boot["ci_high"], BOOTSTRAP
        v.verdict = _judge(claim, v.n, v.ci_low, v.ci_high, float(np.std(diff)))
    return v


def _by_config(table: pd.DataFrame, claim: Claim) -> pd.DataFrame:
    """seed x configuration (ordered by the grid field ``x``) of the claim's metric."""
    m = table["metric"] == claim.metric
    if claim.a.method is not None:
        m &= table["method"] == claim.a.method
    t = table[m]
    if claim.x not in t.columns or t.empty:
        return pd.DataFrame()
    wide = t.pivot_table(index="seed", columns=claim.x, values="value", aggfunc="mean")
    return wide.reindex(sorted(wide.columns, key=float), axis=1).dropna()


def _trend(claim: Claim, table: pd.DataFrame) -> Verdict:
    wide = _by_config(table, claim)
    if wide.shape[1] < 2:
        wide = pd.DataFrame()
    x = [float(c) for c in wide.columns]
    slopes = np.array([log_slope(x, row) for row in wide.to_numpy()])
    v = _from_differences(claim, slopes, slopes, np.zeros(len(slopes)))
    if len(x):
        v.beside = f"slope per unit log {claim.x.split('.')[-1]} over {x[0]:g}..{x[-1]:g}"
    return v


def _interior(claim: Claim, table: pd.DataFrame) -> Verdict:
    wide = _by_config(table, claim)
    if wide.shape[1] < 3:
        wide = pd.DataFrame(columns=[0, 1, 2])
    best_inside = wide.iloc[:, 1:-1].max(axis=1).to_numpy(float)
    best_end = wide.iloc[:, [0, -1]].max(axis=1).to_numpy(float)
    v = _from_differences(claim, best_inside - best_end, best_inside, best_end)
    if len(wide):
        v.beside = f"interior {list(wide.columns[1:-1])} vs ends {list(wide.columns[[0, -1]])}"
    return v


def _spread(claim: Claim, table: pd.DataFrame) -> Verdict:
    ev = of_table(table)
    a = ev.candidate_values(claim.a.config, claim.a.method)
    b = ev.candidate_values(claim.b.config, claim.b.method)
    seeds = sorted(set(a) & set(b))
    sd_a = np.array([np.std(a[s], ddof=1) for s in seeds])
    sd_b = np.array([np.std(b[s], ddof=1) for s in seeds])
    v = _from_differences(claim, sd_a - sd_b, sd_a, sd_b)
    v.interval = "Brown-Forsythe per seed, Fisher over seeds"
    if not seeds:
        return v
    lower = claim.direction == "lower"
    first, second = (a, b) if lower else (b, a)  # p: "first is less spread than second"
    p_claim = fisher_combined([smaller_spread_p(first[s], second[s]) for s in seeds])
    p_other = fisher_combined([smaller_spread_p(second[s], first[s]) for s in seeds])
    alpha = 1 - LEVEL
    v.p_value = p_claim
    v.verdict = HOLDS if p_claim < alpha else FAILS if p_other < alpha else UNRESOLVED
    v.beside = f"{len(a[seeds[0]])} vs {len(b[seeds[0]])} candidates per seed"
    return v


def _stages(claim: Claim, table: pd.DataFrame) -> Verdict:
    pattern = re.compile(rf"^{re.escape(claim.metric)}_stage(\d+)$")
    t = table[table["metric"].astype(str).str.match(pattern.pattern)]
    if claim.a.method is not None:
        t = t[t["method"] == claim.a.method]
    if claim.a.config is not None:
        t = t[t["config"] == claim.a.config]
    stage = t["metric"].str.extract(pattern.pattern, expand=False).astype(float)
    wide = t.assign(stage=stage).pivot_table(
        index="seed", columns="stage", values="value", aggfunc="mean"
    )
    wide = wide.reindex(sorted(wide.columns), axis=1).dropna()
    if wide.shape[1] < 2:
        wide = pd.DataFrame()
    x = np.array([float(c) for c in wide.columns])
    slopes = np.array([np.polyfit(x, row, 1)[0] for row in wide.to_numpy(float)])
    v = _from_differences(claim, slopes, slopes, np.zeros(len(slopes)))
    if len(x):
        first, last = wide.iloc[:, 0].mean(), wide.iloc[:, -1].mean()
        v.beside = (
            f"slope per stage over stages {x[0]:g}..{x[-1]:g}; first {first:.3g}, last {last:.3g}"
        )
    return v


def _sizes(table: pd.DataFrame, side: Side, metric: str) -> float:
    s = side_series(table, Side(side.config, side.method), metric)
    return float(s.mean()) if len(s) else math.nan


def _matched(claim: Claim, table: pd.DataFrame) -> Verdict:
    """``compare`` a with the ``pick_from`` configuration closest to a's size from below."""
    b = claim.b if isinstance(claim.b, Side) else Side()
    size_a = _sizes(table, claim.a, claim.x)
    sizes = {c: _sizes(table, replace(b, config=c), claim.x) for c in claim.pick_from}
    if math.isnan(size_a) or not sizes or any(math.isnan(v) for v in sizes.values()):
        return _from_differences(claim, np.array([]), [], [])  # no data yet
    fits = {c: v for c, v in sizes.items() if v <= size_a}
    if not fits:
        v = _compare(replace(claim, b=replace(b, config=min(sizes, key=sizes.get))), table)
        v.verdict = UNRESOLVED if v.n else v.verdict
        v.beside = (
            f"no configuration at most a's {claim.x} ({_number(size_a)}); "
            f"smallest: {min(sizes, key=sizes.get)} ({_number(min(sizes.values()))})"
        )
        return v
    chosen = max(fits, key=fits.get)
    v = _compare(replace(claim, b=replace(b, config=chosen)), table)
    v.beside = f"b = {chosen}, {claim.x} {_number(fits[chosen])} <= {_number(size_a)}"
    v.extra["b_config"] = chosen
    return v


def _never(claim: Claim, table: pd.DataFrame) -> Verdict:
    values = side_series(table, claim.a, claim.metric).to_numpy()
    n = len(values)
    verdict = NO_DATA if n == 0 else HOLDS if (values == 0).all() else FAILS
    mean, sd, *_ = t_interval(values)
    return Verdict(claim, n, mean, sd, 0.0, 0.0, mean, math.nan, math.nan, verdict, "every run")


KINDS = {"compare": _compare, "never": _never, "trend": _trend, "interior": _interior,
         "spread": _spread, "stages": _stages, "matched": _matched}  # fmt: skip


def _number(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _beside_value(metric: str, s: pd.Series) -> str:
    """One side's ``beside`` figure: the mean over seeds, or for a count of failures (dead
    cells) in how many seeds it happened, which a mean would hide."""
    if not len(s):
        return "-"
    if metric.endswith("dead_cells"):
        return f"> 0 in {int((s > 0).sum())} of {len(s)} seeds"
    return _number(s.mean())


def _beside(claim: Claim, table: pd.DataFrame) -> str:
    """The ``beside`` metrics of both sides (one figure where both sides agree), e.g. the
    nets' sizes."""
    parts = []
    for metric in claim.beside:
        values = []
        for side in (claim.a, claim.b):
            if isinstance(side, Side):
                s = side_series(table, Side(side.config, side.method), metric)
                values.append(_beside_value(metric, s))
        values = values[:1] if len(set(values)) == 1 else values
        parts.append(f"{metric} {' vs '.join(values)}")
    return "; ".join(parts)


def evaluate(claim: Claim, table: pd.DataFrame) -> Verdict:
    """The claim's verdict from a study's tidy table (and the evidence attached to it)."""
    v = KINDS[claim.kind](claim, table)
    judged = v.claim  # a ``matched`` claim's, with the side b it chose
    if judged.beside and v.verdict != NO_DATA:
        v.beside = "; ".join(x for x in (v.beside, _beside(judged, table)) if x)
    v.learned = "" if v.verdict == NO_DATA else learned_note(judged, table)
    return v


def claims_of(study: str, items=None) -> list[Claim]:
    """The claims a study judges (``items``: only those of these paper items)."""
    return [c for c in CLAIMS if c.study == study and (items is None or c.item in items)]


def verdicts(table: pd.DataFrame, study: str | None = None, items=None) -> pd.DataFrame:
    """One row per claim of ``study`` (default: the table's study) with its verdict."""
    study = study or str(table["study"].iloc[0])
    rows = [evaluate(c, table).row() for c in claims_of(study, items)]
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)  # the columns even for no claims


def verdict_line(v: pd.Series | dict) -> str:
    """One printable line: the claim, ours, the interval and the verdict."""
    seeds = int(v["seeds"])
    if seeds < 2 or math.isnan(v["ci_low"]):
        spread = "one seed" if seeds == 1 else f"{seeds} seeds"
        if not math.isnan(v.get("p_value", math.nan)):
            spread += f", p = {v['p_value']:.3g}"
    else:
        spread = f"{seeds} seeds, 95% CI [{v['ci_low']:+.4g}, {v['ci_high']:+.4g}]"
    return (
        f"{v['item']}: {v['statement']} -- {v['verdict']}{learned_aside(v)} "
        f"(a - b = {v['difference']:+.4g}; {spread})"
    )


def learned_aside(v: pd.Series | dict) -> str:
    """``, learned: no: ...`` beside a verdict whose runs did not (or may not have) learned."""
    said = v.get("learned", "")
    said = "" if not isinstance(said, str) else said  # nan: a table read back from a csv
    return f", learned: {said}" if said and said != YES else ""
