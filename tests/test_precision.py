"""bf16 where the hardware has it, fp32 everywhere else: the capability rule, and a bf16
ranking whose survivors and winner carry fp32 numbers (real digits data, a trained net).

bf16 is forced on by monkeypatching the capability check where a test is about the
bookkeeping, so these tests run (slowly, emulated) on any CPU."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from test_fast_ranking import Interrupt, stop_after, store_at

from pgnas_core.config import resolve_config
from pgnas_core.errors import ConfigError
from pgnas_core.rank import SearchConfig, best_candidate, rank_candidates
from pgnas_core.rank.engines import module_outcomes
from pgnas_core.rank.export import export_subnet
from pgnas_core.rank.race import exact_eliminations
from pgnas_core.rank.sampling import sample_architecture
from pgnas_core.train import precision as P

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def no_native_bf16(monkeypatch):
    monkeypatch.setattr(P, "native_bf16", lambda device: False)


@pytest.fixture
def native_bf16(monkeypatch):
    monkeypatch.setattr(P, "native_bf16", lambda device: True)


def test_auto_is_fp32_without_native_bf16(no_native_bf16):
    assert P.resolve_precision("auto", "cpu", "search.precision") == "fp32"
    assert P.resolve_precision("fp32", "cpu", "search.precision") == "fp32"
    with pytest.raises(ConfigError, match="search.precision.*fp32 or auto"):
        P.resolve_precision("bf16", "cpu", "search.precision")


def test_auto_is_bf16_with_native_bf16(native_bf16):
    assert P.resolve_precision("auto", "cpu", "train.precision") == "bf16"
    assert P.resolve_precision("bf16", "cpu", "train.precision") == "bf16"


def test_the_capability_reads_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert not P.native_bf16("cpu")
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert P.native_bf16("cpu") == torch.backends.mkldnn.is_available()
    assert "avx512_bf16" in P.bf16_capability("cpu")


@pytest.mark.parametrize("field,value", [("precision", "fp16"), ("bf16_flip_margin", 0.7)])
def test_precision_fields_are_validated(field, value):
    with pytest.raises(ConfigError, match=f"search.{field}"):
        resolve_config("digits", None, [f"search.{field}={value}"])


def test_an_exhaustive_screening_drops_only_beyond_the_slack():
    correct = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]], dtype=torch.bool)
    assert exact_eliminations(correct, slack=0.5).tolist() == [False, True, True]
    assert exact_eliminations(correct, slack=1.0).tolist() == [False, True, False]
    assert exact_eliminations(correct, slack=2.0).tolist() == [False, False, False]


def _rank(net, x, y, seeds, store=None, on_pass=None, **fields):
    cfg = SearchConfig(**fields)
    return rank_candidates(
        net, x, y, seeds, cfg, image_batch=100, progress=False, store=store, on_pass=on_pass
    )


@pytest.mark.slow  # ranks in bf16 and fp32
@pytest.mark.parametrize("method", ["exhaustive", "racing"])
@pytest.mark.parametrize("engine", ["compact", "batched"])
def test_bf16_ranking_reports_fp32_numbers_for_survivors(trained, native_bf16, method, engine):
    net, x, y, _ = trained
    seeds = list(range(24))
    opts = dict(rank=method, rank_engine=engine, race_first_chunk=40)
    fp32 = _rank(net, x, y, seeds, **opts)
    bf16 = _rank(net, x, y, seeds, precision="bf16", **opts)
    assert bf16.attrs["precision"] == "bf16" and fp32.attrs["precision"] == "fp32"
    survivors = bf16[bf16["eliminated_round"] == -1]
    assert (survivors["precision"] == "fp32").all() and len(survivors) < len(bf16)
    assert (bf16.loc[bf16["eliminated_round"] >= 0, "precision"] == "bf16").all()
    # every survivor's accuracy is the fp32 full-split one, computed again by hand
    for row in survivors.itertuples():
        arch = sample_architecture(net, row.seed)
        compact = export_subnet(net, arch)
        want = module_outcomes(compact, x, y, 100).correct.double().mean().item()
        assert row.val_acc == pytest.approx(want, abs=1e-12)
        assert row.evaluated_images == len(x)
    assert best_candidate(bf16)["seed"] == best_candidate(fp32)["seed"]
    # racing: only the first rounds, up to a quarter of the split, in bf16
    want = len(x) if method == "exhaustive" else int(0.25 * len(x))
    assert 0 < bf16.attrs["bf16_images"] <= want


def test_a_margin_smaller_than_the_flips_seen_is_reported(trained, native_bf16):
    net, x, y, _ = trained
    with pytest.warns(UserWarning, match="search.bf16_flip_margin"):
        table = _rank(
            net, x, y, range(12), precision="bf16", bf16_flip_margin=0.0, rank="exhaustive"
        )
    assert table.attrs["bf16_flips"] > 0


def test_auto_without_native_bf16_ranks_in_fp32(trained, no_native_bf16):
    net, x, y, _ = trained
    table = _rank(net, x, y, range(6), precision="auto", rank="racing", race_first_chunk=40)
    assert table.attrs["precision"] == "fp32" and (table["precision"] == "fp32").all()


@pytest.mark.slow  # ranks in bf16 and fp32
def test_a_bf16_ranking_resumes_exactly(trained, native_bf16, tmp_path):
    net, x, y, _ = trained
    seeds = list(range(20))
    opts = dict(rank="racing", rank_engine="compact", precision="bf16", race_first_chunk=40)
    reference = _rank(net, x, y, seeds, **opts)
    with pytest.raises(Interrupt):
        _rank(net, x, y, seeds, store=store_at(tmp_path), on_pass=stop_after(30), **opts)
    calls = []
    resumed = _rank(net, x, y, seeds, store=store_at(tmp_path), on_pass=calls.append, **opts)
    assert 0 < len(calls) < reference.attrs["passes"]
    cols = [c for c in reference.columns if c != "val_loss"]
    pd.testing.assert_frame_equal(resumed[cols], reference[cols])
