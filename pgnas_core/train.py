"""Train a supernet: the posterior over architecture and weights (Algorithm 1, step 1).

PGNAS learns one drop probability per site with the relaxed mask; the Random baseline trains
the same supernet with a fixed drop rate (ordinary dropout) and plain weight decay.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from .checkpoint import latest_checkpoint, load_checkpoint, save_epoch_checkpoint
from .config import RunConfig
from .data import make_loader, stack_split
from .device import resolve_device
from .errors import PgnasError
from .evaluation import evaluate
from .loss import negative_elbo
from .schedules import lr_factor
from .supernets import configure_sites, create_supernet

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
    df = pd.read_csv(path)
    return df[df["epoch"] <= upto_epoch].to_dict("records")


def train_supernet(cfg: RunConfig, data, out_dir: Path, method: str | None = None,
                   resume: bool = False, progress: bool = True) -> nn.Module:
    """Train into ``out_dir`` (history.csv, keep_probs.csv, checkpoints/); return the net.

    With ``resume`` the newest checkpoint in ``out_dir/checkpoints`` is continued; a finished
    run is returned as it is.
    """
    method = method or cfg.posterior.method
    t, post = cfg.train, cfg.posterior
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(t.device)
    torch.manual_seed(t.seed)
    net = build_supernet(cfg, data.info, method).to(device)
    learn = method == "pgnas"
    train_mode = "relaxed" if learn else "bernoulli"
    weight_term = post.weight_term if learn else "constant"
    n_train = post.n_train or len(data.train)
    batch = cfg.data.batch_size
    steps_per_epoch = -(-len(data.train) // batch)
    opt = make_optimizer(net, cfg)
    sched = make_scheduler(opt, cfg, steps_per_epoch)
    x_val, y_val = stack_split(data.val)
    x_val, y_val = x_val.to(device), y_val.to(device)

    history: list[dict] = []
    start = 0
    ckpt_path = latest_checkpoint(out_dir / CHECKPOINT_DIR) if resume else None
    if ckpt_path is not None:
        state = load_checkpoint(ckpt_path, map_location=device)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_cpu"])
        if device.type == "cuda" and "rng_cuda" in state:
            torch.cuda.set_rng_state(state["rng_cuda"], device)
        start = int(state["epoch"])
        history = list(state["history"])
        keep_rows = _read_rows(out_dir / KEEP_PROBS_FILE, start)
    else:
        keep_rows = _keep_prob_rows(net, 0)

    for epoch in range(start + 1, t.epochs + 1):
        tic = time.perf_counter()
        net.train()
        net.set_site_mode(train_mode)
        loader = make_loader(data.train, batch, shuffle=True, seed=t.seed * 100_003 + epoch,
                             num_workers=cfg.data.num_workers)
        sums = {"loss": 0.0, "ce": 0.0, "reg": 0.0, "correct": 0, "n": 0}
        bar = tqdm(loader, desc=f"{method} epoch {epoch}/{t.epochs}", disable=not progress,
                   leave=False)
        for x, y in bar:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            logits = net(x)
            loss, ce, reg = negative_elbo(logits, y, net, post.l2, n_train, weight_term)
            if not torch.isfinite(loss):
                raise PgnasError(
                    f"the loss became {loss.item()} at epoch {epoch}; last good checkpoint: "
                    f"{latest_checkpoint(out_dir / CHECKPOINT_DIR)}; try a smaller train.lr "
                    f"or posterior.l2")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if t.grad_clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), t.grad_clip)
            opt.step()
            sched.step()
            b = len(y)
            sums["loss"] += loss.item() * b
            sums["ce"] += ce.item() * b
            sums["reg"] += reg.item() * b
            sums["correct"] += (logits.argmax(1) == y).sum().item()
            sums["n"] += b
            bar.set_postfix(loss=f"{sums['loss'] / sums['n']:.3f}",
                            acc=f"{sums['correct'] / sums['n']:.3f}")
        net.eval()
        with net.site_mode("mean"):
            val = evaluate(net, x_val, y_val, cfg.data.eval_batch_size)
        keep = [s.keep_prob.item() for s in net.sites()]
        n = sums["n"]
        history.append(dict(
            epoch=epoch, lr=opt.param_groups[0]["lr"], train_loss=sums["loss"] / n,
            train_ce=sums["ce"] / n, train_reg=sums["reg"] / n, train_acc=sums["correct"] / n,
            val_loss=val["loss"], val_acc=val["acc"], mean_keep=sum(keep) / len(keep),
            min_keep=min(keep), max_keep=max(keep), seconds=time.perf_counter() - tic))
        keep_rows += _keep_prob_rows(net, epoch)
        pd.DataFrame(history).to_csv(out_dir / HISTORY_FILE, index=False)
        pd.DataFrame(keep_rows).to_csv(out_dir / KEEP_PROBS_FILE, index=False)
        state = {"model": net.state_dict(), "optimizer": opt.state_dict(),
                 "scheduler": sched.state_dict(), "epoch": epoch, "history": history,
                 "rng_cpu": torch.get_rng_state(), "method": method, "config": cfg.to_dict()}
        if device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(device)
        save_epoch_checkpoint(state, out_dir / CHECKPOINT_DIR, epoch, t.keep_checkpoints)
        if progress:
            h = history[-1]
            tqdm.write(f"[{method}] epoch {epoch}/{t.epochs}  loss {h['train_loss']:.3f} "
                       f"(ce {h['train_ce']:.3f} + R/N {h['train_reg']:.3f})  "
                       f"train acc {h['train_acc']:.3f}  val acc {h['val_acc']:.3f}  "
                       f"mean keep {h['mean_keep']:.3f} [{h['min_keep']:.2f}, "
                       f"{h['max_keep']:.2f}]  {h['seconds']:.1f}s")
    if not history:
        pd.DataFrame(history).to_csv(out_dir / HISTORY_FILE, index=False)
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
