"""Whether a search learned (its final diagnostics against one rule per method), and the note
a verdict carries beside it when the runs behind it did not."""

import math

import pandas as pd
import pytest
import torch

from pgnas_core.methods import diagnostics as dg
from pgnas_core.run import study as st
from pgnas_core.run.study.claims import HOLDS, NO_DATA, Claim, Side, learned_aside
from pgnas_core.run.study.learning import UNKNOWN, YES


def test_a_uniform_darts_alpha_did_not_learn_and_a_decided_one_did():
    uniform = torch.zeros(6, 5)  # 5 ops per edge: every weight 0.2
    decided = torch.zeros(6, 5)
    decided[:, 1] = 3.0  # softmax weight e^3 / (e^3 + 4) = 0.83 on one op per edge
    for method in ("darts", "balenas"):
        assert dg.learned(method, {"max_op_weight": dg.max_op_weight(uniform)}) is False
        assert dg.learned(method, {"max_op_weight": dg.max_op_weight(decided)}) is True
    assert dg.learned("darts", {"max_op_weight": 0.4}) is True  # the target itself counts


def test_bayesnas_and_pgnas_rules():
    assert dg.learned("bayesnas", {"relevance_spearman": 0.3}) is True
    assert dg.learned("bayesnas", {"relevance_spearman": -0.49}) is False
    assert dg.learned("bayesnas", {"relevance_spearman": 0.0}) is False
    assert dg.learned("bayesnas", {"relevance_spearman": math.nan}) is False  # constant switches
    assert dg.learned("pgnas", {"std_keep": dg.keep_spread([0.9, 0.9, 0.9])}) is False
    assert dg.learned("pgnas", {"std_keep": dg.keep_spread([0.5, 0.9, 1.0])}) is True


@pytest.mark.parametrize("diagnostics", [None, {}, {"alpha_entropy": 0.5}])
def test_missing_diagnostics_say_unknown(diagnostics):
    assert dg.learned("darts", diagnostics) is None


def test_a_method_with_nothing_to_learn_is_not_judged():
    assert not dg.learns("random")
    assert dg.learned("random", {"std_keep": 0.0}) is None


def test_shortfall_names_the_diagnostic_and_its_range():
    assert dg.shortfall("darts", [0.24]) == "max op weight 0.24 < 0.4"
    assert dg.shortfall("darts", [0.2, 0.26, 0.22]) == "max op weight 0.2-0.26 < 0.4"
    assert dg.shortfall("bayesnas", [-0.49]) == "relevance-|s| Spearman -0.49 <= 0"


def _methods_table(darts_weights, balenas_weights):
    """A methods_cell-like table: DARTS and BaLeNAS runs, BaLeNAS clearly ahead on test_acc,
    with the final max_op_weight of each run (None: the run recorded none)."""
    rows = []
    for method, weights, acc in (
        ("darts", darts_weights, 0.70),
        ("balenas", balenas_weights, 0.80),
    ):
        for seed, w in enumerate(weights):
            base = {"study": "s", "config": f"method={method}", "seed": seed, "method": method}
            rows.append({**base, "metric": "test_acc", "value": acc + 0.01 * seed})
            if w is not None:
                rows.append({**base, "metric": "max_op_weight", "value": w})
    return pd.DataFrame(rows)


CLAIM = Claim("k", "s", "BaLeNAS", "BaLeNAS beats DARTS", "-", "test_acc",
              Side("method=balenas"), Side("method=darts"))  # fmt: skip


def test_a_verdict_on_runs_that_did_not_learn_says_so_beside_it():
    table = _methods_table([0.21, 0.26, 0.24], [0.6, 0.7, 0.65])
    v = st.evaluate(CLAIM, table)
    assert v.verdict == HOLDS  # the verdict itself is computed as before
    assert v.learned == "no: DARTS max op weight 0.21-0.26 < 0.4 in 3 of 3 seeds"
    line = st.verdict_line(pd.Series(v.row()))
    assert f"{HOLDS}, learned: no: DARTS max op weight" in line
    # one seed of BaLeNAS undecided too: both sides named, with their own counts
    v = st.evaluate(CLAIM, _methods_table([0.21, 0.26, 0.24], [0.6, 0.3, 0.65]))
    assert v.learned.startswith("no: BaLeNAS max op weight 0.3 < 0.4 in 1 of 3 seeds; DARTS")


def test_a_verdict_on_runs_that_learned_says_yes_and_prints_nothing_beside_it():
    v = st.evaluate(CLAIM, _methods_table([0.5, 0.45, 0.9], [0.6, 0.7, 0.65]))
    assert v.learned == YES
    assert "learned" not in st.verdict_line(pd.Series(v.row()))


def test_runs_without_diagnostics_are_unknown_never_guessed():
    v = st.evaluate(CLAIM, _methods_table([None] * 3, [None] * 3))
    assert v.learned == UNKNOWN
    assert learned_aside(v.row()) == f", learned: {UNKNOWN}"
    # some runs that failed and some unknown: the failures, and that the rest is unknown
    v = st.evaluate(CLAIM, _methods_table([0.2, None, None], [None] * 3))
    assert v.learned == "no: DARTS max op weight 0.2 < 0.4 in 1 of 3 seeds; other runs unknown"


def test_configurations_of_one_method_are_told_apart_and_random_is_not_judged():
    rows = []
    for config, spearman in (("lam=0.2", -0.4), ("lam=0.01", 0.3)):
        for seed in range(3):
            base = {"study": "s", "config": config, "seed": seed, "method": "bayesnas"}
            rows.append({**base, "metric": "params", "value": 1000.0 + seed})
            rows.append({**base, "metric": "relevance_spearman", "value": spearman})
    claim = Claim("k", "s", "BayesNAS", "-", "-", "params", Side("lam=0.2"), Side("lam=0.01"))
    v = st.evaluate(claim, pd.DataFrame(rows))
    assert v.learned == "no: BayesNAS lam=0.2 relevance-|s| Spearman -0.4 <= 0 in 3 of 3 seeds"
    random_only = pd.DataFrame(rows).assign(method="random")
    assert st.evaluate(claim, random_only).learned == ""


def test_reference_runs_without_diagnostics_say_unknown_not_yes():
    folder = st.reference_root() / "methods_cell"
    table, _ = st.load_study_folder(folder)
    printed = pd.read_csv(folder / "verdicts.csv", keep_default_na=False)
    judged = printed[printed["verdict"] != NO_DATA]
    assert len(judged) and "learned" in printed.columns
    if not set(table["metric"]) & set(dg.DIAGNOSTICS):  # results made before the diagnostics
        assert set(judged["learned"]) == {UNKNOWN}
