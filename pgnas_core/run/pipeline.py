"""Algorithm 1 end to end, into a run directory (:mod:`.run_dir` has the layout): for the
configured method and each baseline, train the supernet, derive an architecture, export it
and report its accuracy on the test split (which nothing before that step sees)."""

from __future__ import annotations

import copy
import os
import signal
import time
from pathlib import Path

from ..config import RunConfig
from ..data import load_data, stack_split
from ..data.checks import check_data_fits
from ..errors import RunDirError
from ..methods import DeriveContext, create_method
from ..methods.diagnostics import DIAGNOSTICS
from ..nn.flops import count_flops, count_params
from ..rank import save_subnet
from ..train import evaluate, finetune, train_supernet
from ..train.device import describe_device, resolve_device
from ..train.distributed import context
from ..train.finetune import train_from_scratch
from .run_dir import (
    MethodDir,
    MethodResult,
    RunDir,
    Summary,
    SupernetReport,
    Winner,
    load_supernet,
    open_run_dir,
)

STEPS = ("train", "rank")
#: Test hook: ``PGNAS_KILL_AFTER=train:5`` kills the process (SIGKILL) right after global
#: training step 5 and its checkpoint, ``rank:3`` after 3 ranking passes; ``train:5:INT`` sends
#: Ctrl-C (SIGINT) instead. The resume tests interrupt at a chosen point with it instead of
#: polling files.
KILL_ENV = "PGNAS_KILL_AFTER"


def search(
    cfg: RunConfig,
    out: str | Path,
    resume: bool = False,
    progress: bool = True,
    steps: tuple[str, ...] = STEPS,
    force: bool = False,
) -> Summary:
    """Train, derive and export with ``cfg.method.name`` and each of ``cfg.method.baselines``
    (each in its own folder); write summary.json and return it. ``steps=("rank",)`` derives
    from trained supernets again (``pgnas rank``; ``search.*`` may change without --force)."""
    cfg.validate()
    run = open_run_dir(
        out,
        cfg,
        resume,
        force,
        existing_ok=steps == ("rank",),
        allowed_changes=("search.",) if "train" not in steps else (),
    )
    names = (cfg.method.name, *cfg.method.baselines)
    if "train" not in steps:
        for name in names:
            _require_checkpoint(run, run.method_dir(name, cfg.method.name))
    tic = time.perf_counter()
    data = load_data(cfg.data)
    check_data_fits(cfg, data)
    run.start(cfg, command=" ".join(steps))  # only now, with the data checked, is it written
    summary = Summary(
        cfg.supernet.name,
        data.info.name,
        data.sizes(),
        describe_device(resolve_device(cfg.train.device)),
    )
    for name in names:
        where = run.method_dir(name, cfg.method.name)
        summary.methods[name] = run_method(cfg, data, run, where, resume, progress, steps, force)
    summary.wall_seconds = time.perf_counter() - tic
    if context().is_main:
        run.write_summary(summary)
    return summary


def train(
    cfg: RunConfig, data, out: str | Path, method=None, resume: bool = False, progress: bool = True
):
    """Train one method's supernet into ``out`` (history, per-epoch tables, checkpoints; no
    config.yaml) and return it. ``method``: a registered name (default: ``cfg.method.name``)
    or a method object."""
    m = create_method(method or cfg.method.name, cfg) if not hasattr(method, "derive") else method
    where = MethodDir(Path(out), m.name)
    return train_supernet(
        m, data, cfg.train, cfg.data, where.training_files(m), resume=resume, progress=progress
    )


def _require_checkpoint(run: RunDir, where: MethodDir) -> None:
    if not where.has_checkpoint():
        raise RunDirError(
            f"no checkpoint of {where.method} in {where.checkpoints}: train first "
            f"(pgnas train --out {run.path})"
        )


