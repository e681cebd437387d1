"""How candidates are ranked (Algorithm 1, steps 2-3): one validated dataclass, the run
config's ``search`` section, passed to the ranker as it is."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import check_choice, check_field
from ..train.precision import PRECISIONS
from .sampling import MAX_SEED

RANK_METHODS = ("exhaustive", "racing")  # every candidate on every image | racing
ENGINES = ("auto", "batched", "compact")  # see rank.engines
SIZES = ("all", "survivors")  # which rows get params/FLOPs columns
LAYOUTS = ("auto", "on", "off")  # channels-last
#: The most candidates a ranking takes: 20x the paper's largest (5000); each costs one
#: evaluation of the validation split (racing: less), so more is hours, not a typo's minute.
MAX_CANDIDATES = 100_000


@dataclass
class SearchConfig:
    candidates: int = 50  # C: candidates sampled from the posterior
    seed: int = 0  # candidate i is drawn with seed `seed + i`
    finetune_epochs: int = 0  # fine-tune the winner (Tables 3, 5); 0: no fine-tuning
    scratch_epochs: int = 0  # also train the winner from scratch this long (all methods); 0: off
    rank: str = "exhaustive"  # one of RANK_METHODS
    rank_engine: str = "auto"  # one of ENGINES (auto: a measured rule per device and net)
    candidates_per_pass: int = 16  # K: candidates per forward pass of the batched engine
    race_first_chunk: int = 64  # racing: val images of the first round
    race_growth: float = 1.5  # racing: each round sees this many times more images
    race_strata: int = 8  # racing: margin strata of the val split (rank.race); 1: none
    race_delta: float = 0.05  # racing: chance of dropping the best, shared over the rounds
    race_order_seed: int = 0  # racing: seed of the order each stratum is visited in
    bn_recalibration_batches: int = 0  # re-estimate BN stats per candidate; 0: off (paper)
    sizes: str = "all"  # params/FLOPs columns for: all | survivors (eliminated rows get NaN)
    fold_bn: bool = True  # compact engine: evaluate BN-folded copies (rounding-level change)
    stem_cache: bool = True  # compact engine: run the supernet's shared stem once, cached
    compact_cache_params: int = 50_000_000  # racing: compact nets kept between rounds
    precision: str = "fp32"  # fp32 | bf16 | auto (bf16 where native): rounds before the last
    # bf16: bound on the share of images a candidate scores differently in bf16 and fp32
    # (demo supernet: 0.26% on average, at most 0.55% of 60 candidates; checked on survivors)
    bf16_flip_margin: float = 0.01
    bf16_share: float = 0.25  # racing in bf16: the first rounds, up to this share of the split
    channels_last: str = "auto"  # auto (with bf16) | on | off: the layout of scored images

    def validate(self) -> SearchConfig:
        """Raise ConfigError naming ``search.<field>`` for the first bad value; return self."""
        s = self
        check_field("search.seed", s.seed, s.seed >= 0, "an integer >= 0")
        check_field(
            "search.candidates",
            s.candidates,
            1 <= s.candidates <= MAX_CANDIDATES,
            f"an integer >= 1 and <= {MAX_CANDIDATES:,} (each one is evaluated on the "
            f"validation split; the paper ranks 1500-5000)",
        )
        top = MAX_SEED - s.candidates + 1  # candidate i is drawn with seed search.seed + i
        check_field("search.seed", s.seed, s.seed <= top, f"an integer from 0 to {top}")
        check_field(
            "search.scratch_epochs", s.scratch_epochs, s.scratch_epochs >= 0, "an integer >= 0"
        )
        check_field(
            "search.finetune_epochs", s.finetune_epochs, s.finetune_epochs >= 0, "an integer >= 0"
        )
        check_choice("search.rank", s.rank, RANK_METHODS)
        check_choice("search.rank_engine", s.rank_engine, ENGINES)
        check_choice("search.sizes", s.sizes, SIZES)
        check_field(
            "search.candidates_per_pass",
            s.candidates_per_pass,
            s.candidates_per_pass >= 1,
            "an integer >= 1",
        )
        check_field(
            "search.race_first_chunk",
            s.race_first_chunk,
            s.race_first_chunk >= 2,
            "an integer >= 2",
        )
        check_field(
            "search.race_growth",
            s.race_growth,
            s.race_growth >= 1.1,
            "a number >= 1.1 (each round this many times the previous one's images)",
        )
        check_field(
            "search.race_strata", s.race_strata, s.race_strata >= 1, "an integer >= 1 (1: none)"
        )
        check_field("search.race_delta", s.race_delta, 0 < s.race_delta < 1, "a number in (0, 1)")
        check_field(
            "search.race_order_seed", s.race_order_seed, s.race_order_seed >= 0, "an integer >= 0"
        )
        check_field(
            "search.bn_recalibration_batches",
            s.bn_recalibration_batches,
            s.bn_recalibration_batches >= 0,
            "an integer >= 0 (0: off)",
        )
        check_field(
            "search.rank_engine",
            s.rank_engine,
            s.bn_recalibration_batches == 0 or s.rank_engine != "batched",
            "auto or compact when search.bn_recalibration_batches > 0",
        )
        check_choice("search.precision", s.precision, PRECISIONS)
        check_choice("search.channels_last", s.channels_last, LAYOUTS)
        check_field(
            "search.bf16_flip_margin",
            s.bf16_flip_margin,
            0 <= s.bf16_flip_margin < 0.5,
            "a share of images in [0, 0.5)",
        )
        check_field("search.bf16_share", s.bf16_share, 0 < s.bf16_share <= 1, "a share in (0, 1]")
        check_field(
            "search.compact_cache_params",
            s.compact_cache_params,
            s.compact_cache_params >= 0,
            "an integer >= 0",
        )
        return self

    def resume_key(self, seeds: list[int], n_images: int, precision: str = "fp32") -> dict:
        """The settings a ranking's saved rows depend on, by field name: a resumed ranking
        must match them (an exhaustive row depends on its seed alone, so more or fewer
        candidates reuse the rows; a race depends on the whole field of candidates).
        ``precision``: the resolved one (bf16 screening changes the eliminated rows)."""
        key = {
            "search.rank": self.rank,
            "search.seed": self.seed,
            "search.bn_recalibration_batches": self.bn_recalibration_batches,
            "search.sizes": self.sizes,
            "val images": n_images,
        }
        if precision != "fp32":
            key["search.precision"] = precision
            key["search.bf16_flip_margin"] = self.bf16_flip_margin
            key["search.bf16_share"] = self.bf16_share
        if self.rank == "racing":
            key.update(
                {
                    "search.candidates": len(seeds),
                    "candidate seeds": list(seeds),
                    "search.race_first_chunk": self.race_first_chunk,
                    "search.race_growth": self.race_growth,
                    "search.race_strata": self.race_strata,
                    "search.race_delta": self.race_delta,
                    "search.race_order_seed": self.race_order_seed,
                }
            )
        return key
