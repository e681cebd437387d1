"""Supernets: registered by name, built with ``create_supernet(name, **overrides)``."""

from . import (
    cell,  # noqa: F401
    darts,  # noqa: F401
    densenet,  # noqa: F401
    enas,  # noqa: F401
    multibranch_resnet,  # noqa: F401  (registers its supernets)
    resnet50,  # noqa: F401
)
from .base import Supernet, configure_sites
from .enas import aux_loss
from .registry import create_supernet, list_supernets, register_supernet, supernet_entry

__all__ = [
    "Supernet",
    "configure_sites",
    "create_supernet",
    "list_supernets",
    "register_supernet",
    "supernet_entry",
    "aux_loss",
]