def run_method(
    cfg: RunConfig,
    data,
    run: RunDir,
    where: MethodDir,
    resume: bool,
    progress: bool,
    steps: tuple[str, ...],
    force: bool,
) -> MethodResult:
    """One method's steps: train (or load) its supernet, derive and export."""
    tic = time.perf_counter()
    if "train" in steps:
        method = create_method(where.method, cfg)
        net = train_supernet(
            method,
            data,
            cfg.train,
            cfg.data,
            where.training_files(method),
            resume=resume,
            progress=progress,
            on_step=_kill_hook("train"),
        )
    else:
        net, method = load_supernet(run, where.method)
    result = MethodResult(
        where.method, supernet_report(cfg, method, net, data), time.perf_counter() - tic
    )
    if "rank" in steps:
        result.best = derive_and_export(cfg, method, net, data, where, progress, force)
    return result


def supernet_report(cfg: RunConfig, method, net, data) -> SupernetReport:
    """Test accuracy of the trained supernet (its method's evaluation net) and its size."""
    x_test, y_test = stack_split(data.test)
    with method.evaluation_mode(net):
        test = evaluate(net, x_test, y_test, cfg.data.eval_batch_size, _topk(data.info))
    stats = method.epoch_stats(net)
    return SupernetReport(
        test["acc"],
        count_params(net),
        stats.get("mean_keep"),
        test.get("top5"),
        evaluated_as=method.supernet_evaluation,
        diagnostics={k: float(stats[k]) for k in DIAGNOSTICS if k in stats} or None,
    )


def derive_and_export(
    cfg: RunConfig, method, net, data, where: MethodDir, progress: bool = True, force: bool = False
) -> Winner | None:
    """Derive the architecture (``method.derive``: selects on the validation split only),
    export it to ``subnet/`` and measure it on the test split, fine-tune a copy into
    ``subnet_finetuned/`` (``search.finetune_epochs`` > 0) and train the architecture from
    scratch into ``subnet_scratch/`` (``search.scratch_epochs`` > 0); write best.json."""
    ctx = DeriveContext(
        where.ranking_store, force=force, progress=progress, on_pass=_kill_hook("rank")
    )
    derived = method.derive(net, data, ctx)
    if derived is None:  # another rank under torchrun: rank 0 exports and writes
        return None
    for name, table in derived.tables.items():
        table.to_csv(where.path / f"{name}.csv", index=False)
    where.remove_ranking_stores()
    splits = _Splits(data, cfg.data.eval_batch_size)
    with method.derived_mode(net, derived.architecture):
        masked = splits.evaluate(net, "test")
    winner = _export_winner(derived, splits, where, masked)
    if cfg.search.finetune_epochs > 0:
        _retrain_winner(cfg, derived, data, splits, where, winner, progress, scratch=False)
    if cfg.search.scratch_epochs > 0:
        _retrain_winner(cfg, derived, data, splits, where, winner, progress, scratch=True)
    where.write_winner(winner)
    method.gate_for_evaluation(net)
    return winner


class _Splits:
    """The validation and test splits as tensors, evaluated with the run's batch and top-k."""

    def __init__(self, data, batch: int):
        self.tensors = {"val": stack_split(data.val), "test": stack_split(data.test)}
        self.batch, self.topk = batch, _topk(data.info)
        self.shape = tuple(self.tensors["val"][0].shape[1:])

    def evaluate(self, model, split: str) -> dict:
        return evaluate(model, *self.tensors[split], self.batch, self.topk)


def _export_winner(derived, splits: _Splits, where: MethodDir, masked: dict) -> Winner:
    """subnet/ and the winner's record, every accuracy measured on the exported weights."""
    arch, compact, sel = derived.architecture, derived.compact, derived.selection
    val, test = splits.evaluate(compact, "val"), splits.evaluate(compact, "test")
    save_subnet(where.subnet, compact, arch, splits.shape, val_acc=val["acc"], test_acc=test["acc"])
    return Winner(
        candidate=sel.get("candidate"),
        seed=sel.get("seed"),
        archid=arch.archid,
        val_acc=sel["val_acc"],  # the number it was selected by
        val_loss=sel.get("val_loss"),
        test_acc=test["acc"],
        test_acc_masked_supernet=masked["acc"],
        params=count_params(compact),
        flops=sel["flops"] if "flops" in sel else count_flops(compact, splits.shape),
        channel_drop=arch.channel_drop_proportion,
        operation_drop=arch.operation_drop_proportion,
        candidates=sel.get("candidates"),
        rank_seconds=sel.get("rank_seconds"),
        test_top5=test.get("top5"),
    )


