"""The intervals over seeds and test images (docs/statistics.md) by hand and by their
limits, the power calculation, the spread test, the per-image correctness files, and the
claim kinds that use them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from pgnas_core.run import study as st
from pgnas_core.run.correctness import load_correct, save_correct
from pgnas_core.run.study import stats
from pgnas_core.run.study.claims import (
    BOOTSTRAP,
    FAILS,
    HOLDS,
    NO_DATA,
    T_INTERVAL,
    UNRESOLVED,
    Claim,
    Side,
)
from pgnas_core.run.study.evidence import Evidence, attach, load_evidence, write_evidence

RNG = np.random.default_rng(7)
# 3 seeds x 5 test images: per-image paired differences (a correct) - (b correct)
SMALL = np.array([[1, 0, 0, -1, 1], [0, 0, 1, 1, 0], [1, 1, 0, 0, -1]], dtype=float)


def _by_hand(diff, n_boot, seed, design):
    """The same draws as stats.bootstrap_statistics, averaged with plain loops."""
    n_seeds, n_images = diff.shape
    seq_seeds, seq_images = np.random.SeedSequence(seed).spawn(2)
    seed_idx = np.random.default_rng(seq_seeds).integers(0, n_seeds, size=(n_boot, n_seeds))
    shape = (n_images,) if design == "crossed" else (n_seeds, n_images)
    img_idx = np.random.default_rng(seq_images).integers(0, n_images, size=(n_boot, *shape))
    out = []
    for b in range(n_boot):
        total = 0.0
        for j in range(n_seeds):
            images = img_idx[b] if design == "crossed" else img_idx[b, j]
            total += sum(diff[seed_idx[b, j], i] for i in images) / n_images
        out.append(total / n_seeds)
    return np.array(out)


@pytest.mark.parametrize("design", ["crossed", "nested"])
def test_the_hierarchical_bootstrap_by_hand(design):
    want = _by_hand(SMALL, 300, 3, design)
    got = stats.bootstrap_statistics(SMALL, 300, 3, design)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    ci = stats.hierarchical_interval(SMALL, 300, 3, design=design)
    low, high = np.quantile(want, [0.025, 0.975])
    assert (ci["ci_low"], ci["ci_high"]) == pytest.approx((low, high))
    assert ci["mean"] == pytest.approx(SMALL.mean()) and (ci["n"], ci["images"]) == (3, 5)


def test_its_limits_are_the_image_and_the_seed_bootstrap():
    row = RNG.integers(-1, 2, size=200).astype(float)
    same_seeds = np.tile(row, (4, 1))  # no seed variance: only the images vary
    boot = stats.hierarchical_interval(same_seeds, 500, 11)
    assert (boot["ci_low"], boot["ci_high"]) == pytest.approx(stats.image_bootstrap(row, 500, 11))
    per_seed = np.array([0.2, -0.1, 0.4, 0.3])
    same_images = np.repeat(per_seed[:, None], 50, axis=1)  # every image alike in a seed
    boot = stats.hierarchical_interval(same_images, 500, 11)
    assert (boot["ci_low"], boot["ci_high"]) == pytest.approx(
        stats.seed_bootstrap(per_seed, 500, 11)
    )
    # with both sources the interval is wider than either alone
    noisy = same_images + RNG.normal(0, 1, size=same_images.shape)
    both = stats.hierarchical_interval(noisy, 1000, 1)
    seeds_only = stats.seed_bootstrap(noisy.mean(axis=1), 1000, 1)
    assert both["ci_high"] - both["ci_low"] > seeds_only[1] - seeds_only[0]


def test_the_seeds_a_claim_needs():
    # a paired t-test at 80% power for an effect of one sd needs 10 pairs (G*Power's table)
    assert stats.seeds_needed(1.0, 1.0) == 10
    assert stats.seeds_needed(2.0, 1.0) < stats.seeds_needed(1.0, 1.0) < stats.seeds_needed(0.5, 1)
    assert stats.seeds_needed(0.1, 0.0) == 2  # no spread at all
    assert math.isnan(stats.seeds_needed(0.0, 1.0)) and math.isnan(stats.seeds_needed(0.01, 1.0))
    n = stats.seeds_needed(0.7, 1.0)  # check the power of that n by simulation
    diffs = np.random.default_rng(0).normal(0.7, 1.0, size=(4000, int(n)))
    p = sps.ttest_1samp(diffs, 0.0, axis=1).pvalue
    assert (p < 0.05).mean() == pytest.approx(0.8, abs=0.03)


def test_the_one_sided_brown_forsythe_test():
    a, b = RNG.normal(0, 1, 40), RNG.normal(0, 3, 40)
    p = stats.smaller_spread_p(a, b)
    levene = sps.levene(a, b, center="median").pvalue
    assert p == pytest.approx(levene / 2)  # one-sided, in the observed direction
    assert stats.smaller_spread_p(b, a) == pytest.approx(1 - levene / 2)
    assert stats.fisher_combined([0.01, 0.2]) == pytest.approx(
        sps.chi2.sf(-2 * (math.log(0.01) + math.log(0.2)), 4)
    )


def test_the_correctness_bits_give_back_the_accuracy_exactly(tmp_path):
    nets = {"winner": RNG.random(1999) < 0.87, "supernet": RNG.random(1999) < 0.8}
    path = save_correct(tmp_path / "test_correct.npz", nets, "abc")
    back = load_correct(path)
    assert set(back) == set(nets)
    for k, v in nets.items():
        assert np.array_equal(back[k], v)
        assert back[k].mean() == int(v.sum()) / len(v)  # exactly the reported accuracy


def _table(values: dict, metric="test_acc") -> pd.DataFrame:
    """config -> per-seed values of one metric (method m)."""
    rows = [
        {"study": "s", "config": c, "seed": i, "method": "m", "metric": metric, "value": v}
        for c, vs in values.items()
        for i, v in enumerate(vs)
    ]
    return pd.DataFrame(rows)


def _with_bits(n_images=400, gap=0.05, seeds=3):
    """Two configs whose per-image correctness is saved and matches their accuracies."""
    ev, acc = Evidence(), {"x": [], "y": []}
    for seed in range(seeds):
        base = RNG.random(n_images) < 0.8
        better = base | (RNG.random(n_images) < gap)
        for config, bits in (("x", better), ("y", base)):
            ev.correct[(config, seed, "m", "test_acc")] = bits
            ev.digests[(config, seed, "m", "test_acc")] = "d"
            acc[config].append(int(bits.sum()) / n_images)
    return attach(_table(acc), ev), ev


def test_a_verdict_uses_the_bootstrap_when_both_sides_saved_their_bits(tmp_path):
    table, ev = _with_bits()
    claim = Claim("k", "s", "T", "x beats y", "-", "test_acc", Side("x"), Side("y"))
    v = st.evaluate(claim, table)
    diff = np.stack([ev.correct[("x", s, "m", "test_acc")].astype(float)
                     - ev.correct[("y", s, "m", "test_acc")] for s in range(3)])  # fmt: skip
    want = stats.hierarchical_interval(diff)
    assert v.interval == BOOTSTRAP and v.verdict == HOLDS
    assert (v.ci_low, v.ci_high) == pytest.approx((want["ci_low"], want["ci_high"]))
    assert v.diff == pytest.approx(diff.mean())
    # the evidence survives the study folder
    write_evidence(tmp_path, ev)
    again = st.evaluate(claim, attach(table.copy(), load_evidence(tmp_path)))
    assert (again.ci_low, again.ci_high) == (v.ci_low, v.ci_high)
    # bits that do not give the table's accuracy, or other test images: the t-interval
    ev.digests[("y", 1, "m", "test_acc")] = "other"
    assert st.evaluate(claim, table).interval == T_INTERVAL


def test_the_trend_interior_spread_and_ratio_kinds():
    grid = {"l2=10": [300.0, 310, 290], "l2=50": [250.0, 240, 260], "l2=250": [80.0, 60, 190]}
    t = _table(grid, "params")
    t["posterior.l2"] = t["config"].str.split("=").str[1].astype(float)
    trend = Claim("k", "s", "T", "", "", "params", Side(), direction="lower", kind="trend",
                  x="posterior.l2")  # fmt: skip
    slopes = [np.polyfit(np.log([10, 50, 250]), [grid[c][i] for c in grid], 1)[0]
              for i in range(3)]  # fmt: skip
    v = st.evaluate(trend, t)
    assert v.diff == pytest.approx(np.mean(slopes)) and v.verdict in (HOLDS, UNRESOLVED)
    assert st.evaluate(trend, t.assign(value=-t["value"])).verdict != HOLDS
    inner = Claim("k", "s", "T", "", "", "params", Side(), kind="interior", x="posterior.l2")
    v = st.evaluate(inner, t)  # 50 beats the better end in no seed
    assert v.diff == pytest.approx(np.mean([250 - 300, 240 - 310, 260 - 290]))
    assert v.verdict == FAILS
    # spread: every candidate, per seed, combined by Fisher
    cands = [
        {"config": c, "seed": s, "method": "m", "val_acc": v}
        for s in range(3)
        for c, sd in (("x", 0.005), ("y", 0.02))
        for v in RNG.normal(0.85, sd, 40)
    ]
    spread = Claim("k", "s", "T", "", "", "candidate_val_acc", Side("x"), Side("y"),
                   direction="lower", kind="spread")  # fmt: skip
    table = attach(
        _table({"x": [0.8] * 3, "y": [0.8] * 3}), Evidence(candidates=pd.DataFrame(cands))
    )
    v = st.evaluate(spread, table)
    assert v.verdict == HOLDS and v.p_value < 0.05
    assert st.evaluate(spread, _table({"x": [0.8] * 3})).verdict == NO_DATA
    ratio = Claim("k", "s", "T", "", "", "test_acc", Side("x"), Side("y"), direction="lower",
                  log=True)  # fmt: skip
    v = st.evaluate(ratio, _table({"x": [10.0, 11, 9], "y": [40.0, 50, 45]}))
    assert v.verdict == HOLDS and "ratio a/b = 0.2" in v.beside


def test_a_claim_without_data_says_so():
    claim = Claim("k", "s", "T", "", "", "nothing_here", Side("x"), Side("y"))
    v = st.evaluate(claim, _table({"x": [1.0, 2.0]}))
    assert v.verdict == NO_DATA and v.n == 0


def test_the_expected_training_free_pick_among_k_draws_by_enumeration():
    from itertools import combinations

    from pgnas_core.run.study.metrics import expected_pick_by_k

    drawn = pd.DataFrame(
        {
            "sample": range(6),
            "naswot": [3.0, 1.0, 3.0, 2.0, 0.5, 2.5],
            "test_acc_scratch": [0.7, 0.9, 0.6, 0.8, 0.75, 0.65],
        }  # fmt: skip
    )
    got = expected_pick_by_k(drawn, "naswot", "test_acc_scratch", [1, 2, 4, 6])
    for k, value in got.items():
        picks = []
        for subset in combinations(range(6), k):
            sub = drawn.iloc[list(subset)].sort_values(
                ["naswot", "sample"], ascending=[False, True]
            )
            picks.append(sub["test_acc_scratch"].iloc[0])
        assert value == pytest.approx(np.mean(picks)), k
    assert got[6] == 0.7 and got[1] == pytest.approx(drawn["test_acc_scratch"].mean())
