"""Register, then create: supernets are small functions that fix architecture numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError, unknown_name


@dataclass(frozen=True)
class SupernetEntry:
    name: str
    builder: Callable  # builder(**overrides) -> Supernet
    family: str
    paper: bool  # a paper-size preset (GPU scale) rather than a small CPU one
    paper_params: float | None  # the paper's parameter count of the full supernet, if any
    input_size: int  # the image size it is meant for
    description: str


_REGISTRY: dict[str, SupernetEntry] = {}


def register_supernet(
    name: str,
    *,
    family: str,
    paper: bool = False,
    paper_params: float | None = None,
    input_size: int = 32,
):
    """Decorator: register ``fn(**overrides) -> Supernet`` under ``name`` (duplicates raise)."""

    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"supernet {name!r} is already registered")
        doc = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = SupernetEntry(
            name, fn, family, paper, paper_params, input_size, doc[0] if doc else ""
        )
        return fn

    return wrap


def list_supernets(paper: bool | None = None) -> list[str]:
    return sorted(n for n, e in _REGISTRY.items() if paper is None or e.paper == paper)


def supernet_entry(name: str) -> SupernetEntry:
    if name not in _REGISTRY:
        raise unknown_name("supernet.name", name, _REGISTRY)
    return _REGISTRY[name]


def create_supernet(name: str, **overrides):
    """Build the registered supernet ``name``; ``overrides`` replace its architecture numbers
    (for example ``num_classes=100`` or ``branch_kernels=(3, 5)``)."""
    entry = supernet_entry(name)
    try:
        net = entry.builder(**overrides)
    except TypeError as e:  # an unknown override keyword
        raise ConfigError("supernet.options", overrides, f"options {name} accepts ({e})") from None
    net.registry_name = name
    net.options = dict(overrides)
    return net
