"""Register, then create: search methods are classes registered by name, like supernets."""

from __future__ import annotations

from ..errors import unknown_name

_METHODS: dict[str, type] = {}


def register_method(cls):
    """Class decorator: register a :class:`~pgnas_core.methods.base.SearchMethod` subclass
    under ``cls.name`` (duplicates raise; methods that share a settings section must share
    its dataclass)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _METHODS:
        raise ValueError(f"method {cls.name!r} is already registered")
    section = cls.settings_section
    if section is not None:
        other = settings_sections().get(section)
        if other is not None and other is not cls.settings_class:
            raise ValueError(f"section {section!r} already holds {other.__name__}")
    _METHODS[cls.name] = cls
    return cls


def unregister_method(name: str) -> None:
    """Remove a registered method (tests register toy methods and clean up)."""
    _METHODS.pop(name, None)


def list_methods() -> list[str]:
    return sorted(_METHODS)


def method_class(name: str) -> type:
    if name not in _METHODS:
        raise unknown_name("method.name", name, _METHODS)
    return _METHODS[name]


def create_method(name: str, cfg):
    """The method ``name`` bound to the run config ``cfg``."""
    return method_class(name)(cfg)


def settings_sections() -> dict[str, type]:
    """Config section name -> its dataclass, over every registered method."""
    return {
        c.settings_section: c.settings_class
        for c in _METHODS.values()
        if c.settings_section is not None
    }


#: What a method's runs may support beyond search, rank and export (``capabilities``).
CAPABILITIES = {
    "pruning": "switches with posterior relevances, pruned by a threshold (notebook 11)",
    "posterior_samples": "a distribution over architectures to draw from (notebook 10)",
    "epoch_architectures": "an argmax architecture recorded every epoch (notebook 10)",
}


def methods_with(capability: str) -> list[str]:
    """The registered methods whose runs support ``capability``."""
    return [n for n, c in sorted(_METHODS.items()) if capability in c.capabilities]
