"""An architecture is data: the kept channels of every dropout site of one supernet.

Small, frozen, hashable and JSON-serialisable (like DARTS's ``Genotype``); the sampler, the
ranker, the exporter and the plots pass this value around, not modules.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def _thaw(value: Any) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, (list, tuple)) else value


@dataclass(frozen=True)
class SiteChoice:
    """The kept input channels of one dropout site."""

    name: str  # module path of the site in the supernet
    op: str  # the operation (masked conv) the site feeds
    channels: int  # channels the site masks
    kept: tuple[int, ...]  # indices of kept channels, sorted


@dataclass(frozen=True)
class Architecture:
    """A candidate: one hard mask per site of the supernet ``supernet`` built with ``options``."""

    supernet: str
    options: tuple  # the supernet's construction overrides, frozen (sorted key/value pairs)
    sites: tuple[SiteChoice, ...]

    @property
    def archid(self) -> str:
        """A stable short id: the same kept sets of the same supernet give the same id."""
        return hashlib.sha1(self.to_json(indent=None).encode()).hexdigest()[:12]

    @property
    def supernet_options(self) -> dict:
        return {k: _thaw(v) for k, v in self.options}

    def kept(self, site: str) -> tuple[int, ...]:
        for s in self.sites:
            if s.name == site:
                return s.kept
        raise KeyError(site)

    # ---- statistics (paper Table 7) -------------------------------------------------------
    @property
    def kept_channel_fraction(self) -> float:
        total = sum(s.channels for s in self.sites)
        return sum(len(s.kept) for s in self.sites) / total

    @property
    def channel_drop_proportion(self) -> float:
        """Dropped channels over all channels of all sites."""
        return 1.0 - self.kept_channel_fraction

    @property
    def operations(self) -> dict[str, bool]:
        """Each operation and whether it is kept (some site feeding it keeps a channel)."""
        ops: dict[str, bool] = {}
        for s in self.sites:
            ops[s.op] = ops.get(s.op, False) or len(s.kept) > 0
        return ops

    @property
    def dropped_operations(self) -> int:
        return sum(not kept for kept in self.operations.values())

    @property
    def operation_drop_proportion(self) -> float:
        ops = self.operations
        return sum(not k for k in ops.values()) / len(ops)

    # ---- serialisation --------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "supernet": self.supernet,
            "options": self.supernet_options,
            "sites": [
                {"name": s.name, "op": s.op, "channels": s.channels, "kept": list(s.kept)}
                for s in self.sites
            ],
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> Architecture:
        sites = tuple(
            SiteChoice(
                s["name"], s["op"], int(s["channels"]), tuple(sorted(int(i) for i in s["kept"]))
            )
            for s in d["sites"]
        )
        return cls(d["supernet"], _freeze(dict(d.get("options", {}))), sites)

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        return cls.from_dict(json.loads(text))


def freeze_options(options: dict) -> tuple:
    return _freeze(dict(options))
