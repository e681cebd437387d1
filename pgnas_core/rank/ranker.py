"""Fast candidate ranking (Algorithm 1, step 3): many candidates per pass, racing, resumable.

The plain loop (:func:`pgnas_core.rank.naive.naive_rank`) evaluates one candidate at a time
on the whole validation split. :func:`rank_candidates` computes the same numbers faster:

- **Engines** (:mod:`.engines`): K candidates per pass of the masked supernet, or each
  candidate as its compact network; ``search.rank_engine=auto`` picks by a measured rule.
- **Racing** (``search.rank=racing``, :mod:`.race`): successive rounds over growing,
  margin-stratified samples of the split; after each round a candidate is dropped when a
  paired test says the leader beats it on the whole split. Survivors run to the end of the
  split, so every survivor's accuracy -- the winner's included -- is a full-split number;
  eliminated rows carry their partial accuracy, ``evaluated_images`` and
  ``eliminated_round``. ``search.rank=exhaustive`` scores every candidate on every image.
- **bf16 screening** (``search.precision``): the rounds before the last in bf16 where the
  hardware has it natively, with the test's margin widened by the measured bf16/fp32
  disagreement; the survivors scored again in fp32 on every image (:mod:`.race`).
- **Batch-norm recalibration** (:mod:`.bn_recalibration`, off by default as in the paper).
- **Resumable** (:mod:`.store`): finished rows are appended to a CSV and the race state is
  saved after every round; a rerun with the same store skips finished candidates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..train.precision import resolve_precision
from .candidates import RANKED_COLUMNS, SizeCache, architecture_columns
from .config import SearchConfig
from .engines import Outcomes, Scorer, choose_engine
from .race import (
    RacePlan,
    exact_eliminations,
    margin_strata,
    paired_spread,
    round_sizes,
    round_z,
    stratified_eliminations,
)
from .sampling import sample_architecture
from .store import RowStore


@dataclass
class RaceState:
    """Where a ranking stands: the seeds still racing with their outcomes on the images
    ``seen`` (in order), and the finished rows."""

    survivors: list[int]
    seen: torch.Tensor  # (s,) indices into the val split
    outcomes: Outcomes  # (len(survivors), s)
    next_round: int
    rows: list[dict]


def rank_candidates(
    supernet,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    seeds: Sequence[int],
    cfg: SearchConfig | None = None,
    *,
    image_batch: int = 1000,
    x_train: torch.Tensor | None = None,
    recal_batch_size: int = 128,
    store: RowStore | None = None,
    force: bool = False,
    progress: bool = True,
    on_pass: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Rank the candidates drawn with ``seeds`` as ``cfg`` says; one row per candidate
    (``RANKED_COLUMNS``; ``candidate`` is ``seed - cfg.seed``, so shards of one seed list
    merge into one table). ``x_train`` (stacked training images) is needed only for BN
    recalibration. ``store``: where finished rows go; rows already there are reused (other
    settings raise ConfigChanged, unless ``force``). ``on_pass`` is called with the number
    of candidate-passes done (tests use it to interrupt a ranking)."""
    cfg = (cfg or SearchConfig()).validate()
    seeds = _distinct(seeds)
    device = next(supernet.parameters()).device
    x_val, y_val = x_val.to(device), y_val.to(device)
    engine = choose_engine(supernet, device, cfg)
    precision = resolve_precision(cfg.precision, device, "search.precision")
    if cfg.bn_recalibration_batches > 0:
        if x_train is None:
            raise ValueError("BN recalibration needs x_train")
        if engine == "batched":
            raise ValueError(
                "BN recalibration needs one candidate at a time: use the compact (or auto) engine"
            )
        x_train = x_train.to(device)
    sizes = SizeCache(tuple(x_val.shape[1:]))
    store = store or RowStore()
    store.open(cfg.resume_key(seeds, len(x_val), precision), force)
    supernet.eval()
    scorer = Scorer(
        engine,
        supernet,
        x_val,
        cfg,
        image_batch,
        x_train,
        recal_batch_size,
        on_pass,
        sizes,
        precision,
    )
    margin = cfg.bf16_flip_margin if precision == "bf16" else 0.0
    race = Race(supernet, x_val, y_val, cfg, image_batch, precision, margin)
    state = race.restore(store, seeds)
    row = RowMaker(supernet, cfg, sizes)
    try:
        with tqdm(
            total=race.work(state), desc="rank", disable=not progress, leave=False, unit="img*cand"
        ) as bar:
            for rnd in range(state.next_round, len(race.sizes)):
                race.run_round(rnd, state, scorer, row, store, bar)
    finally:
        supernet.set_site_mode("mean")
        for s in supernet.sites():
            s.hard_mask = torch.ones(s.channels, device=device)
    table = pd.DataFrame(state.rows, columns=RANKED_COLUMNS)
    table = table.sort_values("candidate", kind="stable").reset_index(drop=True)
    table.attrs.update(
        engine=engine,
        precision=precision,
        bf16_flip_margin=margin,
        bf16_images=race.low_images,
        bf16_flips=race.flips,
        channels_last=scorer.channels_last,
        passes=scorer.passes,
        z=race.z,
        round_sizes=race.sizes,
        stem_cached=scorer.stem_x is not None,
    )
    return table


