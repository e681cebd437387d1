"""The building blocks every supernet is made of: dropout sites, masked operations, the
modules of compact exports, batch-norm folding and parameter/FLOP counts."""

from .flops import count_flops, count_params
from .masked_op import MaskedOp
from .sites import SITE_MODES, DropoutSite, concrete_drop, concrete_keep, logit

__all__ = [
    "DropoutSite",
    "MaskedOp",
    "SITE_MODES",
    "concrete_drop",
    "concrete_keep",
    "logit",
    "count_flops",
    "count_params",
]
