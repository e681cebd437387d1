"""Supernets: registered by name, built with ``create_supernet(name, **overrides)``."""
from .base import Supernet, configure_sites
from .registry import create_supernet, list_supernets, register_supernet, supernet_entry
from . import multibranch_resnet  # noqa: F401  (registers its supernets)

__all__ = ["Supernet", "configure_sites", "create_supernet", "list_supernets",
           "register_supernet", "supernet_entry"]
