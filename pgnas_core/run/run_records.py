"""The typed records of a run directory: best.json (:class:`Winner`) and summary.json
(:class:`Summary` of :class:`MethodResult`, each with its :class:`SupernetReport`), as JSON
round trips. :mod:`.run_dir` reads and writes them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


class _Record:
    """JSON round trips of a flat dataclass; fields that are None are left out."""

    def to_dict(self) -> dict:
        return {
            f.name: v for f in dataclasses.fields(self) if (v := getattr(self, f.name)) is not None
        }

    @classmethod
    def from_dict(cls, d: dict):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Winner(_Record):
    """best.json: the derived architecture and what was measured on exactly the weights in
    ``subnet/`` (``*_finetuned``: on those in ``subnet_finetuned/``)."""

    candidate: int | None = None  # its index among the ranked candidates (sample-and-rank)
    seed: int | None = None  # the seed it was drawn with (sample-and-rank)
    archid: str = ""
    val_acc: float | None = None
    val_loss: float | None = None
    test_acc: float | None = None
    test_acc_masked_supernet: float | None = None  # the supernet restricted to it (a check)
    params: int | None = None
    flops: int | None = None
    channel_drop: float | None = None
    operation_drop: float | None = None
    candidates: int | None = None
    rank_seconds: float | None = None
    test_top5: float | None = None
    val_acc_finetuned: float | None = None
    test_acc_finetuned: float | None = None
    test_top5_finetuned: float | None = None
    val_acc_scratch: float | None = None  # the architecture trained from fresh weights,
    test_acc_scratch: float | None = None  # search.scratch_epochs: subnet_scratch/
    test_top5_scratch: float | None = None
    # the derived cell as the field writes it (a cell space: NAS-Bench-201 string, Genotype)
    cell: str | None = None


#: summary.json's layout: 2 -- ``supernet.test_acc`` is the supernet as its method evaluates
#: it (``supernet.evaluated_as``); in version 1 (no ``version`` field) DARTS's and BaLeNAS's
#: was their argmax cell with inherited weights, the number ``best.test_acc`` also holds.
SUMMARY_VERSION = 2
ARGMAX_V1 = "argmax cell, inherited weights (summary version 1)"


@dataclass
class SupernetReport(_Record):
    """The trained supernet, evaluated as its method's evaluation network (``evaluated_as``:
    posterior mean, softmax mixture, every switch, ...). Not a derived net: that is
    best.json's ``test_acc`` (inherited weights) and ``test_acc_scratch`` (fresh weights)."""

    test_acc: float
    params: int
    mean_keep: float | None = None
    test_top5: float | None = None
    evaluated_as: str | None = None
    diagnostics: dict | None = None  # how decisive the search was at the end (methods.diagnostics)

    @property
    def is_supernet(self) -> bool:
        """False for a version-1 DARTS/BaLeNAS record, whose number is the derived net's."""
        return self.evaluated_as != ARGMAX_V1


@dataclass
class MethodResult:
    method: str
    supernet: SupernetReport
    train_seconds: float
    best: Winner | None = None

    def to_dict(self) -> dict:
        d = {
            "method": self.method,
            "supernet": self.supernet.to_dict(),
            "train_seconds": self.train_seconds,
        }
        if self.best is not None:
            d["best"] = self.best.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MethodResult:
        best = d.get("best")
        return cls(
            d["method"],
            SupernetReport.from_dict(d["supernet"]),
            d["train_seconds"],
            Winner.from_dict(best) if best else None,
        )


@dataclass
class Summary:
    """summary.json: the methods of a run side by side."""

    supernet: str
    dataset: str
    sizes: dict
    device: str
    methods: dict[str, MethodResult] = field(default_factory=dict)  # main method first
    wall_seconds: float | None = None

    def to_dict(self) -> dict:
        return {
            "version": SUMMARY_VERSION,
            "supernet": self.supernet,
            "dataset": self.dataset,
            "sizes": self.sizes,
            "device": self.device,
            "methods": {k: v.to_dict() for k, v in self.methods.items()},
            "wall_seconds": self.wall_seconds,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Summary:
        methods = d.get("methods")
        if methods is None:  # written before the method interface: methods at the top level
            methods = {k: v for k, v in d.items() if isinstance(v, dict) and "supernet" in v}
            methods = {k: {"method": k, **v} for k, v in methods.items()}
        if d.get("version", 1) < 2:
            methods = {k: _v1_method(v) for k, v in methods.items()}
        return cls(
            d.get("supernet", d.get("config", "")),
            d["dataset"],
            d["sizes"],
            d["device"],
            {k: MethodResult.from_dict(v) for k, v in methods.items()},
            d.get("wall_seconds"),
        )

    def __getitem__(self, method: str) -> MethodResult:
        return self.methods[method]

    def __contains__(self, method: str) -> bool:
        return method in self.methods


def _v1_method(d: dict) -> dict:
    """A version-1 method record: DARTS's and BaLeNAS's supernet number was their argmax
    cell's (evaluated with inherited weights), so it is labelled so."""
    if d.get("method") in ("darts", "balenas"):
        return {**d, "supernet": {**d["supernet"], "evaluated_as": ARGMAX_V1}}
    return d
