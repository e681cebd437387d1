"""``pgnas config``: every field of the resolved config with its value, its default, the values
it allows and one line on what it does. The text is read from the fields' definitions
(:mod:`pgnas_core.settings`), the same ones the validation checks against."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import yaml

from ..settings import allowed_text, default_of, section_fields

FORMATS = ("text", "yaml", "markdown")
DESCRIPTION_HELP = "one line that says what the run is (presets set it)"
DOCS_COMMAND = "pgnas config --defaults --all --format markdown"


@dataclass
class FieldRow:
    section: str  # "" for the top-level description
    name: str
    value: Any
    default: Any
    allowed: str
    help: str

    @property
    def key(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


def add_config_parser(sub, add_config_args) -> None:
    """Register ``pgnas config`` (``add_config_args``: the --preset/--config/--set options)."""
    p = sub.add_parser(
        "config",
        help="print every field of the resolved config: value, default, allowed values, meaning",
    )
    add_config_args(p)
    p.add_argument(
        "--defaults",
        action="store_true",
        help="start from the built-in defaults instead of a preset",
    )
    p.add_argument(
        "--all",
        dest="all_sections",
        action="store_true",
        help="show every method's section, not only those of method.name and method.baselines",
    )
    p.add_argument("--format", choices=FORMATS, default="text", help="default: %(default)s")


def run_config_command(args: argparse.Namespace) -> int:
    from ..config import resolve_config

    cfg = resolve_config(None if args.defaults else args.preset, args.config, args.overrides)
    sections = config_sections(cfg, args.all_sections)
    render = {"text": render_text, "yaml": render_yaml, "markdown": render_markdown}[args.format]
    print(render(cfg, sections), end="")
    return 0


def config_sections(cfg, all_sections: bool = False) -> dict[str, object]:
    """Section name -> its dataclass, in the order a config file lists them: the fixed
    sections and the settings of the methods that run (every method's with ``all_sections``)."""
    from ..methods import method_class

    used = [cfg.method.name, *cfg.method.baselines]
    wanted = {method_class(m).settings_section for m in used}
    methods = {name: s for name, s in cfg.sections.items() if all_sections or name in wanted}
    return {
        "supernet": cfg.supernet,
        "data": cfg.data,
        "method": cfg.method,
        **methods,
        "train": cfg.train,
        "search": cfg.search,
    }


def field_rows(obj, section: str) -> list[FieldRow]:
    rows = []
    for f, tp, spec in section_fields(obj):
        rows.append(
            FieldRow(
                section,
                f.name,
                getattr(obj, f.name),
                default_of(f),
                allowed_text(tp, spec) if spec else "",
                spec.help if spec else "",
            )
        )
    return rows


def _description_row(cfg) -> FieldRow:
    return FieldRow("", "description", cfg.description, "", "text", DESCRIPTION_HELP)


def section_help(obj) -> str:
    doc = (type(obj).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def show(value) -> str:
    """A value as YAML would write it inline (what ``--set`` accepts)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**9).strip()
    return text[: -len("\n...")] if text.endswith("\n...") else text


# ---- the formats -----------------------------------------------------------------------------
def render_text(cfg, sections: dict) -> str:
    lines = []
    for name, obj in sections.items():
        lines.append(f"[{name}] {section_help(obj)}")
        for r in field_rows(obj, name):
            lines.append(_text_row(r))
        lines.append("")
    lines.append(_text_row(_description_row(cfg)))
    return "\n".join(lines) + "\n"


def _text_row(r: FieldRow) -> str:
    changed = " *" if r.value != r.default else ""
    head = f"  {r.key} = {show(r.value)}{changed}"
    return f"{head}\n      {r.help}\n      default {show(r.default)}; allowed: {r.allowed}"


def render_yaml(cfg, sections: dict) -> str:
    """The config as a YAML file that --config reads, each field under a comment."""
    lines = ["# every field: what it does; the values it allows; its default"]
    for name, obj in sections.items():
        lines += ["", f"# {section_help(obj)}", f"{name}:"]
        for r in field_rows(obj, name):
            lines.append(f"  # {r.help}; {r.allowed}; default {show(r.default)}")
            lines.append(f"  {r.name}: {show(r.value)}")
    r = _description_row(cfg)
    lines += ["", f"# {r.help}", f"description: {show(r.value)}"]
    return "\n".join(lines) + "\n"


def render_markdown(cfg, sections: dict) -> str:
    rows_by_section = {name: field_rows(obj, name) for name, obj in sections.items()}
    with_value = any(r.value != r.default for rows in rows_by_section.values() for r in rows)
    head = ["field", "value", "default", "allowed", "what it does"]
    if not with_value:
        head.remove("value")
    lines = [
        "# Configuration reference",
        "",
        f"Generated by `{DOCS_COMMAND}` from the definitions the validation",
        "checks against. Set a field with `--set section.field=value` (the value is read as",
        "YAML), or in a YAML file given with `--config`; `pgnas config --preset P` shows a",
        "preset's values.",
    ]
    for name, rows in rows_by_section.items():
        lines += ["", f"## `{name}`", "", section_help(sections[name]), ""]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in rows:
            cells = [f"`{r.name}`", f"`{show(r.value)}`", f"`{show(r.default)}`", r.allowed, r.help]
            if not with_value:
                cells.pop(1)
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    r = _description_row(cfg)
    lines += ["", "## `description`", "", f"Top level: {r.help} (text)."]
    return "\n".join(lines) + "\n"
