"""Export a candidate as a plain, smaller ``nn.Module`` (docs/method_pgnas.md section 5).

The compact net's outputs equal the masked supernet's (eval mode) to float tolerance: each
conv keeps only its kept input channels (any mask scale folded into the weights), a chain's
inner channels that the next conv drops are removed with their BN entries, and an operation
that receives no input becomes the constant its BN produces on zeros.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from ..architecture import Architecture
from ..nn.flops import count_flops, count_params
from .bn_recalibration import bn_statistics_kept, recalibrate_bn
from .sampling import sample_architecture

#: The files of an exported network's folder (``subnet/`` of a run, or ``pgnas export --dest``).
SUBNET_WEIGHTS, SUBNET_META = "weights.pt", "arch.json"


def export_subnet(supernet, arch: Architecture) -> nn.Module:
    """The compact module of ``arch``; ``supernet`` is left in hard mode with its masks."""
    supernet.apply_architecture(arch)
    was_training = supernet.training
    supernet.eval()
    compact = supernet.compact_module().eval()
    supernet.train(was_training)
    return compact


def export_candidate(
    supernet,
    seed: int,
    x_train: torch.Tensor | None = None,
    bn_recalibration_batches: int = 0,
    batch_size: int = 128,
):
    """(compact net, architecture) of the candidate drawn with ``seed``, its BN statistics
    recalibrated as in the ranking when ``bn_recalibration_batches`` > 0 (the supernet's own
    statistics are restored). Leaves the supernet in hard mode with the candidate's masks."""
    arch = sample_architecture(supernet, seed)
    if bn_recalibration_batches <= 0:
        return export_subnet(supernet, arch), arch
    if x_train is None:
        raise ValueError("BN recalibration needs x_train")
    was_training = supernet.training
    supernet.eval()
    try:
        with bn_statistics_kept(supernet):
            supernet.apply_architecture(arch)
            recalibrate_bn(
                supernet,
                x_train.to(next(supernet.parameters()).device),
                bn_recalibration_batches,
                batch_size,
            )
            compact = export_subnet(supernet, arch)
    finally:
        supernet.train(was_training)
    return compact, arch


def save_subnet(folder: Path, compact: nn.Module, arch: Architecture, input_shape, **info) -> dict:
    """Write the weights and ``arch.json`` (which rebuilds the module) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(compact.state_dict(), folder / SUBNET_WEIGHTS)
    meta = {
        "architecture": arch.to_dict(),
        "archid": arch.archid,
        "input_shape": list(input_shape),
        "params": count_params(compact),
        "flops": count_flops(compact, tuple(input_shape)),
        **info,
    }
    (folder / SUBNET_META).write_text(json.dumps(meta, indent=1))
    return meta


def load_subnet(folder: Path, map_location="cpu") -> tuple[nn.Module, Architecture]:
    """Rebuild the compact module from ``arch.json`` and load ``weights.pt`` (weights only)."""
    from ..supernets import create_supernet

    folder = Path(folder)
    meta = json.loads((folder / SUBNET_META).read_text())
    arch = Architecture.from_dict(meta["architecture"])
    supernet = create_supernet(arch.supernet, **arch.supernet_options)
    compact = export_subnet(supernet, arch)
    state = torch.load(folder / SUBNET_WEIGHTS, map_location=map_location, weights_only=True)
    compact.load_state_dict(state)
    return compact.eval(), arch
