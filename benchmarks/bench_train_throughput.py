"""Training throughput and peak memory of a supernet's PGNAS step (relaxed masks + Eq. 15),
eager and under torch.compile, in fp32 and in bf16 autocast (where the device has native
bf16: ``train.precision``), on the current device (CUDA when there is one).

CIFAR cannot exist offline here, so the inputs are random tensors of the supernet's input
size and channels (32x32x3 for SupNet-M): the step's cost does not depend on the pixel values.

    python benchmarks/bench_train_throughput.py                        # SupNet-M, batch 128
    python benchmarks/bench_train_throughput.py --supernet supnet_m_small --steps 20
    python benchmarks/bench_train_throughput.py --precisions fp32,bf16 --no-compile
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
import torch.nn.functional as F

from pgnas_core.supernets import create_supernet
from pgnas_core.supernets.registry import supernet_entry
from pgnas_core.train.loss import regulariser
from pgnas_core.train.precision import autocast, bf16_capability, resolve_precision

import _common


def peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB


def measure(
    name: str,
    device: torch.device,
    batch: int,
    steps: int,
    warmup: int,
    compiled: bool,
    precision: str = "fp32",
) -> dict:
    torch.manual_seed(0)
    net = create_supernet(name).to(device).train()
    net.set_site_mode("relaxed")
    forward = torch.compile(net, dynamic=False) if compiled else net
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    channels = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d)).in_channels
    size = supernet_entry(name).input_size
    x = torch.randn(batch, channels, size, size, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step():
        with autocast(precision, device):  # as the training loop: the forward only
            logits = forward(x)
        loss = F.cross_entropy(logits.float(), y) + regulariser(net, 50.0).total / 50_000
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    tic = time.perf_counter()
    for _ in range(warmup):
        step()
    sync()
    warm = time.perf_counter() - tic
    times = []
    for _ in range(steps):
        tic = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - tic)
    med = statistics.median(times)
    return dict(
        supernet=name,
        device=str(device),
        compiled=compiled,
        precision=precision,
        batch=batch,
        steps=steps,
        warmup_s=warm,
        median_step_s=med,
        images_per_s=batch / med,
        peak_memory_gb=peak_memory_gb(device),
        params_m=sum(p.numel() for p in net.parameters()) / 1e6,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--supernet", default="supnet_m")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-compile", dest="compile", action="store_false")
    ap.add_argument("--precisions", default="fp32,auto", help="fp32, bf16, auto (comma-separated)")
    ap.add_argument("--quick", action="store_true", help="supnet_m_small, 5 steps")
    a = ap.parse_args(argv)
    if a.quick:
        a.supernet, a.steps = "supnet_m_small", 5
    torch.set_num_threads(a.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    wall = time.perf_counter()
    rows = []
    precisions = list(
        dict.fromkeys(
            resolve_precision(p, device, "--precisions") for p in a.precisions.split(",") if p
        )
    )
    print(bf16_capability(device))
    for compiled, precision in [
        (c, p) for c in ([False, True] if a.compile else [False]) for p in precisions
    ]:
        r = measure(a.supernet, device, a.batch, a.steps, a.warmup, compiled, precision)
        rows.append(r)
        print(
            f"{r['supernet']} on {r['device']} {'compiled' if compiled else 'eager   '} "
            f"{precision}: "
            f"{r['images_per_s']:8.1f} images/s ({1000 * r['median_step_s']:.1f} ms/step, "
            f"batch {a.batch}), peak memory {r['peak_memory_gb']:.2f} GB, warm-up "
            f"{r['warmup_s']:.1f}s",
            flush=True,
        )
    _common.write_results(
        "train_throughput",
        rows,
        {
            "args": vars(a),
            "bf16": bf16_capability(device),
            "wall_seconds": time.perf_counter() - wall,
        },
    )


if __name__ == "__main__":
    main()
