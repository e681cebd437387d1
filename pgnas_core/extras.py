"""Optional packages (pyproject's extras): whether they are installed, and one line naming the
extra that installs them when they are not."""

from __future__ import annotations

import importlib.util

from .errors import PgnasError


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked package counts as missing
        return False


def require(what: str, modules: tuple[str, ...], extra: str) -> None:
    """Raise one PgnasError if any of ``modules`` is missing: ``what`` needs them."""
    missing = [m for m in modules if not installed(m)]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise PgnasError(
            f"{what} needs the {' and '.join(missing)} package{plural}: "
            f"pip install 'pgnas[{extra}]'"
        )
