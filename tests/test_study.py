"""Studies: the specs load, the statistics by hand, verdicts in all three cases, a study killed
with SIGKILL resumes without redoing finished runs, and the committed reference results
load and give the verdicts they print."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pgnas_core.errors import ConfigError
from pgnas_core.run import study as st
from pgnas_core.run.study.claims import FAILS, HOLDS, NO_DATA, UNRESOLVED, Claim, Side

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_study_loads_with_its_tiers():
    names = st.list_studies()
    assert {"guided_vs_random", "weight_prior_l2", "methods_cell", "precision"} <= set(names)
    for name in names:
        spec = st.load_study(name)
        assert {"quick", "laptop"} <= set(spec.tiers), name
        assert len(spec.tier("laptop").seeds) >= 3, name
        labels = [p.label for p in spec.points()]
        assert len(set(labels)) == len(labels), name
        jobs = spec.jobs("laptop")
        assert len(jobs) == len(labels) * len(spec.tier("laptop").seeds)
        # the seed moves the training and the candidates, never the data split
        assert all(any(o.startswith("train.seed=") for o in j.overrides) for j in jobs)
        assert not any("split_seed" in o for j in jobs for o in j.overrides)


def test_every_claim_names_a_study_and_its_configurations():
    for claim in st.CLAIMS:
        spec = st.load_study(claim.study)
        labels = {p.label for p in spec.points()}
        sides = [claim.a] + ([claim.b] if isinstance(claim.b, Side) else [])
        for side in sides:
            assert side.config is None or side.config in labels, (claim.key, side.config)
        assert set(claim.pick_from) <= labels, claim.key


def test_bad_study_names_and_fields_say_what_is_allowed(tmp_path):
    with pytest.raises(ConfigError, match="study.*guided_vs_random"):
        st.load_study("no_such_study")
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {posterior.l2: 3}\ntiers: {quick: {preset: digits}}\n")
    with pytest.raises(ConfigError, match="grid.posterior.l2"):
        st.load_study(bad)
    bad.write_text("analyses: [nope]\ntiers: {quick: {preset: digits}}\n")
    with pytest.raises(ConfigError, match="analyses"):
        st.load_study(bad)
    with pytest.raises(ConfigError, match="tier"):
        st.load_study("guided_vs_random").tier("huge")


def test_the_t_interval_by_hand():
    mean, sd, low, high, n = st.t_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) * sd / sqrt(n), sd = 1
    assert (mean, sd, n) == (2.0, 1.0, 3)
    assert low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert math.isnan(st.t_interval([5.0])[2])  # one seed: no interval


def _table(a, b, metric="test_acc"):
    rows = [
        {"study": "s", "config": "x", "seed": i, "method": "m", "metric": metric, "value": v}
        for i, v in enumerate(a)
    ]
    rows += [
        {"study": "s", "config": "y", "seed": i, "method": "m", "metric": metric, "value": v}
        for i, v in enumerate(b)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "a,b,direction,margin,want",
    [
        ([0.90, 0.91, 0.92], [0.80, 0.80, 0.81], "higher", 0.0, HOLDS),
        ([0.90, 0.91, 0.92], [0.80, 0.80, 0.81], "lower", 0.0, FAILS),
        ([0.90, 0.80, 0.92], [0.85, 0.86, 0.84], "higher", 0.0, UNRESOLVED),
        ([0.90], [0.80], "higher", 0.0, UNRESOLVED),  # one seed
        ([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], "higher", 0.0, FAILS),  # no difference at all
        ([0.899, 0.900, 0.901], [0.900, 0.900, 0.900], "higher", 0.01, HOLDS),  # not worse
        ([0.850, 0.851, 0.849], [0.900, 0.900, 0.900], "higher", 0.01, FAILS),
        ([0.900, 0.901, 0.899], [0.900, 0.900, 0.901], "equal", 0.01, HOLDS),
        ([0.950, 0.951, 0.952], [0.900, 0.900, 0.901], "equal", 0.01, FAILS),
    ],
)
def test_verdicts_in_every_case(a, b, direction, margin, want):
    claim = Claim(
        "k",
        "s",
        "T",
        "a beats b",
        "-",
        "test_acc",
        Side("x"),
        Side("y"),
        direction=direction,
        margin=margin,
    )
    assert st.evaluate(claim, _table(a, b)).verdict == want


def test_a_never_claim_and_a_constant_side():
    table = _table([0, 0, 0], [0, 1, 0], metric="orphans")
    assert (
        st.evaluate(Claim("k", "s", "T", "", "", "orphans", Side("x"), kind="never"), table).verdict
        == HOLDS
    )
    assert (
        st.evaluate(Claim("k", "s", "T", "", "", "orphans", Side("y"), kind="never"), table).verdict
        == FAILS
    )
    drops = _table([0.1, 0.2, 0.15], [], metric="channel_drop")
    claim = Claim("k", "s", "T", "", "", "channel_drop", Side("x"), 0.0)
    assert st.evaluate(claim, drops).verdict == HOLDS


TINY_STUDY = """description: a test study
grid: {posterior.l2: [1, 20]}
analyses: [drop_by_depth]
tiers:
  quick:
    preset: digits
    overrides: [train.epochs=1, data.train_size=200, "method.baselines=[]", search.candidates=4,
                "supernet.options={widths: [4, 8, 8], stem_channels: 4}"]
    seeds: [0, 1]
  laptop: {preset: digits, seeds: [0, 1, 2]}
