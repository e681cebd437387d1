"""The tau / l2 widgets and the train button: set a slider, check the output changed."""

import threading

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import pgnas_viz as viz  # noqa: E402
from pgnas_core.config import resolve_config  # noqa: E402
from pgnas_core.run.results import sweep_tables  # noqa: E402
from pgnas_viz.posterior_math import relaxed_mask_stats  # noqa: E402
from pgnas_viz.train_button import run_progress, total_steps  # noqa: E402

from viz_run import digits_run  # noqa: E402


def test_relaxed_samples_tend_to_bernoulli_as_tau_shrinks():
    p = 0.3
    cold = viz.relaxed_mask_samples(p, 0.01, n=20000, seed=1)
    hot = viz.relaxed_mask_samples(p, 2.0, n=20000, seed=1)
    assert cold.shape == (20000,) and 0 <= cold.min() and cold.max() <= 1
    s = relaxed_mask_stats(cold)
    assert s["p_low"] == pytest.approx(p, abs=0.02)  # dropped with probability p
    assert s["p_low"] + s["p_high"] > 0.99  # nearly hard
    assert relaxed_mask_stats(hot)["p_high"] < 0.5  # blurred
    np.testing.assert_array_equal(
        viz.relaxed_mask_samples(p, 0.2, 100, seed=3), viz.relaxed_mask_samples(p, 0.2, 100, seed=3)
    )
    with pytest.raises(ValueError):
        viz.relaxed_mask_samples(1.0, 0.2)


def test_tau_slider_changes_the_output():
    w = viz.tau_explorer(p=0.1)
    assert w.tau_slider.value == pytest.approx(0.2)
    assert w.tau_slider.min == -2  # log10(0.01)
    before_text, before_png = w.summary.value, w.image.value
    assert "tau=0.20" in w.text and before_png[:4] == b"\x89PNG"
    w.tau_slider.value = 1.5  # the observer redraws
    assert "tau=1.50" in w.summary.value and w.summary.value != before_text
    assert w.image.value != before_png
    assert w.stats["p_high"] < 0.5
    w.p_slider.value = 0.5
    assert "p=0.50" in w.text


def test_regulariser_optimum_is_the_curve_minimum():
    for l2 in (0.1, 5.0, 50.0):
        curve = viz.regularisation_curve(
            l2, weight_sq=2.0, channels=16, p=np.linspace(1e-4, 1 - 1e-4, 20001)
        )
        p_num = curve.loc[curve["total"].idxmin(), "p"]
        assert viz.regulariser_optimum(l2, 2.0, 16) == pytest.approx(p_num, abs=1e-3)
    # weight term as in pgnas_core.train.loss: l2 (1-p) ||M||^2, entropy K (p log p + q log q)
    c = viz.regularisation_curve(3.0, 2.0, 4, p=np.array([0.25]))
    assert c["weight"][0] == pytest.approx(3.0 * 0.75 * 2.0)
    assert c["entropy"][0] == pytest.approx(4 * (0.25 * np.log(0.25) + 0.75 * np.log(0.75)))


def test_typical_site_norms_match_the_weights():
    from pgnas_core import create_supernet

    net = create_supernet("supnet_m_tiny")
    m_sq, k = viz.typical_site_norms(net)
    norms = [
        float(w.detach().pow(2).sum()) for op in net.masked_ops() for _, w in op.site_weights()
    ]
    assert m_sq == pytest.approx(float(np.median(norms)))
    assert k in {s.channels for s in net.sites()}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Two real nets (PGNAS and Random of the digits run) posing as an l2 sweep."""
    run_dir = digits_run(tmp_path_factory)
    runs, keeps = sweep_tables([run_dir, run_dir / "random"])
    runs["l2"] = [1.0, 100.0]
    keeps["l2"] = keeps["run"].map({0: 1.0, 1: 100.0})
    return runs, keeps


def test_l2_slider_picks_the_nearest_trained_net(sweep):
    runs, keeps = sweep
    w = viz.l2_explorer(runs, keeps, weight_sq=1.0, channels=8)
    w.l2_slider.value = 0.5
    assert w.nearest["run"] == 0 and "nearest trained l2=1," in w.text
    low_text, low_png = w.summary.value, w.image.value
    w.l2_slider.value = 200.0
    assert w.nearest["run"] == 1 and "nearest trained l2=100" in w.text
    assert w.summary.value != low_text and w.image.value != low_png
    assert f"{int(runs.loc[1, 'params']):,} params" in w.text
    assert "regulariser alone prefers p=1.00" in w.text  # sigmoid(200 / 8)
    assert viz.nearest_sweep_row(runs, 9.0)["run"] == 0  # log scale: 9 is nearer 1 than 100
    assert viz.nearest_sweep_row(runs, 11.0)["run"] == 1


def test_train_button_runs_in_a_thread_with_progress(tmp_path):
    """Driven by events, not by sleeping: the fake run waits for the test, the test waits
    for the progress bar's value to change."""
    cfg = resolve_config("digits", overrides=["train.epochs=3", "method.baselines=[]"])
    release, at_two = threading.Event(), threading.Event()

    def fake_runner(cfg, out):  # writes the files search() writes, one epoch at a time
        out.mkdir(parents=True)
        for e in range(1, cfg.train.epochs + 1):
            pd.DataFrame({"epoch": range(1, e + 1)}).to_csv(out / "history.csv", index=False)
            if e == 2:
                release.wait()
        (out / "best.json").write_text("{}")
        return {"ok": True}

    w = viz.TrainButton(lambda: cfg, tmp_path, runner=fake_runner, poll_seconds=0.02)
    w.progress.observe(lambda ch: ch["new"] == 2 and at_two.set(), names="value")
    try:
        w.button.click()  # returns at once: the run is in a thread
        assert w.running and w.button.disabled
        assert at_two.wait(120), "the progress bar never showed the second epoch"
    finally:
        release.set() if not at_two.is_set() else None
    assert w.progress.value == 2 and w.progress.max == total_steps(cfg) == 4
    assert w.start() is None and "already" in w.status.value  # one run at a time
    release.set()
    w.wait()
    assert w.result == {"ok": True} and w.progress.value == 4
    assert "done" in w.status.value and not w.button.disabled
    assert run_progress(w.run_dir, cfg) == 4 and w.run_dir.name == "run_000"
    w.button.click()
    w.wait()
    assert w.run_dir.name == "run_001"


def test_train_button_reports_a_failure(tmp_path):
    cfg = resolve_config("digits")

    def broken(cfg, out):
        raise RuntimeError("no data here")

    w = viz.train_button(lambda: cfg, tmp_path)
    w.runner = broken
    w.start()
    w.wait(10)
    assert isinstance(w.error, RuntimeError) and "no data here" in w.status.value
    assert w.progress.bar_style == "danger" and not w.button.disabled


@pytest.mark.slow
def test_train_button_trains_for_real(tmp_path):
    cfg = resolve_config(
        "digits", overrides=["train.epochs=1", "search.candidates=2", "method.baselines=[]"]
    )
    w = viz.train_button(lambda: cfg, tmp_path)
    w.start()
    w.wait(300)
    assert w.error is None, w.error
    assert (w.run_dir / "best.json").is_file() and w.progress.value == w.progress.max == 2
    assert w.result["pgnas"].best.candidates == 2
