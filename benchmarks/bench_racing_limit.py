"""How far can racing go? Per-image outcomes of C candidates, and the least work any sound
paired test could do with them.

For every candidate i and the exhaustive best b, the paired differences d = c_b - c_i over
the split are known here. An oracle that knew b in advance and tested each candidate
against it at the racing z (one-sided, finite-population corrected) would still need n_i
images to drop i: the smallest n with ``mean(d) > z * sd(d) * sqrt((N - n) / (N - 1) / n)``.
The script reports the oracle's mean n_i / N (a floor for racing's image-evaluations on
this candidate population), the same floor if the oracle also knew which images any
candidate disagrees on, and how the disagreements concentrate in the posterior-mean
network's low-margin images (what the stratified draws use).

    python benchmarks/bench_racing_limit.py [--candidates 400] [--z 2.33]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from pgnas_core.data import stack_split
from pgnas_core.rank.engines import evaluation_copy, module_outcomes, stem_features
from pgnas_core.rank.export import export_subnet
from pgnas_core.rank.race import image_margins
from pgnas_core.rank.sampling import sample_architecture

import _common


def outcome_matrix(net, x, y, count: int, image_batch: int = 500) -> torch.Tensor:
    """(count, N) per-image correctness of candidates 0..count-1 (compact engine)."""
    stem = stem_features(net, x, image_batch)
    rows = []
    for seed in range(count):
        arch = sample_architecture(net, seed)
        net.apply_architecture(arch)
        ev = evaluation_copy(net, export_subnet(net, arch), from_stem=True)
        rows.append(module_outcomes(ev, stem, y, image_batch).correct[0])
    net.set_site_mode("mean")
    return torch.stack(rows)


def oracle_images(d: torch.Tensor, z: float) -> int:
    """Least n at which a z-sigma paired test (with FPC) separates mean(d) > 0 from 0."""
    n_all = len(d)
    g, sd = float(d.double().mean()), float(d.double().std(unbiased=False))
    if g <= 0:
        return n_all
    for n in range(2, n_all + 1):
        if g > z * sd * math.sqrt((n_all - n) / max(n_all - 1, 1) / n):
            return n
    return n_all


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=400)
    ap.add_argument(
        "--z",
        type=float,
        default=2.33,
        help="racing's per-round z (delta 0.05, 5 testing rounds at N = 2,000)",
    )
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    wall = time.perf_counter()
    cfg, net, data = _common.demo_supernet()
    x, y = stack_split(data.val)
    correct = outcome_matrix(net, x, y, a.candidates)
    n = correct.shape[1]
    c = correct.double()
    best = int(torch.argmax(c.sum(1)))
    q = c.mean(0)
    contested = (q > 0) & (q < 1)
    floors = [oracle_images(c[best] - c[i], a.z) for i in range(len(c)) if i != best]
    floors_contested = [
        oracle_images((c[best] - c[i])[contested], a.z) * 1.0 for i in range(len(c)) if i != best
    ]
    with net.site_mode("mean"), torch.no_grad():
        logits = torch.cat([net(x[i : i + 500]) for i in range(0, n, 500)])
    order = torch.argsort(image_margins(logits, y), stable=True)  # lowest margin first
    share = 2 * q * (1 - q)  # chance two random candidates disagree on the image
    cum = share[order].cumsum(0) / share.sum()
    rows = [
        dict(
            candidates=len(c),
            val_images=n,
            z=a.z,
            oracle_image_fraction=sum(floors) / (len(floors) * n),
            oracle_contested_image_fraction=sum(floors_contested) / (len(floors) * n),
            contested_images=int(contested.sum()),
            disagreement_in_lowest_10pct=float(cum[n // 10 - 1]),
            disagreement_in_lowest_30pct=float(cum[3 * n // 10 - 1]),
        )
    ]
    for k, v in rows[0].items():
        print(f"{k:34s} {v:.3f}" if isinstance(v, float) else f"{k:34s} {v}")
    _common.write_results(
        "racing_limit", rows, {"args": vars(a), "wall_seconds": time.perf_counter() - wall}
    )


if __name__ == "__main__":
    main()
