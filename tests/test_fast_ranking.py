"""The fast ranker gives the simple ranker's numbers (real digits data, a briefly trained net)."""

import pandas as pd
import pytest
import torch

from pgnas_core.config import resolve_config
from pgnas_core.rank import RowStore, SearchConfig, best_candidate, naive_rank, rank_candidates
from pgnas_core.rank.candidates import RANKED_COLUMNS
from pgnas_core.rank.engines import batched_outcomes, module_outcomes, stacked_masks
from pgnas_core.rank.sampling import sample_architecture


def fast_rank(
    net,
    x,
    y,
    seeds,
    base_seed=0,
    store=None,
    x_train=None,
    recal_batch_size=128,
    on_pass=None,
    image_batch=250,
    **fields,
):
    """rank_candidates with the search settings given as SearchConfig fields."""
    cfg = SearchConfig(seed=base_seed, **fields)
    return rank_candidates(
        net,
        x,
        y,
        seeds,
        cfg,
        image_batch=image_batch,
        x_train=x_train,
        recal_batch_size=recal_batch_size,
        store=store,
        progress=False,
        on_pass=on_pass,
    )


def store_at(folder):
    return RowStore(
        folder / "candidates.partial.csv",
        folder / "candidates.race.pt",
        folder / "candidates.partial.json",
        RANKED_COLUMNS,
    )


class Interrupt(Exception):
    pass


def stop_after(n):
    """An ``on_pass`` hook that interrupts a ranking at its n-th candidate pass."""

    def hook(passes):
        if passes >= n:
            raise Interrupt

    return hook


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(autouse=True)
def _fresh_supernet(request):
    """The module's trained net as trained, before and after every test: a failing test cannot
    leave hard masks, another site mode or changed weights for the next one."""
    if "trained" not in request.fixturenames:
        yield
        return
    net = request.getfixturevalue("trained")[0]
    saved = {k: v.clone() for k, v in net.state_dict().items()}
    yield
    net.load_state_dict(saved)
    net.set_site_mode("mean")
    net.eval()
    for s in net.sites():
        s.hard_mask = torch.ones(s.channels)


def test_batched_pass_equals_one_candidate_at_a_time(trained):
    """K candidates in one forward pass (per-row masks) = K separate hard-mask passes."""
    net, x, y, _ = trained
    seeds = [3, 11, 12, 40]
    oc = batched_outcomes(net, stacked_masks(net, seeds), x[:120], y[:120], image_batch=50)
    for k, seed in enumerate(seeds):
        net.apply_architecture(sample_architecture(net, seed))
        with torch.no_grad():
            logits = net(x[:120])
        loss = torch.nn.functional.cross_entropy(logits, y[:120], reduction="none").double()
        assert torch.equal(oc.correct[k], logits.argmax(1) == y[:120])
        assert torch.allclose(oc.loss[k], loss, atol=1e-5)
    net.set_site_mode("mean")


@pytest.mark.parametrize("engine", ["batched", "compact"])
def test_exhaustive_fast_ranking_matches_the_simple_path(trained, engine):
    net, x, y, _ = trained
    simple = naive_rank(net, x, y, count=12, base_seed=5, progress=False)
    fast = fast_rank(
        net,
        x,
        y,
        range(5, 17),
        base_seed=5,
        rank="exhaustive",
        rank_engine=engine,
        candidates_per_pass=5,
        image_batch=128,
    )
    assert list(fast["seed"]) == list(simple["seed"])
    assert list(fast["candidate"]) == list(simple["candidate"])
    assert list(fast["archid"]) == list(simple["archid"])
    assert (fast["params"] == simple["params"]).all() and (fast["flops"] == simple["flops"]).all()
    # per-image predictions may differ only where logits tie within float error: <= 1 image
    assert (fast["val_acc"] - simple["val_acc"]).abs().max() <= 1 / len(y) + 1e-12
    assert (fast["val_loss"] - simple["val_loss"]).abs().max() < 1e-4
    assert (fast["evaluated_images"] == len(y)).all() and (fast["eliminated_round"] == -1).all()
    assert best_candidate(fast)["seed"] == best_candidate(simple)["seed"]


def test_racing_returns_the_exhaustive_winner(trained):
    """An easy case: half the candidates have their classifier input mostly dropped."""
    net, x, y, _ = trained
    seeds = list(range(30))
    exhaustive = fast_rank(net, x, y, seeds, rank="exhaustive", rank_engine="batched")
    racing = fast_rank(net, x, y, seeds, rank="racing", rank_engine="batched", race_first_chunk=40)
    win_e, win_r = best_candidate(exhaustive), best_candidate(racing)
    assert win_r["val_acc"] >= win_e["val_acc"] - 1e-12
    assert win_r["evaluated_images"] == len(y)  # the winner's accuracy is a full-split number
    survivors = racing[racing["eliminated_round"] == -1]
    assert (survivors["evaluated_images"] == len(y)).all()
    # survivors' full-split numbers are the exhaustive ones
    merged = survivors.merge(exhaustive, on="seed", suffixes=("", "_ex"))
    assert (merged["val_acc"] - merged["val_acc_ex"]).abs().max() < 1e-12


