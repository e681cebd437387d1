"""Racing's statistics (pgnas_core.rank.race): the draws, the strata and the per-round test."""

import pytest
import torch

from pgnas_core.rank.race import (
    MIN_PAIRED_SD,
    RacePlan,
    margin_strata,
    paired_spread,
    round_sizes,
    round_z,
    stratified_eliminations,
)


def test_round_sizes_cover_the_split_once_and_grow():
    sizes = round_sizes(2000, 64, 1.5)
    assert sum(sizes) == 2000 and sizes[:4] == [64, 96, 144, 216]
    assert round_sizes(10, 64, 1.5) == [10]
    with pytest.raises(ValueError):
        round_sizes(100, 0, 1.5)


def test_round_z_shares_delta_over_the_testing_rounds():
    assert round_z(1, 0.05) == pytest.approx(1.6449, abs=1e-4)
    assert round_z(5, 0.05) == pytest.approx(2.3263, abs=1e-4)


def test_margin_strata_put_the_contested_images_first():
    y = torch.zeros(8, dtype=torch.long)
    # margins p_y - max other: from -0.9 (confidently wrong) to 0.9; |.| orders them
    p_y = torch.tensor([0.05, 0.45, 0.55, 0.95, 0.5, 0.3, 0.7, 0.6])
    probs = torch.stack([p_y, 1 - p_y], 1)
    strata = margin_strata(probs.log(), y, 4)
    margin = (2 * p_y - 1).abs()
    assert strata.tolist() == [3, 0, 0, 3, 0, 1, 2, 1] or (
        strata[margin.argsort()].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    )
    assert strata[margin.argmin()] == 0 and strata[margin.argmax()] == 3
    assert margin_strata(probs.log(), y, 1).eq(0).all()


def test_race_plan_draws_every_image_once_and_replays():
    g = torch.Generator().manual_seed(0)
    strata = torch.randint(0, 4, (500,), generator=g)
    plan = RacePlan(strata, seed=3)
    spread = torch.tensor([0.5, 0.2, 0.05, 0.05])
    first = plan.draw(40, spread)
    counts = torch.bincount(strata[first], minlength=4)
    assert (counts >= 2).all() and counts[0] > counts[2]  # Neyman: the spread-out stratum first
    rest = [plan.draw(t, spread) for t in (80, 1000)]
    every = torch.cat([first, *rest])
    assert sorted(every.tolist()) == list(range(500))
    again = RacePlan(strata, seed=3)  # same seed: the same draws; consume() replays them
    assert torch.equal(again.draw(40, spread), first)
    resumed = RacePlan(strata, seed=3)
    resumed.consume(first)
    assert torch.equal(resumed.draw(80, spread), rest[0])


def test_eliminations_drop_only_the_clearly_worse():
    g = torch.Generator().manual_seed(0)
    n = 1000
    strata = torch.zeros(n, dtype=torch.long)
    leader = torch.rand(n, generator=g) < 0.9
    close = leader.clone()
    close[:6] = ~close[:6]  # differs on 6 images: not separable
    bad = leader & (torch.rand(n, generator=g) < 0.7)  # loses ~27% of the leader's hits
    rows = torch.stack([leader, close, bad])
    seen, fresh = rows[:, :100], rows[:, 100:400]
    out = stratified_eliminations(seen, fresh, strata[100:400], torch.tensor([900]), z=2.33)
    assert out.tolist() == [False, False, True]
    same = torch.stack([leader, leader])
    assert not stratified_eliminations(
        same[:, :10], same[:, 10:], strata[10:], torch.tensor([990]), z=0.0
    ).any()


def test_a_completed_split_is_compared_exactly():
    """Fresh images that finish every stratum leave no sampling error: one hit fewer drops."""
    leader = torch.ones(12, dtype=torch.bool)
    other = leader.clone()
    other[7] = False
    rows = torch.stack([leader, other])
    strata = torch.tensor([0] * 6 + [1] * 6)
    out = stratified_eliminations(
        rows[:, :4], rows[:, 4:], strata[4:], torch.tensor([2, 6]), z=10.0
    )
    assert out.tolist() == [False, True]
    # a stratum with unseen images but no fresh draw: its share is unknown, nobody is dropped
    out = stratified_eliminations(
        rows[:, :4], rows[:, 6:10], strata[6:10], torch.tensor([2, 6]), z=0.0
    )
    assert not out.any()


def _population(n_per, seed):
    """Leader L (row 0) and the best b (row 1, as good as L on the split: D = 0), who
    disagree mostly in stratum 0; a third candidate 3 points worse than L."""
    g = torch.Generator().manual_seed(seed)
    strata = torch.arange(4).repeat_interleave(n_per)
    L = torch.rand(4 * n_per, generator=g) < torch.tensor([0.6, 0.8, 0.95, 0.99]).repeat_interleave(
        n_per
    )
    b = L.clone()
    flip0 = torch.randperm(n_per, generator=g)[:40]  # 20 each way in stratum 0
    b[flip0] = ~b[flip0]
    gain, loss = flip0[L[flip0]], flip0[~L[flip0]]
    k = min(len(gain), len(loss))
    b[gain[k:]] = L[gain[k:]]
    b[loss[k:]] = L[loss[k:]]
    worse = L.clone()
    hit = L.nonzero().flatten()
    drop = hit[torch.randperm(len(hit), generator=g)[: int(0.03 * 4 * n_per)]]
    worse[drop] = False
    return strata, torch.stack([L, b, worse])


def test_the_best_is_dropped_at_most_alpha_of_the_time():
    """The per-round guarantee, checked by simulation: b ties the leader on the split, so
    every rejection of b is an error; at z = 1.645 the rate must stay near 5% or below."""
    strata, rows = _population(250, seed=1)
    assert rows[0].sum() == rows[1].sum()
    seen = torch.ones(3, 1, dtype=torch.bool)  # leader = row 0, nothing known about the rest
    unseen = torch.bincount(strata, minlength=4)
    dropped_b, dropped_worse, trials = 0, 0, 400
    for seed in range(trials):
        plan = RacePlan(strata, seed=seed)
        idx = plan.draw(200, torch.tensor([0.3, 0.1, 0.05, 0.05]))  # Neyman: stratum 0 first
        out = stratified_eliminations(seen, rows[:, idx], strata[idx], unseen, z=1.645)
        dropped_b += int(out[1])
        dropped_worse += int(out[2])
    assert dropped_b / trials <= 0.07
    assert dropped_worse / trials > 0.5  # and the test has power against a 3-point gap


def test_paired_spread_is_floored_and_pooled():
    rows = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 1], [1, 1, 1, 1]], dtype=torch.bool)
    sd = paired_spread(rows, torch.tensor([0, 0, 1, 1]), 3)
    assert sd[0] > MIN_PAIRED_SD and sd[1] == MIN_PAIRED_SD and sd[2] == MIN_PAIRED_SD
