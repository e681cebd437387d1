"""Rank candidates on the held-out validation split (Algorithm 1, step 3).

Each candidate is one hard mask per site, shared by every input; the supernet is evaluated
under it in eval mode (batch norm uses the statistics learned during training, as in the
paper). The test split is never used here.
"""
from __future__ import annotations

import pandas as pd
import torch
from tqdm.auto import tqdm

from .evaluation import evaluate
from .export import export_subnet
from .flops import count_flops, count_params
from .sampling import candidate_seeds, sample_architecture

CANDIDATE_COLUMNS = ["candidate", "seed", "archid", "val_acc", "val_loss", "params", "flops",
                     "kept_fraction", "dropped_ops", "ops"]


def rank_candidates(supernet, x_val: torch.Tensor, y_val: torch.Tensor, count: int,
                    base_seed: int = 0, batch_size: int = 1000, progress: bool = True,
                    desc: str = "rank") -> pd.DataFrame:
    """Evaluate ``count`` posterior samples one by one; one row per candidate."""
    input_shape = tuple(x_val.shape[1:])
    rows = []
    supernet.eval()
    for i, seed in enumerate(tqdm(candidate_seeds(count, base_seed), desc=desc,
                                  disable=not progress, leave=False)):
        arch = sample_architecture(supernet, seed)
        supernet.apply_architecture(arch)
        metrics = evaluate(supernet, x_val, y_val, batch_size)
        compact = export_subnet(supernet, arch)
        rows.append(dict(candidate=i, seed=seed, archid=arch.archid, val_acc=metrics["acc"],
                         val_loss=metrics["loss"], params=count_params(compact),
                         flops=count_flops(compact, input_shape),
                         kept_fraction=arch.kept_channel_fraction,
                         dropped_ops=arch.dropped_operations, ops=len(arch.operations)))
    supernet.set_site_mode("mean")
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def best_candidate(table: pd.DataFrame) -> pd.Series:
    """Highest validation accuracy; ties go to the lower loss, then the smaller net.

    With racing (``evaluated_images`` column) only candidates scored on the whole split
    compete: an eliminated candidate's accuracy is on fewer images.
    """
    if "evaluated_images" in table.columns and len(table):
        table = table[table["evaluated_images"] == table["evaluated_images"].max()]
    order = table.sort_values(["val_acc", "val_loss", "params"], ascending=[False, True, True])
    return order.iloc[0]
