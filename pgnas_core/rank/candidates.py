"""One row per candidate: the columns of candidates.csv, and which row wins."""

from __future__ import annotations

import pandas as pd

from ..architecture import Architecture
from ..nn.flops import count_flops, count_params
from .export import export_subnet

#: Columns of a ranked table: what every ranker fills, then the racing bookkeeping.
CANDIDATE_COLUMNS = [
    "candidate",
    "seed",
    "archid",
    "val_acc",
    "val_loss",
    "params",
    "flops",
    "kept_fraction",
    "dropped_ops",
    "ops",
]
#: ``precision``: what the row's numbers were computed in (a survivor's are always fp32).
RANKED_COLUMNS = CANDIDATE_COLUMNS + ["evaluated_images", "eliminated_round", "precision"]


class SizeCache:
    """(params, FLOPs) of each candidate's compact net, counted once per architecture."""

    def __init__(self, input_shape: tuple[int, ...]):
        self.input_shape = tuple(input_shape)
        self.sizes: dict[str, tuple[int, int]] = {}

    def __call__(self, compact, archid: str) -> tuple[int, int]:
        if archid not in self.sizes:
            self.sizes[archid] = (count_params(compact), count_flops(compact, self.input_shape))
        return self.sizes[archid]

    def of(self, supernet, arch: Architecture) -> tuple[int, int]:
        if arch.archid not in self.sizes:
            self(export_subnet(supernet, arch), arch.archid)
        return self.sizes[arch.archid]


def architecture_columns(supernet, arch: Architecture, sizes: SizeCache | None) -> dict:
    """archid, params, FLOPs (NaN without ``sizes``), kept fraction and operation counts."""
    params, flops = sizes.of(supernet, arch) if sizes is not None else (float("nan"),) * 2
    return dict(
        archid=arch.archid,
        params=params,
        flops=flops,
        kept_fraction=arch.kept_channel_fraction,
        dropped_ops=arch.dropped_operations,
        ops=len(arch.operations),
    )


def best_candidate(table: pd.DataFrame) -> pd.Series:
    """Highest validation accuracy; ties go to the lower loss, then the smaller net.

    With racing or bf16 screening (``eliminated_round`` column) only the survivors compete:
    an eliminated candidate's accuracy is on fewer images, or in bf16.
    """
    if "eliminated_round" in table.columns and (table["eliminated_round"] == -1).any():
        table = table[table["eliminated_round"] == -1]
    order = table.sort_values(["val_acc", "val_loss", "params"], ascending=[False, True, True])
    return order.iloc[0]
