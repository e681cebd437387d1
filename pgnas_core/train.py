"""Train a supernet: the posterior over architecture and weights (Algorithm 1, step 1).

PGNAS learns one drop probability per site with the relaxed mask; the Random baseline trains
the same supernet with a fixed drop rate (ordinary dropout) and plain weight decay.
"""
from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import (latest_checkpoint, load_checkpoint, rng_states, save_epoch_checkpoint,
                         set_rng_states)
from .config import RunConfig
from .data import stack_split
from .data.device_loader import device_epoch_loader
from .data_order import epoch_loader, seed_step, steps_per_epoch as count_steps
from .device import resolve_device
from .distributed import (DistContext, all_reduce_sum, context, convert_sync_batchnorm,
                          local_device, revert_sync_batchnorm)
from .errors import Interrupted, PgnasError, TrainingDiverged
from .evaluation import evaluate
from .loss import regulariser
from .schedules import lr_factor
from .tables import read_csv_exact
from .supernets import aux_loss, configure_sites, create_supernet

HISTORY_FILE, KEEP_PROBS_FILE, CHECKPOINT_DIR = "history.csv", "keep_probs.csv", "checkpoints"


def build_supernet(cfg: RunConfig, info, method: str | None = None):
    """The configured supernet for a dataset, its sites set for ``method`` (pgnas | random)."""
    method = method or cfg.posterior.method
    options = {"in_channels": info.in_channels, "num_classes": info.num_classes,
               **cfg.supernet.options}
    net = create_supernet(cfg.supernet.name, **options)
    learn = method == "pgnas"
    p0 = cfg.posterior.p_init if learn else cfg.posterior.random_p
    return configure_sites(net, p_init=p0, tau=cfg.posterior.tau,
                           rescale=cfg.posterior.rescale, learnable=learn)


def make_optimizer(net, cfg: RunConfig) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum and no weight decay (the prior's l2 term replaces it)."""
    t = cfg.train
    groups = [{"params": net.weight_parameters(), "lr": t.lr, "name": "weights"}]
    thetas = [p for p in net.site_parameters() if p.requires_grad]
    if thetas:
        groups.append({"params": thetas, "lr": t.lr * t.p_lr_scale, "name": "p_logits"})
    return torch.optim.SGD(groups, lr=t.lr, momentum=t.momentum, nesterov=t.momentum > 0,
                           weight_decay=0.0)


def make_scheduler(opt, cfg: RunConfig, steps_per_epoch: int):
    t = cfg.train
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: lr_factor(
        t.schedule, step, steps_per_epoch, t.epochs, lr=t.lr, lr_min=t.lr_min,
        step_size=t.step_size, gamma=t.gamma, milestones=tuple(t.milestones), t0=t.t0,
        t_mult=t.t_mult))


def _keep_prob_rows(net, epoch: int) -> list[dict]:
    return [{"epoch": epoch, **row} for row in net.site_table()]


def _read_rows(path: Path, upto_epoch: int) -> list[dict]:
    if not path.exists():
        return []
    df = read_csv_exact(path)
    return df[df["epoch"] <= upto_epoch].to_dict("records")


