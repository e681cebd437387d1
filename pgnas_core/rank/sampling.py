"""Posterior-guided sampling (Algorithm 1, step 2): hard masks drawn from the learned p."""

from __future__ import annotations

import torch

from ..architecture import Architecture
from ..errors import ConfigError

#: The largest candidate seed: torch's generator takes 0..2**64 - 1 (and wraps a negative
#: one around, so -1 would silently be 2**64 - 1).
MAX_SEED = 2**64 - 1


def check_candidate_seed(seed: int, field: str = "--seed") -> None:
    """A ConfigError for a seed the sampler cannot take (negative, or past 2**64 - 1)."""
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(field, seed, "an integer from 0 to 2**64 - 1 (18446744073709551615)")


def sample_masks(supernet, seed: int) -> dict[str, torch.Tensor]:
    """One hard mask per site, ``z ~ Bernoulli(1 - p_j)`` i.i.d. over channels.

    Drawn on the CPU from a generator seeded with ``seed`` alone, in site order, so candidate
    ``i`` is reproducible from (checkpoint, seed) on any device.
    """
    g = torch.Generator().manual_seed(int(seed))
    masks = {}
    for s in supernet.sites():
        q = s.keep_prob.detach().float().cpu()
        masks[s.name] = (torch.rand(s.channels, generator=g) < q).float()  # (C,)
    return masks


def sample_architecture(supernet, seed: int) -> Architecture:
    return supernet.architecture_from_masks(sample_masks(supernet, seed))


def candidate_seeds(count: int, base_seed: int = 0) -> list[int]:
    """The seeds of candidates 0..count-1."""
    return [base_seed + i for i in range(count)]
