"""A restricted unpickler for CIFAR's python-pickle batches.

Plain ``pickle.load`` runs whatever code a crafted file names, and a data root is something
users download and share. A CIFAR batch holds only dicts, lists, str, bytes, ints and one
numpy array, so the unpickler admits just the few globals that rebuild those and refuses
every other one before anything runs.
"""

from __future__ import annotations

import pickle
from typing import IO, Any

# (module, name) pairs a CIFAR batch needs: numpy's array and dtype reconstructors (under
# the module names of numpy 1 and 2; _frombuffer at pickle protocol 5), and the codec
# Python 3 uses for bytes at protocol 2. None of them runs code named by the file.
_ALLOWED = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }
)


class ForbiddenGlobal(pickle.UnpicklingError):
    """The pickle names a global outside what the format holds."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise ForbiddenGlobal(
            f"it refers to {module}.{name}, which a CIFAR batch never holds "
            f"(refused without running it)"
        )


def load_restricted(f: IO[bytes], encoding: str = "latin1") -> Any:
    """Unpickle ``f`` admitting only dicts, lists, str, bytes, numbers and numpy arrays."""
    return _RestrictedUnpickler(f, encoding=encoding).load()
