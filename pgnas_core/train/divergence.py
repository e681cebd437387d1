"""What a diverged training is blamed on: the setting behind the parameters that blew up.

The loop stops when the loss is no longer finite (or a step cannot even be computed in
float32). The method names its own settings -- which field sizes the steps of each of its
parameter groups, and which scale its loss terms -- so the message names ``darts.arch_lr``
when alpha blew up, ``bayesnas.lam`` when the group lasso did, and ``train.lr`` only when
the weights did.
"""

from __future__ import annotations

import torch

#: The largest step size a float32 parameter update can be computed with.
FLOAT32_MAX = torch.finfo(torch.float32).max
#: Parameters past this size have blown up: their squares (weight terms) overflow float32.
BLOWN_UP = FLOAT32_MAX**0.5


def is_overflow(error: BaseException) -> bool:
    """torch's error for a scalar (a learning rate) too large for the tensors' float type."""
    return isinstance(error, RuntimeError) and "without overflow" in str(error)


def blamed_settings(
    method, net, optimizer, terms_finite: bool = True, overflow: str | None = None
) -> list[str]:
    """The likely causes, most specific first. ``overflow``: ``"weights"`` when the
    optimizer's step overflowed, ``"arch"`` when the method's own (architecture) step did."""
    arch = method.arch_groups(net)
    if overflow == "arch":
        return _too_large(method, arch, "steps overflow float32")
    if overflow == "weights":
        huge = [g for g in optimizer.param_groups if abs(g["lr"]) > FLOAT32_MAX]
        return _too_large(method, huge or optimizer.param_groups, "steps overflow float32")
    broken = [g for g in [*arch, *optimizer.param_groups] if _blown_up(g["params"])]
    if broken:
        return _too_large(method, broken, f"parameters are not finite, or past {BLOWN_UP:.0e}")
    if not terms_finite:
        return [f"{s} is too large (the loss terms it scales)" for s in method.loss_term_settings()]
    return []


def fallback_causes(method, train) -> list[str]:
    """Every setting that sizes a step, when no single group can be blamed."""
    causes = [f"{s} may be too large" for s in dict.fromkeys(method.step_settings().values())]
    causes += method.divergence_causes()
    if train.grad_clip == 0:
        causes.append("train.grad_clip=0 disables gradient clipping")
    return causes


def _too_large(method, groups: list[dict], what: str) -> list[str]:
    """``setting is too large (its <groups> <what>)``, one entry per setting."""
    settings = method.step_settings()
    by_setting: dict[str, list[str]] = {}
    for g in groups:
        name = g.get("name", "weights")
        by_setting.setdefault(settings.get(name, f"the learning rate of {name}"), []).append(name)
    return [f"{s} is too large (its {', '.join(n)} {what})" for s, n in by_setting.items()]


def _blown_up(params) -> bool:
    with torch.no_grad():
        return any(not bool((p.abs() <= BLOWN_UP).all()) for p in params)  # NaN: not <=
