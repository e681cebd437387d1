"""Run configuration: the sections of each layer composed into one RunConfig, loaded from and
saved to YAML.

Each layer owns its section's dataclass and its checks (``data``: DataConfig, ``train``:
TrainConfig, ``search``: SearchConfig, ``method``: MethodConfig); every registered search
method adds the section of its settings (``posterior`` for PGNAS and Random). Presets are
YAML files in ``pgnas_core/presets``; ``--set section.field=value`` overrides a field. Every
field is checked before any work starts (:meth:`RunConfig.validate`).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .data.config import DataConfig
from .errors import ConfigError, ConfigFileError, unknown_name
from .methods import MethodConfig, settings_sections
from .rank.config import SearchConfig
from .settings import setting
from .supernets import list_supernets, supernet_entry
from .train.config import TrainConfig


@dataclass
class SupernetConfig:
    """The supernet searched: a registered architecture space and overrides of its numbers."""

    name: str = setting(
        "supnet_m_small",
        "a registered supernet (`pgnas presets` lists them)",
        choices=list_supernets,
    )
    options: dict = setting(
        {}, "overrides of the supernet's architecture numbers (widths, depth, ...)"
    )


def _default_sections() -> dict:
    return {name: cls() for name, cls in settings_sections().items()}


#: Fields that never change a run's numbers (where it runs, how often it saves, what it is
#: called) or change them at float-rounding level at most (performance switches of the
#: ranker): a run may be resumed with other values of these.
NON_NUMERIC_FIELDS = frozenset(
    {
        "description",
        "train.device",
        "train.keep_checkpoints",
        "train.checkpoint_every_steps",
        "train.dist_backend",
        "train.tensorboard",
        "data.root",
        "data.download",
        "data.num_workers",
        "data.eval_batch_size",
        "search.rank_engine",
        "search.candidates_per_pass",
        "search.compact_cache_params",
        "search.channels_last",
        "search.stem_cache",
        "search.fold_bn",
    }
)


@dataclass
class RunConfig:
    supernet: SupernetConfig = field(default_factory=SupernetConfig)
    data: DataConfig = field(default_factory=DataConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    description: str = ""
    # the registered methods' settings, by section name (e.g. ``posterior``); also readable
    # as attributes: ``cfg.posterior.l2``
    sections: dict = field(default_factory=_default_sections)

    def __getattr__(self, name: str):
        sections = self.__dict__.get("sections")
        if sections is not None and name in sections:
            return sections[name]
        raise AttributeError(f"{type(self).__name__} has no field or section {name!r}")

    def section(self, name: str):
        """A method's settings section (``posterior``, ...)."""
        if name not in self.sections:
            raise unknown_name("section", name, self.sections)
        return self.sections[name]

    # ---- checks ---------------------------------------------------------------------------
    def validate(self) -> RunConfig:
        """Raise ConfigError naming the first bad field; return self when all are fine."""
        _check_types(self, "")  # every field of the right type, even when built in Python
        supernet_entry(self.supernet.name)  # unknown names raise with a suggestion
        self.data.validate()
        self.method.validate()
        for section in self.sections.values():
            section.validate()
        self.train.validate()
        self.search.validate()
        return self

    # ---- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        d = {
            "supernet": dataclasses.asdict(self.supernet),
            "data": dataclasses.asdict(self.data),
            "method": dataclasses.asdict(self.method),
        }
        d.update({name: dataclasses.asdict(s) for name, s in self.sections.items()})
        d.update(
            {
                "train": dataclasses.asdict(self.train),
                "search": dataclasses.asdict(self.search),
                "description": self.description,
            }
        )
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        d = _migrate(d or {})
        if not isinstance(d, dict):
            raise ConfigError("config", d, "a mapping of sections")
        sections = settings_sections()
        fixed = {f.name for f in dataclasses.fields(cls)} - {"sections"}
        kwargs, found = {}, _default_sections()
        hints = typing.get_type_hints(cls)
        for key, value in d.items():
            if key in fixed:
                kwargs[key] = _coerce(hints[key], value, key)
            elif key in sections:
                found[key] = _from_dict(sections[key], value or {}, key + ".")
            else:
                known = sorted(fixed | set(sections))
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(
                    str(key), value, f"a known section of the config: {', '.join(known)}{hint}"
                )
        return cls(**kwargs, sections=found)


def _migrate(d: dict) -> dict:
    """Read configs written before the method interface: ``posterior.method`` became
    ``method.name`` and ``search.random_baseline`` became ``method.baselines``; and before
    ``search.precision``: ``search.gpu_fast`` (bf16 on CUDA, always) is gone."""
    if not isinstance(d, dict):
        return d
    posterior, search = d.get("posterior"), d.get("search")
    legacy_name = isinstance(posterior, dict) and "method" in posterior
    legacy_baseline = isinstance(search, dict) and "random_baseline" in search
    legacy_fast = isinstance(search, dict) and "gpu_fast" in search
    if not (legacy_name or legacy_baseline or legacy_fast):
        return d
    d = copy.deepcopy(d)
    if legacy_fast:
        d["search"].pop("gpu_fast")
    method = d.setdefault("method", {})
    if legacy_name:  # a legacy field set later (e.g. by --set) wins over the preset's section
        method["name"] = d["posterior"].pop("method")
    if legacy_baseline:
        on = d["search"].pop("random_baseline")
        method["baselines"] = ["random"] if on and method.get("name", "pgnas") == "pgnas" else []
    return d


