"""Export a candidate as a plain, smaller ``nn.Module`` (SPEC "Deriving a compact network").

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

from .architecture import Architecture
from .flops import count_flops, count_params


def export_subnet(supernet, arch: Architecture) -> nn.Module:
    """The compact module of ``arch``; ``supernet`` is left in hard mode with its masks."""
    supernet.apply_architecture(arch)
    was_training = supernet.training
    supernet.eval()
    compact = supernet.compact_module().eval()
    supernet.train(was_training)
    return compact


def save_subnet(folder: Path, compact: nn.Module, arch: Architecture, input_shape, **info) -> dict:
    """Write ``weights.pt`` and ``arch.json`` (which rebuilds the module) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(compact.state_dict(), folder / "weights.pt")
    meta = {"architecture": arch.to_dict(), "archid": arch.archid,
            "input_shape": list(input_shape), "params": count_params(compact),
            "flops": count_flops(compact, tuple(input_shape)), **info}
    (folder / "arch.json").write_text(json.dumps(meta, indent=1))
    return meta


def load_subnet(folder: Path, map_location="cpu") -> tuple[nn.Module, Architecture]:
    """Rebuild the compact module from ``arch.json`` and load ``weights.pt`` (weights only)."""
    from .supernets import create_supernet

    folder = Path(folder)
    meta = json.loads((folder / "arch.json").read_text())
    arch = Architecture.from_dict(meta["architecture"])
    supernet = create_supernet(arch.supernet, **arch.supernet_options)
    compact = export_subnet(supernet, arch)
    state = torch.load(folder / "weights.pt", map_location=map_location, weights_only=True)
    compact.load_state_dict(state)
    return compact.eval(), arch
