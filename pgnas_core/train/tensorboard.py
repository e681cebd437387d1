"""TensorBoard scalars that mirror ``history.csv`` (``train.tensorboard=true``).

Every numeric column of an epoch's history row (loss parts, accuracies, the method's
keep-probability or alpha statistics, lr, seconds) becomes a scalar with the column's name as
its tag and the epoch as its step, so every method gets its own statistics without code of its
own. The events go to ``tensorboard/<method>/`` beside ``history.csv``. TensorBoard is imported
only when the option is on.
"""

from __future__ import annotations

import numbers
from pathlib import Path

from ..extras import require

TENSORBOARD_DIR = "tensorboard"
EXTRA = "tensorboard"


def tensorboard_dir(history: Path, method: str) -> Path:
    """Where a method's events go: ``tensorboard/<method>/`` beside its history.csv."""
    return Path(history).parent / TENSORBOARD_DIR / method


class TensorBoardSink:
    """Writes each history row as scalars; opened at the first row so that a resumed run
    replaces (``purge_step``) the events of any epoch it trains again."""

    def __init__(self, folder: Path):
        require("train.tensorboard=true", ("tensorboard",), EXTRA)
        self.folder, self.writer = Path(folder), None

    def write(self, row: dict) -> None:
        step = int(row["epoch"])
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.folder), purge_step=step)
        for name, value in row.items():
            if name != "epoch" and isinstance(value, numbers.Real):
                self.writer.add_scalar(name, float(value), step)
        self.writer.flush()  # a live `tensorboard --logdir` sees each epoch at once

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def history_sinks(enabled: bool, history: Path, method: str) -> list:
    """The extra places history rows go besides history.csv (none unless asked for)."""
    return [TensorBoardSink(tensorboard_dir(history, method))] if enabled else []
