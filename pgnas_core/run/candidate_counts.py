"""Table 6 (the number of candidates C): rank many posterior samples of a trained run, scoring
each on the test split too (for reporting; selection stays on validation), then resample
C-candidate subsets and keep each subset's winner."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .run_dir import RunDir


def rank_with_test(
    run_dir: Path,
    count: int,
    base_seed: int = 0,
    method: str = "pgnas",
    cache: Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """The candidate table of ``count`` posterior samples of a trained run, ranked on the
    validation split by :func:`pgnas_core.rank.rank_candidates` (every candidate on every
    image), with each candidate's ``test_acc`` added, scored the same way on the test split.

    The test column is for reporting (Table 6 reports the test error of the winner of C
    candidates); selection must still use ``val_acc``. ``cache``: a CSV to reuse or write.
    """
    if cache is not None and Path(cache).is_file():
        table = pd.read_csv(cache, dtype={"archid": str})
        if len(table) >= count:
            return table.head(count)
    from ..data import load_data, stack_split
    from ..rank import candidate_seeds, rank_candidates
    from .run_dir import load_supernet

    cfg = RunDir(run_dir).read_config()
    data = load_data(cfg.data)
    net, _ = load_supernet(run_dir, method)
    search_cfg = dataclasses.replace(cfg.search, rank="exhaustive", seed=base_seed)
    seeds = candidate_seeds(count, base_seed)
    kw = dict(image_batch=cfg.data.eval_batch_size, progress=progress)
    if search_cfg.bn_recalibration_batches > 0:
        kw.update(x_train=stack_split(data.train)[0], recal_batch_size=cfg.data.batch_size)
    table = rank_candidates(net, *stack_split(data.val), seeds, search_cfg, **kw)
    test = rank_candidates(net, *stack_split(data.test), seeds, search_cfg, **kw)
    table["test_acc"] = test["val_acc"].to_numpy()  # the same candidates, in the same order
    table = table.drop(columns=["evaluated_images", "eliminated_round"])
    if cache is not None:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(cache, index=False)
    return table


def candidates_study(
    candidates: pd.DataFrame, counts: Sequence[int], repeats: int = 20, seed: int = 0
) -> pd.DataFrame:
    """Table 6 by resampling: for each C in ``counts``, ``repeats`` times draw C candidates
    without replacement from a ranked table, keep the best by validation accuracy (ties: lower
    val loss, then fewer params, as :func:`pgnas_core.rank.best_candidate`), and record
    the winner. One row per (C, repeat) with ``error = 1 - test_acc`` when the table has a
    test column, else ``1 - val_acc``."""
    from ..rank import best_candidate

    n = len(candidates)
    if n == 0:
        raise ValueError("candidates_study needs a non-empty candidate table")
    too_big = [c for c in counts if not 1 <= int(c) <= n]
    if too_big:
        raise ValueError(f"counts {too_big} outside 1..{n} (the table has {n} candidates)")
    score = "test_acc" if "test_acc" in candidates.columns else "val_acc"
    rng = np.random.default_rng(seed)
    rows = []
    for c in counts:
        for r in range(repeats):
            pick = candidates.iloc[rng.choice(n, size=int(c), replace=False)]
            best = best_candidate(pick)
            rows.append(
                {
                    "candidates": int(c),
                    "repeat": r,
                    "seed": int(best["seed"]),
                    "val_acc": float(best["val_acc"]),
                    "score": score,
                    "test_acc": float(best[score]),
                    "error": 1.0 - float(best[score]),
                    "params": int(best["params"]),
                }
            )
    return pd.DataFrame(rows)


def summarise_study(study: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread of the winner's error per C (one row per C)."""
    g = study.groupby("candidates")
    return pd.DataFrame(
        {
            "error_mean": g["error"].mean(),
            "error_std": g["error"].std(ddof=1),
            "val_acc_mean": g["val_acc"].mean(),
            "params_mean": g["params"].mean(),
            "repeats": g.size(),
        }
    ).reset_index()
