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

from ...errors import ConfigError, PgnasError, check_choice

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
    """A study by name (``pgnas_core/studies/<name>.yaml``) or from a YAML path. Every field
    is checked here, so a bad spec stops with one line before any file is written."""
    path = _study_path(name_or_path)
    d = _read_yaml(path)
    from .metrics import ANALYSES

    where = path.name
    unknown = set(d) - {"description", "grid", "tiers", "analyses", "vary_split"}
    if unknown:
        raise ConfigError(f"{where}: {sorted(map(str, unknown))[0]}", "", "a known study field")
    analyses = d.get("analyses") or []
    if not isinstance(analyses, list):
        raise ConfigError(f"{where}: analyses", analyses, f"a list of {', '.join(ANALYSES)}")
    for a in analyses:
        check_choice(f"{where}: analyses", a, tuple(ANALYSES))
    vary_split = d.get("vary_split", False)
    if not isinstance(vary_split, bool):
        raise ConfigError(f"{where}: vary_split", vary_split, "true or false")
    spec = StudySpec(
        path.stem,
        str(d.get("description") or ""),
        _grid(where, d.get("grid")),
        _tiers(where, d.get("tiers")),
        tuple(analyses),
        vary_split,
    )
    _check_labels(where, spec)
    return spec


def _study_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.is_dir():
        raise PgnasError(f"study {path} is a directory: name a study or a study YAML file")
    if not path.suffix:
        path = studies_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(list_studies())
            raise ConfigError("study", str(name_or_path), f"one of {known}, or a YAML file")
    elif not path.is_file():
        raise PgnasError(f"study file {path} does not exist")
    return path


def _read_yaml(path: Path) -> dict:
    """The study file as a mapping; one line naming the file when it is not one."""
    try:
        d = yaml.safe_load(path.read_text())
    except UnicodeDecodeError:
        raise PgnasError(f"study file {path} is not a text file (expected YAML)") from None
    except OSError as e:
        raise PgnasError(f"study file {path} cannot be read ({e.strerror or e})") from None
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        line = f" (line {where.line + 1})" if where else ""
        raise ConfigError(str(path), "...", f"valid YAML{line}: quote values with [ ] or :") from e
    if d is None:
        raise PgnasError(f"study file {path} is empty: expected a mapping with tiers (and grid)")
    if not isinstance(d, dict):
        raise PgnasError(
            f"study file {path} holds {_kind(d)}, not a mapping of description, grid, "
            "tiers, analyses"
        )
    return d


def _kind(value) -> str:
    if isinstance(value, list):
        return "a list"
    return "text" if isinstance(value, str) else f"a single value ({value!r:.40})"


def _tiers(where: str, raw) -> dict[str, Tier]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(
            f"{where}: tiers", raw, "a mapping of quick, laptop or paper to {preset, seeds}"
        )
    tiers = {}
    for name, t in raw.items():
        check_choice(f"{where}: tiers", name, TIERS)
        field_ = f"{where}: tiers.{name}"
        if not isinstance(t, dict) or not isinstance(t.get("preset"), str):
            raise ConfigError(field_, t, "a mapping with a preset (a name)")
        unknown = set(t) - {"preset", "overrides", "seeds", "analysis"}
        if unknown:
            raise ConfigError(f"{field_}.{sorted(map(str, unknown))[0]}", "", "a known tier field")
        overrides = t.get("overrides") or []
        if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
            raise ConfigError(f"{field_}.overrides", overrides, "a list of field=value texts")
        seeds = t.get("seeds", [0])
        if (
            not isinstance(seeds, list)
            or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
            or len(set(seeds)) != len(seeds)
        ):
            raise ConfigError(f"{field_}.seeds", seeds, "a list of distinct integers >= 0")
        analysis = t.get("analysis") or {}
        if not isinstance(analysis, dict):
            raise ConfigError(f"{field_}.analysis", analysis, "a mapping of analysis settings")
        tiers[name] = Tier(t["preset"], tuple(overrides), tuple(seeds), dict(analysis))
    return tiers


def _grid(where: str, raw) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: grid", raw, "a mapping of config field -> list of values")
    grid = {}
    for k, v in raw.items():
        if not isinstance(k, str):
            raise ConfigError(f"{where}: grid", k, "config field names (text) as keys")
        if isinstance(v, dict) and v and all(isinstance(o, list) for o in v.values()):
            grid[k] = {str(label): [str(o) for o in o_list] for label, o_list in v.items()}
        elif isinstance(v, list) and v:
            grid[k] = v
        else:
            raise ConfigError(
                f"{where}: grid.{k}",
                v,
                "a non-empty list of values, or variants (label: [overrides])",
            )
    return grid


def _check_labels(where: str, spec: StudySpec) -> None:
    """A configuration's label names its runs' folders: it must be one distinct folder name."""
    seen = set()
    for point in spec.points():
        if any(c in point.label for c in "/\\\0") or len(point.label) > 200:
            raise ConfigError(
                f"{where}: grid label",
                point.label,
                "at most 200 characters and no / or \\ (it names the runs' folders)",
            )
        if point.label in seen:
            raise ConfigError(f"{where}: grid label", point.label, "distinct labels")
        seen.add(point.label)