def _retrain_winner(
    cfg,
    derived,
    data,
    splits: _Splits,
    where: MethodDir,
    winner: Winner,
    progress: bool,
    scratch: bool,
) -> None:
    """A copy of the winner fine-tuned (``subnet_finetuned/``, ``*_finetuned`` fields) or
    its architecture trained from fresh weights (``subnet_scratch/``, ``*_scratch``), each
    with the accuracies of exactly its weights."""
    epochs = cfg.search.scratch_epochs if scratch else cfg.search.finetune_epochs
    train = train_from_scratch if scratch else finetune
    tuned = train(
        copy.deepcopy(derived.compact),
        data.train,
        epochs,
        cfg.train.lr,
        cfg.data.batch_size,
        cfg.train.seed,
        progress=progress,
    )
    val, test = splits.evaluate(tuned, "val"), splits.evaluate(tuned, "test")
    kind = "scratch" if scratch else "finetuned"
    setattr(winner, f"val_acc_{kind}", val["acc"])
    setattr(winner, f"test_acc_{kind}", test["acc"])
    setattr(winner, f"test_top5_{kind}", test.get("top5"))
    save_subnet(
        where.subnet_scratch if scratch else where.subnet_finetuned,
        tuned,
        derived.architecture,
        splits.shape,
        val_acc=val["acc"],
        test_acc=test["acc"],
        **({"scratch_epochs": epochs} if scratch else {"finetune_epochs": epochs}),
    )


def _topk(info) -> tuple[int, ...]:
    """Top-1, and top-5 where there are at least 5 classes (the paper's ImageNet tables)."""
    return (1, 5) if info.num_classes >= 5 else (1,)


def _kill_hook(stage: str):
    """The ``PGNAS_KILL_AFTER`` test hook for ``stage`` (train or rank), or None. It fires
    once, when the count reaches the given one."""
    parts = os.environ.get(KILL_ENV, "").split(":")
    if len(parts) < 2 or parts[0] != stage:
        return None
    at = int(parts[1])
    sig = signal.SIGINT if parts[2:] == ["INT"] else signal.SIGKILL
    fired = []

    def hook(count: int) -> None:
        if count >= at and not fired:
            fired.append(count)
            os.kill(os.getpid(), sig)

    return hook


def format_summary(summary: Summary) -> str:
    """A few lines for the terminal, one number per line and named for what it is: the
    supernet (as its method evaluates it), the derived net with the supernet's (inherited)
    weights, fine-tuned, and trained from fresh weights."""
    lines = [f"dataset {summary.dataset} {summary.sizes}, device {summary.device}"]
    for name, r in summary.methods.items():
        sup = r.supernet
        keep = f", mean keep {sup.mean_keep:.3f}" if sup.mean_keep is not None else ""
        what = f"supernet ({sup.evaluated_as})" if sup.evaluated_as else "supernet"
        lines.append(
            f"{name:>6}: {what} test acc {sup.test_acc:.4f} ({sup.params:,} params"
            f"{keep}), trained in {r.train_seconds:.0f}s"
        )
        if sup.diagnostics:
            said = ", ".join(f"{k} {v:.3f}" for k, v in sup.diagnostics.items())
            lines.append(f"        search at the end: {said}")
        b = r.best
        if b is not None:
            of = f" (winner of {b.candidates} candidates)" if b.candidates else ""
            ranked = f", ranked in {b.rank_seconds:.0f}s" if b.rank_seconds is not None else ""
            lines.append(
                f"        derived net{of}, inherited weights: val acc {b.val_acc:.4f}, "
                f"test acc {b.test_acc:.4f}, {b.params:,} params, channels dropped "
                f"{b.channel_drop:.2f}, ops dropped {b.operation_drop:.2f}{ranked}"
            )
            if b.test_acc_finetuned is not None:
                lines.append(f"        derived net fine-tuned: test acc {b.test_acc_finetuned:.4f}")
            if b.test_acc_scratch is not None:
                lines.append(
                    f"        derived net trained from scratch: test acc {b.test_acc_scratch:.4f}"
                )
    if summary.wall_seconds is not None:
        lines.append(f"wall time {summary.wall_seconds:.0f}s")
    return "\n".join(lines)
