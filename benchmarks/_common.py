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

    return resolve_config("demo", None, ["train.device=cpu", "method.baselines=[]", *overrides])


def training(cfg, out: Path):
    """A :class:`pgnas_core.train.loop.Training` of ``cfg``'s method writing under ``out``,
    built as a search builds it (epochs are then run one by one with ``train_epoch``)."""
    from pgnas_core.data import load_data
    from pgnas_core.methods import create_method
    from pgnas_core.run.run_dir import MethodDir
    from pgnas_core.train.loop import Training

    data = load_data(cfg.data)
    method = create_method(cfg.method.name, cfg)
    files = MethodDir(out, method.name).training_files(method)
    return Training(method, data, cfg.train, cfg.data, files, progress=False, on_step=None)


def demo_supernet(device: str = "cpu", progress: bool = False):
    """(cfg, net, data): the demo supernet trained once (``pgnas train``, cached) and its data
    splits, loaded back like every trained run (``load_supernet``)."""
    from pgnas_core.data import load_data
    from pgnas_core.run.pipeline import search
    from pgnas_core.run.run_dir import load_supernet

    cfg = demo_config()
    data = load_data(cfg.data)
    if not (DEMO_DIR / "done").exists():
        tic = time.perf_counter()
        search(cfg, DEMO_DIR, resume=True, progress=progress, steps=("train",))
        (DEMO_DIR / "done").write_text("trained\n")
        print(
            f"trained the demo supernet in {time.perf_counter() - tic:.0f}s (cached in {DEMO_DIR})"
        )
    net, _ = load_supernet(DEMO_DIR, device=device)
    return cfg, net, data


def fast_rank(
    net, x, y, seeds, image_batch: int = 500, x_train=None, recal_batch_size: int = 128, **fields
):
    """The fast ranker with its settings given as ``search.*`` fields (SearchConfig)."""
    from pgnas_core.rank import SearchConfig, rank_candidates

    return rank_candidates(
        net,
        x,
        y,
        seeds,
        SearchConfig(**fields),
        image_batch=image_batch,
        x_train=x_train,
        recal_batch_size=recal_batch_size,
        progress=False,
    )


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
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
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
