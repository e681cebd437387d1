"""Batch-norm recalibration per candidate: its effect on ranking quality and its cost.

For C candidates of the demo supernet: validation ranking and test accuracy with BN statistics
as trained (the paper) and re-estimated on ``--batches`` training batches under each
candidate's mask. Ranking quality = Spearman correlation of validation and test accuracy over
the candidates, and the test accuracy of the validation winner.

    python benchmarks/bench_bn_recalibration.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import torch

from pgnas_core.data import stack_split
from pgnas_core.rank import best_candidate

import _common


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c", type=int, default=20)
    ap.add_argument("--batches", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.c, a.batches = 6, 4
    torch.set_num_threads(a.threads)
    wall = time.perf_counter()
    cfg, net, data = _common.demo_supernet()
    xv, yv = stack_split(data.val)
    xt, yt = stack_split(data.test)
    xtr, _ = stack_split(data.train)  # un-augmented training images
    rows = []
    for recal in (0, a.batches):
        opts = dict(
            rank="exhaustive",
            rank_engine="compact",
            bn_recalibration_batches=recal,
            x_train=xtr,
            recal_batch_size=cfg.data.batch_size,
        )
        val, t = _common.timed(_common.fast_rank, net, xv, yv, range(a.c), **opts)
        test = _common.fast_rank(net, xt, yt, range(a.c), **opts)
        rho = val["val_acc"].corr(test["val_acc"], method="spearman")
        w = best_candidate(val)
        w_test = float(test.loc[test["seed"] == w["seed"], "val_acc"].iloc[0])
        rows.append(
            dict(
                recal_batches=recal,
                C=a.c,
                rank_seconds=t,
                spearman_val_test=rho,
                winner_seed=int(w["seed"]),
                winner_val_acc=w["val_acc"],
                winner_test_acc=w_test,
                mean_val_acc=val["val_acc"].mean(),
                best_test_acc=test["val_acc"].max(),
            )
        )
        r = rows[-1]
        print(
            f"BN recal {recal:3d} batches: rank {t:6.1f}s  spearman(val, test) {rho:.3f}  "
            f"winner val {w['val_acc']:.4f} test {w_test:.4f}  mean val {r['mean_val_acc']:.4f}"
        )
    _common.write_results(
        "bn_recalibration", rows, {"args": vars(a), "wall_seconds": time.perf_counter() - wall}
    )


if __name__ == "__main__":
    main()
