"""The limit: achieved FLOP/s of candidate evaluation vs a plain large matmul in the same run.

FLOPs count multiply and add separately (as ``pgnas_core.nn.flops``). Candidate evaluation:
the compact engine does the compact nets' FLOPs; the batched engine runs the full masked
supernet (its FLOPs do not shrink with the masks). The matmul (fp32, N x N) approximates
the machine's reachable peak with the same thread count.

    python benchmarks/bench_flops.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch

from pgnas_core.data import stack_split
from pgnas_core.nn.flops import count_flops

import _common


def matmul_flops(n: int, repeats: int) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        tic = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - tic)
    return 2 * n**3 / best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=int, default=10)
    ap.add_argument("--matmul-n", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.c, a.matmul_n = 4, 1024
    torch.set_num_threads(a.threads)
    wall = time.perf_counter()
    cfg, net, data = _common.demo_supernet()
    x, y = stack_split(data.val)
    peak_before = matmul_flops(a.matmul_n, 5)
    rows = []
    full_flops = count_flops(net, tuple(x.shape[1:]))  # posterior-mean supernet = masked cost
    for engine in ("compact", "batched"):
        table, t = _common.timed(
            _common.fast_rank, net, x, y, range(a.c), rank="exhaustive", rank_engine=engine
        )
        per_image = table["flops"].sum() if engine == "compact" else full_flops * a.c
        achieved = per_image * len(y) / t
        rows.append(
            dict(what=f"rank_{engine}", seconds=t, flops=per_image * len(y), flop_per_s=achieved)
        )
    peak_after = matmul_flops(a.matmul_n, 5)
    peak = max(peak_before, peak_after)
    rows.append(
        dict(
            what=f"matmul_{a.matmul_n}",
            flop_per_s=peak,
            flop_per_s_before=peak_before,
            flop_per_s_after=peak_after,
        )
    )
    for r in rows:
        r["fraction_of_matmul"] = r["flop_per_s"] / peak
        print(
            f"{r['what']:14s} {r['flop_per_s'] / 1e9:7.2f} GFLOP/s  "
            f"({100 * r['fraction_of_matmul']:.1f}% of the matmul)"
        )
    _common.write_results(
        "flops",
        rows,
        {
            "args": vars(a),
            "supernet_flops_per_image": full_flops,
            "wall_seconds": time.perf_counter() - wall,
        },
    )


if __name__ == "__main__":
    main()
