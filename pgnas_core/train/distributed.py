"""torch.distributed for pgnas: one process per device, launched by ``torchrun``.

``torchrun --nproc_per_node=K -m pgnas_core.cli train ...`` sets RANK, WORLD_SIZE and
LOCAL_RANK; :func:`init_distributed` reads them and joins the process group (NCCL on GPUs,
gloo on CPUs). Without them everything here is a no-op for a single process.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

BACKENDS = ("auto", "nccl", "gloo")


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init_distributed(
    device: str = "auto", backend: str = "auto", timeout_minutes: float = 30.0
) -> DistContext:
    """Join the process group torchrun describes (once); return this process's context."""
    if dist.is_available() and dist.is_initialized():
        return context()
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistContext()
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if backend == "auto":
        backend = "nccl" if use_cuda else "gloo"
    if backend == "nccl" and use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes))
    return context()


def context() -> DistContext:
    """The current process's place in the process group (rank 0 of 1 without one)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistContext()
    return DistContext(
        dist.get_rank(),
        dist.get_world_size(),
        int(os.environ.get("LOCAL_RANK", 0)),
        dist.get_backend(),
    )


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if context().enabled:
        dist.barrier()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks (in place); gloo needs CPU tensors, NCCL device tensors."""
    if context().enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def gather_objects(obj) -> list:
    """Every rank's ``obj`` (picklable), in rank order, on every rank."""
    ctx = context()
    if not ctx.enabled:
        return [obj]
    out = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    if not context().enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def local_device(device: torch.device) -> torch.device:
    """Under torchrun each process gets its own GPU: cuda -> cuda:LOCAL_RANK."""
    ctx = context()
    if device.type == "cuda" and device.index is None:
        return torch.device("cuda", ctx.local_rank if ctx.enabled else torch.cuda.current_device())
    return device


# ---- batch norm over the global batch -----------------------------------------------------
class SyncBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are taken over the global batch of all ranks.

    torch's SyncBatchNorm runs on GPUs only; this one works with gloo on CPUs too (and with
    NCCL), so K processes normalise exactly as one process with the whole batch does. Outside
    a process group, or in eval mode, it is a plain BatchNorm2d.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and context().enabled):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        c = x.shape[1]
        count = torch.full((1,), x.numel() // max(c, 1), dtype=x.dtype, device=x.device)
        stats = torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count])  # (2C + 1,)
        stats = all_reduce(stats)  # differentiable: gradients flow back to every rank
        total = stats[-1]
        mean = stats[:c] / total
        var = (stats[c : 2 * c] / total - mean * mean).clamp_min(0)  # biased, as BN normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = (
                    self.momentum
                    if self.momentum is not None
                    else 1.0 / self.num_batches_tracked.item()
                )
                unbiased = var * total / (total - 1).clamp_min(1)
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * unbiased)
        y = (x - mean.view(1, c, 1, 1)) * torch.rsqrt(var.view(1, c, 1, 1) + self.eps)
        if self.affine:
            y = y * self.weight.view(1, c, 1, 1) + self.bias.view(1, c, 1, 1)
        return y


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Make every BatchNorm2d of ``module`` a SyncBatchNorm2d (in place; same parameters)."""
    for m in module.modules():
        if type(m) is nn.BatchNorm2d:
            m.__class__ = SyncBatchNorm2d
    return module


def revert_sync_batchnorm(module: nn.Module) -> nn.Module:
    for m in module.modules():
        if type(m) is SyncBatchNorm2d:
            m.__class__ = nn.BatchNorm2d
    return module


# ---- sharded candidate ranking ------------------------------------------------------------
def rank_sharded(rank_shard, seeds: list[int]):
    """Rank candidate ``seeds`` split across the ranks; the one table, on every rank.

    ``rank_shard(shard_seeds, rank, world_size) -> DataFrame`` ranks one share (rank r takes
    ``seeds[r::K]``); rows are gathered and ordered by ``candidate``, so the table is that of
    a single process whenever each candidate's row depends only on its seed.
    """
    import pandas as pd

    ctx = context()
    part = rank_shard(list(seeds)[ctx.rank :: ctx.world_size], ctx.rank, ctx.world_size)
    if not ctx.enabled:
        return part
    parts = gather_objects(part)
    table = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    return table.sort_values("candidate", kind="stable").reset_index(drop=True)