@contextmanager
def _stop_on_sigint():
    """While training, the first Ctrl-C asks the loop to stop after the current step (it
    saves a checkpoint first); a second one interrupts at once."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum, frame):
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _diverged_message(cfg: RunConfig, epoch: int, step: int, global_step: int, value: float,
                      last: Path | None, method: str) -> str:
    t, p = cfg.train, cfg.posterior
    causes = [f"train.lr={t.lr} (p logits: x train.p_lr_scale={t.p_lr_scale}) may be too large"]
    if method == "pgnas" and p.l2 > 0:
        n = p.n_train if p.n_train else "the training-set length"
        causes.append(f"posterior.l2={p.l2} over N={n} may be too large")
    if t.grad_clip == 0:
        causes.append("train.grad_clip=0 disables gradient clipping")
    where = f"the last good checkpoint is {last}" if last else "no checkpoint was saved yet"
    return (f"the loss became {value} at epoch {epoch}, step {step} (global step {global_step});"
            f" {where}; likely cause: {'; '.join(causes)}")


def train_supernet(cfg: RunConfig, data, out_dir: Path, method: str | None = None,
                   resume: bool = False, progress: bool = True,
                   train_mode: str | None = None) -> nn.Module:
    """Train into ``out_dir`` (history.csv, keep_probs.csv, checkpoints/); return the net.

    With ``resume`` the newest checkpoint in ``out_dir/checkpoints`` is continued -- from the
    middle of an epoch too -- and the run ends exactly as an uninterrupted one would: the data
    order, the augmentation and the dropout masks of every step are pure functions of
    (seed, epoch, step, rank) (see :mod:`pgnas_core.data_order`). A finished run is returned
    as it is.

    Under ``torchrun`` (K processes) the global batch ``data.batch_size`` is split across the
    ranks, gradients are averaged so the loss is that of the whole batch (``CE`` over the
    global batch + ``R/N`` with the same N), batch norm uses global statistics
    (``train.sync_bn``), each rank draws its own dropout masks, and rank 0 alone writes.

    ``train_mode`` overrides the sites' training mode (relaxed for pgnas, bernoulli for the
    Random baseline); ``mean`` trains the deterministic posterior-mean net (tests).
    """
    method = method or cfg.posterior.method
    t, post = cfg.train, cfg.posterior
    ctx: DistContext = context()
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / CHECKPOINT_DIR
    if ctx.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    device = local_device(resolve_device(t.device))
    torch.manual_seed(t.seed)
    net = build_supernet(cfg, data.info, method).to(device)
    learn = method == "pgnas"
    train_mode = train_mode or ("relaxed" if learn else "bernoulli")
    weight_term = post.weight_term if learn else "constant"
    n_train = post.n_train or len(data.train)
    batch = cfg.data.batch_size
    if batch < ctx.world_size:
        raise PgnasError(f"data.batch_size={batch} is smaller than the {ctx.world_size} "
                         f"processes: each needs at least one sample of the global batch")
    steps = count_steps(len(data.train), batch)
    opt = make_optimizer(net, cfg)
    sched = make_scheduler(opt, cfg, steps)
    x_val, y_val = stack_split(data.val)
    x_val, y_val = x_val.to(device), y_val.to(device)
    sample_shape = tuple(x_val.shape[1:])

    history: list[dict] = []
    start_epoch, start_step, sums = 1, 0, torch.zeros(4, dtype=torch.float64)
    keep_rows = _keep_prob_rows(net, 0)  # as built: epoch 0
    ckpt_path = latest_checkpoint(ckpt_dir) if resume else None
    if ckpt_path is not None:
        state = load_checkpoint(ckpt_path, map_location=device)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_states(state["rng"])
        done = int(state["epoch"])  # completed epochs
        start_step = int(state.get("step", 0))
        start_epoch = done + 1
        if start_step:
            sums = state["sums"].to(torch.float64).cpu()
        history = list(state["history"])
        keep_rows = _read_rows(out_dir / KEEP_PROBS_FILE, done) or keep_rows

    if ctx.enabled and t.sync_bn:
        convert_sync_batchnorm(net)
    model = net
    if ctx.enabled:
        ids = [device.index] if device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(net, device_ids=ids)
    if t.compile:
        # Only the training forward is compiled: the sites' mask multiplies fuse into the
        # neighbouring elementwise ops (benchmarks/bench_site_overhead.py). Checkpoints and
        # evaluation use ``net`` itself. The masks come from inductor's RNG (seeded from the
        # per-step seed), so they differ from eager mode's; exact resume is tested in eager
        # mode only, and compiling under torchrun is untested.
        model = torch.compile(model, dynamic=False)  # two shapes: full and last batch

    def save(epoch_done: int, step: int | None):
        if not ctx.is_main:
            return None
        state = {"model": net.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "epoch": epoch_done, "step": step or 0,
                 "sums": sums.clone(), "history": history, "rng": rng_states(),
                 "method": method, "world_size": ctx.world_size, "config": cfg.to_dict()}
        # step checkpoints are named after the epoch in progress, epoch ends after the epoch
        return save_epoch_checkpoint(state, ckpt_dir, epoch_done + (1 if step else 0),
                                     t.keep_checkpoints, step)

    with _stop_on_sigint() as sigint:
        for epoch in range(start_epoch, t.epochs + 1):
            tic = time.perf_counter()
            net.train()
            net.set_site_mode(train_mode)
            first = start_step if epoch == start_epoch else 0
            if first == 0:
                sums = torch.zeros(4, dtype=torch.float64)  # loss*b, ce*b, correct, n
            loader = (device_epoch_loader(data.train, batch, t.seed, epoch, first, ctx.rank,
                                          ctx.world_size, device) if cfg.data.device_loader else
                      epoch_loader(data.train, batch, t.seed, epoch, first, ctx.rank,
                                   ctx.world_size, cfg.data.num_workers))
            bar = tqdm(total=steps - first, desc=f"{method} epoch {epoch}/{t.epochs}",
                       disable=not progress or not ctx.is_main, leave=False)
            it = iter(loader)
            for step in range(first, steps):
                global_b = min(batch, len(data.train) - step * batch)
                try:
                    x, y = next(it)
                except StopIteration:  # this rank's share of a tiny last batch is empty
                    x, y = torch.zeros((0, *sample_shape)), torch.zeros(0, dtype=torch.long)
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                seed_step(t.seed, epoch, step, ctx.rank)  # this step's dropout masks
                logits = model(x)
                ce_sum = F.cross_entropy(logits, y, reduction="sum")
                reg = regulariser(net, post.l2, weight_term).total / n_train
                # CE of the GLOBAL batch: DDP averages gradients over K ranks, hence the K
                loss = ce_sum * (ctx.world_size / global_b) + reg
                aux = aux_loss(net, y, reduction="sum")  # SupNet-E's auxiliary head, if any
                if aux is not None:
                    loss = loss + aux * (ctx.world_size / global_b)
                local = torch.stack([ce_sum.detach().double().cpu(),
                                     (logits.argmax(1) == y).sum().double().cpu(),
                                     torch.tensor(float(len(y)), dtype=torch.float64),
                                     torch.tensor(0.0 if math.isfinite(loss.item()) else 1.0,
                                                  dtype=torch.float64),
                                     torch.tensor(1.0 if sigint["stop"] else 0.0,
                                                  dtype=torch.float64)])
                total = all_reduce_sum(local.to(device) if ctx.backend == "nccl" else local).cpu()
                if total[3] > 0 or not math.isfinite(total[0].item()):
                    value = loss.item() if not math.isfinite(loss.item()) else float("nan")
                    raise TrainingDiverged(_diverged_message(
                        cfg, epoch, step, (epoch - 1) * steps + step, value,
                        latest_checkpoint(ckpt_dir), method))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if t.grad_clip > 0:
                    nn.utils.clip_grad_norm_(net.parameters(), t.grad_clip)
                opt.step()
                sched.step()
                reg_v = reg.item()
                sums += torch.stack([total[0] + reg_v * total[2], total[0], total[1], total[2]])
                bar.update(1)
                bar.set_postfix(loss=f"{sums[0].item() / sums[3].item():.3f}",
                                acc=f"{sums[2].item() / sums[3].item():.3f}")
                done_steps = step + 1
                if total[4] > 0:  # Ctrl-C on any rank: every rank stops at this step
                    path = save(epoch - 1, done_steps) if done_steps < steps else None
                    if done_steps == steps:
                        break
                    raise Interrupted(f"stopped at epoch {epoch}, step {done_steps}/{steps}; "
                                      f"saved {path}; continue with --resume")
                every = t.checkpoint_every_steps
                if every and done_steps % every == 0 and done_steps < steps:
                    save(epoch - 1, done_steps)
            bar.close()
            net.eval()
            if ctx.is_main:
                with net.site_mode("mean"):
                    val = evaluate(net, x_val, y_val, cfg.data.eval_batch_size)
                keep = [s.keep_prob.item() for s in net.sites()]
                n = sums[3].item()
                history.append(dict(
                    epoch=epoch, lr=opt.param_groups[0]["lr"], train_loss=sums[0].item() / n,
                    train_ce=sums[1].item() / n, train_reg=(sums[0] - sums[1]).item() / n,
                    train_acc=sums[2].item() / n, val_loss=val["loss"], val_acc=val["acc"],
                    mean_keep=sum(keep) / len(keep), min_keep=min(keep), max_keep=max(keep),
                    seconds=time.perf_counter() - tic))
                keep_rows += _keep_prob_rows(net, epoch)
                pd.DataFrame(history).to_csv(out_dir / HISTORY_FILE, index=False)
                pd.DataFrame(keep_rows).to_csv(out_dir / KEEP_PROBS_FILE, index=False)
                save(epoch, None)
                if progress:
                    h = history[-1]
                    tqdm.write(f"[{method}] epoch {epoch}/{t.epochs}  loss {h['train_loss']:.3f}"
                               f" (ce {h['train_ce']:.3f} + R/N {h['train_reg']:.3f})  "
                               f"train acc {h['train_acc']:.3f}  val acc {h['val_acc']:.3f}  "
                               f"mean keep {h['mean_keep']:.3f} [{h['min_keep']:.2f}, "
                               f"{h['max_keep']:.2f}]  {h['seconds']:.1f}s")
            if sigint["stop"]:
                raise Interrupted(f"stopped at the end of epoch {epoch}; continue with --resume")
    if ctx.is_main and not history:
        pd.DataFrame(history).to_csv(out_dir / HISTORY_FILE, index=False)
    if ctx.enabled and t.sync_bn:
        revert_sync_batchnorm(net)
    net.set_site_mode("mean")
    net.eval()
    return net


def load_trained_supernet(cfg: RunConfig, info, out_dir: Path, method: str | None = None):
    """The supernet of the newest checkpoint in ``out_dir/checkpoints``."""
    path = latest_checkpoint(Path(out_dir) / CHECKPOINT_DIR)
    if path is None:
        raise PgnasError(f"no checkpoint in {Path(out_dir) / CHECKPOINT_DIR}: train first "
                         f"(pgnas train --out {out_dir})")
    device = resolve_device(cfg.train.device)
    state = load_checkpoint(path, map_location=device)
    net = build_supernet(cfg, info, method or state.get("method")).to(device)
    net.load_state_dict(state["model"])
    net.set_site_mode("mean")
    return net.eval()
