"""The numbers a training step and an epoch add up (summed over ranks, kept in float64 so
that a mid-epoch checkpoint resumes them exactly), and the Ctrl-C that stops after a step."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from .distributed import all_reduce_sum

#: The per-step numbers every rank contributes, in the order they are all-reduced.
STEP_FIELDS = ("ce_sum", "correct", "count", "not_finite", "stop_requested")


@dataclass
class StepStats:
    """One optimisation step's statistics, summed over the ranks."""

    ce_sum: float
    correct: float
    count: float
    not_finite: float
    stop_requested: float

    def as_tensor(self) -> torch.Tensor:
        return torch.tensor([getattr(self, f) for f in STEP_FIELDS], dtype=torch.float64)

    @classmethod
    def summed(cls, local: StepStats, backend: str | None, device) -> StepStats:
        t = local.as_tensor()
        total = all_reduce_sum(t.to(device) if backend == "nccl" else t).cpu()
        return cls(*total.tolist())


@dataclass
class EpochSums:
    """Running sums of an epoch (float64, saved in mid-epoch checkpoints)."""

    values: torch.Tensor = field(default_factory=lambda: torch.zeros(4, dtype=torch.float64))

    def add(self, step: StepStats, reg: float) -> None:
        # loss*b, ce*b, correct, n (reg is R/N: one value for the whole batch)
        self.values += torch.tensor(
            [step.ce_sum + reg * step.count, step.ce_sum, step.correct, step.count],
            dtype=torch.float64,
        )

    loss = property(lambda self: self.values[0].item() / self.values[3].item())
    ce = property(lambda self: self.values[1].item() / self.values[3].item())
    acc = property(lambda self: self.values[2].item() / self.values[3].item())
    terms = property(lambda self: (self.values[0] - self.values[1]).item() / self.values[3].item())


@contextmanager
def stop_on_sigint():
    """While training, the first Ctrl-C asks the loop to stop after the current step (it
    saves a checkpoint first); a second one interrupts at once."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
