"""Config resolution and clear errors for bad values (field, value and what is allowed)."""

import pytest

from pgnas_core.config import RunConfig, apply_override, list_presets, resolve_config
from pgnas_core.errors import ConfigError


def test_every_preset_resolves():
    presets = list_presets()
    assert {"demo", "digits"} <= set(presets)
    for name, description in presets.items():
        assert description, f"preset {name} has no description"
        resolve_config(name)


def test_overrides_are_parsed_as_yaml():
    cfg = resolve_config(
        "digits",
        overrides=[
            "train.lr=0.2",
            "method.baselines=[]",
            "supernet.options={branch_kernels: [3, 5]}",
        ],
    )
    assert cfg.train.lr == 0.2 and cfg.method.baselines == []
    assert cfg.supernet.options == {"branch_kernels": [3, 5]}


def test_yaml_round_trip():
    import yaml

    cfg = resolve_config("demo")
    assert RunConfig.from_dict(yaml.safe_load(cfg.to_yaml())) == cfg


@pytest.mark.parametrize(
    "override, field, allowed",
    [
        ("posterior.tau=0", "posterior.tau", "> 0"),
        ("posterior.tau=-1", "posterior.tau", "> 0"),
        ("posterior.p_init=1.0", "posterior.p_init", "(0, 1)"),
        ("posterior.p_init=0", "posterior.p_init", "(0, 1)"),
        ("posterior.l2=-0.5", "posterior.l2", ">= 0"),
        ("posterior.n_train=0", "posterior.n_train", "> 0"),
        ("posterior.weight_term=cubic", "posterior.weight_term", "coupled"),
        ("search.candidates=0", "search.candidates", ">= 1"),
        ("supernet.name=supnet_q", "supernet.name", "supnet_m"),
        ("data.dataset=mnist", "data.dataset", "fashion-mnist"),
        ("train.epochs=0", "train.epochs", ">= 1"),
        ("train.lr=fast", "train.lr", "a number"),
        ("train.schedule=linear", "train.schedule", "cosine"),
        ("train.lrr=0.1", "train.lrr", "did you mean 'train.lr'"),
        ("data.batch_size=0", "data.batch_size", ">= 1"),
    ],
)
def test_bad_values_name_the_field_and_the_allowed_values(override, field, allowed):
    with pytest.raises(ConfigError) as err:
        resolve_config("digits", overrides=[override])
    assert err.value.field == field
    assert allowed in str(err.value)


def test_unknown_preset_suggests_nearest():
    with pytest.raises(ConfigError, match="demo"):
        resolve_config("dem")


def test_override_needs_key_equals_value():
    with pytest.raises(ConfigError, match="key=value"):
        apply_override({}, "train.lr")
