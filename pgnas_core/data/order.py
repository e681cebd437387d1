"""The order in which training samples are seen: a pure function of (seed, epoch, step).

A run that is stopped and resumed, or split over K processes, must see the same batches with
the same augmentation. So nothing here depends on how many batches a process has already
drawn: the epoch's permutation comes from (seed, epoch), the global batch ``s`` is a slice of
it, rank ``r`` takes its share of that batch, and each sample's augmentation is drawn from a
generator seeded by (seed, epoch, position in the epoch).
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers; independent-looking streams for distinct tuples."""
    digest = hashlib.blake2b(",".join(str(int(p)) for p in parts).encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "little") >> 1


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    """The permutation of ``n`` training samples in ``epoch``, shape (n,)."""
    g = torch.Generator().manual_seed(mix_seed(seed, epoch, 0x0D0E))
    return torch.randperm(n, generator=g)


def steps_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def batch_positions(n: int, batch_size: int, step: int) -> range:
    """Positions (into the epoch's order) of global batch ``step``."""
    return range(step * batch_size, min((step + 1) * batch_size, n))


def rank_share(positions: range, rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s contiguous share of a global batch (sizes differ by at most one)."""
    n = len(positions)
    lo = rank * n // world_size
    hi = (rank + 1) * n // world_size
    return list(positions[lo:hi])


def seed_step(seed: int, epoch: int, step: int, rank: int) -> None:
    """Seed torch (CPU and CUDA), ``random`` and numpy for one optimisation step.

    The dropout masks of this step are drawn from these generators, so they depend only on
    (seed, epoch, step, rank): independent across ranks, unchanged by a resume.
    """
    s = mix_seed(seed, epoch, step, rank, 0x5EED)
    torch.manual_seed(s)
    random.seed(s)
    np.random.seed(s % 2**32)


class EpochSamples(Dataset):
    """Item ``p`` is the sample at position ``p`` of the epoch's order, augmented with
    torch's generator seeded by (seed, epoch, p): the same on any rank, after any resume."""

    def __init__(self, dataset: Dataset, order: torch.Tensor, seed: int, epoch: int):
        self.dataset, self.order = dataset, order.tolist()
        self.base = mix_seed(seed, epoch, 0xA06)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, position: int):
        torch.default_generator.manual_seed((self.base + position) % 2**63)
        return self.dataset[self.order[position]]


def epoch_loader(
    dataset: Dataset,
    batch_size: int,
    seed: int,
    epoch: int,
    start_step: int = 0,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
) -> DataLoader:
    """This rank's batches of ``epoch`` from global step ``start_step`` on."""
    n = len(dataset)
    batches = [
        rank_share(batch_positions(n, batch_size, s), rank, world_size)
        for s in range(start_step, steps_per_epoch(n, batch_size))
    ]
    samples = EpochSamples(dataset, epoch_order(n, seed, epoch), seed, epoch)
    return DataLoader(
        samples, batch_sampler=batches, num_workers=num_workers, persistent_workers=False
    )


def batch_at(dataset: Dataset, batch_size: int, seed: int, epoch: int, step: int):
    """Global batch ``step`` of ``epoch`` (wrapping into the next pass when ``step`` runs past
    the dataset), augmented as the loaders do: a pure function of its arguments, for a second
    stream of batches (the architecture batches of bilevel methods)."""
    from torch.utils.data import default_collate

    n = len(dataset)
    steps = steps_per_epoch(n, batch_size)
    rnd, step = divmod(step, steps)
    order_epoch = epoch * 1_000_003 + rnd  # each pass over the data in its own order
    samples = EpochSamples(dataset, epoch_order(n, seed, order_epoch), seed, order_epoch)
    return default_collate([samples[p] for p in batch_positions(n, batch_size, step)])