"""


def _study_cli(path: Path, out: Path, kill_after: int | None = None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(st.runner.KILL_AFTER_ENV, None)
    if kill_after:
        env[st.runner.KILL_AFTER_ENV] = str(kill_after)
    args = [sys.executable, "-m", "pgnas_core", "study", str(path), "--tier", "quick"]
    args += ["--out", str(out), "--jobs", "1", "--no-progress"]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_killed_study_resumes_without_redoing_finished_runs(tmp_path):
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(TINY_STUDY)
    ref = tmp_path / "ref"
    r = _study_cli(spec_path, ref)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "killed"
    r = _study_cli(spec_path, out, kill_after=2)
    assert r.returncode == -signal.SIGKILL, r.stderr
    finished = sorted(out.glob("runs/*/metrics.json"))
    assert len(finished) == 2  # two of four runs done before the kill
    stamps = {p: p.stat().st_mtime_ns for p in finished}
    r = _study_cli(spec_path, out)
    assert r.returncode == 0, r.stderr
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # not redone
    a, b = (pd.read_csv(d / "results.csv") for d in (ref, out))
    assert len(a) == len(b) and set(a["config"]) == {"l2=1", "l2=20"}
    timing = a["metric"].str.contains("seconds")
    keys = ["config", "seed", "method", "metric"]
    pd.testing.assert_frame_equal(
        a[~timing].sort_values(keys).reset_index(drop=True),
        b[~timing.to_numpy()].sort_values(keys).reset_index(drop=True),
    )
    info = json.loads((out / "study.json").read_text())
    assert {"command", "commit", "machine", "date"} <= set(info)
    # the study keeps every run's per-image test bits and candidates beside its table
    table, _ = st.load_study_folder(out)
    ev = table.attrs["evidence"]
    for (config, seed, method, metric), bits in ev.correct.items():
        row = table[(table["config"] == config) & (table["seed"] == seed)
                    & (table["method"] == method) & (table["metric"] == metric)]  # fmt: skip
        assert bits.mean() == row["value"].item()
    assert {("l2=1", 0, "pgnas", "test_acc"), ("l2=20", 1, "pgnas", "supernet_test_acc")} <= set(
        ev.correct
    )
    assert len(ev.candidates) == 4 * 4  # 4 candidates of each of the 4 runs
    # the same folder for another study is refused
    spec_path.write_text(TINY_STUDY.replace("[1, 20]", "[1, 30]"))
    r = _study_cli(spec_path, out)
    assert r.returncode == 1 and "changed since its runs were made" in r.stderr


def _reference_folders():
    root = st.reference_root()
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


#: Studies whose laptop tier has not been run yet (their claims say "no data yet").
NOT_RUN_YET: set[str] = set()


def test_reference_results_exist_for_every_study_with_claims():
    have = {p.name for p in _reference_folders()}
    assert {c.study for c in st.CLAIMS} - NOT_RUN_YET <= have
    assert not NOT_RUN_YET & have, "its reference is in: take it off NOT_RUN_YET"


@pytest.mark.parametrize("folder", _reference_folders(), ids=lambda p: p.name)
def test_reference_results_load_and_give_their_printed_verdicts(folder):
    table, info = st.load_study_folder(folder)
    # claims newer than the results say "no data yet" instead of failing
    assert info["tier"] == "laptop" and {"command", "commit", "machine", "date"} <= set(info)
    assert table["seed"].nunique() >= 3
    printed = pd.read_csv(folder / "verdicts.csv")
    again = st.verdicts(table, folder.name)
    assert list(printed["key"]) == list(again["key"])
    assert list(printed["verdict"]) == list(again["verdict"])
    assert set(again["verdict"]) <= {HOLDS, FAILS, UNRESOLVED, NO_DATA}
    for col in ("a_mean", "b_mean", "difference", "ci_low", "ci_high"):
        assert printed[col].to_numpy() == pytest.approx(again[col].to_numpy(), nan_ok=True)
    assert not list(folder.rglob("*.pt"))  # tables only, no checkpoints


def test_the_readme_tables_are_generated_from_the_reference_results():
    from pgnas_core.run.study.report import readme_blocks, render_readme

    text = (st.reference.repo_root() / "README.md").read_text()
    assert set(readme_blocks(text)) == {"claims", "methods"}
    assert render_readme(text) == text, "README.md is stale: python scripts/update_readme.py"


def test_the_claims_table_names_the_commits_its_studies_were_made_at():
    from pgnas_core.run.study.report import provenance_of

    legacy = {"commit": "211ea40aa", "date": "2026-12-02T02:28:03+00:00"}
    assert provenance_of(legacy) == "(211ea40, 2026-12-02)"
    mixed = {
        "date": "2026-12-03T17:00:00",
        "starts": [{"commit": "aaaaaaa1"}, {"commit": "bbbbbbb2", "dirty": True, "forced": True}],
    }
    assert provenance_of(mixed) == "(aaaaaaa, bbbbbbb + uncommitted changes, 2026-12-03)"


def test_claim_plots_show_the_computed_verdict():
    import matplotlib

    matplotlib.use("Agg")
    import pgnas_viz as viz

    table = _table([0.90, 0.91, 0.92], [0.80, 0.80, 0.81])
    claim = Claim("k", "s", "Table 9", "x beats y", "-", "test_acc", Side("x"), Side("y"))
    ax = viz.plot_claim(table, claim)
    assert "Table 9: holds" in ax.get_title()
    assert len(ax.lines) >= 3  # one line per seed
    text = viz.side_by_side_table(table, ["test_acc"])
    assert list(text["config"]) == ["x", "y"] and text.loc[0, "test_acc"].startswith("0.91 ±")


def test_a_study_metric_plot_draws_each_configs_t_interval():
    import matplotlib

    matplotlib.use("Agg")
    import pgnas_viz as viz

    a, b = [0.90, 0.91, 0.95], [0.80, 0.80, 0.81]
    table = _table(a, b).replace({"config": {"x": "method=darts", "y": "method=balenas"}})
    ax = viz.plot_study_metric(table, "test_acc")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["darts", "balenas"]
    assert ax.get_xlabel() == "method"
    bars = [line.get_ydata() for line in ax.lines if np.isnan(line.get_ydata()).any()]
    spans = sorted((np.nanmin(y), np.nanmax(y)) for y in bars)  # an error bar with its caps
    # the 95% t-interval by hand: mean +- t(0.975, 2) sd / sqrt(3), t = 4.302653
    want = sorted(
        (
            np.mean(v) - 4.302653 * np.std(v, ddof=1) / 3**0.5,
            np.mean(v) + 4.302653 * np.std(v, ddof=1) / 3**0.5,
        )
        for v in (a, b)
    )
    assert np.ravel(spans) == pytest.approx(np.ravel(want), rel=1e-5)


def test_the_notebook_mode_follows_ci_and_the_environment():
    assert st.notebook_mode({"CI": "true"}) == "quick"
    assert st.notebook_mode({"PGNAS_QUICK": "1", "PGNAS_MODE": "laptop"}) == "quick"
    assert st.notebook_mode({}) == "reference"
    assert st.notebook_mode({"PGNAS_MODE": "laptop"}) == "laptop"
    with pytest.raises(ConfigError, match="PGNAS_MODE.*quick, reference, laptop, paper"):
        st.notebook_mode({"PGNAS_MODE": "huge"})
