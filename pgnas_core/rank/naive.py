"""The plain ranking loop (Algorithm 1, step 3, as the paper's code does it): one candidate
at a time, the masked supernet on the whole validation split.

It is the reference the fast ranker (:mod:`pgnas_core.rank.ranker`) is tested and
benchmarked against; a search uses the fast one.
"""

from __future__ import annotations

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..train.evaluation import evaluate
from .candidates import CANDIDATE_COLUMNS, SizeCache, architecture_columns
from .sampling import candidate_seeds, sample_architecture


def naive_rank(
    supernet,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    count: int,
    base_seed: int = 0,
    batch_size: int = 1000,
    progress: bool = True,
    desc: str = "rank",
) -> pd.DataFrame:
    """Evaluate ``count`` posterior samples one by one; one row per candidate."""
    sizes = SizeCache(tuple(x_val.shape[1:]))
    rows = []
    supernet.eval()
    for i, seed in enumerate(
        tqdm(candidate_seeds(count, base_seed), desc=desc, disable=not progress, leave=False)
    ):
        arch = sample_architecture(supernet, seed)
        supernet.apply_architecture(arch)
        metrics = evaluate(supernet, x_val, y_val, batch_size)
        rows.append(
            dict(
                candidate=i,
                seed=seed,
                val_acc=metrics["acc"],
                val_loss=metrics["loss"],
                **architecture_columns(supernet, arch, sizes),
            )
        )
    supernet.set_site_mode("mean")
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