def test_racing_eliminates_clearly_worse_candidates_early(trained):
    net, x, y, _ = trained
    from pgnas_core.nn.sites import logit

    with torch.no_grad():  # make candidates diverse: keep about half of every site
        saved = [s.theta.clone() for s in net.sites()]
        for s in net.sites():
            s.theta.fill_(logit(0.5))
    try:
        racing = fast_rank(net, x, y, list(range(40)), rank="racing", race_first_chunk=40)
    finally:
        with torch.no_grad():
            for s, t in zip(net.sites(), saved):
                s.theta.copy_(t)
    eliminated = racing[racing["eliminated_round"] >= 0]
    assert len(eliminated) >= 10
    assert (eliminated["evaluated_images"] < len(y)).all()
    assert racing["evaluated_images"].sum() < 40 * len(y)
    assert best_candidate(racing)["evaluated_images"] == len(y)


def test_best_candidate_prefers_full_split_rows():
    table = pd.DataFrame(
        {
            "candidate": [0, 1],
            "seed": [0, 1],
            "val_acc": [0.99, 0.9],
            "val_loss": [0.1, 0.2],
            "params": [1, 1],
            "evaluated_images": [40, 300],
            "eliminated_round": [0, -1],
        }
    )
    assert best_candidate(table)["seed"] == 1


@pytest.mark.parametrize("method", ["exhaustive", "racing"])
def test_resume_skips_finished_candidates(trained, tmp_path, method):
    net, x, y, _ = trained
    seeds = list(range(20))
    opts = dict(rank=method, rank_engine="batched", candidates_per_pass=4, race_first_chunk=50)
    reference = fast_rank(net, x, y, seeds, **opts)
    stop = reference.attrs["passes"] - 1  # interrupted during the last pass
    with pytest.raises(Interrupt):
        fast_rank(net, x, y, seeds, store=store_at(tmp_path), on_pass=stop_after(stop), **opts)
    calls = []
    resumed = fast_rank(net, x, y, seeds, store=store_at(tmp_path), on_pass=calls.append, **opts)
    assert 0 < len(calls) < reference.attrs["passes"]  # finished work was skipped
    if method == "exhaustive":  # finished chunks of candidates are not evaluated again
        assert len(calls) == reference.attrs["passes"] - (stop - 1)
    pd.testing.assert_frame_equal(
        resumed.drop(columns=["val_loss"]), reference.drop(columns=["val_loss"])
    )
    assert (resumed["val_loss"] - reference["val_loss"]).abs().max() < 1e-9


def test_shards_merge_into_the_unsharded_table(trained):
    """Ranks ranking disjoint seed subsets give the same rows as one exhaustive ranking."""
    net, x, y, _ = trained
    opts = dict(rank="exhaustive", rank_engine="batched")
    whole = fast_rank(net, x, y, range(10, 18), base_seed=10, **opts)
    parts = [
        fast_rank(net, x, y, s, base_seed=10, **opts) for s in ([10, 12, 14, 16], [11, 13, 15, 17])
    ]
    merged = pd.concat(parts).sort_values("candidate").reset_index(drop=True)
    pd.testing.assert_frame_equal(merged, whole, check_dtype=False)


def test_bn_recalibration_changes_statistics_only_temporarily(trained):
    net, x, y, x_train = trained
    before = {k: v.clone() for k, v in net.state_dict().items()}
    opts = dict(
        rank="exhaustive", rank_engine="compact", bn_recalibration_batches=3, recal_batch_size=64
    )
    recal = fast_rank(net, x, y, [1, 2, 3], x_train=x_train, **opts)
    plain = fast_rank(net, x, y, [1, 2, 3], rank="exhaustive", rank_engine="compact")
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the supernet is untouched
    assert not recal["val_loss"].equals(plain["val_loss"])  # recalibration did something
    with pytest.raises(ValueError, match="x_train"):
        fast_rank(net, x, y, [1], **opts)


def test_compact_outcomes_equal_masked_supernet(trained):
    net, x, y, _ = trained
    from pgnas_core.rank.export import export_subnet

    arch = sample_architecture(net, 7)
    compact = export_subnet(net, arch)
    a = module_outcomes(compact, x, y, 100)
    b = module_outcomes(net, x, y, 100)  # net left in hard mode with arch's masks
    assert (a.correct != b.correct).sum() <= 1
    assert torch.allclose(a.loss, b.loss, atol=1e-4)
    net.set_site_mode("mean")


