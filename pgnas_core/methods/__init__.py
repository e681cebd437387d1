"""Search methods, registered by name (``method.name`` in the config): each says how the
supernet's units are gated while training, what it learns, which splits it trains on and
how an architecture is derived (docs/method_siblings.md section 1)."""

from . import (  # noqa: F401  (importing them registers them)
    balenas,
    bayesnas,
    darts,
    pgnas,
    random,
)
from .base import (
    DERIVATIONS,
    DeriveContext,
    Derived,
    Exported,
    ExportRequest,
    MethodConfig,
    SearchMethod,
    supernet_options,
)
from .registry import (
    create_method,
    list_methods,
    method_class,
    register_method,
    settings_sections,
    unregister_method,
)

__all__ = [
    "DERIVATIONS",
    "DeriveContext",
    "Derived",
    "Exported",
    "ExportRequest",
    "MethodConfig",
    "SearchMethod",
    "supernet_options",
    "create_method",
    "list_methods",
    "method_class",
    "register_method",
    "settings_sections",
    "unregister_method",
]
