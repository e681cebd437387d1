"""Numerical precision of training and ranking: fp32, bf16 (autocast) or auto.

bf16 is used only where the hardware computes it natively (a CUDA device that supports it;
a CPU with AVX512-BF16 or AMX, or an ARM CPU with the BF16 extension): emulated bf16 is
slower than fp32, so ``auto`` falls back to fp32 there and an explicit ``bf16`` is refused.
Autocast keeps the parameters (the master weights) in fp32; what must stay in fp32 inside
an autocast region (the dropout sites' masks, the regulariser) opts out with
:func:`full_precision`.
"""

from __future__ import annotations

import contextlib
import functools
import platform
from pathlib import Path

import torch

from ..errors import ConfigError

PRECISIONS = ("fp32", "bf16", "auto")

#: CPU flags (Linux /proc/cpuinfo) that mean native bf16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (x86 "flags", ARM "Features"); empty
    where there is no /proc/cpuinfo."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return frozenset(flags)


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bf16 natively (never true for an emulating one)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    return any(f in cpu_flags() for f in BF16_CPU_FLAGS)


def bf16_capability(device: torch.device | str = "cpu") -> str:
    """One line for reports: what the device offers."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}: native bf16 {native_bf16(device)}"
    found = [f for f in BF16_CPU_FLAGS if f in cpu_flags()]
    where = platform.machine()
    return f"cpu ({where}): " + (
        f"native bf16 ({', '.join(found)})" if native_bf16(device) else "no native bf16"
    )


def resolve_precision(name: str, device: torch.device | str, field: str) -> str:
    """``fp32`` or ``bf16`` for ``name`` (one of PRECISIONS) on ``device``; ``field`` names the
    setting in the error for an explicit bf16 the device cannot compute natively."""
    if name not in PRECISIONS:
        raise ConfigError(field, name, f"one of {', '.join(PRECISIONS)}")
    if name == "fp32":
        return "fp32"
    native = native_bf16(device)
    if name == "auto":
        return "bf16" if native else "fp32"
    if not native:
        raise ConfigError(
            field,
            name,
            f"fp32 or auto: {bf16_capability(device)}, and emulated bf16 is slower than fp32",
        )
    return "bf16"


def autocast(precision: str, device: torch.device | str):
    """The context a forward pass runs in: bf16 autocast, or nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)


def full_precision(x: torch.Tensor):
    """Leave any autocast region around (for the computations that stay in fp32)."""
    return torch.autocast(x.device.type, enabled=False)