def test_hook_flops_equal_torchs_flop_counter(trained):
    """count_flops (forward hooks) against torch's dispatch-level FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    from pgnas_core.nn.flops import count_flops
    from pgnas_core.rank.export import export_subnet

    net, x, _, _ = trained
    for seed in (0, 1):
        compact = export_subnet(net, sample_architecture(net, seed)).eval()
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            compact(torch.zeros(1, *x.shape[1:]))
        assert count_flops(compact, tuple(x.shape[1:])) == counter.get_total_flops() > 0
    net.set_site_mode("mean")


def test_sizes_for_survivors_only_leave_eliminated_rows_empty(trained):
    net, x, y, _ = trained
    t = fast_rank(net, x, y, range(30), rank="racing", race_first_chunk=40, sizes="survivors")
    full = t["eliminated_round"] == -1
    assert t.loc[full, "params"].notna().all()
    assert t.loc[~full, "params"].isna().all()


@pytest.mark.parametrize(
    "field,value",
    [
        ("rank", "fastest"),
        ("rank_engine", "gpu"),
        ("candidates_per_pass", 0),
        ("race_first_chunk", 1),
        ("race_delta", 1.5),
        ("race_growth", 1.0),
        ("race_strata", 0),
        ("bn_recalibration_batches", -1),
    ],
)
def test_ranking_config_fields_are_validated(field, value):
    from pgnas_core.errors import ConfigError

    with pytest.raises(ConfigError, match=f"search.{field}"):
        resolve_config("digits", None, [f"search.{field}={value}"])


def test_recalibration_with_the_batched_engine_is_refused():
    from pgnas_core.errors import ConfigError

    with pytest.raises(ConfigError, match="search.rank_engine"):
        resolve_config(
            "digits", None, ["search.bn_recalibration_batches=2", "search.rank_engine=batched"]
        )


def test_exported_winner_carries_the_ranking_batch_norm(trained):
    """With recalibration, the exported net scores what the ranking reported."""
    from pgnas_core.rank import export_candidate
    from pgnas_core.train.evaluation import evaluate

    net, x, y, x_train = trained
    row = fast_rank(
        net,
        x,
        y,
        [4],
        x_train=x_train,
        rank="exhaustive",
        rank_engine="compact",
        bn_recalibration_batches=3,
        recal_batch_size=64,
    ).iloc[0]
    compact, _ = export_candidate(net, 4, x_train, 3, 64)
    assert abs(evaluate(compact, x, y)["acc"] - row["val_acc"]) < 1e-9
    plain, _ = export_candidate(net, 4)
    assert abs(evaluate(plain, x, y)["loss"] - row["val_loss"]) > 1e-6
    net.set_site_mode("mean")


# ---- evaluation copies: shared stem cache, BN folding; the racing z -------------------------
def test_bn_folding_keeps_logits_within_tolerance(trained):
    """The folded evaluation copy: logits within 1e-4, same predictions; the export keeps BN."""
    from pgnas_core.nn.fold_bn import fold_batchnorm
    from pgnas_core.rank.export import export_subnet

    net, x, y, _ = trained
    for seed in (0, 7, 21):
        compact = export_subnet(net, sample_architecture(net, seed))
        folded = fold_batchnorm(compact)
        assert any(isinstance(m, torch.nn.BatchNorm2d) for m in compact.modules())
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        with torch.no_grad():
            a, b = compact(x), folded(x)
        assert torch.allclose(a, b, atol=1e-4, rtol=0)
        assert torch.equal(a.argmax(1), b.argmax(1))
    net.set_site_mode("mean")


@pytest.mark.parametrize("fold", [False, True])
def test_stem_cache_gives_the_full_forward_outcomes(trained, fold):
    """Body-from-cached-stem (and the strided skip) = the compact net's own forward."""
    from pgnas_core.rank.engines import evaluation_copy, stem_features
    from pgnas_core.rank.export import export_subnet

    net, x, y, _ = trained
    assert net.shared_stem() is not None
    h = stem_features(net, x, 100)
    for seed in (2, 9):
        compact = export_subnet(net, sample_architecture(net, seed))
        with torch.no_grad():
            full = compact(x)
            body = evaluation_copy(
                net, __import__("copy").deepcopy(compact), fold_bn=fold, from_stem=True
            )(h)
        assert torch.allclose(full, body, atol=1e-4 if fold else 1e-6, rtol=0)
        assert torch.equal(full.argmax(1), body.argmax(1))
    net.set_site_mode("mean")


@pytest.mark.slow  # four full rankings
@pytest.mark.parametrize("method", ["exhaustive", "racing"])
def test_stem_cache_and_folding_give_identical_rankings(trained, method):
    """The fast paths change no outcome: same table with and without them."""
    net, x, y, _ = trained
    seeds = list(range(20, 36))
    tables = [
        fast_rank(
            net,
            x,
            y,
            seeds,
            rank=method,
            rank_engine="compact",
            race_first_chunk=40,
            fold_bn=f,
            stem_cache=f,
        )
        for f in (False, True)
    ]
    assert tables[1].attrs["stem_cached"] and not tables[0].attrs["stem_cached"]
    cols = ["seed", "val_acc", "evaluated_images", "eliminated_round", "params", "flops"]
    pd.testing.assert_frame_equal(tables[0][cols], tables[1][cols])
    assert (tables[0]["val_loss"] - tables[1]["val_loss"]).abs().max() < 1e-5
