"""How a supernet is trained: one validated dataclass, a section of the run config."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import check_choice, check_field
from .distributed import BACKENDS
from .precision import PRECISIONS
from .schedules import SCHEDULES


@dataclass
class TrainConfig:
    epochs: int = 10
    lr: float = 0.05  # base learning rate of the weights
    p_lr_scale: float = 1.0  # learning rate of the method's architecture parameters = lr * this
    schedule: str = "cosine"  # one of SCHEDULES
    lr_min: float = 0.0  # floor of cosine and sgdr
    step_size: int = 30  # step: epochs between decays
    gamma: float = 0.1  # step / multistep: decay factor
    milestones: list = field(default_factory=list)  # multistep: epochs of decay
    t0: int = 10  # sgdr: first period (epochs)
    t_mult: int = 2  # sgdr: period multiplier
    momentum: float = 0.9  # SGD with Nesterov momentum, no weight decay (the prior replaces it)
    grad_clip: float = 5.0  # max gradient norm; 0 disables
    seed: int = 0  # weights, data order and dropout masks
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    keep_checkpoints: int = 2  # how many checkpoints to keep (epoch ends and mid-epoch)
    checkpoint_every_steps: int = 0  # also save inside an epoch every N steps; 0: epoch ends only
    sync_bn: bool = True  # under torchrun: batch-norm statistics over the global batch
    dist_backend: str = "auto"  # under torchrun: one of BACKENDS (auto: nccl on GPUs, else gloo)
    compile: bool = (
        False  # torch.compile the training forward (fuses the sites' masking; slow start)
    )
    precision: str = "fp32"  # fp32 | bf16 | auto (bf16 autocast where the device has it)
    tensorboard: bool = False  # also write history.csv's columns as TensorBoard scalars

    def validate(self) -> TrainConfig:
        """Raise ConfigError naming ``train.<field>`` for the first bad value; return self."""
        t = self
        check_field("train.epochs", t.epochs, t.epochs >= 1, "an integer >= 1")
        check_field("train.lr", t.lr, t.lr > 0, "a number > 0")
        check_field("train.p_lr_scale", t.p_lr_scale, t.p_lr_scale >= 0, "a number >= 0")
        check_choice("train.schedule", t.schedule, SCHEDULES)
        check_field("train.lr_min", t.lr_min, 0 <= t.lr_min <= t.lr, "a number in [0, train.lr]")
        check_field("train.momentum", t.momentum, 0 <= t.momentum < 1, "a number in [0, 1)")
        check_field("train.grad_clip", t.grad_clip, t.grad_clip >= 0, "a number >= 0 (0 disables)")
        check_field("train.step_size", t.step_size, t.step_size >= 1, "an integer >= 1")
        check_field("train.t0", t.t0, t.t0 >= 1, "an integer >= 1")
        check_field("train.t_mult", t.t_mult, t.t_mult >= 1, "an integer >= 1")
        check_field(
            "train.keep_checkpoints", t.keep_checkpoints, t.keep_checkpoints >= 1, "an integer >= 1"
        )
        check_field(
            "train.device",
            t.device,
            t.device in ("auto", "cpu", "cuda") or str(t.device).startswith("cuda:"),
            "auto, cpu, cuda or cuda:N",
        )
        check_field("train.seed", t.seed, t.seed >= 0, "an integer >= 0")
        check_field(
            "train.checkpoint_every_steps",
            t.checkpoint_every_steps,
            t.checkpoint_every_steps >= 0,
            "an integer >= 0 (0: only at epoch ends)",
        )
        check_choice("train.dist_backend", t.dist_backend, BACKENDS)
        check_choice("train.precision", t.precision, PRECISIONS)
        check_field(
            "train.tensorboard", t.tensorboard, isinstance(t.tensorboard, bool), "true or false"
        )
        check_field(
            "train.milestones",
            t.milestones,
            all(isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in t.milestones),
            "a list of epochs (integers >= 1)",
        )
        return self
