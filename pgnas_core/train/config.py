"""How a supernet is trained: one validated dataclass, a section of the run config. Each
field's help and allowed values are its :func:`~pgnas_core.settings.setting` definition."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import check_field
from ..settings import SEED_MAX, Range, check_settings, setting
from .distributed import BACKENDS
from .precision import PRECISIONS
from .schedules import SCHEDULES

EPOCHS_MAX = 100_000


def _is_device(v) -> bool:
    return isinstance(v, str) and (v in ("auto", "cpu", "cuda") or v.startswith("cuda:"))


def _are_epochs(v) -> bool:
    return isinstance(v, list) and all(
        isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= EPOCHS_MAX for m in v
    )


@dataclass
class TrainConfig:
    """How the supernet is trained: epochs, SGD, the learning-rate schedule, checkpoints."""

    epochs: int = setting(10, "passes over the training split", bounds=Range(1, EPOCHS_MAX))
    lr: float = setting(0.05, "base learning rate of the weights (SGD)", bounds=Range(0, 10, "(]"))
    p_lr_scale: float = setting(
        1.0,
        "learning rate of the method's architecture parameters = train.lr * this",
        bounds=Range(0, 1000),
    )
    schedule: str = setting("cosine", "the learning-rate schedule", choices=SCHEDULES)
    lr_min: float = setting(
        0.0, "floor of the cosine and sgdr schedules (at most train.lr)", bounds=Range(0, 10)
    )
    step_size: int = setting(
        30, "step schedule: epochs between decays", bounds=Range(1, EPOCHS_MAX)
    )
    gamma: float = setting(
        0.1, "step / multistep schedules: the decay factor", bounds=Range(0, 1, "(]")
    )
    milestones: list = setting(
        [],
        "multistep schedule: the epochs at which the learning rate decays",
        allowed=f"a list of epochs (integers >= 1 and <= {EPOCHS_MAX})",
        check=_are_epochs,
    )
    t0: int = setting(10, "sgdr schedule: the first period in epochs", bounds=Range(1, EPOCHS_MAX))
    t_mult: int = setting(
        2, "sgdr schedule: each period is this many times the last", bounds=Range(1, 100)
    )
    momentum: float = setting(
        0.9,
        "SGD's Nesterov momentum (no weight decay: the method's prior replaces it)",
        bounds=Range(0, 1, "[)"),
    )
    grad_clip: float = setting(
        5.0, "the largest gradient norm (0 disables clipping)", bounds=Range(0, 1e6)
    )
    seed: int = setting(
        0, "seeds the weights, the data order and the dropout masks", bounds=Range(0, SEED_MAX)
    )
    device: str = setting(
        "auto",
        "where to train (auto: a GPU if there is one)",
        allowed="auto, cpu, cuda or cuda:N",
        check=_is_device,
    )
    keep_checkpoints: int = setting(
        2, "how many checkpoints to keep (epoch ends and mid-epoch)", bounds=Range(1, 1000)
    )
    checkpoint_every_steps: int = setting(
        0,
        "also save a checkpoint inside an epoch every this many steps (0: at epoch ends only)",
        bounds=Range(0, 10**9),
    )
    sync_bn: bool = setting(True, "under torchrun: batch-norm statistics over the global batch")
    dist_backend: str = setting(
        "auto",
        "under torchrun: the process-group backend (auto: nccl on GPUs, else gloo)",
        choices=BACKENDS,
    )
    compile: bool = setting(
        False, "torch.compile the training forward (fuses the sites' masking; slow start)"
    )
    precision: str = setting(
        "fp32",
        "arithmetic of training (auto: bf16 autocast where the device has it)",
        choices=PRECISIONS,
    )
    tensorboard: bool = setting(
        False,
        "also write history.csv's columns as TensorBoard scalars (tensorboard/<method>/ beside it)",
    )

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming ``train.<field>`` for the first bad value; return self."""
        check_settings(self, "train")
        check_field(
            "train.lr_min", self.lr_min, self.lr_min <= self.lr, "a number in [0, train.lr]"
        )
        return self
