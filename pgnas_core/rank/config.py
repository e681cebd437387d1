"""How candidates are ranked (Algorithm 1, steps 2-3): one validated dataclass, the run
config's ``search`` section, passed to the ranker as it is."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import check_field
from ..settings import SEED_MAX, Range, check_settings, setting
from ..train.precision import PRECISIONS
from .sampling import MAX_SEED

RANK_METHODS = ("exhaustive", "racing")  # every candidate on every image | racing
ENGINES = ("auto", "batched", "compact")  # see rank.engines
SIZES = ("all", "survivors")  # which rows get params/FLOPs columns
LAYOUTS = ("auto", "on", "off")  # channels-last
EPOCHS = Range(0, 100_000)

#: The most candidates a ranking takes: 20x the paper's largest (5000); each costs one
#: evaluation of the validation split (racing: less), so more is hours, not a typo's minute.
CANDIDATES_MAX = 100_000


@dataclass
class SearchConfig:
    """How an architecture is derived: candidates sampled, ranked on validation, fine-tuned."""

    candidates: int = setting(
        50, "C: candidates sampled from the posterior", bounds=Range(1, CANDIDATES_MAX)
    )
    seed: int = setting(
        0, "candidate i is drawn with seed search.seed + i", bounds=Range(0, SEED_MAX)
    )
    finetune_epochs: int = setting(
        0, "fine-tune the winner this long (Tables 3, 5); 0: no fine-tuning", bounds=EPOCHS
    )
    finetune_lr: float = setting(
        0.0,
        "fine-tuning's first learning rate, cosine-decayed to 0; 0: train.lr",
        bounds=Range(0, 10),
    )
    scratch_epochs: int = setting(
        0, "also train the winner from scratch this long (all methods); 0: off", bounds=EPOCHS
    )
    rank: str = setting(
        "exhaustive",
        "exhaustive: every candidate on every val image; racing: drop clear losers early",
        choices=RANK_METHODS,
    )
    rank_engine: str = setting(
        "auto",
        "batched (K candidates per pass) | compact (one compact net each); auto: measured rule",
        choices=ENGINES,
    )
    candidates_per_pass: int = setting(
        16, "K: candidates per forward pass of the batched engine", bounds=Range(1, 4096)
    )
    race_first_chunk: int = setting(
        64, "racing: validation images of the first round", bounds=Range(2, 10**9)
    )
    race_growth: float = setting(
        1.5,
        "racing: each round sees this many times the previous one's images",
        bounds=Range(1.1, 100),
    )
    race_strata: int = setting(
        8, "racing: margin strata of the val split (1: none)", bounds=Range(1, 1000)
    )
    race_delta: float = setting(
        0.05,
        "racing: chance of dropping the best candidate, shared over the rounds",
        bounds=Range(0, 1, "()"),
    )
    race_order_seed: int = setting(
        0, "racing: seeds the order each stratum is visited in", bounds=Range(0, SEED_MAX)
    )
    bn_recalibration_batches: int = setting(
        0,
        "re-estimate BN statistics per candidate on this many batches; 0: off (the paper)",
        bounds=Range(0, 100_000),
    )
    sizes: str = setting(
        "all",
        "which rows get params/FLOPs columns (survivors: eliminated rows get NaN)",
        choices=SIZES,
    )
    fold_bn: bool = setting(
        True, "compact engine: evaluate BN-folded copies (a rounding-level change)"
    )
    stem_cache: bool = setting(True, "compact engine: run the supernet's shared stem once, cached")
    compact_cache_params: int = setting(
        50_000_000,
        "racing: parameters of compact nets kept between rounds",
        bounds=Range(0, 10**12),
    )
    precision: str = setting(
        "fp32",
        "arithmetic of the ranking rounds before the last (auto: bf16 where native)",
        choices=PRECISIONS,
    )
    # (demo supernet: 0.26% on average, at most 0.55% of 60 candidates; checked on survivors)
    bf16_flip_margin: float = setting(
        0.01,
        "bf16: bound on the share of images a candidate scores differently in bf16 and fp32",
        bounds=Range(0, 0.5, "[)"),
    )
    bf16_share: float = setting(
        0.25,
        "racing in bf16: the first rounds, up to this share of the val split",
        bounds=Range(0, 1, "(]"),
    )
    channels_last: str = setting(
        "auto", "the memory layout of scored images (auto: on with bf16)", choices=LAYOUTS
    )

    def validate(self) -> SearchConfig:
        """Raise ConfigError naming ``search.<field>`` for the first bad value; return self."""
        check_settings(self, "search")
        top = MAX_SEED - self.candidates + 1  # candidate i is drawn with seed search.seed + i
        check_field("search.seed", self.seed, self.seed <= top, f"an integer from 0 to {top}")
        check_field(
            "search.rank_engine",
            self.rank_engine,
            self.bn_recalibration_batches == 0 or self.rank_engine != "batched",
            "auto or compact when search.bn_recalibration_batches > 0",
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
