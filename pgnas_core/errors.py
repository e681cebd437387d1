"""Errors a user can act on: each names what was wrong and what is allowed."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class PgnasError(Exception):
    """Base class for every error pgnas raises on purpose (the CLI prints these as one line)."""


class ConfigError(PgnasError, ValueError):
    """A config field has a bad value: names the field, the value and what is allowed."""

    def __init__(self, field: str, value: Any, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"{field}={value!r} is not allowed: {allowed}")


class DatasetNotFoundError(PgnasError, FileNotFoundError):
    """A dataset is missing: says where we looked and how to get it."""


class DataError(PgnasError, ValueError):
    """The data exists but does not fit (wrong shape, labels out of range, empty split)."""


def unknown_name(field: str, value: str, known: Iterable[str]) -> ConfigError:
    """A ConfigError for an unknown name, suggesting the closest known one."""
    known = sorted(known)
    close = difflib.get_close_matches(str(value), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(field, value, f"one of {', '.join(known)}{hint}")


class CheckpointError(PgnasError):
    """A checkpoint cannot be read: names it and any older one to fall back on."""


class TrainingDiverged(PgnasError, ArithmeticError):
    """The loss became NaN or infinite: names the step, the last good checkpoint, the cause."""


class Interrupted(PgnasError):
    """Stopped on request (Ctrl-C) after saving a checkpoint; ``--resume`` continues."""


def check_field(name: str, value: Any, ok: bool, allowed: str) -> None:
    """Raise a ConfigError for ``name`` unless ``ok``; ``allowed`` says what would be."""
    if not ok:
        raise ConfigError(name, value, allowed)


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> None:
    """Raise a ConfigError (with a did-you-mean) unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise unknown_name(name, value, allowed)


class RunDirError(PgnasError):
    """A run directory or a file in it is missing, unreadable, truncated or from another
    version: names the path and what was expected."""


class ConfigFileError(PgnasError):
    """A config file cannot be used: names the file and what was expected."""


class ConfigChanged(PgnasError):
    """Resuming with settings that change the numbers: names the fields (``--force`` to go on)."""


def one_line(error: BaseException) -> str:
    """The error's message on one line. An error raised in a DataLoader worker comes back
    wrapped with the worker's traceback; its last line is the original message."""
    text = str(error).strip()
    if "\n" not in text:
        return text
    last = [line for line in text.splitlines() if line.strip()][-1].strip()
    name, sep, message = last.partition(": ")
    return message if sep and name.replace(".", "").replace("_", "").isalnum() else last
