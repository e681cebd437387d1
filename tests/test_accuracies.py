"""The three accuracies per method (supernet mixture, derived inherited, derived from scratch)
with their intervals, the per-method learned line, and their plot (notebook 12, README)."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from pgnas_core.run.study import accuracies as acc
from pgnas_core.run.study.evidence import Evidence, attach

matplotlib.use("Agg")

VALUES = {  # method -> metric -> per-seed values (seeds 0, 1, 2)
    "pgnas": {"supernet_test_acc": [0.78, 0.79, 0.80], "test_acc": [0.77, 0.75, 0.76],
              "test_acc_scratch": [0.70, 0.74, 0.72], "std_keep": [0.05, 0.06, 0.07]},
    "darts": {"supernet_test_acc": [0.60, 0.62, 0.64], "test_acc": [0.10, 0.14, 0.12],
              "test_acc_scratch": [0.80, 0.79, 0.81], "max_op_weight": [0.5, 0.3, 0.6]},
    "random": {"test_acc": [0.70, 0.72, 0.71], "params": [1e5, 2e5, 3e5]},
}  # fmt: skip


def long_table(values=VALUES) -> pd.DataFrame:
    rows = [
        {"study": "s", "tier": "quick", "config": f"method={m}", "method": m, "seed": seed,
         "metric": metric, "value": v}
        for m, metrics in values.items()
        for metric, vs in metrics.items()
        for seed, v in enumerate(vs)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def by_hand_t(values):
    v = np.asarray(values, float)
    half = sps.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return v.mean(), v.mean() - half, v.mean() + half


def test_means_and_t_intervals_match_a_by_hand_computation():
    table = long_table()
    iv = acc.accuracy_intervals(table)
    for _, row in iv.iterrows():
        values = VALUES[row["method"]][row["metric"]]
        mean, low, high = by_hand_t(values)
        assert row["mean"] == pytest.approx(mean)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((low, high))
        assert row["n"] == 3 and row["interval"] == acc.T_INTERVAL
    # the means are pandas's own, per method and kind; nothing but the three accuracies
    want = (
        table[table["metric"].isin(["supernet_test_acc", "test_acc", "test_acc_scratch"])]
        .groupby(["method", "metric"])["value"].mean()
    )  # fmt: skip
    got = iv.set_index(["method", "metric"])["mean"]
    pd.testing.assert_series_equal(got.sort_index(), want.sort_index(), check_names=False)
    assert list(iv.loc[iv["method"] == "pgnas", "kind"]) == ["supernet", "inherited", "scratch"]


def test_table_names_the_three_numbers_and_marks_missing_ones():
    t = acc.accuracy_table(long_table()).set_index("method")
    labels = [label for _, label in acc.KINDS.values()]
    assert labels == ["supernet (mixture)", "derived, inherited weights", "derived, from scratch"]
    assert set(labels) <= set(t.columns)
    mean, low, high = by_hand_t(VALUES["darts"]["test_acc_scratch"])
    assert t.loc["DARTS", "derived, from scratch"] == f"{mean:.3f} [{low:.3f}, {high:.3f}]"
    assert t.loc["Random", "supernet (mixture)"] == "-"  # not recorded
    assert t.loc["Random", "derived, from scratch"] == "-"


def test_version_1_argmax_supernet_of_darts_is_left_out():
    """Older results recorded DARTS's argmax cell as its supernet (equal to test_acc)."""
    v1 = {m: dict(d) for m, d in VALUES.items()}
    v1["darts"]["supernet_test_acc"] = list(v1["darts"]["test_acc"])
    v1["pgnas"]["supernet_test_acc"] = list(v1["pgnas"]["test_acc"])  # PGNAS: kept
    values = acc.accuracy_values(long_table(v1))
    kinds = values.groupby("method")["kind"].unique()
    assert "supernet" not in kinds["darts"] and "supernet" in kinds["pgnas"]
    # the current records (a mixture number of its own) keep it
    assert "supernet" in acc.accuracy_values(long_table()).query("method == 'darts'")["kind"].values


def test_bootstrap_over_seeds_and_images_where_the_bits_reproduce_the_accuracy():
    rng = np.random.default_rng(0)
    n = 400
    bits = {s: rng.random(n) < 0.7 + 0.05 * s for s in range(3)}
    table = long_table()
    m = (table["method"] == "pgnas") & (table["metric"] == "test_acc_scratch")
    for s, b in bits.items():
        table.loc[m & (table["seed"] == s), "value"] = b.mean()
    ev = Evidence()
    for s, b in bits.items():
        ev.correct[("method=pgnas", s, "pgnas", "test_acc_scratch")] = b
        ev.digests[("method=pgnas", s, "pgnas", "test_acc_scratch")] = "d"
    iv = acc.accuracy_intervals(attach(table, ev)).set_index(["method", "kind"])
    row = iv.loc[("pgnas", "scratch")]
    assert row["interval"] == acc.BOOTSTRAP
    assert row["mean"] == pytest.approx(np.mean([b.mean() for b in bits.values()]))
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    assert iv.loc[("pgnas", "inherited"), "interval"] == acc.T_INTERVAL  # no bits: t
    # bits that do not reproduce the table's number are not used
    ev.correct[("method=pgnas", 0, "pgnas", "test_acc_scratch")] = ~bits[0]
    iv = acc.accuracy_intervals(attach(table, ev)).set_index(["method", "kind"])
    assert iv.loc[("pgnas", "scratch"), "interval"] == acc.T_INTERVAL


def test_one_seed_has_no_t_interval():
    one = {"pgnas": {k: v[:1] for k, v in VALUES["pgnas"].items()}}
    iv = acc.accuracy_intervals(long_table(one))
    assert iv["ci_low"].isna().all() and (iv["interval"] == "").all()
    assert acc.accuracy_table(long_table(one))["interval"].iloc[0] == "none (1 seed)"


def test_search_learned_per_method():
    s = acc.search_learned(long_table()).set_index("method")
    assert s.loc["PGNAS", "learned"] == "yes"
    assert s.loc["DARTS", "learned"] == "no in 1 of 3 seeds"  # 0.3 < 0.4 in seed 1
    assert s.loc["DARTS", "diagnostic"] == "max_op_weight"
    assert s.loc["Random", "learned"].startswith("n/a")
    line = acc.learned_line(s.reset_index().iloc[1])
    assert line == "DARTS: final max_op_weight 0.5, 0.3, 0.6 (learned if max_op_weight >= 0.4): "\
        "no in 1 of 3 seeds"  # fmt: skip
    no_diag = {"darts": {"test_acc": [0.1, 0.2]}}
    assert acc.search_learned(long_table(no_diag))["learned"].iloc[0].startswith("unknown")


def test_plot_draws_each_recorded_mean_with_its_interval():
    import pgnas_viz as viz

    table = long_table()
    ax = viz.plot_accuracies(table)
    iv = acc.accuracy_intervals(table)
    bars = [c for c in ax.containers if hasattr(c, "lines")]
    assert len(bars) == len(iv) == 7  # PGNAS 3, DARTS 3, Random 1
    means = sorted(float(b.lines[0].get_ydata()[0]) for b in bars)
    assert means == pytest.approx(sorted(iv["mean"]))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["PGNAS", "DARTS", "Random"]
    with pytest.raises(ValueError, match="no accuracies"):
        viz.plot_accuracies(table[table["metric"] == "params"])
