"""Dropout-site overhead: one training step of the demo supernet with learned sites (relaxed
masks + the Eq. 15 regulariser) vs the same network with its sites switched off, and with
the sites removed (replaced by identities); each in eager mode and under torch.compile (what
``train.compile=true`` runs). Interleaved repeats; medians and ratios within each mode.

    python benchmarks/bench_site_overhead.py [--quick] [--batch 128] [--repeats 30] [--no-compile]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from pgnas_core.supernets import create_supernet
from pgnas_core.train.loss import regulariser

import _common


def strip_sites(net):
    """A copy of ``net`` whose dropout sites are identities (the net without sites)."""
    from pgnas_core.nn.sites import DropoutSite

    plain = copy.deepcopy(net)
    for _, m in list(plain.named_modules()):
        for _, child in list(m.named_children()):
            if isinstance(child, nn.ModuleList):
                for i, c in enumerate(child):
                    if isinstance(c, DropoutSite):
                        child[i] = nn.Identity()
    return plain


def step_fn(net, x, y, mode, compiled=False):
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    forward = torch.compile(net, dynamic=False) if compiled else net

    def step():
        logits = forward(x)
        loss = F.cross_entropy(logits, y)
        if mode == "relaxed":
            loss = loss + regulariser(net, 50.0, "coupled").total / 8000
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--no-compile",
        dest="compile",
        action="store_false",
        help="skip the torch.compile variants (they take about a minute to compile)",
    )
    a = ap.parse_args(argv)
    if a.quick:
        a.repeats = 8
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    wall = time.perf_counter()
    net = create_supernet("supnet_m_small").train()
    net.set_site_mode("relaxed")
    off = copy.deepcopy(net)
    off.set_site_mode("off")
    plain = strip_sites(off)
    x, y = torch.randn(a.batch, 1, 28, 28), torch.randint(0, 10, (a.batch,))
    variants = {
        "sites_relaxed": step_fn(net, x, y, "relaxed"),
        "sites_relaxed_no_regulariser": step_fn(net, x, y, "relaxed_noreg"),
        "sites_off": step_fn(off, x, y, "off"),
        "sites_removed": step_fn(plain, x, y, "off"),
    }
    if a.compile:  # separate copies: a compiled module keeps its own guards
        cnet, cplain = copy.deepcopy(net), copy.deepcopy(plain)
        variants["compiled_sites_relaxed"] = step_fn(cnet, x, y, "relaxed", compiled=True)
        variants["compiled_sites_removed"] = step_fn(cplain, x, y, "off", compiled=True)
    for k, f in variants.items():  # warm-up (and compilation)
        tic = time.perf_counter()
        f(), f()
        print(f"warm-up {k}: {time.perf_counter() - tic:.1f}s", flush=True)
    times = {k: [] for k in variants}
    for _ in range(a.repeats):
        for k, f in variants.items():  # interleaved: drifts of the shared machine hit all alike
            tic = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - tic)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = []
    for k in variants:
        base = "compiled_sites_removed" if k.startswith("compiled_") else "sites_removed"
        rows.append(
            dict(
                variant=k,
                batch=a.batch,
                median_step_s=med[k],
                min_step_s=min(times[k]),
                baseline=base,
                overhead_vs_removed=med[k] / med[base] - 1,
            )
        )
    for r in rows:
        print(
            f"{r['variant']:30s} median {1000 * r['median_step_s']:7.1f} ms/step  "
            f"overhead vs {r['baseline']} {100 * r['overhead_vs_removed']:+6.1f}%"
        )
    _common.write_results(
        "site_overhead", rows, {"args": vars(a), "wall_seconds": time.perf_counter() - wall}
    )


if __name__ == "__main__":
    main()
