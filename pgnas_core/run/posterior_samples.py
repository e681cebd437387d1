"""Architectures drawn from a trained BaLeNAS run's Gaussian, scored every way the toolkit
knows, and the selection study of BaLeNAS-TF (docs/method_siblings.md section 6: TF selection beats
argmax and improves with K) -- the numbers behind notebook 10."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import load_data
from ..methods.registry import create_method
from ..rank.proxies import PROXIES
from .run_dir import RunDir, load_supernet


def score_posterior_samples(
    run_dir: str | Path,
    k: int = 100,
    proxies: Sequence[str] = PROXIES,
    scratch_epochs: int = 0,
    cache: Path | None = None,
) -> pd.DataFrame:
    """K architectures drawn from the run's q(alpha) (argmax per edge of a draw), one row
    each: every proxy (at initialisation, one batch of training images), validation and
    test accuracy with the supernet's weights and, with ``scratch_epochs``, test accuracy
    after training from fresh weights (test for reporting only); then one row ``sample =
    -1`` for the argmax of mu, BaLeNAS's own choice. ``cache``: a CSV to reuse."""
    if cache is not None and Path(cache).is_file():
        return pd.read_csv(cache, dtype={"archid": str})
    cfg = RunDir(run_dir).read_config()
    net, method = load_supernet(run_dir)
    method.require("posterior_samples", "scoring posterior samples")
    data = load_data(cfg.data)
    table = method.score_samples(net, data, k, proxies, True, True, scratch_epochs)
    derived = method.derived_from(net, data, method.argmax_architecture(net))
    from ..data import stack_split
    from ..train.evaluation import evaluate

    test = evaluate(derived.compact, *stack_split(data.test), cfg.data.eval_batch_size)["acc"]
    argmax = {
        "sample": -1,
        "archid": derived.architecture.archid,
        "val_acc": derived.selection["val_acc"],
        "test_acc": test,
    }
    if scratch_epochs > 0:
        argmax["test_acc_scratch"] = method.scratch_accuracy(derived.compact, data, scratch_epochs)
    table = pd.concat([table, pd.DataFrame([argmax])], ignore_index=True)
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(cache, index=False)
    return table


def selection_study(
    table: pd.DataFrame,
    counts: Sequence[int],
    score: str,
    repeats: int = 50,
    seed: int = 0,
    target: str = "test_acc",
) -> pd.DataFrame:
    """For each K in ``counts``, ``repeats`` random subsets of K of the drawn architectures
    (rows with ``sample >= 0``); the one with the highest ``score`` (a proxy, or val_acc)
    is selected, and its ``target`` (a test accuracy) recorded. One row per (K, repeat)."""
    drawn = table[table["sample"] >= 0].reset_index(drop=True)
    n = len(drawn)
    bad = [c for c in counts if not 1 <= int(c) <= n]
    if bad:
        raise ValueError(f"counts {bad} outside 1..{n} (the table has {n} drawn architectures)")
    rng = np.random.default_rng(seed)
    rows = []
    for c in counts:
        for r in range(repeats):
            pick = drawn.iloc[rng.choice(n, size=int(c), replace=False)]
            best = pick.sort_values([score, "sample"], ascending=[False, True]).iloc[0]
            rows.append(
                {
                    "k": int(c),
                    "repeat": r,
                    "score": score,
                    "sample": int(best["sample"]),
                    target: float(best[target]),
                }
            )
    return pd.DataFrame(rows)


def epoch_architectures(run_dir: str | Path, scratch_epochs: int = 0) -> pd.DataFrame:
    """The argmax architecture of every epoch of a DARTS / BaLeNAS run (derived.csv), one row
    per epoch: its operations, parameter-free fraction, the inherited-weight validation
    accuracy the run logged and, with ``scratch_epochs``, its test accuracy after training from
    fresh weights (each distinct architecture trained once)."""
    run = RunDir(run_dir)
    cfg = run.read_config()
    create_method(cfg.method.name, cfg).require(
        "epoch_architectures", "the per-epoch architectures"
    )  # before reading tables that only those methods write
    where = run.method_dir(cfg.method.name, cfg.method.name)
    derived = pd.read_csv(where.table("derived"))
    history = pd.read_csv(where.history).set_index("epoch")
    net, method = load_supernet(run_dir)
    data = load_data(cfg.data) if scratch_epochs > 0 else None
    rows, scratch = [], {}
    for epoch, d in derived.groupby("epoch"):
        chosen = [list(g["op"]) for _, g in d.groupby("group")]
        arch = net.architecture_from_ops(chosen)
        ops = [op for row in chosen for op in row]
        row = {
            "epoch": int(epoch),
            "archid": arch.archid,
            "ops": " ".join(chosen[0]),
            "param_free_fraction": sum(o in net.space.param_free for o in ops) / len(ops),
            "val_acc_inherited": history["val_acc"].get(epoch),
        }
        if scratch_epochs > 0:
            if arch.archid not in scratch:
                from ..rank import export_subnet

                method.bind_data(data)
                with method.derived_mode(net, arch):
                    compact = export_subnet(net, arch)
                scratch[arch.archid] = method.scratch_accuracy(compact, data, scratch_epochs)
            row["test_acc_scratch"] = scratch[arch.archid]
        rows.append(row)
    return pd.DataFrame(rows)
