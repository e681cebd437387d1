"""Every config field is defined once (pgnas_core.settings): a help line and the values it
allows. These tests walk the definitions, so a new field is covered as soon as it exists."""

from __future__ import annotations

import dataclasses

import pytest

from pgnas_core.config import RunConfig, resolve_config
from pgnas_core.errors import ConfigError
from pgnas_core.methods import settings_sections
from pgnas_core.settings import Range, allowed_text, base_type, section_fields, spec_of

FIXED = ("supernet", "data", "method", "train", "search")


def _sections() -> dict[str, object]:
    cfg = RunConfig()
    return {**{name: getattr(cfg, name) for name in FIXED}, **cfg.sections}


def _fields(kind: type) -> list[tuple[str, object]]:
    """(``section.field``, its definition) of every field whose type is ``kind``."""
    return [
        (f"{section}.{f.name}", (tp, spec))
        for section, obj in _sections().items()
        for f, tp, spec in section_fields(obj)
        if base_type(tp)[0] is kind
    ]


FLOATS = _fields(float)
INTS = _fields(int)


def test_every_field_of_every_section_has_a_one_line_help():
    assert set(settings_sections()) <= set(_sections())
    for section, obj in _sections().items():
        for f in dataclasses.fields(obj):
            spec = spec_of(f)
            assert spec is not None, f"{section}.{f.name}: define it with settings.setting()"
            assert spec.help.strip() and "\n" not in spec.help, f"{section}.{f.name}"


def test_the_defaults_pass_their_own_checks():
    assert RunConfig().validate()


def test_the_walk_finds_the_float_fields():
    names = {name for name, _ in FLOATS}
    assert {"train.lr", "posterior.tau", "darts.arch_lr", "balenas.eta", "bayesnas.lam"} <= names
    assert {"search.race_growth", "posterior.n_train"} <= names


@pytest.mark.parametrize("name, definition", FLOATS, ids=[n for n, _ in FLOATS])
def test_every_float_field_has_a_finite_range(name, definition):
    tp, spec = definition
    assert spec.bounds is not None and spec.bounds.high is not None, name
    assert spec.bounds.low is not None, name


@pytest.mark.parametrize("bad", [".inf", "-.inf", ".nan", "inf", "nan", "1e300", "9" * 400])
@pytest.mark.parametrize("name, definition", FLOATS, ids=[n for n, _ in FLOATS])
def test_every_float_field_refuses_infinite_nan_and_huge(name, definition, bad):
    tp, spec = definition
    with pytest.raises(ConfigError) as err:
        resolve_config(None, overrides=[f"{name}={bad}"])
    assert err.value.field == name
    assert str(err.value).endswith(allowed_text(tp, spec))  # the range is named


@pytest.mark.parametrize("name, definition", INTS, ids=[n for n, _ in INTS])
def test_every_integer_field_refuses_huge_values(name, definition):
    tp, spec = definition
    assert spec.bounds is not None and spec.bounds.high is not None, name
    with pytest.raises(ConfigError) as err:
        resolve_config(None, overrides=[f"{name}={10**30}"])
    assert err.value.field == name and "<=" in str(err.value)


def test_a_choice_outside_the_list_suggests_the_nearest():
    with pytest.raises(ConfigError, match="did you mean 'sgdr'"):
        resolve_config(None, overrides=["train.schedule=sgrd"])


def test_cross_field_checks_stay():
    with pytest.raises(ConfigError, match=r"train.lr_min.*\[0, train.lr\]"):
        resolve_config(None, overrides=["train.lr=0.1", "train.lr_min=0.2"])
    with pytest.raises(ConfigError, match="balenas.sigma0"):
        resolve_config(None, overrides=["balenas.sigma0=0"])
    assert resolve_config(None, overrides=["balenas.sigma0=0", "balenas.optimizer=adam"])


def test_ranges_include_the_ends_their_brackets_say():
    r = Range(0, 1, "(]")
    assert 1 in r and 0.5 in r and 0 not in r and 1.01 not in r
    assert Range(0, 1, "[)").describe(False) == "a number in [0, 1)"
    assert Range(1, None).describe(True) == "an integer >= 1"
    assert Range(0, 10, "(]").describe(False) == "a number > 0 and <= 10"
    assert Range(0, 1e6).describe(False) == "a number >= 0 and <= 1e6"
    assert Range(0, 2e-3, "(]").describe(False) == "a number in (0, 0.002]"


def test_a_section_built_in_python_is_checked_too():
    from pgnas_core.train.config import TrainConfig

    with pytest.raises(ConfigError, match="train.lr=inf"):
        TrainConfig(lr=float("inf")).validate()
    with pytest.raises(ConfigError, match="train.sync_bn"):
        TrainConfig(sync_bn="yes").validate()
