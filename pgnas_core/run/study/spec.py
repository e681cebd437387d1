"""What a study is: a grid of configurations times a list of seeds, at one of three sizes.

A study is a YAML file in ``pgnas_core/studies/`` (or any path): a description, a ``grid``
(config field -> values; one run per combination and seed), the ``analyses`` run on each
finished run (:mod:`.metrics`), and its ``tiers``:

- ``quick``: CI-sized (digits or a small Fashion-MNIST subset), one seed: checks the path;
- ``laptop``: Fashion-MNIST at the demo's size or larger, 3 or more seeds, all the studies in
  an hour or two on a 2-core CPU (its results are committed as the reference results);
- ``paper``: the paper's presets (CIFAR, ImageNet; GPUs).

Each tier names a preset, overrides and seeds. The training seed, and the candidate seeds,
vary with the seed; the data split stays fixed unless ``vary_split`` is set.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ...errors import ConfigError, check_choice

TIERS = ("quick", "laptop", "paper")
#: Seed s draws candidates from ``search.seed = s * CANDIDATE_SEED_STRIDE`` on.
CANDIDATE_SEED_STRIDE = 100_000


def studies_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "studies"


@dataclass(frozen=True)
class Tier:
    preset: str
    overrides: tuple[str, ...] = ()
    seeds: tuple[int, ...] = (0,)
    analysis: dict = field(default_factory=dict)  # settings of the analyses at this size


@dataclass(frozen=True)
class Point:
    """One configuration of the grid: its label and its ``field=value`` overrides."""

    label: str
    values: dict
    overrides: tuple[str, ...]


@dataclass(frozen=True)
class Job:
    """One run of a study: a configuration and a seed."""

    point: Point
    seed: int
    overrides: tuple[str, ...]  # the tier's, the point's and the seed's

    @property
    def name(self) -> str:
        return f"{self.point.label}-seed{self.seed}"


@dataclass(frozen=True)
class StudySpec:
    name: str
    description: str
    grid: dict
    tiers: dict
    analyses: tuple[str, ...] = ()
    vary_split: bool = False

    def tier(self, name: str) -> Tier:
        check_choice("tier", name, TIERS)
        if name not in self.tiers:
            raise ConfigError("tier", name, f"one this study defines: {', '.join(self.tiers)}")
        return self.tiers[name]

    def points(self) -> list[Point]:
        """Every combination of the grid. A grid entry is a config field with a list of
        values, or a name with variants (label -> the overrides that make it)."""
        if not self.grid:
            return [Point("base", {}, ())]
        out = []
        choices = [list(v) for v in self.grid.values()]
        for combo in itertools.product(*choices):
            values = dict(zip(self.grid, combo))
            label = ",".join(f"{k.split('.')[-1]}={_text(v)}" for k, v in values.items())
            overrides: list[str] = []
            for k, v in values.items():
                variants = self.grid[k]
                overrides += variants[v] if isinstance(variants, dict) else [f"{k}={_text(v)}"]
            out.append(Point(label, values, tuple(overrides)))
        return out

    def jobs(self, tier: str) -> list[Job]:
        t = self.tier(tier)
        jobs = []
        for point in self.points():
            for seed in t.seeds:
                seeded = [f"train.seed={seed}", f"search.seed={seed * CANDIDATE_SEED_STRIDE}"]
                if self.vary_split:
                    seeded.append(f"data.split_seed={seed}")
                jobs.append(Job(point, seed, (*t.overrides, *point.overrides, *seeded)))
        return jobs

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "grid": self.grid,
            "analyses": list(self.analyses),
            "vary_split": self.vary_split,
            "tiers": {
                k: {
                    "preset": t.preset,
                    "overrides": list(t.overrides),
                    "seeds": list(t.seeds),
                    "analysis": t.analysis,
                }
                for k, t in self.tiers.items()
            },
        }


def _text(v) -> str:
    """A grid value as an override writes it (lists in YAML flow style)."""
    if isinstance(v, (list, dict)):
        return yaml.safe_dump(v, default_flow_style=True).strip()
    return str(v)


def list_studies() -> dict[str, str]:
    """Study name -> its one-line description."""
    out = {}
    for f in sorted(studies_dir().glob("*.yaml")):
        out[f.stem] = (yaml.safe_load(f.read_text()) or {}).get("description", "")
    return out


def load_study(name_or_path: str | Path) -> StudySpec:
    """A study by name (``pgnas_core/studies/<name>.yaml``) or from a YAML path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = studies_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(list_studies())
            raise ConfigError("study", name_or_path, f"one of {known}, or a YAML file")
    try:
        d = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise ConfigError(str(path), "...", f"valid YAML{line}: quote values with [ ] or :") from e
    from .metrics import ANALYSES

    unknown = set(d) - {"description", "grid", "tiers", "analyses", "vary_split"}
    if unknown:
        raise ConfigError(f"{path.name}: {sorted(unknown)[0]}", "", "a known study field")
    analyses = tuple(d.get("analyses") or ())
    for a in analyses:
        check_choice(f"{path.name}: analyses", a, tuple(ANALYSES))
    tiers = {}
    for tname, t in (d.get("tiers") or {}).items():
        check_choice(f"{path.name}: tiers", tname, TIERS)
        if not isinstance(t, dict) or "preset" not in t:
            raise ConfigError(f"{path.name}: tiers.{tname}", t, "a mapping with a preset")
        seeds = tuple(int(s) for s in t.get("seeds", (0,)))
        tiers[tname] = Tier(
            t["preset"], tuple(t.get("overrides", ())), seeds, dict(t.get("analysis", {}))
        )
    if not tiers:
        raise ConfigError(f"{path.name}: tiers", None, "at least one of quick, laptop, paper")
    grid = dict(d.get("grid") or {})
    for k, v in grid.items():
        if isinstance(v, dict) and v and all(isinstance(o, list) for o in v.values()):
            grid[k] = {str(label): [str(o) for o in o_list] for label, o_list in v.items()}
        elif not isinstance(v, list) or not v:
            raise ConfigError(
                f"{path.name}: grid.{k}",
                v,
                "a non-empty list of values, or variants (label: [overrides])",
            )
    return StudySpec(
        path.stem, d.get("description", ""), grid, tiers, analyses, bool(d.get("vary_split"))
    )
