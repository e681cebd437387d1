"""``pgnas config``: every field of the resolved config, its value, default, allowed values and
a help line, read from the same definitions the validation uses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pgnas_core.config import RunConfig, resolve_config
from pgnas_core.run.cli import main
from pgnas_core.run.cli_config import DOCS_COMMAND, config_sections, field_rows, show

DOCS = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def _config(capsys, *argv: str) -> str:
    assert main(["config", *argv]) == 0
    return capsys.readouterr().out


def test_every_field_appears_with_its_value_and_help(capsys):
    out = _config(capsys, "--preset", "digits", "--set", "train.lr=0.123")
    cfg = resolve_config("digits", overrides=["train.lr=0.123"])
    for name, section in config_sections(cfg).items():
        assert f"[{name}]" in out
        for r in field_rows(section, name):
            assert r.help and f"\n      {r.help}\n" in out, r.key
            assert f"  {r.key} = {show(r.value)}" in out
    assert "  train.lr = 0.123 *\n" in out  # a value that differs from the default is marked
    assert "default 0.05; allowed: a number > 0 and <= 10" in out


def test_the_method_sections_follow_the_chosen_method(capsys):
    out = _config(
        capsys, "--preset", "digits", "--set", "method.name=darts", "--set", "method.baselines=[]"
    )
    assert "[darts]" in out and "  darts.arch_lr = " in out
    assert "[posterior]" not in out and "[balenas]" not in out
    out = _config(capsys, "--preset", "digits", "--set", "method.name=bayesnas")
    assert "[bayesnas]" in out and "[posterior]" in out  # the random baseline's section
    out = _config(capsys, "--preset", "digits", "--all")
    assert all(f"[{s}]" in out for s in ("posterior", "darts", "balenas", "bayesnas"))


def test_yaml_output_reads_back_as_the_same_config(capsys, tmp_path):
    argv = ["--preset", "digits", "--set", "posterior.tau=0.5", "--all", "--format", "yaml"]
    out = _config(capsys, *argv)
    assert "  # temperature of the relaxed Bernoulli mask" in out
    cfg = resolve_config("digits", overrides=["posterior.tau=0.5"])
    assert RunConfig.from_dict(yaml.safe_load(out)) == cfg
    (tmp_path / "c.yaml").write_text(out)
    assert (
        _config(
            capsys, "--defaults", "--config", str(tmp_path / "c.yaml"), "--format", "yaml"
        ).count("tau: 0.5")
        == 1
    )


def test_a_bad_value_is_one_line(capsys):
    assert main(["config", "--set", "posterior.tau=.inf"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "posterior.tau" in err[0] and "<= 10" in err[0]


def test_docs_config_md_is_up_to_date(capsys):
    out = _config(capsys, *DOCS_COMMAND.split()[2:])
    assert "| `tau` | `0.2` |" in out
    if not DOCS.is_file() or DOCS.read_text() != out:
        pytest.fail(f"docs/config.md is out of date: run `{DOCS_COMMAND} > docs/config.md`")
