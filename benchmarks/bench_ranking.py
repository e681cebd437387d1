"""Ranking: the naive exhaustive loop vs the fast ranker on the demo supernet (Fashion-MNIST).

Naive = ``pgnas_core.rank.naive_rank``: per candidate, rebuild the masks, run the whole
validation split through the masked supernet, export it and count its FLOPs (the official
code's way, minus the checkpoint reload). Fast = ``pgnas_core.rank.rank_candidates`` (engines
batched and compact, exhaustive and racing). Both sides run in this process; read the ratios.

Sizes above ``--naive-max`` run the naive loop on its first ``--naive-sample`` candidates only
and extrapolate linearly (its cost per candidate does not depend on C); the CSV says so.
The winner check: for ``--seeds`` disjoint seed blocks of ``--check-c`` candidates, racing's
winner vs the exhaustive winner (same engine), both full-split accuracies.

    python benchmarks/bench_ranking.py            # C = 50, 500; 10 winner-check seeds
    python benchmarks/bench_ranking.py --quick    # C = 20; 3 seeds
    python benchmarks/bench_ranking.py --sizes 50,500,1500
"""

from __future__ import annotations

import argparse
import time

import torch

from pgnas_core.data import stack_split
from pgnas_core.rank import best_candidate, naive_rank

