"""The paper's claims (SPEC.md section 4, SPEC_METHODS.md section 5) as data, and verdicts
computed from a study's table, never written by hand.

A claim compares side ``a`` with side ``b`` (another configuration or method of the same
study, on the same seeds; or a constant) on one metric, in the paper's direction. Its
verdict comes from the paired 95% interval of ``a - b`` over the seeds:

- **holds**: the interval excludes 0 in the paper's direction;
- **does not hold here**: it excludes 0 in the other direction;
- **not resolved at this size**: it covers 0 (or there is one seed only).

A difference of exactly 0 in every seed (say, no operation ever dropped) does not hold.

With a ``margin`` the claim is "a is not worse than b by more than the margin" (pruning
keeps accuracy): it holds when the interval lies above ``-margin``; direction ``equal``
asks the interval to lie inside ``+-margin`` (it fails when it lies wholly outside). A
``never`` claim holds when the metric is 0 in every run (a structural guarantee, e.g. no
orphaned operation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from .stats import paired_difference, side_values, t_interval

HOLDS, FAILS, UNRESOLVED = "holds", "does not hold here", "not resolved at this size"


@dataclass(frozen=True)
class Side:
    config: str | None = None  # the configuration's label (None: every configuration)
    method: str | None = None  # None: the run's main method
    metric: str | None = None  # None: the claim's metric

    def label(self, claim_metric: str) -> str:
        parts = [p for p in (self.method, self.config) if p]
        metric = self.metric or claim_metric
        return " ".join(parts) + (f" ({metric})" if self.metric else "")


@dataclass(frozen=True)
class Claim:
    key: str
    study: str
    item: str  # where the paper says it: "Table 3", "supp. Fig. 1", "BaLeNAS"
    statement: str
    paper: str  # the paper's numbers
    metric: str
    a: Side
    b: Side | float = 0.0
    direction: str = "higher"  # the paper: a is higher than b | lower | equal (within margin)
    margin: float = 0.0
    kind: str = "compare"  # compare | never
    notes: str = field(default="", compare=False)


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
        }


def _values(table: pd.DataFrame, side: Side, metric: str) -> pd.Series:
    return side_values(table, side.config, side.method, side.metric or metric)


def evaluate(claim: Claim, table: pd.DataFrame) -> Verdict:
    """The claim's verdict from a study's tidy table."""
    a = _values(table, claim.a, claim.metric)
    if claim.kind == "never":
        values = a.to_numpy()
        n = len(values)
        verdict = UNRESOLVED if n == 0 else HOLDS if (values == 0).all() else FAILS
        mean, sd, *_ = t_interval(values)
        return Verdict(claim, n, mean, sd, 0.0, 0.0, mean, math.nan, math.nan, verdict)
    b = claim.b if isinstance(claim.b, (int, float)) else _values(table, claim.b, claim.metric)
    d = paired_difference(a, b)
    am, asd, *_ = t_interval(a.to_numpy())
    if isinstance(b, (int, float)):
        bm, bsd = float(b), 0.0
    else:
        bm, bsd, *_ = t_interval(b.to_numpy())
    sign = -1.0 if claim.direction == "lower" else 1.0
    low, high = sorted((sign * d["ci_low"], sign * d["ci_high"]))
    if d["n"] < 2 or math.isnan(low):
        verdict = UNRESOLVED
    elif d["sd"] == 0 and low == 0 and claim.direction != "equal" and not claim.margin:
        verdict = FAILS  # no difference at all, in every seed, where the paper claims one
    elif claim.direction == "equal":  # equivalence: the interval inside +-margin
        inside = -claim.margin < low and high < claim.margin
        outside = high < -claim.margin or low > claim.margin
        verdict = HOLDS if inside else FAILS if outside else UNRESOLVED
    elif low > -claim.margin if claim.margin else low > 0:
        verdict = HOLDS
    elif high < -claim.margin if claim.margin else high < 0:
        verdict = FAILS
    else:
        verdict = UNRESOLVED
    return Verdict(claim, d["n"], am, asd, bm, bsd, d["mean"], d["ci_low"], d["ci_high"], verdict)


def claims_of(study: str, items=None) -> list[Claim]:
    """The claims a study judges (``items``: only those of these paper items)."""
    return [c for c in CLAIMS if c.study == study and (items is None or c.item in items)]


def verdicts(table: pd.DataFrame, study: str | None = None, items=None) -> pd.DataFrame:
    """One row per claim of ``study`` (default: the table's study) with its verdict."""
    study = study or str(table["study"].iloc[0])
    rows = [evaluate(c, table).row() for c in claims_of(study, items)]
    return pd.DataFrame(rows, columns=VERDICT_COLUMNS)  # the columns even for no claims


VERDICT_COLUMNS = (
    "key item statement paper metric seeds a_mean a_sd b_mean b_sd difference ci_low ci_high "
    "verdict"
).split()


def verdict_line(v: pd.Series | dict) -> str:
    """One printable line: the claim, ours, the interval and the verdict."""
    seeds = int(v["seeds"])
    spread = (
        "one seed"
        if seeds < 2
        else f"{seeds} seeds, 95% CI [{v['ci_low']:+.4g}, {v['ci_high']:+.4g}]"
    )
    return (
        f"{v['item']}: {v['statement']} -- {v['verdict']} (a - b = {v['difference']:+.4g}; "
        f"{spread})"
    )


PGNAS, RANDOM = Side(method="pgnas"), Side(method="random")

CLAIMS = [
    # ---- guided sampling against Random (Table 3, supp. Fig. 1), C (Table 6), drops (Table 7)
    Claim(
        "t3_guided_beats_random",
        "guided_vs_random",
        "Table 3",
        "the PGNAS winner beats the Random winner (no fine-tuning)",
        "SupNet-M 2.20% vs 2.63% error",
        "test_acc",
        PGNAS,
        RANDOM,
    ),
    Claim(
        "t3_guided_beats_random_finetuned",
        "guided_vs_random",
        "Table 3",
        "the PGNAS winner without fine-tuning beats the Random winner with it",
        "SupNet-M 2.20% vs 2.56% error",
        "test_acc",
        PGNAS,
        Side(method="random", metric="test_acc_finetuned"),
    ),
    Claim(
        "t3_finetuning_helps_random",
        "guided_vs_random",
        "Table 3",
        "fine-tuning improves the Random winner",
        "SupNet-M 2.63% -> 2.56% error",
        "test_acc_finetuned",
        RANDOM,
        Side(method="random", metric="test_acc"),
    ),
    Claim(
        "sf1_higher_mean",
        "guided_vs_random",
        "supp. Fig. 1",
        "PGNAS candidates have a higher mean accuracy than Random's",
        "histograms",
        "candidate_val_mean",
        PGNAS,
        RANDOM,
    ),
    Claim(
        "sf1_smaller_spread",
        "guided_vs_random",
        "supp. Fig. 1",
        "PGNAS candidates have a smaller spread than Random's",
        "histograms",
        "candidate_val_sd",
        PGNAS,
        RANDOM,
        direction="lower",
    ),
    Claim(
        "t6_more_candidates",
        "guided_vs_random",
        "Table 6",
        "the winner of more candidates has a lower error (the most vs the fewest C)",
        "C = 50 -> 20k: 2.17% -> 1.98%",
        "winner_test_acc_cmax",
        PGNAS,
        Side(method="pgnas", metric="winner_test_acc_cmin"),
    ),
    Claim(
        "t7_channels_dropped",
        "guided_vs_random",
        "Table 7",
        "the PGNAS winner drops channels",
        "SupNet-M 0.18 of channels",
        "channel_drop",
        PGNAS,
        0.0,
    ),
    Claim(
        "t7_operations_dropped",
        "guided_vs_random",
        "Table 7",
        "the PGNAS winner drops whole operations",
        "SupNet-M 0.10 of operations",
        "operation_drop",
        PGNAS,
        0.0,
    ),
    # ---- the weight prior, the temperature, constant L2 (Tables 4, 5, 2)
    Claim(
        "t4_larger_l2_smaller_net",
        "weight_prior_l2",
        "Table 4",
        "a larger l2 gives a smaller net (l2 = 250 vs 10)",
        "l2 = 50 -> 500: 49.9M -> 18.2M params",
        "params",
        Side("l2=250"),
        Side("l2=10"),
        direction="lower",
    ),
    Claim(
        "t4_largest_l2_costs_accuracy",
        "weight_prior_l2",
        "Table 4",
        "the largest l2 has a higher error than a moderate one (250 vs 50)",
        "l2 = 150: 2.06%, 250: 2.27%, 500: 2.39%",
        "test_acc",
        Side("l2=50"),
        Side("l2=250"),
    ),
    Claim(
        "t5_smaller_tau",
        "temperature_tau",
        "Table 5",
        "tau = 1/5 gives a lower error than tau = 2/3",
        "SupNet-M 2.20% vs 2.49%",
        "test_acc",
        Side("tau=0.2"),
        Side("tau=0.667"),
    ),
    Claim(
        "t2_coupled_beats_constant",
        "constant_l2",
        "Table 2",
        "the coupled weight prior beats a constant L2",
        "CIFAR-100 14.28% vs 17.41% error",
        "test_acc",
        Side("weight_term=coupled"),
        Side("weight_term=constant"),
    ),
    # ---- BayesNAS (SPEC_METHODS section 5)
    Claim(
        "bayesnas_pruning_keeps_accuracy",
        "bayesnas_lambda",
        "BayesNAS",
        "pruning after one epoch keeps accuracy (within 1 point; lambda 0.2, which prunes)",
        "compression without loss",
        "pruned_test_acc",
        Side("lam=0.2"),
        Side("lam=0.2", metric="unpruned_test_acc"),
        margin=0.01,
    ),
    Claim(
        "bayesnas_relevance_beats_magnitude",
        "bayesnas_lambda",
        "BayesNAS",
        "pruning by relevance beats pruning by magnitude at equal sparsity (lambda 0.05)",
        "argued, no table",
        "relevance_test_acc",
        Side("lam=0.05"),
        Side("lam=0.05", metric="magnitude_test_acc"),
    ),
    Claim(
        "bayesnas_no_orphans",
        "bayesnas_lambda",
        "BayesNAS",
        "HARD leaves no live operation under a pruned parent",
        "by construction",
        "orphans",
        Side(),
        kind="never",
    ),
    Claim(
        "bayesnas_lambda_size",
        "bayesnas_lambda",
        "BayesNAS",
        "a larger lambda gives a smaller net (0.2 vs 0.01)",
        "lambda 0.01/0.007/0.005: 2.59/3.10/3.40M",
        "params",
        Side("lam=0.2"),
        Side("lam=0.01"),
        direction="lower",
    ),
    Claim(
        "bayesnas_lambda_accuracy",
        "bayesnas_lambda",
        "BayesNAS",
        "a larger lambda costs accuracy (0.2 vs 0.01)",
        "lambda 0.01/0.007/0.005: 3.02/2.90/2.81%",
        "test_acc",
        Side("lam=0.01"),
        Side("lam=0.2"),
    ),
    # ---- BaLeNAS against DARTS (SPEC_METHODS section 5)
    Claim(
        "balenas_stable",
        "methods_cell",
        "BaLeNAS",
        "BaLeNAS's argmax cell falls less from its best epoch than DARTS's",
        "DARTS deteriorates, BaLeNAS does not",
        "fall_from_best_epoch",
        Side("method=balenas"),
        Side("method=darts"),
        direction="lower",
    ),
    Claim(
        "balenas_fewer_param_free",
        "methods_cell",
        "BaLeNAS",
        "BaLeNAS ends with fewer parameter-free operations than DARTS",
        "no collapse to skip / pooling",
        "param_free_fraction",
        Side("method=balenas"),
        Side("method=darts"),
        direction="lower",
    ),
    Claim(
        "balenas_flatter",
        "methods_cell",
        "BaLeNAS",
        "BaLeNAS ends with a smaller dominant Hessian eigenvalue (architecture loss) than DARTS",
        "a flatter minimum in alpha",
        "hessian_eigenvalue",
        Side("method=balenas"),
        Side("method=darts"),
        direction="lower",
    ),
    Claim(
        "balenas_tf_beats_argmax",
        "methods_cell",
        "BaLeNAS",
        "training-free selection of K draws beats the argmax (trained from scratch)",
        "BaLeNAS-TF beats BaLeNAS",
        "tf_scratch_acc",
        Side("method=balenas"),
        Side("method=balenas", metric="argmax_scratch_acc"),
    ),
    # ---- the toolkit's own (issue 13): bf16 does not change the search's outcome
    Claim(
        "bf16_keeps_accuracy",
        "precision",
        "toolkit",
        "bf16 training and ranking keep the winner's test accuracy (within 0.5 points)",
        "-",
        "test_acc",
        Side("precision=bf16"),
        Side("precision=fp32"),
        direction="equal",
        margin=0.005,
    ),
    Claim(
        "bf16_keeps_posterior",
        "precision",
        "toolkit",
        "bf16 training keeps the mean keep-probability (within 0.01)",
        "-",
        "mean_keep",
        Side("precision=bf16"),
        Side("precision=fp32"),
        direction="equal",
        margin=0.01,
    ),
]
