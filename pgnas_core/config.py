"""Run configuration: dataclasses composed explicitly, loaded from and saved to YAML.

Presets are YAML files in ``pgnas_core/presets``; ``--set section.field=value`` overrides a
field. Every field is checked before any work starts (:meth:`RunConfig.validate`).
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from .data.config import DataConfig
from .errors import ConfigError, PgnasError, unknown_name
from .loss import WEIGHT_TERMS
from .schedules import SCHEDULES


@dataclass
class SupernetConfig:
    name: str = "supnet_m_small"  # a registered supernet (see `pgnas presets` / list_supernets)
    options: dict = field(default_factory=dict)  # overrides of its architecture numbers


@dataclass
class PosteriorConfig:
    method: str = "pgnas"  # pgnas: learn p per site | random: fixed p (Bender et al. baseline)
    tau: float = 0.2  # temperature of the relaxed Bernoulli mask (Eq. 16)
    p_init: float = 0.1  # initial drop probability of every site
    l2: float = 50.0  # squared prior length-scale l^2: the weight term's scale (Eq. 15)
    n_train: float | None = None  # N of Eq. 14; None: the training-set length
    weight_term: str = "coupled"  # coupled: l2 (1-p)||M||^2 | constant: l2 ||M||^2 (Table 2)
    rescale: bool = False  # inverted-dropout coordinates (kept channels / (1-p)); off = official
    random_p: float = 0.1  # the fixed drop rate of the Random baseline


@dataclass
class TrainConfig:
    epochs: int = 10
    lr: float = 0.05  # base learning rate of the weights
    p_lr_scale: float = 1.0  # learning rate of the p logits = lr * p_lr_scale
    schedule: str = "cosine"  # cosine | step | multistep | sgdr | constant
    lr_min: float = 0.0  # floor of cosine and sgdr
    step_size: int = 30  # step: epochs between decays
    gamma: float = 0.1  # step / multistep: decay factor
    milestones: list = field(default_factory=list)  # multistep: epochs of decay
    t0: int = 10  # sgdr: first period (epochs)
    t_mult: int = 2  # sgdr: period multiplier
    momentum: float = 0.9  # SGD with Nesterov momentum, no weight decay (the prior replaces it)
    grad_clip: float = 5.0  # max gradient norm; 0 disables
    seed: int = 0  # weights, data order and dropout masks
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    keep_checkpoints: int = 2  # how many checkpoints to keep (epoch ends and mid-epoch)
    checkpoint_every_steps: int = 0  # also save inside an epoch every N steps; 0: epoch ends only
    sync_bn: bool = True  # under torchrun: batch-norm statistics over the global batch
    dist_backend: str = "auto"  # under torchrun: auto (nccl on GPUs, gloo on CPUs) | nccl | gloo
    compile: bool = False  # torch.compile the training forward (fuses the sites' masking; slow start)


@dataclass
class SearchConfig:
    candidates: int = 50  # C: candidates sampled from the posterior
    seed: int = 0  # candidate i is drawn with seed `seed + i`
    random_baseline: bool = True  # also train and search the Random baseline (Table 3)
    finetune_epochs: int = 0  # fine-tune the winner (Tables 3, 5); 0: no fine-tuning
    rank: str = "exhaustive"  # exhaustive: every candidate on the whole val split | racing
    rank_engine: str = "auto"  # auto | batched (K candidates per pass) | compact (exported nets)
    candidates_per_pass: int = 16  # K: candidates per forward pass of the batched engine
    race_first_chunk: int = 64  # racing: val images of the first round
    race_growth: float = 1.5  # racing: each round sees this many times more images
    race_strata: int = 8  # racing: margin strata of the val split (pgnas_core.racing); 1: none
    race_delta: float = 0.05  # racing: chance of dropping the best, shared over the rounds
    bn_recalibration_batches: int = 0  # re-estimate BN stats per candidate; 0: off (paper)


@dataclass
class RunConfig:
    supernet: SupernetConfig = field(default_factory=SupernetConfig)
    data: DataConfig = field(default_factory=DataConfig)
    posterior: PosteriorConfig = field(default_factory=PosteriorConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    description: str = ""

    # ---- checks ---------------------------------------------------------------------------
    def validate(self) -> "RunConfig":
        """Raise ConfigError naming the first bad field; return self when all are fine."""
        from .supernets import supernet_entry

        _check_types(self, "")  # every field of the right type, even when built in Python
        supernet_entry(self.supernet.name)  # unknown names raise with a suggestion
        self.data.validate()
        p, t, s = self.posterior, self.train, self.search
        _choice("posterior.method", p.method, ("pgnas", "random"))
        _check("posterior.tau", p.tau, p.tau > 0, "a number > 0")
        _check("posterior.p_init", p.p_init, 0 < p.p_init < 1, "a number in (0, 1)")
        _check("posterior.random_p", p.random_p, 0 < p.random_p < 1, "a number in (0, 1)")
        _check("posterior.l2", p.l2, p.l2 >= 0, "a number >= 0")
        _check("posterior.n_train", p.n_train, p.n_train is None or p.n_train > 0,
               "a number > 0, or null for the training-set length")
        _choice("posterior.weight_term", p.weight_term, WEIGHT_TERMS)
        _check("train.epochs", t.epochs, t.epochs >= 1, "an integer >= 1")
        _check("train.lr", t.lr, t.lr > 0, "a number > 0")
        _check("train.p_lr_scale", t.p_lr_scale, t.p_lr_scale >= 0, "a number >= 0")
        _choice("train.schedule", t.schedule, SCHEDULES)
        _check("train.lr_min", t.lr_min, 0 <= t.lr_min <= t.lr, "a number in [0, train.lr]")
        _check("train.momentum", t.momentum, 0 <= t.momentum < 1, "a number in [0, 1)")
        _check("train.grad_clip", t.grad_clip, t.grad_clip >= 0, "a number >= 0 (0 disables)")
        _check("train.step_size", t.step_size, t.step_size >= 1, "an integer >= 1")
        _check("train.t0", t.t0, t.t0 >= 1, "an integer >= 1")
        _check("train.t_mult", t.t_mult, t.t_mult >= 1, "an integer >= 1")
        _check("train.keep_checkpoints", t.keep_checkpoints, t.keep_checkpoints >= 1,
               "an integer >= 1")
        _check("train.device", t.device, t.device in ("auto", "cpu", "cuda") or
               str(t.device).startswith("cuda:"), "auto, cpu, cuda or cuda:N")
        _check("train.seed", t.seed, t.seed >= 0, "an integer >= 0")
        _check("train.checkpoint_every_steps", t.checkpoint_every_steps,
               t.checkpoint_every_steps >= 0, "an integer >= 0 (0: only at epoch ends)")
        _choice("train.dist_backend", t.dist_backend, ("auto", "nccl", "gloo"))
        _check("train.milestones", t.milestones,
               all(isinstance(m, int) and not isinstance(m, bool) and m >= 1
                   for m in t.milestones), "a list of epochs (integers >= 1)")
        _check("search.seed", s.seed, s.seed >= 0, "an integer >= 0")
        _check("search.candidates", s.candidates, s.candidates >= 1, "an integer >= 1")
        _check("search.finetune_epochs", s.finetune_epochs, s.finetune_epochs >= 0,
               "an integer >= 0")
        _choice("search.rank", s.rank, ("exhaustive", "racing"))
        _choice("search.rank_engine", s.rank_engine, ("auto", "batched", "compact"))
        _check("search.candidates_per_pass", s.candidates_per_pass, s.candidates_per_pass >= 1,
               "an integer >= 1")
        _check("search.race_first_chunk", s.race_first_chunk, s.race_first_chunk >= 2,
               "an integer >= 2")
        _check("search.race_growth", s.race_growth, s.race_growth >= 1.1,
               "a number >= 1.1 (each round this many times the previous one's images)")
        _check("search.race_strata", s.race_strata, s.race_strata >= 1, "an integer >= 1 (1: none)")
        _check("search.race_delta", s.race_delta, 0 < s.race_delta < 1, "a number in (0, 1)")
        _check("search.bn_recalibration_batches", s.bn_recalibration_batches,
               s.bn_recalibration_batches >= 0, "an integer >= 0 (0: off)")
        _check("search.rank_engine", s.rank_engine,
               s.bn_recalibration_batches == 0 or s.rank_engine != "batched",
               "auto or compact when search.bn_recalibration_batches > 0")
        return self

    # ---- (de)serialisation ----------------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        return _from_dict(cls, d or {}, "")


def _check_types(obj, prefix: str) -> None:
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            _check_types(value, f"{prefix}{f.name}.")
        else:
            _coerce(hints[f.name], value, f"{prefix}{f.name}")


def _check(name: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise ConfigError(name, value, allowed)


def _choice(name: str, value: Any, allowed) -> None:
    if value not in allowed:
        raise unknown_name(name, value, allowed)


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
            raise ConfigError(f"{prefix}{key}", value,
                              f"a known field of {prefix.rstrip('.') or 'the config'}: "
                              f"{', '.join(names)}{hint}")
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
            return float(value)
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


# ---- presets and overrides ------------------------------------------------------------------
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


def apply_override(d: dict, assignment: str) -> dict:
    """Apply one ``section.field=value`` (the value is parsed as YAML: 0.1, true, [1, 2])."""
    if "=" not in assignment:
        raise ConfigError("--set", assignment, "key=value, for example train.lr=0.1")
    key, raw = assignment.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise ConfigError(key, raw, "a value YAML can parse (number, true/false, [list], text)")
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


def resolve_config(preset: str | None = "demo", config_file: str | Path | None = None,
                   overrides: list[str] = ()) -> RunConfig:
    """preset, then a YAML file, then ``--set`` overrides; validated."""
    d: dict = {}
    if preset:
        d = _merge(d, load_preset(preset))
    if config_file:
        path = Path(config_file)
        if not path.is_file():
            raise PgnasError(f"config file {path} does not exist")
        d = _merge(d, yaml.safe_load(path.read_text()) or {})
    for o in overrides:
        apply_override(d, o)
    return RunConfig.from_dict(d).validate()


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
