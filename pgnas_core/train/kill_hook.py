"""Test hook: ``PGNAS_KILL_AFTER=train:5`` kills the process (SIGKILL) right after global
training step 5 and its checkpoint, ``rank:3`` after 3 ranking passes, ``arch:6`` right after
the 6th architecture step of a differentiable method (alpha moved, its training step not yet
done or saved); ``train:5:INT`` sends Ctrl-C (SIGINT) instead. The resume tests interrupt at a
chosen point with it instead of polling files."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

KILL_ENV = "PGNAS_KILL_AFTER"


def kill_hook(stage: str) -> Callable[[int], None] | None:
    """The hook for ``stage`` (train, rank or arch), or None. It fires once, when the count
    it is called with reaches the given one."""
    parts = os.environ.get(KILL_ENV, "").split(":")
    if len(parts) < 2 or parts[0] != stage:
        return None
    at = int(parts[1])
    sig = signal.SIGINT if parts[2:] == ["INT"] else signal.SIGKILL
    fired = []

    def hook(count: int) -> None:
        if count >= at and not fired:
            fired.append(count)
            os.kill(os.getpid(), sig)

    return hook
