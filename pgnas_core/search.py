"""Algorithm 1 end to end, into a run directory.

    out/  config.yaml  environment.json  history.csv  keep_probs.csv  checkpoints/
          candidates.csv  best.json  subnet/{arch.json, weights.pt}  summary.json
          random/  (the same for the Random baseline, when enabled)
"""
from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from .architecture import Architecture
from .config import RunConfig
from .data import load_data, stack_split
from .data.checks import check_data_fits
from .device import describe_device, resolve_device
from .errors import PgnasError
from .evaluation import evaluate
from .export import export_subnet, save_subnet
from .finetune import finetune
from .flops import count_params
from .distributed import barrier, context, rank_sharded
from .fast_ranking import PARTIAL_FILE, RankOptions, fast_rank_candidates, remove_partial
from .ranking import best_candidate
from .sampling import candidate_seeds
from .train import load_trained_supernet, train_supernet

CANDIDATES_FILE, BEST_FILE, SUMMARY_FILE, SUBNET_DIR = (
    "candidates.csv", "best.json", "summary.json", "subnet")
RANDOM_DIR = "random"


def prepare_run_dir(out: Path, cfg: RunConfig, resume: bool) -> Path:
    """Create ``out`` with the resolved config; never overwrite an existing run silently."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not resume:
        raise PgnasError(f"run directory {out} already holds a run: resume it with --resume, "
                         f"or choose another --out")
    barrier()  # every rank has checked before rank 0 writes
    if not context().is_main:
        barrier()
        return out
    out.mkdir(parents=True, exist_ok=True)
    if context().enabled:
        barrier()  # pairs with the other ranks' wait: the folder exists now
    if resume and (out / "config.yaml").exists():
        return out
    (out / "config.yaml").write_text(cfg.to_yaml())
    (out / "environment.json").write_text(json.dumps(environment_info(cfg), indent=1))
    return out


def environment_info(cfg: RunConfig) -> dict:
    """What is needed to trust and redo a run: code version, library versions, hardware."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    from . import __version__
    return {"pgnas": __version__, "git_commit": commit or None, "torch": torch.__version__,
            "python": platform.python_version(),
            "device": describe_device(resolve_device(cfg.train.device)),
            "seed": cfg.train.seed, "search_seed": cfg.search.seed}


def _partial_path(out: Path, rank: int, world_size: int) -> Path:
    if world_size == 1:
        return out / PARTIAL_FILE
    return out / PARTIAL_FILE.replace(".csv", f".rank{rank}of{world_size}.csv")


def _rank_resumable(cfg: RunConfig, net, x_val, y_val, out: Path, progress: bool,
                    x_train=None):
    """Score the candidates (search.rank: exhaustive or racing; search.rank_engine),
    appending finished rows to candidates.partial.csv, so a killed ranking resumes where it
    stopped; under torchrun each rank ranks its share of the seeds."""
    s = cfg.search
    seeds = candidate_seeds(s.candidates, s.seed)
    options = RankOptions(method=s.rank, engine=s.rank_engine,
                          candidates_per_pass=s.candidates_per_pass,
                          image_batch=cfg.data.eval_batch_size, first_chunk=s.race_first_chunk,
                          growth=s.race_growth, strata=s.race_strata, delta=s.race_delta,
                          bn_recalibration_batches=s.bn_recalibration_batches,
                          bn_recalibration_batch_size=cfg.data.batch_size)

    def shard(part, rank, world_size):
        return fast_rank_candidates(net, x_val, y_val, part, cfg.search.seed, options,
                                    x_train=x_train,
                                    partial_path=_partial_path(out, rank, world_size),
                                    progress=progress and rank == 0)

    return rank_sharded(shard, seeds)


def rank_and_export(cfg: RunConfig, net, data, out: Path, progress: bool = True) -> dict:
    """Rank C posterior samples on the validation split, export the winner, report its test
    accuracy. Writes candidates.csv, best.json and subnet/; returns the best.json record."""
    out = Path(out)
    device = next(net.parameters()).device
    x_val, y_val = stack_split(data.val)
    x_test, y_test = stack_split(data.test)
    tic = time.perf_counter()
    x_train = (stack_split(data.train)[0] if cfg.search.bn_recalibration_batches > 0
               else None)  # un-augmented training images for BN recalibration
    table = _rank_resumable(cfg, net, x_val.to(device), y_val.to(device), out, progress,
                            x_train)
    rank_seconds = time.perf_counter() - tic
    if not context().is_main:  # rank 0 alone exports and writes
        net.set_site_mode("mean")
        return {}
    table.to_csv(out / CANDIDATES_FILE, index=False)
    for partial in out.glob(PARTIAL_FILE.replace(".csv", "*.csv")):  # rank shards too
        remove_partial(partial)
    best = best_candidate(table)
    from .fast_ranking import export_candidate
    compact, arch = export_candidate(net, int(best["seed"]), x_train,
                                     cfg.search.bn_recalibration_batches, cfg.data.batch_size)
    topk = _topk(data.info)
    masked_test = evaluate(net, x_test, y_test, cfg.data.eval_batch_size, topk)  # hard mode
    compact_test = evaluate(compact, x_test, y_test, cfg.data.eval_batch_size, topk)
    record = {
        "candidate": int(best["candidate"]), "seed": int(best["seed"]), "archid": arch.archid,
        "val_acc": float(best["val_acc"]), "val_loss": float(best["val_loss"]),
        "test_acc": compact_test["acc"], "test_acc_masked_supernet": masked_test["acc"],
        "params": count_params(compact), "flops": int(best["flops"]),
        "channel_drop": arch.channel_drop_proportion,
        "operation_drop": arch.operation_drop_proportion,
        "candidates": len(table), "rank_seconds": rank_seconds,
    }
    if "top5" in compact_test:  # ImageNet-style reporting (Table 8)
        record["test_top5"] = compact_test["top5"]
    if cfg.search.finetune_epochs > 0:
        finetune(compact, data.train, cfg.search.finetune_epochs, cfg.train.lr,
                 cfg.data.batch_size, cfg.train.seed, progress=progress)
        record["test_acc_finetuned"] = evaluate(compact, x_test, y_test)["acc"]
    save_subnet(out / SUBNET_DIR, compact, arch, tuple(x_val.shape[1:]),
                val_acc=record["val_acc"], test_acc=record["test_acc"])
    (out / BEST_FILE).write_text(json.dumps(record, indent=1))
    (out / SUBNET_DIR / "architecture.json").write_text(arch.to_json())
    net.set_site_mode("mean")
    return record


