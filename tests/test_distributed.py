"""Two CPU processes with gloo reproduce the single-process run.

The supernet trains in the sites' ``mean`` mode here: with per-sample random masks the K
ranks draw their own masks (independent across ranks by design), so only a deterministic
mode can be compared value for value. Everything else is the real path: the data split of
each global batch, the loss scale (CE of the global batch + R/N), gradient averaging,
batch norm over the global batch, rank-0-only checkpoints, and sharded ranking.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp

SETS = [
    "supernet.options={widths: [4, 8, 8], stem_channels: 4}",
    "data.train_size=205",
    "data.val_size=100",
    "data.batch_size=50",
    "train.epochs=1",
    "train.device=cpu",
    "search.candidates=8",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(cfg, net, data, out: Path):
    """The sharded, resumable ranking of a search (each rank its share of the seeds)."""
    from pgnas_core.methods import DeriveContext
    from pgnas_core.methods.sample_and_rank import rank_posterior_samples
    from pgnas_core.run.run_dir import MethodDir

    ctx = DeriveContext(MethodDir(out, "pgnas").ranking_store, progress=False)
    return rank_posterior_samples(net, data, cfg, ctx)


def _train_and_rank(out: str, mode: str):
    from pgnas_core.config import resolve_config
    from pgnas_core.data import load_data
    from pgnas_core.methods import create_method
    from pgnas_core.run.pipeline import train
    from pgnas_core.run.run_dir import RunDir
    from pgnas_core.train.distributed import context

    torch.set_num_threads(1)
    cfg = resolve_config("digits", None, SETS)
    data = load_data(cfg.data)
    method = create_method("pgnas", cfg)
    method.train_site_mode = mode  # "mean": deterministic, comparable across processes
    net = train(cfg, data, Path(out), method, progress=False)
    if context().is_main:
        RunDir(out).write_config(cfg, "test")
    return net, _rank(cfg, net, data, Path(out))


def _worker(rank: int, world: int, port: int, out: str, mode: str, result: str):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    from pgnas_core.train.distributed import context, init_distributed, shutdown

    init_distributed("cpu", "gloo")
    try:
        net, table = _train_and_rank(out, mode)
        torch.save(
            {"state": net.state_dict(), "table": table.to_dict("list"), "rank": context().rank},
            f"{result}.{rank}",
        )
    finally:
        shutdown()


def _spawn(tmp_path: Path, mode: str, world: int = 2):
    out = tmp_path / "ddp"
    mp.spawn(
        _worker,
        args=(world, _free_port(), str(out), mode, str(tmp_path / "res")),
        nprocs=world,
        join=True,
    )
    return out, [torch.load(tmp_path / f"res.{r}", weights_only=False) for r in range(world)]


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    single_net, _ = _train_and_rank(str(tmp_path / "single"), "mean")
    out, results = _spawn(tmp_path, "mean")
    for res in results:  # every rank holds the same net, equal to the single-process one
        for k, v in single_net.state_dict().items():
            torch.testing.assert_close(res["state"][k], v, rtol=1e-4, atol=1e-5, msg=k)
    # rank 0 alone wrote the checkpoints, and the history has the whole global batch
    assert [p.name for p in (out / "checkpoints").iterdir()] == ["epoch_0001.pt"]
    # 205 images, batch 50: the last global batch (5) splits 3/2, so a per-rank mean CE
    # would weigh it wrongly; every rank ends with the one gathered candidate table
    table = pd.DataFrame(results[0]["table"])
    assert list(table["seed"]) == list(range(8))
    assert table.equals(pd.DataFrame(results[1]["table"]))


@pytest.mark.slow
def test_sharded_ranking_identical_table(tmp_path):
    """The same trained net, ranked by one process and by two: identical tables."""
    single_net, single_table = _train_and_rank(str(tmp_path / "ref"), "relaxed")
    # the DDP workers train their own (relaxed, so different) net: rank the reference net
    # in two processes instead, by resuming the finished reference run
    import shutil

    shutil.copytree(tmp_path / "ref" / "checkpoints", tmp_path / "ddp" / "checkpoints")
    shutil.copy(tmp_path / "ref" / "config.yaml", tmp_path / "ddp" / "config.yaml")
    for f in (tmp_path / "ddp").glob("candidates*"):
        f.unlink()

    out, results = _spawn_resume(tmp_path)
    got = pd.DataFrame(results[0]["table"])
    pd.testing.assert_frame_equal(
        got.reset_index(drop=True), single_table.reset_index(drop=True), check_exact=True
    )
    assert list((out).glob("candidates.partial.rank*")), "each rank kept its own partial file"


def _resume_worker(rank: int, world: int, port: int, out: str, result: str):
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
    )
    from pgnas_core.config import resolve_config
    from pgnas_core.data import load_data
    from pgnas_core.run.run_dir import load_supernet
    from pgnas_core.train.distributed import init_distributed, shutdown

    torch.set_num_threads(1)
    init_distributed("cpu", "gloo")
    try:
        cfg = resolve_config("digits", None, SETS)
        data = load_data(cfg.data)
        net, _ = load_supernet(out)
        table = _rank(cfg, net, data, Path(out))
        torch.save({"table": table.to_dict("list")}, f"{result}.{rank}")
    finally:
        shutdown()


def _spawn_resume(tmp_path: Path, world: int = 2):
    out = tmp_path / "ddp"
    mp.spawn(
        _resume_worker,
        args=(world, _free_port(), str(out), str(tmp_path / "res")),
        nprocs=world,
        join=True,
    )
    return out, [torch.load(tmp_path / f"res.{r}", weights_only=False) for r in range(world)]


def test_rank_masks_differ_but_data_split_is_fixed():
    from pgnas_core.data.order import batch_positions, rank_share, seed_step

    pos = batch_positions(203, 50, 4)  # the last, short batch: 3 samples
    assert rank_share(pos, 0, 2) + rank_share(pos, 1, 2) == list(pos)
    shares = [rank_share(batch_positions(203, 50, 0), r, 2) for r in range(2)]
    assert shares[0] + shares[1] == list(range(50))
    seed_step(0, 1, 3, 0)
    a = torch.rand(5)
    seed_step(0, 1, 3, 1)
    b = torch.rand(5)
    seed_step(0, 1, 3, 0)
    assert not torch.equal(a, b) and torch.equal(a, torch.rand(5))


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
