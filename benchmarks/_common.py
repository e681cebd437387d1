"""Shared helpers of the benchmark scripts: the cached demo supernet, machine info, CSV output.

The demo supernet (`supnet_m_small`, preset `demo`, Fashion-MNIST) is trained once and cached
under ``benchmarks/results/demo_supernet/`` (gitignored); later scripts load its checkpoint.
"""
from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import pandas as pd
import torch

RESULTS = Path(__file__).resolve().parent / "results"
DEMO_DIR = RESULTS / "demo_supernet"


def demo_config(overrides: tuple[str, ...] = ()):
    from pgnas_core.config import resolve_config
    return resolve_config("demo", None, ["train.device=cpu", *overrides])


def demo_supernet(device: str = "cpu", progress: bool = False):
    """(cfg, net, data): the demo supernet trained once (cached) and its data splits."""
    from pgnas_core.checkpoint import latest_checkpoint
    from pgnas_core.data import load_data
    from pgnas_core.train import load_trained_supernet, train_supernet

    cfg = demo_config()
    data = load_data(cfg.data)
    if latest_checkpoint(DEMO_DIR / "checkpoints") is not None and (DEMO_DIR / "done").exists():
        return cfg, load_trained_supernet(cfg, data.info, DEMO_DIR, "pgnas").to(device), data
    tic = time.perf_counter()
    net = train_supernet(cfg, data, DEMO_DIR, "pgnas", resume=True, progress=progress)
    (DEMO_DIR / "done").write_text("trained\n")
    print(f"trained the demo supernet in {time.perf_counter() - tic:.0f}s (cached in {DEMO_DIR})")
    return cfg, net.to(device).eval(), data


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_results(name: str, rows: list[dict], meta: dict) -> Path:
    """``results/<name>.csv`` (one row per measurement) and ``results/<name>.json`` (meta)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), **meta}, indent=1))
    print(f"wrote {path}")
    return path


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(result of the last call, best wall seconds over ``repeat`` calls)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        tic = time.perf_counter()
        out = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - tic)
    return out, best
