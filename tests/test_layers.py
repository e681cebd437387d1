"""The engine's layers: a module imports only from its own layer or lower ones, and pgnas_core
never imports a plotting or widget package (not even inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pgnas_core

ROOT = Path(pgnas_core.__file__).parent
#: Lowest first. A top-level module is its own layer; a folder is one layer.
LAYERS = [
    ("errors", "architecture", "settings", "extras"),
    ("nn",),
    ("supernets",),
    ("data",),
    ("train",),
    ("rank",),
    ("methods",),
    ("config",),
    ("run",),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
PLOTTING = ("matplotlib", "seaborn", "graphviz", "ipywidgets", "pgnas_viz")
#: The one module that hands over to pgnas_viz: `pgnas report`, inside its function only.
LAZY_VIZ = {Path("run/cli_report.py"): "pgnas_viz.report"}


def _layer(module: str) -> str:
    """``pgnas_core.rank.ranker`` -> ``rank``; ``pgnas_core`` itself -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in a file, relative ones resolved."""
    package = ".".join(("pgnas_core", *path.relative_to(ROOT).with_suffix("").parts))
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                name = ".".join(base + ([node.module] if node.module else []))
                if not node.module:  # from . import x: each x may be a module
                    out += [(node.lineno, f"{name}.{a.name}") for a in node.names]
                    continue
            else:
                name = node.module
            out.append((node.lineno, name))
    return out


def _modules():
    return sorted(p for p in ROOT.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    for path in _modules():
        rel = path.relative_to(ROOT)
        if rel.name in ("__init__.py", "__main__.py") and len(rel.parts) == 1:
            continue
        name = rel.parts[0].removesuffix(".py")
        assert name in RANK, f"{rel}: not in a layer; add it to LAYERS"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_a_higher_layer_or_a_plotting_package(path):
    rel = path.relative_to(ROOT)
    own = rel.parts[0].removesuffix(".py")
    if own in ("__init__", "__main__"):
        return  # the package's entry points may import anything below them
    top_level = {node.lineno for node in ast.parse(path.read_text()).body}
    for line, module in _imports(path):
        if LAZY_VIZ.get(rel) == module and line not in top_level:
            continue
        assert not module.startswith(PLOTTING), f"{rel}:{line} imports {module}"
        if not module.startswith("pgnas_core.") or module == "pgnas_core.__init__":
            continue
        other = _layer(module)
        if other.startswith("__"):  # the package's own attributes (__version__)
            continue
        assert other in RANK, f"{rel}:{line} imports {module}, which is in no layer"
        assert RANK[other] <= RANK[own], (
            f"{rel}:{line}: layer {own!r} imports {module} of the higher layer {other!r}"
        )


def test_the_check_catches_an_upward_import(tmp_path):
    """The rule above can fail: an nn module importing train is reported."""
    fake = ROOT / "nn" / "_upward_probe.py"
    fake.write_text("from ..train.loss import regulariser\n")
    try:
        with pytest.raises(AssertionError, match="higher layer 'train'"):
            test_no_module_imports_a_higher_layer_or_a_plotting_package(fake)
    finally:
        fake.unlink()