def supernet_report(cfg: RunConfig, net, data) -> dict:
    """Test accuracy of the posterior-mean supernet and its size."""
    x_test, y_test = stack_split(data.test)
    with net.site_mode("mean"):
        test = evaluate(net, x_test, y_test, cfg.data.eval_batch_size, _topk(data.info))
    report = {"test_acc": test["acc"], "params": count_params(net),
              "mean_keep": sum(net.keep_probs().values()) / len(net.sites())}
    if "top5" in test:
        report["test_top5"] = test["top5"]
    return report


def _topk(info) -> tuple[int, ...]:
    """Top-1, and top-5 where there are at least 5 classes (the paper's ImageNet tables)."""
    return (1, 5) if info.num_classes >= 5 else (1,)


def run_method(cfg: RunConfig, data, out: Path, method: str, resume: bool, progress: bool,
               steps: tuple[str, ...] = ("train", "rank")) -> dict:
    out = Path(out)
    tic = time.perf_counter()
    if "train" in steps:
        net = train_supernet(cfg, data, out, method, resume=resume, progress=progress)
    else:
        net = load_trained_supernet(cfg, data.info, out, method)
    train_seconds = time.perf_counter() - tic
    result = {"method": method, "supernet": supernet_report(cfg, net, data),
              "train_seconds": train_seconds}
    if "rank" in steps:
        result["best"] = rank_and_export(cfg, net, data, out, progress)
    return result


def search(cfg: RunConfig, out: Path, resume: bool = False, progress: bool = True,
           steps: tuple[str, ...] = ("train", "rank")) -> dict:
    """Train, rank and export (PGNAS, and the Random baseline if enabled); write summary.json."""
    cfg.validate()
    out = prepare_run_dir(out, cfg, resume or steps != ("train", "rank"))
    tic = time.perf_counter()
    data = load_data(cfg.data)
    check_data_fits(cfg, data)
    summary = {"config": cfg.supernet.name, "dataset": data.info.name,
               "sizes": {"train": len(data.train), "val": len(data.val), "test": len(data.test)},
               "device": describe_device(resolve_device(cfg.train.device))}
    summary["pgnas"] = run_method(cfg, data, out, cfg.posterior.method, resume, progress, steps)
    if cfg.search.random_baseline and cfg.posterior.method == "pgnas":
        summary["random"] = run_method(cfg, data, out / RANDOM_DIR, "random", resume, progress,
                                       steps)
    summary["wall_seconds"] = time.perf_counter() - tic
    if context().is_main:
        (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    return summary


def load_best_architecture(run_dir: Path) -> Architecture:
    return Architecture.from_json((Path(run_dir) / SUBNET_DIR / "architecture.json").read_text())


def format_summary(summary: dict) -> str:
    """A few lines for the terminal: winner vs supernet vs Random baseline."""
    lines = [f"dataset {summary['dataset']} {summary['sizes']}, device {summary['device']}"]
    for key in ("pgnas", "random"):
        if key not in summary:
            continue
        r = summary[key]
        sup = r["supernet"]
        line = (f"{key:>6}: supernet test acc {sup['test_acc']:.4f} ({sup['params']:,} params, "
                f"mean keep {sup['mean_keep']:.3f}), trained in {r['train_seconds']:.0f}s")
        lines.append(line)
        if "best" in r:
            b = r["best"]
            lines.append(f"        winner of {b['candidates']} candidates: val acc "
                         f"{b['val_acc']:.4f}, test acc {b['test_acc']:.4f}, "
                         f"{b['params']:,} params, channels dropped {b['channel_drop']:.2f}, "
                         f"ops dropped {b['operation_drop']:.2f} (ranked in "
                         f"{b['rank_seconds']:.0f}s)")
    lines.append(f"wall time {summary['wall_seconds']:.0f}s")
    return "\n".join(lines)