def _distinct(seeds: Sequence[int]) -> list[int]:
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be distinct")
    return seeds


class RowMaker:
    """A finished candidate's row from its outcomes on the images it saw."""

    def __init__(self, supernet, cfg: SearchConfig, sizes: SizeCache):
        self.supernet, self.cfg, self.sizes = supernet, cfg, sizes

    def __call__(
        self, seed: int, oc: Outcomes, eliminated_round: int | None, precision: str = "fp32"
    ) -> dict:
        full = eliminated_round is None
        arch = sample_architecture(self.supernet, seed)
        sizes = self.sizes if (self.cfg.sizes == "all" or full) else None
        return dict(
            candidate=seed - self.cfg.seed,
            seed=seed,
            val_acc=oc.correct.double().mean().item(),
            val_loss=oc.loss.mean().item(),
            evaluated_images=oc.correct.shape[1],
            eliminated_round=-1 if full else eliminated_round,
            precision=precision,
            **architecture_columns(self.supernet, arch, sizes),
        )


class Race:
    """The rounds of a ranking over the validation split (one round for exhaustive ranking)
    and what happens in each: draw the round's images, score the survivors, drop the
    confidently worse ones (racing) or finish everyone (the last round)."""

    def __init__(
        self,
        supernet,
        x_val,
        y_val,
        cfg: SearchConfig,
        image_batch: int,
        precision: str = "fp32",
        margin: float = 0.0,
    ):
        self.x_val, self.y_val, self.cfg = x_val, y_val, cfg
        n = len(x_val)
        self.racing = cfg.rank == "racing"
        # bf16: the first rounds (while their images stay within search.bf16_share of the
        # split; at least one) in bf16, the later ones in fp32, and the survivors' bf16-scored
        # images scored again in fp32 at the end. An exhaustive ranking in bf16 screens
        # every image once in bf16, then scores the survivors again in fp32.
        self.bf16 = precision == "bf16"
        self.margin = margin  # bf16: bound on the share of images scored differently
        self.flips = float("nan")  # the largest bf16/fp32 disagreement seen on a survivor
        self.sizes = round_sizes(n, cfg.race_first_chunk, cfg.race_growth) if self.racing else [n]
        if self.bf16 and not self.racing:
            self.sizes = [n, 0]
        self.low_rounds = 0
        if self.bf16:
            cumulative = torch.tensor(self.sizes).cumsum(0)[:-1]
            within = int((cumulative <= cfg.bf16_share * n).sum()) if self.racing else 1
            self.low_rounds = max(1, within)
        self.low_images = sum(self.sizes[: self.low_rounds])
        self.z = round_z(len(self.sizes) - 2, cfg.race_delta) if self.racing else float("nan")
        # Racing's order over the split: strata by the posterior-mean net's margins (race.py).
        self.strata = torch.zeros(n, dtype=torch.long)
        if self.racing and cfg.race_strata > 1:
            with supernet.site_mode("mean"), torch.no_grad():
                logits = torch.cat(
                    [supernet(x_val[i : i + image_batch]) for i in range(0, n, image_batch)]
                )
            self.strata = margin_strata(logits, y_val, cfg.race_strata)
        self.plan = RacePlan(self.strata, cfg.race_order_seed)
        self.spread = None

    def restore(self, store: RowStore, seeds: list[int]) -> RaceState:
        """The state after the last finished round: replayed from the store, or fresh."""
        done = store.finished()
        done_seeds = set(int(s) for s in done["seed"]) if len(done) else set()
        rows = done[done["seed"].isin(seeds)].to_dict("records") if len(done) else []
        saved = store.load_state()
        if saved is None:
            survivors = [s for s in seeds if s not in done_seeds]
            state = RaceState(
                survivors, torch.zeros(0, dtype=torch.long), Outcomes.empty(len(survivors)), 0, rows
            )
        else:
            survivors = [s for s in saved["survivors"] if s not in done_seeds]
            keep = [saved["survivors"].index(s) for s in survivors]
            state = RaceState(
                survivors,
                saved["seen"],
                Outcomes(saved["correct"][keep], saved["loss"][keep]),
                int(saved["round"]) + 1,
                rows,
            )
            self.plan.consume(state.seen)
        self.spread = paired_spread(
            state.outcomes.correct, self.strata[state.seen], self.plan.count
        )
        return state

    def work(self, state: RaceState) -> int:
        return self._left_per_candidate(state) * len(state.survivors)

    def _left_per_candidate(self, state: RaceState) -> int:
        """Image evaluations a surviving candidate still needs (bf16: plus the fp32 rescore)."""
        return len(self.x_val) - len(state.seen) + self.low_images

    def slack(self, rnd: int) -> float:
        """Hits the bf16 rounds up to ``rnd`` may have moved a deficit by: each candidate's
        bf16 hits differ from its fp32 ones on at most ``margin`` of the images scored in
        bf16."""
        low = min(sum(self.sizes[: rnd + 1]), self.low_images)
        return 2 * self.margin * low

    def run_round(
        self, rnd: int, state: RaceState, scorer: Scorer, row: RowMaker, store: RowStore, bar
    ) -> None:
        last = rnd == len(self.sizes) - 1
        precision = "bf16" if rnd < self.low_rounds else "fp32"
        unseen_before = self.plan.remaining()
        idx = self._draw(rnd, last)
        xs, ys = self._images(scorer, idx)
        # bf16: the survivors' bf16-scored images (the first columns), again in fp32
        low = state.seen[: self.low_images] if last and self.bf16 else None
        fresh = []
        # The last round finishes candidates chunk by chunk (resumable per chunk).
        for g in range(0, len(state.survivors), scorer.per_pass):
            group = state.survivors[g : g + scorer.per_pass]
            oc = scorer.score(group, xs, ys, keep=not last, precision=precision)
            bar.update(len(group) * len(ys))
            if last:
                before = state.outcomes.select(slice(g, g + len(group)))
                if low is not None:
                    again = scorer.score(group, *self._images(scorer, low), False, "fp32")
                    bar.update(len(group) * len(low))
                    self._note_flips(before.columns(slice(0, len(low))), again)
                    before = again.extend(before.columns(slice(len(low), None)))
                full = before.extend(oc)
                new = [row(s, full.select([j]), None) for j, s in enumerate(group)]
                store.append(new)
                state.rows += new
            else:
                fresh.append(oc)
        if not last:
            self._eliminate(
                rnd, idx, Outcomes.stack(fresh), unseen_before, state, scorer, row, store, bar
            )

    def _images(self, scorer: Scorer, idx: torch.Tensor | None):
        """(inputs, labels) of the images ``idx`` (None: the whole split)."""
        if idx is None:
            return scorer.inputs(self.x_val, None), self.y_val
        dev_idx = idx.to(self.x_val.device)
        return scorer.inputs(self.x_val[dev_idx], dev_idx), self.y_val[dev_idx]

    def _note_flips(self, screened: Outcomes, fp32: Outcomes) -> None:
        """The largest number of images on which a survivor's bf16 and fp32 correctness
        differ, as a share of the whole split: a lower bound of what the margin must cover
        (the check of ``search.bf16_flip_margin``)."""
        if screened.correct.numel() == 0:
            return
        flips = (screened.correct != fp32.correct).sum(1).max().item()
        differ = flips / len(self.x_val)
        self.flips = differ if math.isnan(self.flips) else max(self.flips, differ)
        if differ > self.margin:
            warnings.warn(
                f"bf16 and fp32 disagreed on {differ:.2%} of the images for a survivor, "
                f"more than the margin {self.margin:.2%}: set search.bf16_flip_margin higher, "
                "or rank in fp32 (search.precision=fp32)",
                stacklevel=2,
            )

    def _draw(self, rnd: int, last: bool) -> torch.Tensor | None:
        """The round's image indices; None: the whole split in its own order (exhaustive)."""
        if not self.racing:  # exhaustive: every image at once (a bf16 screening round first)
            if not self.bf16:
                return None
            return torch.arange(0 if last else len(self.x_val))
        return self.plan.draw(len(self.x_val) if last else self.sizes[rnd], self.spread)

    def _eliminate(
        self,
        rnd,
        idx,
        fresh: Outcomes,
        unseen_before,
        state: RaceState,
        scorer: Scorer,
        row: RowMaker,
        store: RowStore,
        bar,
    ) -> None:
        """Drop the candidates the round's test says are worse than the leader; save."""
        out = torch.zeros(len(state.survivors), dtype=torch.bool)
        if not self.racing:  # bf16 screening of every image: only the precision bound
            out = exact_eliminations(fresh.correct, self.slack(rnd))
        elif len(state.seen) > 0:  # round 0 has no leader chosen beforehand: it only scores
            out = stratified_eliminations(
                state.outcomes.correct,
                fresh.correct,
                self.strata[idx],
                unseen_before,
                self.z,
                self.slack(rnd),
            )
        state.outcomes = state.outcomes.extend(fresh)
        state.seen = torch.cat([state.seen, idx])
        dropped = [(j, s) for j, (s, o) in enumerate(zip(state.survivors, out.tolist())) if o]
        precision = "bf16" if self.low_rounds else "fp32"  # bf16 numbers among its images
        new = [row(s, state.outcomes.select([j]), rnd, precision) for j, s in dropped]
        store.append(new)
        state.rows += new
        for _, s in dropped:
            scorer.drop(s)
        keep = (~out).nonzero().flatten()
        state.survivors = [state.survivors[j] for j in keep.tolist()]
        state.outcomes = state.outcomes.select(keep)
        bar.total -= len(dropped) * self._left_per_candidate(state)
        self.spread = paired_spread(
            state.outcomes.correct, self.strata[state.seen], self.plan.count
        )
        store.save_state(
            {
                "round": rnd,
                "survivors": state.survivors,
                "seen": state.seen,
                "correct": state.outcomes.correct,
                "loss": state.outcomes.loss,
            }
        )
