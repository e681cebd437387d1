"""Training a supernet: the loss of Eq. 14-15, the paper's schedules, the loop (any search
method), atomic checkpoints with every RNG state, torch.distributed, fine-tuning."""

from .checkpoint import CHECKPOINT_FORMAT, latest_checkpoint, load_checkpoint
from .config import TrainConfig
from .device import describe_device, resolve_device
from .evaluation import evaluate
from .finetune import finetune
from .loop import TrainingFiles, make_scheduler, train_supernet
from .loss import WEIGHT_TERMS, negative_elbo, regulariser, site_terms

__all__ = [
    "CHECKPOINT_FORMAT",
    "latest_checkpoint",
    "load_checkpoint",
    "TrainConfig",
    "describe_device",
    "resolve_device",
    "evaluate",
    "finetune",
    "TrainingFiles",
    "make_scheduler",
    "train_supernet",
    "WEIGHT_TERMS",
    "negative_elbo",
    "regulariser",
    "site_terms",
]
