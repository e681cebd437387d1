"""pgnas_core: the engine of Posterior-Guided Neural Architecture Search (Zhou et al., AAAI 2020).

Importing it never pulls in plotting or widget packages (those live in ``pgnas_viz``).
"""
from .architecture import Architecture, SiteChoice
from .errors import ConfigError, DataError, DatasetNotFoundError, PgnasError
from .supernets import Supernet, configure_sites, create_supernet, list_supernets

__version__ = "0.1.0"

__all__ = ["Architecture", "SiteChoice", "ConfigError", "DataError", "DatasetNotFoundError",
           "PgnasError", "Supernet", "configure_sites", "create_supernet", "list_supernets"]
