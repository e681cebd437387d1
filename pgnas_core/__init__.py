"""pgnas_core: the engine of Posterior-Guided Neural Architecture Search (Zhou et al., AAAI 2020)
and its sibling methods.

Layers, lowest first (a module imports only from its own layer or lower ones;
``tests/test_layers.py`` checks it): ``errors``, ``architecture`` -> ``nn`` -> ``supernets``
-> ``data`` -> ``train`` -> ``rank`` -> ``methods`` -> ``config`` -> ``run``. Importing it
never pulls in plotting or widget packages (those live in ``pgnas_viz``).
"""

from .architecture import Architecture, SiteChoice
from .errors import ConfigError, DataError, DatasetNotFoundError, PgnasError
from .supernets import Supernet, configure_sites, create_supernet, list_supernets

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "SiteChoice",
    "ConfigError",
    "DataError",
    "DatasetNotFoundError",
    "PgnasError",
    "Supernet",
    "configure_sites",
    "create_supernet",
    "list_supernets",
]
