"""Config fields defined once: each field's default, one line on what it does and the values it
allows live in the field's definition (:func:`setting`). Validation (:func:`check_settings`),
``pgnas config`` and docs/config.md all read these definitions, so the help cannot drift from
what the checks accept. Checks that relate two fields stay code in each section's validate().
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, unknown_name

SEED_MAX = 2**32 - 1  # seeds are added to and mixed, then fed to torch's 64-bit generators


@dataclass(frozen=True)
class Range:
    """Numbers from ``low`` to ``high`` (None: unbounded); ``ends`` says which ends belong to
    it, as in interval notation: ``"[]"``, ``"(]"``, ``"[)"`` or ``"()"``."""

    low: float | None = None
    high: float | None = None
    ends: str = "[]"

    def __contains__(self, v) -> bool:
        low_ok = self.low is None or v > self.low or (v == self.low and self.ends[0] == "[")
        high_ok = self.high is None or v < self.high or (v == self.high and self.ends[1] == "]")
        return low_ok and high_ok

    def describe(self, integer: bool) -> str:
        kind = "an integer" if integer else "a number"
        low, high = _number(self.low, integer), _number(self.high, integer)
        if self.high is None:
            return f"{kind} {'>' if self.ends[0] == '(' else '>='} {low}"
        if self.low is None:
            return f"{kind} {'<' if self.ends[1] == ')' else '<='} {high}"
        if self.high - self.low <= 1:  # a share or a probability: interval notation
            return f"{kind} in {self.ends[0]}{low}, {high}{self.ends[1]}"
        low_op, high_op = (
            (">" if self.ends[0] == "(" else ">="),
            ("<" if self.ends[1] == ")" else "<="),
        )
        return f"{kind} {low_op} {low} and {high_op} {high}"


def _number(v, integer: bool) -> str:
    if v is None:
        return ""
    if integer or (float(v).is_integer() and abs(v) < 1e6):
        return str(int(v))
    return f"{v:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


@dataclass(frozen=True)
class Setting:
    """What a field means and allows (kept in the dataclass field's metadata)."""

    help: str
    bounds: Range | None = None  # for numbers: always finite, and inside these bounds
    choices: tuple | Callable[[], Iterable[str]] | None = None  # names (or a function of none)
    null: str | None = None  # what null means, for fields that may be null
    allowed: str | None = None  # the allowed values in words, for fields `check` decides
    check: Callable[[Any], bool] | None = None  # replaces the type and bounds test

    def choice_list(self) -> tuple:
        c = self.choices
        return tuple(c() if callable(c) else c) if c is not None else ()


def setting(
    default,
    help: str,
    *,
    bounds: Range | None = None,
    choices=None,
    null: str | None = None,
    allowed: str | None = None,
    check: Callable[[Any], bool] | None = None,
):
    """A dataclass field with its help line and allowed values (mutable defaults copied)."""
    meta = {"setting": Setting(help, bounds, choices, null, allowed, check)}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def spec_of(f: dataclasses.Field) -> Setting | None:
    return f.metadata.get("setting")


def base_type(tp) -> tuple[type, bool]:
    """(the type without None, whether None is allowed) of a field's type hint."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return base_type(args[0])[0], True
    return (typing.get_origin(tp) or tp), False


def allowed_text(tp, spec: Setting) -> str:
    """The allowed values of a field in words (the text its ConfigError ends with)."""
    base, nullable = base_type(tp)
    if spec.allowed:
        text = spec.allowed
    elif spec.choices is not None:
        text = "one of " + ", ".join(map(str, spec.choice_list()))
    elif base is bool:
        text = "true or false"
    elif base in (int, float) and spec.bounds is not None:
        text = spec.bounds.describe(base is int)
    else:
        text = {int: "an integer", float: "a finite number", str: "text"}.get(base)
        text = text or ("a list" if base in (list, tuple) else "a mapping")
    if nullable:
        text += f", or null ({spec.null})" if spec.null else ", or null"
    return text


def _fits(value, base: type, spec: Setting) -> bool:
    if base is bool:
        return isinstance(value, bool)
    if base in (int, float):
        kinds = (int,) if base is int else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return False
        return math.isfinite(value) and (spec.bounds is None or value in spec.bounds)
    return isinstance(value, base)


def check_value(name: str, value, tp, spec: Setting) -> None:
    """Raise ConfigError (one line: field, value, what is allowed) unless ``value`` fits."""
    base, nullable = base_type(tp)
    if value is None and nullable:
        return
    if spec.choices is not None and spec.check is None:
        choices = spec.choice_list()
        if value not in choices:
            raise unknown_name(name, value, choices)
        return
    ok = spec.check(value) if spec.check is not None else _fits(value, base, spec)
    if not ok:
        raise ConfigError(name, value, allowed_text(tp, spec))


def check_settings(obj, section: str) -> None:
    """Check every field of a section that has a :func:`setting` definition."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        spec = spec_of(f)
        if spec is not None:
            check_value(f"{section}.{f.name}", getattr(obj, f.name), hints[f.name], spec)


def section_fields(obj) -> list[tuple[dataclasses.Field, Any, Setting | None]]:
    """(field, its type hint, its definition) of a section, in order."""
    hints = typing.get_type_hints(type(obj))
    return [(f, hints[f.name], spec_of(f)) for f in dataclasses.fields(obj)]


def default_of(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None
