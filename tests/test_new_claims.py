"""The claims of the paper's regimes: Table 2 at matched size (the constant-L2 net no larger
than the coupled one), Table 3 on the ENAS supernets, supp. Fig. 2's drop over the stages.
Each on a synthetic table where it holds and one where it fails."""

from __future__ import annotations

import pandas as pd
import pytest

from pgnas_core.run import study as st
from pgnas_core.run.study.claims import FAILS, HOLDS, NO_DATA, UNRESOLVED

pytestmark = pytest.mark.usefixtures("one_thread")


def _claim(key):
    return next(c for c in st.CLAIMS if c.key == key)


def _rows(config, method, metric, values, study="s"):
    return [
        {"study": study, "tier": "laptop", "config": config, "seed": i, "method": method,
         "metric": metric, "value": v}
        for i, v in enumerate(values)
    ]  # fmt: skip


def _table(*parts) -> pd.DataFrame:
    return pd.DataFrame([r for p in parts for r in _rows(*p)])


def test_the_new_claims_are_registered_with_their_settings():
    keys = {c.key for c in st.CLAIMS}
    new = ("t2_coupled_beats_constant_at_size", "t3_guided_beats_random_enas",
           "sf2_deeper_stages_drop_more")  # fmt: skip
    assert set(new) <= keys
    for key in new:
        c = _claim(key)
        assert c.paper_setting and c.our_setting, key
        assert key in set(st.verdicts(_table(("x", "pgnas", "test_acc", [1.0])), c.study)["key"])
    labels = {p.label for p in st.load_study("constant_l2").points()}
    assert set(_claim("t2_coupled_beats_constant_at_size").pick_from) <= labels


def _constant_l2(acc_small, params=(200, 260, 220, 150)):
    """coupled and four constant-L2 settings (params: coupled, l2 50, 500, 5000)."""
    coupled, c50, c500, c5000 = params
    return _table(
        ("weight_term=coupled", "pgnas", "test_acc", [0.87, 0.88, 0.875]),
        ("weight_term=coupled", "pgnas", "params", [coupled] * 3),
        ("weight_term=constant", "pgnas", "test_acc", [0.95, 0.95, 0.95]),  # larger net
        ("weight_term=constant", "pgnas", "params", [c50] * 3),
        ("weight_term=constant_l2_500", "pgnas", "test_acc", acc_small),
        ("weight_term=constant_l2_500", "pgnas", "params", [c500] * 3),
        ("weight_term=constant_l2_5000", "pgnas", "test_acc", [0.70, 0.71, 0.70]),
        ("weight_term=constant_l2_5000", "pgnas", "params", [c5000] * 3),
        ("weight_term=constant_n1200", "pgnas", "test_acc", [0.99, 0.99, 0.99]),
        ("weight_term=constant_n1200", "pgnas", "params", [999] * 3),  # never the one
    )


def test_table2_at_matched_size_picks_the_constant_net_closest_below_and_can_fail():
    claim = _claim("t2_coupled_beats_constant_at_size")
    # params 220 is above the coupled 200: the l2 5000 net (150) is the one compared
    v = st.evaluate(claim, _constant_l2([0.80, 0.81, 0.80]))
    assert v.verdict == HOLDS and "constant_l2_5000" in v.beside
    v = st.evaluate(claim, _constant_l2([0.80, 0.81, 0.80], params=(200, 260, 190, 150)))
    assert v.verdict == HOLDS and "constant_l2_500" in v.beside  # 190: closest below
    assert v.b_mean == pytest.approx(0.8033, abs=1e-3)
    # the same, where the matched constant net is the better one: the claim fails
    v = st.evaluate(claim, _constant_l2([0.90, 0.91, 0.90], params=(200, 260, 190, 150)))
    assert v.verdict == FAILS
    # no constant net at most the coupled size: not resolved, and it says so
    v = st.evaluate(claim, _constant_l2([0.80, 0.81, 0.80], params=(100, 260, 190, 150)))
    assert v.verdict == UNRESOLVED and "no configuration" in v.beside
    # today's reference (coupled and constant at l2 50 only): no data yet
    old = _constant_l2([0.8] * 3)
    old = old[old["config"].isin(["weight_term=coupled", "weight_term=constant"])]
    assert st.evaluate(claim, old).verdict == NO_DATA