def _check_types(obj, prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name == "sections" and isinstance(obj, RunConfig):
            for name, section in value.items():
                _check_types(section, f"{name}.")
        elif dataclasses.is_dataclass(value):
            _check_types(value, f"{prefix}{f.name}.")
        else:
            _coerce(hints[f.name], value, f"{prefix}{f.name}")


def _from_dict(cls, d: dict, prefix: str):
    if not isinstance(d, dict):
        raise ConfigError(prefix.rstrip(".") or "config", d, "a mapping of fields")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in d.items():
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            raise ConfigError(
                f"{prefix}{key}",
                value,
                f"a known field of {prefix.rstrip('.') or 'the config'}: {', '.join(names)}{hint}",
            )
        kwargs[key] = _coerce(hints[key], value, f"{prefix}{key}")
    return cls(**kwargs)


def _coerce(tp, value, name: str):
    if dataclasses.is_dataclass(tp):
        return _from_dict(tp, value or {}, name + ".")
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        tp = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(name, value, "true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(name, value, "an integer")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                return float(value)
            except OverflowError:  # an integer past float's range: the range check names it
                return float("inf") if value > 0 else float("-inf")
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as text
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(name, value, "a number")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(name, value, "a string")
    if tp in (list, dict) or origin in (list, dict, tuple):
        want = origin or tp
        if want is tuple and isinstance(value, list):
            return tuple(value)
        if isinstance(value, want):
            return value
        raise ConfigError(name, value, f"a {'list' if want in (list, tuple) else 'mapping'}")
    return value


# ---- presets, files and overrides -------------------------------------------------------------
def preset_dir():
    return resources.files("pgnas_core") / "presets"


def list_presets() -> dict[str, str]:
    """Preset name -> its one-line description."""
    out = {}
    for f in sorted(preset_dir().iterdir(), key=lambda p: p.name):
        if f.name.endswith(".yaml"):
            out[f.name[:-5]] = (yaml.safe_load(f.read_text()) or {}).get("description", "")
    return out


def load_preset(name: str) -> dict:
    presets = list_presets()
    if name not in presets:
        raise unknown_name("preset", name, presets)
    return yaml.safe_load((preset_dir() / f"{name}.yaml").read_text()) or {}


def load_config_file(path: str | Path) -> dict:
    """A YAML config file as a mapping of sections; one ConfigFileError naming the file for
    one that is missing, unreadable, not text, empty, not YAML or not a mapping."""
    path = Path(path)
    if not path.exists():
        raise ConfigFileError(f"config file {path} does not exist")
    if path.is_dir():
        raise ConfigFileError(f"config file {path} is a directory, not a YAML file")
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigFileError(f"config file {path} cannot be read ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8")
        if "\x00" in text:
            raise UnicodeDecodeError(
                "utf-8", raw, text.index("\x00"), text.index("\x00") + 1, "NUL byte"
            )
    except UnicodeDecodeError as e:
        raise ConfigFileError(
            f"config file {path} is not a text file (byte {e.start} is not "
            f"UTF-8 text): expected YAML"
        ) from None
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigFileError(f"config file {path} is not valid YAML{where}: {problem}") from None
    if d is None:
        raise ConfigFileError(
            f"config file {path} is empty: expected a YAML mapping of "
            f"sections (supernet, data, method, train, search, ...)"
        )
    if not isinstance(d, dict):
        raise ConfigFileError(
            f"config file {path} holds a {type(d).__name__}, not a mapping "
            f"of sections (supernet: ..., train: ...)"
        )
    return d


def apply_override(d: dict, assignment: str) -> dict:
    """Apply one ``section.field=value`` (the value is parsed as YAML: 0.1, true, [1, 2])."""
    if "=" not in assignment:
        raise ConfigError("--set", assignment, "key=value, for example train.lr=0.1")
    key, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(
            key, raw, "a value YAML can parse (number, true/false, [list], text)"
        ) from None
    parts = key.strip().split(".")
    node = d
    if not all(parts):
        raise ConfigError("--set", assignment, "section.field=value, for example train.lr=0.1")
    for part in parts[:-1]:
        if not isinstance(node, dict):
            break
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(key, raw, f"{part} is a field, not a section")
    node[parts[-1]] = value
    return d


def resolve_config(
    preset: str | None = "demo", config_file: str | Path | None = None, overrides: list[str] = ()
) -> RunConfig:
    """preset, then a YAML file, then ``--set`` overrides; validated."""
    d: dict = {}
    if preset:
        d = _merge(d, load_preset(preset))
    if config_file:
        d = _merge(d, _migrate(load_config_file(config_file)))
    for o in overrides:
        apply_override(d, o)
    return RunConfig.from_dict(d).validate()


def config_changes(old: dict, new: dict, ignore=NON_NUMERIC_FIELDS) -> list[tuple[str, Any, Any]]:
    """(field, old value, new value) of every field that differs between two config dicts,
    by dotted name, leaving out ``ignore`` (fields that do not change the numbers)."""
    a, b = _flatten(_migrate(old)), _flatten(_migrate(new))
    return [
        (k, a.get(k), b.get(k))
        for k in sorted(set(a) | set(b))
        if k not in ignore and a.get(k) != b.get(k)
    ]


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "options":
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
