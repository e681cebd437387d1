"""Derivation by sampling and ranking (Algorithm 1, steps 2-4): C candidates drawn from the
trained posterior, ranked on the validation split, the best exported."""

from __future__ import annotations

import time

import pandas as pd

from ..data import stack_split
from ..rank import best_candidate, candidate_seeds, export_candidate, rank_candidates
from ..train.distributed import context, rank_sharded
from .base import DeriveContext, Derived, Exported, ExportRequest


def rank_posterior_samples(net, data, cfg, ctx: DeriveContext) -> pd.DataFrame:
    """The ranked table of ``cfg.search.candidates`` posterior samples of ``net``; under
    torchrun each rank ranks its share of the seeds (resumably) and every rank gets the whole
    table."""
    s = cfg.search
    device = next(net.parameters()).device
    x_val, y_val = (t.to(device) for t in stack_split(data.val))
    x_train = _recalibration_images(data, cfg)

    def shard(seeds, rank, world_size):
        return rank_candidates(
            net,
            x_val,
            y_val,
            seeds,
            s,
            image_batch=cfg.data.eval_batch_size,
            x_train=x_train,
            recal_batch_size=cfg.data.batch_size,
            store=ctx.store(rank, world_size),
            force=ctx.force,
            progress=ctx.progress and rank == 0,
            on_pass=ctx.on_pass,
        )

    return rank_sharded(shard, candidate_seeds(s.candidates, s.seed))


def sample_and_rank(net, data, cfg, ctx: DeriveContext) -> Derived | None:
    """Rank the posterior samples and export the winner (None on ranks other than 0)."""
    tic = time.perf_counter()
    table = rank_posterior_samples(net, data, cfg, ctx)
    rank_seconds = time.perf_counter() - tic
    if not context().is_main:
        return None
    best = best_candidate(table)
    s = cfg.search
    compact, arch = export_candidate(
        net,
        int(best["seed"]),
        _recalibration_images(data, cfg),
        s.bn_recalibration_batches,
        cfg.data.batch_size,
    )
    selection = {
        "candidate": int(best["candidate"]),
        "seed": int(best["seed"]),
        "val_acc": float(best["val_acc"]),
        "val_loss": float(best["val_loss"]),
        "flops": int(best["flops"]),
        "candidates": len(table),
        "rank_seconds": rank_seconds,
    }
    return Derived(arch, compact, selection, tables={"candidates": table})


def export_sampled(method, net, data, request: ExportRequest) -> list[Exported]:
    """Candidate ``request.seed`` (default: the ranked winner's), as the ranking saw it (BN
    recalibrated when the run recalibrates)."""
    request.refuse(method, "sample")
    seed = request.seed if request.seed is not None else request.winner_seed()
    cfg = method.cfg
    compact, arch = export_candidate(
        net,
        seed,
        _recalibration_images(data, cfg),
        cfg.search.bn_recalibration_batches,
        cfg.data.batch_size,
    )
    method.gate_for_evaluation(net)
    return [Exported(f"subnet_seed{seed}", compact, arch, {"seed": seed}, f"candidate seed {seed}")]


def _recalibration_images(data, cfg):
    """Un-augmented training images, for BN recalibration only (else None)."""
    return stack_split(data.train)[0] if cfg.search.bn_recalibration_batches > 0 else None