def test_table3_on_enas_holds_and_fails():
    claim = _claim("t3_guided_beats_random_enas")
    pg, rnd = [0.80, 0.82, 0.81, 0.80, 0.83], [0.60, 0.65, 0.55, 0.62, 0.58]
    table = _table(("base", "pgnas", "test_acc", pg), ("base", "random", "test_acc", rnd))
    assert st.evaluate(claim, table).verdict == HOLDS
    swapped = _table(("base", "pgnas", "test_acc", rnd), ("base", "random", "test_acc", pg))
    assert st.evaluate(claim, swapped).verdict == FAILS
    assert st.evaluate(claim, table[table["method"] == "pgnas"]).verdict == NO_DATA


def _stages(drops):
    """drops: per stage, the per-seed channel drop of the PGNAS winner (and a Random row,
    which the claim ignores)."""
    parts = [("base", "pgnas", f"channel_drop_stage{k}", v) for k, v in enumerate(drops)]
    parts += [("base", "pgnas", "channel_drop", [0.2] * len(drops[0]))]
    parts += [("base", "random", "channel_drop_stage0", [0.9] * len(drops[0]))]
    return _table(*parts)


def test_supp_fig2_the_deeper_stages_drop_more_and_can_fail():
    claim = _claim("sf2_deeper_stages_drop_more")
    rising = [[0.0, 0.02, 0.01], [0.10, 0.12, 0.08], [0.30, 0.35, 0.40]]
    v = st.evaluate(claim, _stages(rising))
    assert v.verdict == HOLDS and v.n == 3
    assert v.diff == pytest.approx((0.30 - 0.0 + 0.33 - 0.02 + 0.39 - 0.01) / 3 / 2, abs=0.01)
    assert st.evaluate(claim, _stages(rising[::-1])).verdict == FAILS  # the first drops most
    flat = [[0.0] * 3] * 3
    assert st.evaluate(claim, _stages(flat)).verdict == FAILS  # no drop anywhere
    assert st.evaluate(claim, _stages(rising)[lambda t: ~t["metric"].str.contains("stage")]
                       ).verdict == NO_DATA  # fmt: skip
    # a stage index of two digits sorts as a number
    ten = _stages([[0.0] * 3] * 10 + [[0.5, 0.6, 0.55]])
    assert st.evaluate(claim, ten).verdict == HOLDS


def test_a_study_without_reference_results_shows_no_data_yet_in_the_readme(tmp_path):
    from pgnas_core.run.study.report import claims_markdown

    text = claims_markdown(tmp_path)  # no reference folder at all
    assert "`guided_vs_random_enas` (not run yet)" in text
    rows = [line for line in text.splitlines() if "on the ENAS supernets" in line]
    assert rows and all("**no data yet**" in r for r in rows)


def test_lambda_claims_count_the_seeds_whose_pruned_net_is_severed():
    """BayesNAS's lambda claims judge the derived nets trained from scratch (the paper's
    errors are of retrained nets) and say beside in how many seeds a lambda's pruned net has
    a dead cell (a severed net is small and at chance however it is trained)."""
    claim = _claim("bayesnas_lambda_accuracy")
    assert claim.metric == "test_acc_scratch"
    table = _table(
        ("lam=0.01", "bayesnas", "test_acc_scratch", [0.77, 0.76, 0.78]),
        ("lam=0.01", "bayesnas", "pruned_dead_cells", [0, 0, 0]),
        ("lam=0.01", "bayesnas", "params", [400, 400, 400]),
        ("lam=0.2", "bayesnas", "test_acc_scratch", [0.10, 0.79, 0.10]),
        ("lam=0.2", "bayesnas", "pruned_dead_cells", [3, 0, 6]),
        ("lam=0.2", "bayesnas", "params", [70, 290, 70]),
    )
    v = st.claims.evaluate(claim, table)
    assert "pruned_dead_cells > 0 in 0 of 3 seeds vs > 0 in 2 of 3 seeds" in v.beside
    assert "params 400 vs 143.3" in v.beside
    pruning = _table(
        ("lam=0.2", "bayesnas", "pruned_test_acc", [0.09, 0.50, 0.09]),
        ("lam=0.2", "bayesnas", "unpruned_test_acc", [0.60, 0.52, 0.16]),
        ("lam=0.2", "bayesnas", "pruned_dead_cells", [3, 0, 6]),
    )
    v = st.claims.evaluate(_claim("bayesnas_pruning_keeps_accuracy"), pruning)
    assert v.beside == "pruned_dead_cells > 0 in 2 of 3 seeds"  # both sides: one net, once