import _common


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,500")
    ap.add_argument("--naive-max", type=int, default=50, help="largest C the naive loop runs fully")
    ap.add_argument("--naive-sample", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--check-c", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--image-batch",
        type=int,
        default=500,
        help="images per forward pass, naive and fast alike (at 1000 both pay for "
        "page faults on the 2-core VM: about 1.4x slower per image)",
    )
    ap.add_argument(
        "--configs",
        default="exhaustive:compact,racing:compact",
        help="method:engine[:precision] run at every size (precision fp32 | bf16 | auto, "
        "default fp32; racing:batched added for C <= naive-max)",
    )
    ap.add_argument(
        "--naive-random",
        action="store_true",
        help="extrapolate the naive loop from a random sample of the C seeds, "
        "each timed on its own (mean and spread reported)",
    )
    ap.add_argument(
        "--save-tables",
        action="store_true",
        help="write each fast ranking's table to results/ranking_table_<C>_<method>.csv",
    )
    ap.add_argument(
        "--order-seeds",
        default="0",
        help="racing runs once per order seed (comma-separated): its draw order",
    )
    ap.add_argument("--out", default="ranking", help="results/<out>.csv and .json")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.sizes, a.seeds, a.check_c, a.naive_sample = "20", 3, 10, 5
    torch.set_num_threads(a.threads)
    cfg, net, data = _common.demo_supernet()
    x, y = stack_split(data.val)
    rows, wall = [], time.perf_counter()

    def fast(seeds, method, engine, order_seed=0, precision="fp32"):
        return _common.timed(
            _common.fast_rank,
            net,
            x,
            y,
            seeds,
            image_batch=a.image_batch,
            rank=method,
            rank_engine=engine,
            race_order_seed=order_seed,
            precision=precision,
        )

    for c in [int(s) for s in a.sizes.split(",")]:
        seeds = list(range(c))
        n_naive = c if c <= a.naive_max else a.naive_sample
        spread = {}
        if n_naive < c and a.naive_random:
            sample = torch.randperm(c, generator=torch.Generator().manual_seed(c))[:n_naive]
            per = [
                _common.timed(
                    naive_rank,
                    net,
                    x,
                    y,
                    1,
                    base_seed=int(s),
                    batch_size=a.image_batch,
                    progress=False,
                )[1]
                for s in sample.tolist()
            ]
            per_t = torch.tensor(per, dtype=torch.float64)
            t_naive = float(per_t.sum())
            spread = dict(
                naive_seeds=" ".join(str(int(s)) for s in sample.tolist()),
                naive_sd=float(per_t.std()),
                naive_min=float(per_t.min()),
                naive_max=float(per_t.max()),
            )
            ex_winner = None
            print(
                f"naive: {n_naive} random candidates of {c}: mean {per_t.mean():.3f}s "
                f"sd {per_t.std():.3f}s min {per_t.min():.3f}s max {per_t.max():.3f}s"
            )
        else:
            naive, t_naive = _common.timed(
                naive_rank, net, x, y, n_naive, batch_size=a.image_batch, progress=False
            )
            ex_winner = best_candidate(naive) if n_naive == c else None
        t_naive_total = t_naive * c / n_naive
        rows.append(
            dict(
                C=c,
                method="naive",
                engine="masked",
                seconds=t_naive_total,
                s_per_candidate=t_naive / n_naive,
                measured_candidates=n_naive,
                extrapolated=n_naive < c,
                images=c * len(y),
                winner_val_acc=None if ex_winner is None else ex_winner["val_acc"],
                **spread,
            )
        )
        configs = [(*p.split(":"), "fp32")[:3] for p in a.configs.split(",") if p]
        if c <= a.naive_max:
            configs += [("racing", "batched", "fp32")]
        runs = [
            (m, e, p, o)
            for m, e, p in configs
            for o in ([int(v) for v in a.order_seeds.split(",")] if m == "racing" else [0])
        ]
        for method, engine, precision, order in runs:
            table, t = fast(seeds, method, engine, order, precision)
            w = best_candidate(table)
            if a.save_tables:
                suffix = f"_order{order}" if method == "racing" else ""
                table.to_csv(
                    _common.RESULTS
                    / f"ranking_table_{c}_{method}_{engine}_{precision}{suffix}.csv",
                    index=False,
                )
            if method == "exhaustive" and precision == "fp32" and ex_winner is None:
                ex_winner = w
            rows.append(
                dict(
                    C=c,
                    method=method,
                    engine=engine,
                    precision=table.attrs["precision"],
                    bf16_flip_margin=table.attrs["bf16_flip_margin"],
                    order_seed=order,
                    seconds=t,
                    s_per_candidate=t / c,
                    measured_candidates=c,
                    extrapolated=False,
                    images=int(table["evaluated_images"].sum()),
                    winner_seed=int(w["seed"]),
                    winner_val_acc=w["val_acc"],
                    speedup_vs_naive=t_naive_total / t,
                )
            )
            print(
                f"C={c:5d} {method:10s} {engine:8s} {precision} order {order} {t:8.1f}s  "
                f"{t / c:.3f}s/cand  "
                f"x{t_naive_total / t:5.2f} vs naive ({t_naive_total:.1f}s"
                f"{' extrapolated' if n_naive < c else ''})  winner {int(w['seed'])} val acc "
                f"{w['val_acc']:.4f}  images {rows[-1]['images']}",
                flush=True,
            )

    agree = []
    for s in range(a.seeds):
        seeds = list(range(1000 + s * a.check_c, 1000 + (s + 1) * a.check_c))
        ex, t_ex = fast(seeds, "exhaustive", "compact")
        ra, t_ra = fast(seeds, "racing", "compact")
        we, wr = best_candidate(ex), best_candidate(ra)
        gap = 100 * (we["val_acc"] - wr["val_acc"])
        agree.append(gap <= 0.1 + 1e-9)
        rows.append(
            dict(
                C=a.check_c,
                method="winner_check",
                engine="compact",
                seed_block=s,
                seconds=t_ra,
                exhaustive_seconds=t_ex,
                winner_val_acc=wr["val_acc"],
                exhaustive_winner_val_acc=we["val_acc"],
                gap_points=gap,
                same_winner=int(we["seed"]) == int(wr["seed"]),
                images=int(ra["evaluated_images"].sum()),
            )
        )
        print(
            f"seed block {s}: exhaustive winner {we['val_acc']:.4f} racing winner "
            f"{wr['val_acc']:.4f} gap {gap:.2f} points; racing {t_ra:.1f}s vs {t_ex:.1f}s"
        )
    print(f"racing within 0.1 points of the exhaustive winner in {sum(agree)}/{len(agree)} seeds")
    _common.write_results(
        a.out,
        rows,
        {"args": vars(a), "wall_seconds": time.perf_counter() - wall, "val_images": len(y)},
    )


if __name__ == "__main__":
    main()
