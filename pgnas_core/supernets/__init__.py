"""Supernets: registered by name, built with ``create_supernet(name, **overrides)``."""
from .base import Supernet, configure_sites
from .registry import create_supernet, list_supernets, register_supernet, supernet_entry
from . import multibranch_resnet  # noqa: F401  (registers its supernets)
from . import resnet50  # noqa: F401
from . import densenet  # noqa: F401
from . import enas  # noqa: F401
from .enas import aux_loss

__all__ = ["Supernet", "configure_sites", "create_supernet", "list_supernets",
           "register_supernet", "supernet_entry", "aux_loss"]
