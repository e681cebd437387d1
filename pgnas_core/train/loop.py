"""Train a supernet (Algorithm 1, step 1), for any registered search method.

The loop reads top to bottom: :meth:`Training.restore` (a checkpoint, from the middle of an
epoch too), :meth:`Training.wrap` (DDP, torch.compile), then per epoch
:meth:`Training.train_step` (returning named statistics) and :meth:`Training.end_of_epoch`
(validation, tables, checkpoint). What is method-specific -- how the searchable units are
gated, what is learned and with which loss terms, which split -- comes from the ``method``
object (:class:`TrainingMethod`; the registered methods are in ``pgnas_core.methods``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data import stack_split
from ..data.config import DataConfig
from ..data.device_loader import device_epoch_loader
from ..data.order import epoch_loader, seed_step, steps_per_epoch
from ..errors import Interrupted, PgnasError, TrainingDiverged
from ..supernets import aux_loss
from .checkpoint import (
    latest_checkpoint,
    load_checkpoint,
    rng_states,
    save_epoch_checkpoint,
    set_rng_states,
)
from .config import TrainConfig
from .device import resolve_device
from .distributed import (
    context,
    convert_sync_batchnorm,
    local_device,
    revert_sync_batchnorm,
)
from .divergence import blamed_settings, fallback_causes, is_overflow
from .evaluation import evaluate
from .method_protocol import TrainingFiles, TrainingMethod
from .precision import autocast, resolve_precision
from .schedules import lr_factor
from .step_stats import EpochSums, StepStats, stop_on_sigint
from .tables import read_csv_exact
from .tensorboard import history_sinks


def train_supernet(
    method: TrainingMethod,
    data,
    train: TrainConfig,
    data_cfg: DataConfig,
    files: TrainingFiles,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> nn.Module:
    """Train ``method``'s supernet into ``files``; return the net (eval mode).

    With ``resume`` the newest checkpoint is continued -- from the middle of an epoch too --
    and the run ends exactly as an uninterrupted one would: the data order, the augmentation
    and the dropout masks of every step are pure functions of (seed, epoch, step, rank) (see
    :mod:`pgnas_core.data.order`). A finished run is returned as it is.

    Under ``torchrun`` (K processes) the global batch ``data.batch_size`` is split across the
    ranks, gradients are averaged so the loss is that of the whole batch (CE over the global
    batch + the method's terms), batch norm uses global statistics (``train.sync_bn``), each
    rank draws its own dropout masks, and rank 0 alone writes. ``on_step`` is called with the
    global step after each optimisation step and its checkpoint (tests stop runs with it).
    """
    run = Training(method, data, train, data_cfg, files, progress, on_step)
    if resume:
        run.restore()
    run.wrap()
    try:
        with stop_on_sigint() as sigint:
            for epoch in range(run.next_epoch, run.epochs + 1):
                run.train_epoch(epoch, sigint)
                run.end_of_epoch(epoch)
                if sigint["stop"]:
                    raise Interrupted(
                        f"stopped at the end of epoch {epoch}; continue with --resume"
                    )
        return run.finish()
    finally:
        for sink in run.sinks:
            sink.close()


class Training:
    """The state of one training run and its named steps."""

    def __init__(
        self,
        method: TrainingMethod,
        data,
        train: TrainConfig,
        data_cfg: DataConfig,
        files: TrainingFiles,
        progress: bool,
        on_step,
    ):
        self.method, self.train, self.data_cfg, self.files = method, train, data_cfg, files
        self.progress, self.on_step = progress, on_step
        self.ctx = context()
        if self.ctx.is_main:
            files.history.parent.mkdir(parents=True, exist_ok=True)
        # where history rows go besides history.csv (TensorBoard events), on rank 0 only
        on = train.tensorboard and self.ctx.is_main
        self.sinks = history_sinks(on, files.history, method.name)
        self.device = local_device(resolve_device(train.device))
        # bf16 autocast of the weight step's forward (fp32 master weights; sites' masks and
        # the method's loss terms in fp32); fp32 where the device has no native bf16
        self.precision = resolve_precision(train.precision, self.device, "train.precision")
        torch.manual_seed(train.seed)
        self.net = method.build_supernet(data).to(self.device)
        self.data = data
        self.epochs = method.num_epochs()
        self.split = method.training_split(data)
        self.batch = data_cfg.batch_size
        if self.batch < self.ctx.world_size:
            raise PgnasError(
                f"data.batch_size={self.batch} is smaller than the "
                f"{self.ctx.world_size} processes: each needs at least one sample "
                f"of the global batch"
            )
        self.steps = steps_per_epoch(len(self.split), self.batch)
        self.opt = method.make_optimizer(self.net, self.steps)
        self.sched = method.make_scheduler(self.opt, self.steps)
        x_val, y_val = stack_split(data.val)
        self.x_val, self.y_val = x_val.to(self.device), y_val.to(self.device)
        self.sample_shape = tuple(x_val.shape[1:])
        self.model: nn.Module = self.net
        self.history: list[dict] = []
        self.tables = {name: rows for name, rows in method.epoch_tables(self.net, 0).items()}
        self.next_epoch, self.next_step, self.sums = 1, 0, EpochSums()

    # ---- restore ------------------------------------------------------------------------
    def restore(self) -> None:
        """Continue from the newest checkpoint, if there is one."""
        path = latest_checkpoint(self.files.checkpoints)
        if path is None:
            return
        state = load_checkpoint(path, map_location=self.device)
        if state.get("method") != self.method.name:
            raise PgnasError(
                f"checkpoint {path} is a {state.get('method')} run, not "
                f"{self.method.name}: resume it with method.name="
                f"{state.get('method')}"
            )
        self.net.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.method.load_state_dict(state.get("method_state", {}))
        set_rng_states(state["rng"])
        done = int(state["epoch"])  # completed epochs
        self.next_epoch, self.next_step = done + 1, int(state.get("step", 0))
        if self.next_step:
            self.sums = EpochSums(state["sums"].to(torch.float64).cpu())
        self.history = list(state["history"])
        for name, path_ in self.files.tables.items():
            self.tables[name] = _rows_upto(path_, done) or self.tables.get(name, [])

    # ---- wrap ---------------------------------------------------------------------------
    def wrap(self) -> None:
        """DDP under torchrun (with global-batch BN), torch.compile when asked."""
        if self.ctx.enabled and self.train.sync_bn:
            convert_sync_batchnorm(self.net)
        if self.ctx.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = nn.parallel.DistributedDataParallel(self.net, device_ids=ids)
        if self.train.compile:
            # Only the training forward is compiled: the sites' mask multiplies fuse into the
            # neighbouring elementwise ops (benchmarks/bench_site_overhead.py). Checkpoints and
            # evaluation use ``net`` itself. The masks come from inductor's RNG (seeded from
            # the per-step seed), so they differ from eager mode's; exact resume is tested in
            # eager mode only, and compiling under torchrun is untested.
            self.model = torch.compile(self.model, dynamic=False)  # full and last batch

    # ---- one epoch ----------------------------------------------------------------------
    def train_epoch(self, epoch: int, sigint: dict) -> None:
        self.tic = time.perf_counter()
        self.net.train()
        self.split = self.method.split_for_epoch(self.data, epoch)
        self.steps = steps_per_epoch(len(self.split), self.batch)
        self.method.gate_for_training(self.net, epoch)
        first = self.next_step if epoch == self.next_epoch else 0
        if first == 0:
            self.sums = EpochSums()
        t = self.train
        loader = (
            device_epoch_loader(
                self.split,
                self.batch,
                t.seed,
                epoch,
                first,
                self.ctx.rank,
                self.ctx.world_size,
                self.device,
            )
            if self.data_cfg.device_loader
            else epoch_loader(
                self.split,
                self.batch,
                t.seed,
                epoch,
                first,
                self.ctx.rank,
                self.ctx.world_size,
                self.data_cfg.num_workers,
            )
        )
        bar = tqdm(
            total=self.steps - first,
            desc=f"{self.method.name} epoch {epoch}/{self.epochs}",
            disable=not self.progress or not self.ctx.is_main,
            leave=False,
        )
        batches = iter(loader)
        for step in range(first, self.steps):
            x, y = self._next_batch(batches)
            stats, reg = self.train_step(x, y, epoch, step, sigint["stop"])
            self.sums.add(stats, reg)
            bar.update(1)
            bar.set_postfix(loss=f"{self.sums.loss:.3f}", acc=f"{self.sums.acc:.3f}")
            done = step + 1
            if stats.stop_requested > 0:  # Ctrl-C on any rank: every rank stops at this step
                if done == self.steps:
                    break
                path = self.save(epoch - 1, done)
                raise Interrupted(
                    f"stopped at epoch {epoch}, step {done}/{self.steps}; "
                    f"saved {path}; continue with --resume"
                )
            every = t.checkpoint_every_steps
            if every and done % every == 0 and done < self.steps:
                self.save(epoch - 1, done)
            if self.on_step is not None:
                self.on_step(self._steps_before(epoch) + done)
        bar.close()

    def _next_batch(self, batches):
        try:
            x, y = next(batches)
        except StopIteration:  # this rank's share of a tiny last batch is empty
            x, y = torch.zeros((0, *self.sample_shape)), torch.zeros(0, dtype=torch.long)
        return x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)

    def train_step(self, x, y, epoch: int, step: int, stop: bool) -> tuple[StepStats, float]:
        """One optimisation step on this rank's share of global batch ``step``; returns the
        statistics summed over the ranks and the method's loss terms (R/N for PGNAS)."""
        k = self.ctx.world_size
        global_b = min(self.batch, len(self.split) - step * self.batch)
        seed_step(self.train.seed, epoch, step, self.ctx.rank)  # this step's dropout masks
        self._step_or_diverge(
            lambda: self.method.before_step(self.net, epoch, step), epoch, step, "arch"
        )
        with autocast(self.precision, self.device):
            logits = self.model(x)
        logits = logits.float()
        ce_sum = F.cross_entropy(logits, y, reduction="sum")
        reg = self.method.loss_terms(self.net)
        loss = ce_sum * (k / global_b) + reg  # CE of the GLOBAL batch: DDP averages over k
        aux = aux_loss(self.net, y, reduction="sum")  # SupNet-E's auxiliary head, if any
        if aux is not None:
            loss = loss + aux * (k / global_b)
        finite = math.isfinite(loss.item())
        local = StepStats(
            ce_sum.item(),
            (logits.argmax(1) == y).sum().item(),
            float(len(y)),
            0.0 if finite else 1.0,
            1.0 if stop else 0.0,
        )
        stats = StepStats.summed(local, self.ctx.backend, self.device)
        if stats.not_finite > 0 or not math.isfinite(stats.ce_sum):
            value = loss.item() if not finite else float("nan")
            terms_finite = math.isfinite(float(reg.detach()))
            raise TrainingDiverged(self._diverged(epoch, step, value, terms_finite=terms_finite))
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.train.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.train.grad_clip)
        self._step_or_diverge(self.opt.step, epoch, step, "weights")
        self.sched.step()
        return stats, reg.item()

    def _diverged(self, epoch: int, step: int, value: float, **how) -> str:
        """The one-line message: where, the last good checkpoint, the setting to blame."""
        causes = blamed_settings(self.method, self.net, self.opt, **how)
        causes = causes or fallback_causes(self.method, self.train)
        last = latest_checkpoint(self.files.checkpoints)
        where = f"the last good checkpoint is {last}" if last else "no checkpoint was saved yet"
        what = (
            "a parameter update overflowed" if how.get("overflow") else f"the loss became {value}"
        )
        return (
            f"{what} at epoch {epoch}, step {step} (global step "
            f"{self._steps_before(epoch) + step}); {where}; likely cause: {'; '.join(causes)}"
        )

    def _step_or_diverge(self, step_fn, epoch: int, step: int, overflow: str) -> None:
        """An optimisation step whose update overflows float32 is a divergence, too."""
        try:
            step_fn()
        except RuntimeError as e:
            if not is_overflow(e):
                raise
            msg = self._diverged(epoch, step, float("inf"), overflow=overflow)
            raise TrainingDiverged(msg) from None

    # ---- end of epoch -------------------------------------------------------------------
    def _steps_before(self, epoch: int) -> int:
        """Optimisation steps of the epochs before ``epoch`` (their splits may differ)."""
        return sum(
            steps_per_epoch(len(self.method.split_for_epoch(self.data, e)), self.batch)
            for e in range(1, epoch)
        )

    def end_of_epoch(self, epoch: int) -> None:
        """The method's end-of-epoch work (e.g. BayesNAS's prior update); validate its
        evaluation net, write history and tables, checkpoint."""
        self.net.eval()
        self.method.after_epoch(self.net, epoch, self.data)
        if not self.ctx.is_main:
            return
        with self.method.evaluation_mode(self.net):
            val = evaluate(self.net, self.x_val, self.y_val, self.data_cfg.eval_batch_size)
        derived = {}
        if (mode := self.method.epoch_derived_mode(self.net)) is not None:
            with mode:
                acc = evaluate(self.net, self.x_val, self.y_val, self.data_cfg.eval_batch_size)
            derived["val_acc_derived"] = acc["acc"]  # the derived net, inherited weights
        s = self.sums
        self.history.append(
            dict(
                epoch=epoch,
                lr=self.opt.param_groups[0]["lr"],
                train_loss=s.loss,
                train_ce=s.ce,
                train_reg=s.terms,
                train_acc=s.acc,
                val_loss=val["loss"],
                val_acc=val["acc"],
                **derived,
                **self.method.epoch_stats(self.net),
                seconds=time.perf_counter() - self.tic,
            )
        )
        for name, rows in self.method.epoch_tables(self.net, epoch).items():
            self.tables[name] = self.tables.get(name, []) + rows
        pd.DataFrame(self.history).to_csv(self.files.history, index=False)
        for sink in self.sinks:
            sink.write(self.history[-1])
        for name, path in self.files.tables.items():
            pd.DataFrame(self.tables.get(name, [])).to_csv(path, index=False)
        self.save(epoch, None)
        if self.progress:
            tqdm.write(self._epoch_line())

    def _epoch_line(self) -> str:
        h = self.history[-1]
        line = (
            f"[{self.method.name}] epoch {h['epoch']}/{self.epochs}  loss "
            f"{h['train_loss']:.3f} (ce {h['train_ce']:.3f} + terms {h['train_reg']:.3f})  "
            f"train acc {h['train_acc']:.3f}  val acc {h['val_acc']:.3f}"
        )
        if "mean_keep" in h:
            line += f"  mean keep {h['mean_keep']:.3f} [{h['min_keep']:.2f}, {h['max_keep']:.2f}]"
        return line + f"  {h['seconds']:.1f}s"

    def save(self, epoch_done: int, step: int | None) -> Path | None:
        """A checkpoint after ``epoch_done`` epochs (and ``step`` steps into the next)."""
        if not self.ctx.is_main:
            return None
        state = {
            "model": self.net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "epoch": epoch_done,
            "step": step or 0,
            "sums": self.sums.values.clone(),
            "history": self.history,
            "rng": rng_states(),
            "method": self.method.name,
            "method_state": self.method.state_dict(),
            "supernet": {"name": self.net.registry_name, "options": self.net.options},
            "world_size": self.ctx.world_size,
        }
        # step checkpoints are named after the epoch in progress, epoch ends after the epoch
        return save_epoch_checkpoint(
            state,
            self.files.checkpoints,
            epoch_done + (1 if step else 0),
            self.train.keep_checkpoints,
            step,
        )

    def finish(self) -> nn.Module:
        if self.ctx.is_main and not self.history:
            pd.DataFrame(self.history).to_csv(self.files.history, index=False)
        if self.ctx.enabled and self.train.sync_bn:
            revert_sync_batchnorm(self.net)
        self.method.gate_for_evaluation(self.net)
        self.net.eval()
        return self.net


def make_scheduler(opt, t: TrainConfig, steps_per_epoch: int):
    """The paper's schedule of ``train.schedule`` as a per-step LambdaLR."""
    return torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda step: lr_factor(
            t.schedule,
            step,
            steps_per_epoch,
            t.epochs,
            lr=t.lr,
            lr_min=t.lr_min,
            step_size=t.step_size,
            gamma=t.gamma,
            milestones=tuple(t.milestones),
            t0=t.t0,
            t_mult=t.t_mult,
        ),
    )


def _rows_upto(path: Path, upto_epoch: int) -> list[dict]:
    if not path.exists():
        return []
    df = read_csv_exact(path)
    return df[df["epoch"] <= upto_epoch].to_dict("records")
