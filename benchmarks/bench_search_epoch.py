"""Time per search epoch on the same small cell supernet: DARTS, BaLeNAS with S = 1 and S = 4
samples per architecture step, and PGNAS, side by side in one process (interleaved repeats,
one thread, the cell_small preset's data and batch). An epoch is a pass over what the method
trains its weights on: half of the training split for DARTS and BaLeNAS, which also take one
architecture step (a forward and backward on the other half) before every weight step; the
whole split for PGNAS.

    python benchmarks/bench_search_epoch.py [--quick] [--train-size 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from pgnas_core.config import resolve_config
from pgnas_core.train.loop import Training

import _common

CONFIGS = {  # label -> overrides of the cell_small preset
    "darts": ["method.name=darts"],
    "balenas S=1": ["method.name=balenas", "balenas.samples=1"],
    "balenas S=4": ["method.name=balenas", "balenas.samples=4"],
    "pgnas": ["method.name=pgnas"],
}


def make_training(label: str, overrides: list[str], train_size: int, out: Path) -> Training:
    cfg = resolve_config(
        "cell_small",
        overrides=[
            *CONFIGS[label],
            f"data.train_size={train_size}",
            "train.device=cpu",
            *overrides,
        ],
    )
    return _common.training(cfg, out)


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
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label in CONFIGS:
            runs[label] = make_training(label, [], a.train_size, Path(tmp) / label.replace(" ", ""))
        times = {label: [] for label in CONFIGS}
        for r in range(a.repeats + 1):  # the first round warms up and is not counted
            for label, run in runs.items():
                tic = time.perf_counter()
                run.train_epoch(r + 1, {"stop": False})
                if r > 0:
                    times[label].append(time.perf_counter() - tic)
    base = statistics.median(times["darts"])
    rows = []
    for label, ts in times.items():
        med = statistics.median(ts)
        run = runs[label]
        rows.append(
            dict(
                method=label,
                seconds_per_epoch=med,
                weight_steps=run.steps,
                weight_images=len(run.split),
                ratio_to_darts=med / base,
                repeats=len(ts),
            )
        )
        print(
            f"{label:12s} {med:7.2f} s/epoch  ({run.steps} weight steps on {len(run.split)} "
            f"images)  x{med / base:.3f} vs DARTS"
        )
    _common.write_results(
        "search_epoch", rows, {"args": vars(a), "wall_seconds": time.perf_counter() - wall}
    )


if __name__ == "__main__":
    main()
