"""BayesNAS's costs on the cell_small preset, in one process (one thread):

1. its Laplace step (the diagonal GGN over the switches, then the ARD update) with M = 1 and
   M = 8 batches, against one phase-B training epoch of the same supernet (interleaved
   repeats, medians);
2. the whole BayesNAS search (warm-up, switch epoch, update, derivation, export) against a
   PGNAS search (training, then ranking its candidates) of the same supernet and data, each
   with its preset budget.

    python benchmarks/bench_bayesnas.py [--quick] [--train-size 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from pgnas_core.config import resolve_config
from pgnas_core.run.pipeline import search

import _common


def config(method: str, train_size: int, extra: tuple[str, ...] = ()):
    return resolve_config(
        "cell_small",
        overrides=[
            f"method.name={method}",
            f"data.train_size={train_size}",
            "train.device=cpu",
            *extra,
        ],
    )


def laplace_step_costs(train_size: int, repeats: int, out: Path) -> list[dict]:
    """Seconds of one phase-B epoch and of one Laplace step at M = 1 and M = 8."""
    run = _common.training(config("bayesnas", train_size), out)
    method, data = run.method, run.data
    phase_b = method.settings.warmup_epochs + 1
    times = {"phase-B epoch": [], "laplace M=1": [], "laplace M=8": []}
    batches = {}
    for m in (1, 8):
        method.settings.hessian_batches = m
        batches[m] = method.curvature_batches(data)
    for r in range(repeats + 1):  # the first round warms up and is not counted
        tic = time.perf_counter()
        run.train_epoch(phase_b, {"stop": False})
        laps = {"phase-B epoch": time.perf_counter() - tic}
        for m in (1, 8):
            tic = time.perf_counter()
            method.update_priors(run.net, batches[m])
            laps[f"laplace M={m}"] = time.perf_counter() - tic
        if r > 0:
            for k, v in laps.items():
                times[k].append(v)
    epoch = statistics.median(times["phase-B epoch"])
    rows = []
    for label, ts in times.items():
        med = statistics.median(ts)
        m = int(label[-1]) if label.startswith("laplace") else None
        images = len(run.split) if m is None else sum(len(x) for x, _ in batches[m])
        rows.append(
            dict(
                part=label,
                seconds=med,
                images=images,
                ratio_to_epoch=med / epoch,
                repeats=len(ts),
            )
        )
        print(f"{label:14s} {med:8.3f} s  ({images} images)  x{med / epoch:.3f} of an epoch")
    return rows


def whole_searches(train_size: int, out: Path) -> list[dict]:
    """BayesNAS's search and PGNAS's on the same supernet and data, one after the other."""
    rows = []
    for method in ("bayesnas", "pgnas"):
        cfg = config(method, train_size, ("method.baselines=[]",))
        tic = time.perf_counter()
        summary = search(cfg, out / method, progress=False)
        wall = time.perf_counter() - tic
        r = summary.methods[method]
        rank = r.best.rank_seconds if r.best is not None else None
        rows.append(
            dict(
                part=f"{method} search",
                seconds=wall,
                train_seconds=r.train_seconds,
                rank_seconds=rank,
                test_acc=r.best.test_acc if r.best is not None else None,
                params=r.best.params if r.best is not None else None,
            )
        )
    base = rows[1]["seconds"]
    for row in rows:
        row["ratio_to_pgnas"] = row["seconds"] / base
        print(
            f"{row['part']:16s} {row['seconds']:7.1f} s wall (training {row['train_seconds']:.1f}"
            f" s), test acc {row['test_acc']:.3f}, {row['params']} params"
            f"  x{row['ratio_to_pgnas']:.2f} of PGNAS"
        )
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-size", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.train_size, a.repeats = 400, 1
    torch.set_num_threads(a.threads)
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = laplace_step_costs(a.train_size, a.repeats, Path(tmp) / "steps")
        rows += whole_searches(a.train_size, Path(tmp))
    _common.write_results(
        "bayesnas", rows, {"args": vars(a), "wall_seconds": time.perf_counter() - wall}
    )


if __name__ == "__main__":
    main()
