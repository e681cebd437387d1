"""The paper's learning-rate schedules (supplement 1.1-1.2)."""

import pytest

from pgnas_core.train.schedules import lr_factor


def f(schedule, epoch, **kw):
    kw.setdefault("lr", 0.1)
    return lr_factor(schedule, int(epoch * 10), 10, kw.pop("epochs", 100), **kw)


def test_cosine_goes_from_one_to_the_floor():
    assert f("cosine", 0) == pytest.approx(1.0)
    assert f("cosine", 50) == pytest.approx(0.5)
    assert f("cosine", 100) == pytest.approx(0.0, abs=1e-12)
    assert f("cosine", 100, lr_min=0.01) == pytest.approx(0.1)


def test_step_divides_by_ten_every_30_epochs():
    assert [f("step", e) for e in (0, 29.9, 30, 60, 89)] == pytest.approx([1, 1, 0.1, 0.01, 0.01])


def test_multistep_at_densenet_milestones():
    kw = dict(milestones=(90, 140, 160))
    assert [f("multistep", e, **kw) for e in (89, 90, 140, 170)] == pytest.approx(
        [1, 0.1, 0.01, 0.001]
    )


def test_sgdr_restarts_at_t0_then_doubles():
    kw = dict(lr=0.05, lr_min=1e-4, t0=10, t_mult=2)
    assert f("sgdr", 0, **kw) == pytest.approx(1.0)
    assert f("sgdr", 9.9, **kw) < 0.01
    assert f("sgdr", 10, **kw) == pytest.approx(1.0)  # restart
    assert f("sgdr", 20, **kw) == pytest.approx(0.5 * (1 + 1e-4 / 0.05 * 1) + 0.0, rel=1e-2)
    assert f("sgdr", 30, **kw) == pytest.approx(1.0)  # 10 + 20


def test_unknown_schedule():
    with pytest.raises(ValueError, match="cosine"):
        f("linear", 1)
