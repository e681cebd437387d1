"""Learning-rate schedules of the paper (supplement 1.1-1.2), as per-step multipliers."""

from __future__ import annotations

import math

SCHEDULES = ("cosine", "step", "multistep", "sgdr", "constant")


def lr_factor(
    schedule: str,
    step: int,
    steps_per_epoch: int,
    epochs: int,
    *,
    lr: float,
    lr_min: float = 0.0,
    step_size: int = 30,
    gamma: float = 0.1,
    milestones: tuple[int, ...] = (),
    t0: int = 10,
    t_mult: int = 2,
) -> float:
    """The multiplier of the base ``lr`` at optimisation step ``step`` (0-based)."""
    epoch = step / steps_per_epoch  # fractional epoch
    floor = lr_min / lr if lr > 0 else 0.0
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":  # cosine decay without restart (SupNet-M/MI)
        t = min(epoch / max(epochs, 1), 1.0)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))
    if schedule == "step":  # /10 every 30 epochs (SupNet-R-50)
        return gamma ** int(epoch // step_size)
    if schedule == "multistep":  # /10 at given epochs (SupNet-D-121)
        return gamma ** sum(epoch >= m for m in milestones)
    if schedule == "sgdr":  # cosine with warm restarts, T0 and Tmul (SupNet-E/EI)
        period, t = t0, epoch
        while t >= period:
            t -= period
            period *= t_mult
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t / period))
    raise ValueError(f"schedule {schedule!r}: one of {SCHEDULES}")
