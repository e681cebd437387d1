"""Algorithm 1 end to end, into a run directory (:mod:`.run_dir` has the layout): for the
configured method and each baseline, train the supernet, derive an architecture, export it
and report its accuracy on the test split (which nothing before that step sees)."""

from __future__ import annotations

import copy
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
from ..train.kill_hook import kill_hook as _kill_hook
from .correctness import CORRECT_FILE, save_correct, test_digest
from .preflight import check_checkpoints, removed_if_failed, restored_if_refused
from .run_dir import (
    CELL_FILE,
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
    device = describe_device(resolve_device(cfg.train.device))
    data = load_data(cfg.data)
    check_data_fits(cfg, data)
    if resume or "train" not in steps:  # what it continues from: this method's, this net's
        check_checkpoints(run, cfg, names, data.info)
    # only now, with everything checked, is the first file written
    with removed_if_failed(run.path), restored_if_refused(run, "train" not in steps):
        run.start(cfg, command=" ".join(steps))
        summary = Summary(cfg.supernet.name, data.info.name, data.sizes(), device)
        for name in names:
            where = run.method_dir(name, cfg.method.name)
            summary.methods[name] = run_method(
                cfg, data, run, where, resume, progress, steps, force
            )
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
    bits: dict = {}  # net -> which test images it gets right (test_correct.npz)
    result = MethodResult(
        where.method, supernet_report(cfg, method, net, data, bits), time.perf_counter() - tic
    )
    if "rank" in steps:
        result.best = derive_and_export(cfg, method, net, data, where, progress, force, bits)
    if context().is_main:
        x_test, y_test = stack_split(data.test)
        save_correct(where.path / CORRECT_FILE, bits, test_digest(x_test, y_test))
    return result


def supernet_report(cfg: RunConfig, method, net, data, bits: dict | None = None) -> SupernetReport:
    """Test accuracy of the trained supernet (its method's evaluation net) and its size
    (``bits``: gets its per-image correctness as ``supernet``)."""
    x_test, y_test = stack_split(data.test)
    with method.evaluation_mode(net):
        test = evaluate(net, x_test, y_test, cfg.data.eval_batch_size, _topk(data.info), True)
    if bits is not None:
        bits["supernet"] = test["correct"].numpy()
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
    cfg: RunConfig,
    method,
    net,
    data,
    where: MethodDir,
    progress: bool = True,
    force: bool = False,
    bits: dict | None = None,
) -> Winner | None:
    """Derive the architecture (``method.derive``: selects on the validation split only),
    export it to ``subnet/`` and measure it on the test split, fine-tune a copy into
    ``subnet_finetuned/`` (``search.finetune_epochs`` > 0) and train the architecture from
    scratch into ``subnet_scratch/`` (``search.scratch_epochs`` > 0); write best.json.
    ``bits`` gets each reported net's per-image test correctness."""
    ctx = DeriveContext(
        where.ranking_store, force=force, progress=progress, on_pass=_kill_hook("rank")
    )
    derived = method.derive(net, data, ctx)
    if derived is None:  # another rank under torchrun: rank 0 exports and writes
        return None
    for name, table in derived.tables.items():
        table.to_csv(where.path / f"{name}.csv", index=False)
    where.remove_ranking_stores()
    splits = _Splits(data, cfg.data.eval_batch_size, bits)
    with method.derived_mode(net, derived.architecture):
        masked = splits.evaluate(net, "test")
    winner = _export_winner(derived, splits, where, masked)
    if hasattr(net, "cell_string"):  # a cell space: the derived cell as the field writes it
        winner.cell = net.cell_string(derived.architecture)
        if winner.cell is not None:
            (where.path / CELL_FILE).write_text(winner.cell + "\n")
    if cfg.search.finetune_epochs > 0:
        _retrain_winner(cfg, derived, data, splits, where, winner, progress, scratch=False)
    if cfg.search.scratch_epochs > 0:
        _retrain_winner(cfg, derived, data, splits, where, winner, progress, scratch=True)
    where.write_winner(winner)
    method.gate_for_evaluation(net)
    return winner


class _Splits:
    """The validation and test splits as tensors, evaluated with the run's batch and top-k."""

    def __init__(self, data, batch: int, bits: dict | None = None):
        self.tensors = {"val": stack_split(data.val), "test": stack_split(data.test)}
        self.batch, self.topk = batch, _topk(data.info)
        self.shape = tuple(self.tensors["val"][0].shape[1:])
        self.bits = bits

    def evaluate(self, model, split: str, net: str | None = None) -> dict:
        """``net``: a reported net, whose per-image test correctness goes to ``bits``."""
        keep = split == "test" and net is not None and self.bits is not None
        out = evaluate(model, *self.tensors[split], self.batch, self.topk, keep)
        if keep:
            self.bits[net] = out.pop("correct").numpy()
        return out


def _export_winner(derived, splits: _Splits, where: MethodDir, masked: dict) -> Winner:
    """subnet/ and the winner's record, every accuracy measured on the exported weights."""
    arch, compact, sel = derived.architecture, derived.compact, derived.selection
    val, test = splits.evaluate(compact, "val"), splits.evaluate(compact, "test", "winner")
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
    # fine-tuning starts at search.finetune_lr (0: the search's peak train.lr), cosine to 0
    lr = cfg.search.finetune_lr if not scratch and cfg.search.finetune_lr > 0 else cfg.train.lr
    tuned = train(
        copy.deepcopy(derived.compact),
        data.train,
        epochs,
        lr,
        cfg.data.batch_size,
        cfg.train.seed,
        progress=progress,
    )
    kind = "scratch" if scratch else "finetuned"
    val, test = splits.evaluate(tuned, "val"), splits.evaluate(tuned, "test", kind)
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
            if b.cell is not None:
                lines.append(f"        derived cell: {b.cell}")
            if b.test_acc_finetuned is not None:
                lines.append(f"        derived net fine-tuned: test acc {b.test_acc_finetuned:.4f}")
            if b.test_acc_scratch is not None:
                lines.append(
                    f"        derived net trained from scratch: test acc {b.test_acc_scratch:.4f}"
                )
    if summary.wall_seconds is not None:
        lines.append(f"wall time {summary.wall_seconds:.0f}s")
    return "\n".join(lines)
