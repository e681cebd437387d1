"""How cost grows: ranking time vs C and vs validation size, training step vs supernet width.

Each series is fitted with a line (seconds = a + b * x) and in log-log (exponent k of
seconds ~ x^k); the slope b is the marginal cost (s per candidate, s per image, ...).
Ranking uses the fast ranker, exhaustive, compact engine (the CPU's ``auto``).

    python benchmarks/bench_scaling.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from pgnas_core.data import stack_split
from pgnas_core.supernets import create_supernet

import _common


def fit(xs, ts) -> dict:
    xs, ts = np.asarray(xs, float), np.asarray(ts, float)
    b, a = np.polyfit(xs, ts, 1)
    k = np.polyfit(np.log(xs), np.log(ts), 1)[0]
    return {"intercept_s": a, "slope": b, "loglog_exponent": k}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cs", default="5,10,20,40")
    ap.add_argument("--val-sizes", default="250,500,1000,2000")
    ap.add_argument("--val-c", type=int, default=8)
    ap.add_argument("--widths", default="0.5,1,1.5,2")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.cs, a.val_sizes, a.val_c, a.widths = "4,8,16", "250,500,1000", 4, "0.5,1,2"
    torch.set_num_threads(a.threads)
    wall = time.perf_counter()
    cfg, net, data = _common.demo_supernet()
    x, y = stack_split(data.val)
    opts = dict(rank="exhaustive", rank_engine="compact", image_batch=250)
    rows, fits = [], {}

    cs = [int(c) for c in a.cs.split(",")]
    ts = [_common.timed(_common.fast_rank, net, x, y, range(c), **opts)[1] for c in cs]
    rows += [dict(series="rank_vs_C", x=c, seconds=t, val_images=len(y)) for c, t in zip(cs, ts)]
    fits["rank_vs_C (s per candidate)"] = fit(cs, ts)

    ns = [int(n) for n in a.val_sizes.split(",")]
    ts = [
        _common.timed(_common.fast_rank, net, x[:n], y[:n], range(a.val_c), **opts)[1] for n in ns
    ]
    rows += [dict(series="rank_vs_val_size", x=n, seconds=t, C=a.val_c) for n, t in zip(ns, ts)]
    fits["rank_vs_val_size (s per image, C candidates)"] = fit(ns, ts)

    mults = [float(w) for w in a.widths.split(",")]
    xb, yb = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
    ts, params = [], []
    for m in mults:
        torch.manual_seed(0)
        w = tuple(max(1, round(m * c)) for c in (16, 32, 64))
        model = create_supernet("supnet_m_small", widths=w).train()
        model.set_site_mode("relaxed")
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        steps = []
        for i in range(6):
            tic = time.perf_counter()
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i >= 1:
                steps.append(time.perf_counter() - tic)
        ts.append(statistics.median(steps))
        params.append(sum(p.numel() for p in model.parameters()))
        rows.append(
            dict(
                series="train_step_vs_width",
                x=m,
                seconds=ts[-1],
                widths=str(w),
                params=params[-1],
                batch=128,
            )
        )
    fits["train_step_vs_width (s per width multiple)"] = fit(mults, ts)
    fits["train_step_vs_params (s per parameter)"] = fit(params, ts)
    for name, f in fits.items():
        print(
            f"{name:48s} slope {f['slope']:.3g}  intercept {f['intercept_s']:.3g}s  "
            f"log-log exponent {f['loglog_exponent']:.2f}"
        )
    for r in rows:
        print(f"  {r['series']:22s} x={r['x']:<7} {r['seconds']:.3f}s")
    _common.write_results(
        "scaling", rows, {"args": vars(a), "fits": fits, "wall_seconds": time.perf_counter() - wall}
    )


if __name__ == "__main__":
    main()
