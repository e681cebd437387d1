"""What a claim is: two sides of a comparison, the paper's direction, and where the paper
and this toolkit each tested it (:mod:`.claims` judges them)."""

from __future__ import annotations

from dataclasses import dataclass, field

HOLDS, FAILS, UNRESOLVED = "holds", "does not hold here", "not resolved at this size"
NO_DATA = "no data yet"
KIND_NAMES = ("compare", "never", "trend", "interior", "spread", "stages", "matched")


@dataclass(frozen=True)
class Side:
    config: str | None = None  # the configuration's label (None: every configuration)
    method: str | None = None  # None: the run's main method
    metric: str | None = None  # None: the claim's metric

    def label(self, claim_metric: str) -> str:
        parts = [p for p in (self.method, self.config) if p]
        metric = self.metric or claim_metric
        return " ".join(parts) + (f" ({metric})" if self.metric else "")


@dataclass(frozen=True)
class Claim:
    key: str
    study: str
    item: str  # where the paper says it: "Table 3", "supp. Fig. 1", "BaLeNAS"
    statement: str
    paper: str  # the paper's numbers
    metric: str
    a: Side
    b: Side | float = 0.0
    direction: str = "higher"  # the paper: a is higher than b | lower | equal (within margin)
    margin: float = 0.0
    kind: str = "compare"  # one of KIND_NAMES (see claims.py)
    x: str = ""  # trend / interior: the grid field (a column of the table) along which;
    # matched: the metric the sizes are matched by (e.g. params)
    log: bool = False  # compare log a - log b (a ratio)
    beside: tuple[str, ...] = ()  # metrics reported beside the verdict (e.g. params)
    paper_setting: str = ""  # the paper's configuration for this claim
    our_setting: str = ""  # ours (the study's laptop tier)
    pick_from: tuple[str, ...] = ()  # matched: the configurations side b is chosen from
    notes: str = field(default="", compare=False)
