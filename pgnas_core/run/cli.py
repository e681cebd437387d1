"""The ``pgnas`` command: search (Algorithm 1 end to end), its steps alone, and presets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, PgnasError, one_line
from .cli_config import add_config_parser, run_config_command
from .cli_report import add_report_parser, run_report

EPILOG = """examples:
  pgnas search --preset demo --out runs/demo
  pgnas search --preset digits --set train.epochs=3 --set search.candidates=20 --out runs/d
  pgnas train --preset supnet_m_cifar10 --set data.root=/data --out runs/m
  pgnas rank --out runs/m --set search.candidates=1500
  pgnas export --out runs/m --seed 17
  pgnas export --out runs/m --format onnx
  pgnas study guided_vs_random --tier laptop --out runs/studies/gvr
  pgnas report runs/demo --dest demo.html
  pgnas presets
  pgnas config --preset digits --set method.name=darts"""


def _add_config_args(p: argparse.ArgumentParser, preset_default: str | None = "demo") -> None:
    p.add_argument(
        "--preset",
        default=preset_default,
        help="a preset name (see `pgnas presets`; default: %(default)s)",
    )
    p.add_argument("--config", help="a YAML file merged over the preset")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field, e.g. --set train.lr=0.1 (repeatable)",
    )


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--force",
        action="store_true",
        help="resume even though settings that change the numbers differ from the "
        "run's (recorded in config_history.yaml)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgnas",
        description="Posterior-Guided Neural Architecture Search.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in [
        ("search", "train, rank and export (Algorithm 1 end to end)"),
        ("train", "train the supernet(s) only"),
    ]:
        p = sub.add_parser(name, help=help_)
        _add_config_args(p)
        p.add_argument("--out", default="runs/demo", help="run directory (default: %(default)s)")
        p.add_argument("--resume", action="store_true", help="continue the run in --out")
        _add_force(p)
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p = sub.add_parser("rank", help="rank candidates of a trained run and export the winner")
    p.add_argument("--out", required=True, help="a run directory made by `pgnas train`")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    _add_force(p)
    p.add_argument("--no-progress", action="store_true")
    p = sub.add_parser(
        "export", help="export the architecture a trained run's method found as a compact net"
    )
    p.add_argument("--out", required=True, help="a run directory")
    p.add_argument(
        "--seed",
        type=int,
        help="PGNAS/Random: the candidate's seed (default: the ranked winner)",
    )
    p.add_argument(
        "--sample", type=int, metavar="K", help="BaLeNAS: K architectures drawn from q(alpha)"
    )
    p.add_argument(
        "--dest",
        help="where to write it (default: OUT/subnet_seed<SEED>, subnet_argmax, "
        "subnet_sample<I>, subnet_pruned; with several, DEST/subnet_sample<I>)",
    )
    p.add_argument("--method", help="from this method's supernet (default: the run's method)")
    p.add_argument(
        "--random",
        action="store_true",
        help="from the Random baseline's supernet (the same as --method random)",
    )
    p.add_argument(
        "--format",
        default="folder",
        help="folder (weights.pt + arch.json, reloads with pgnas), pt2 (also model.pt2: torch "
        "alone) or onnx (also model.onnx: onnxruntime alone); default: %(default)s",
    )
    sub.add_parser("presets", help="list presets, methods and registered supernets")
    add_config_parser(sub, _add_config_args)
    p = sub.add_parser(
        "study",
        help="a grid of configurations x seeds, resumable, in parallel; the claims' verdicts",
    )
    p.add_argument("name", help="a study (see `pgnas study list`) or a study YAML file")
    p.add_argument("--tier", default="laptop", help="quick | laptop | paper (default: laptop)")
    p.add_argument("--out", help="the study folder (default: runs/studies/NAME-TIER)")
    p.add_argument("--jobs", type=int, help="runs at a time, one thread each (default: cores)")
    p.add_argument(
        "--force",
        action="store_true",
        help="continue a study whose runs were made at another commit (recorded in study.json)",
    )
    p.add_argument(
        "--reference",
        action="store_true",
        help="also copy its tables and verdicts to results/reference/NAME",
    )
    p.add_argument("--no-progress", action="store_true")
    from .study.executors import add_arguments as add_executor_arguments

    add_executor_arguments(p)
    add_report_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors a user can act on print ONE line (no traceback unless
    ``--debug``): exit 2 for bad input (like argparse), 1 for other failures, 130 for Ctrl-C."""
    args = build_parser().parse_args(argv)
    from ..errors import Interrupted

    try:
        return _dispatch(args)
    except Interrupted as e:
        if args.debug:
            raise
        print(f"pgnas: interrupted: {e}", file=sys.stderr)
        return 130
    except PgnasError as e:
        if args.debug:
            raise
        print(f"pgnas: error: {one_line(e)}", file=sys.stderr)
        return 2 if isinstance(e, ConfigError) else 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("pgnas: interrupted; resume with --resume", file=sys.stderr)
        return 130
    finally:
        from ..train.distributed import shutdown

        shutdown()


def _init_distributed(cfg) -> None:
    """Under torchrun, join the process group before any work."""
    from ..train.distributed import init_distributed, launched_by_torchrun

    if launched_by_torchrun():
        init_distributed(cfg.train.device, cfg.train.dist_backend)


def _dispatch(args) -> int:
    from ..config import resolve_config
    from .pipeline import format_summary, search

    if args.command == "presets":
        _print_presets()
        return 0
    if args.command == "config":
        return run_config_command(args)
    if args.command in ("search", "train"):
        cfg = resolve_config(args.preset, args.config, args.overrides)
        _init_distributed(cfg)
        steps = ("train", "rank") if args.command == "search" else ("train",)
        summary = search(
            cfg,
            Path(args.out),
            resume=args.resume,
            force=args.force,
            progress=not args.no_progress,
            steps=steps,
        )
        if _is_main():
            print(format_summary(summary))
            print(f"results in {args.out}")
        return 0
    if args.command == "rank":
        cfg = _run_config(args.out, args.overrides)
        _init_distributed(cfg)
        summary = search(
            cfg,
            Path(args.out),
            resume=True,
            force=args.force,
            progress=not args.no_progress,
            steps=("rank",),
        )
        if _is_main():
            print(format_summary(summary))
        return 0
    if args.command == "export":
        return _export(args)
    if args.command == "study":
        return _study(args)
    if args.command == "report":
        return run_report(args)
    raise AssertionError(args.command)


def _study(args) -> int:
    from . import study as st
    from .study.executors import from_args

    if args.name == "list":
        for name, desc in st.list_studies().items():
            print(f"  {name:<24} {desc}")
        return 0
    spec = st.load_study(args.name)
    out = Path(args.out or Path("runs") / "studies" / f"{spec.name}-{args.tier}")
    command = "pgnas " + " ".join(sys.argv[1:]) if sys.argv[1:] else None
    executor = from_args(args)
    table = st.run_study(
        spec, args.tier, out, args.jobs, not args.no_progress, command, executor, force=args.force
    )
    summary = st.summarise(table)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    for _, v in st.verdicts(table, spec.name).iterrows():
        print(st.verdict_line(v))
    if args.reference:
        print(f"reference results in {st.publish_reference(out, spec.name)}")
    print(f"results in {out}")
    return 0


def _print_presets() -> None:
    from ..config import list_presets
    from ..methods import list_methods, method_class
    from ..supernets import list_supernets, supernet_entry

    print("presets:")
    for name, desc in list_presets().items():
        print(f"  {name:<28} {desc}")
    print("methods (method.name):")
    for name in list_methods():
        print(f"  {name:<28} {method_class(name).description}")
    print("supernets:")
    for name in list_supernets():
        print(f"  {name:<28} {supernet_entry(name).description}")


def _is_main() -> bool:
    from ..train.distributed import context

    return context().is_main


def _run_config(run_dir: str, overrides):
    """A run's config.yaml with ``--set`` overrides applied (rank / export)."""
    from ..config import RunConfig, apply_override
    from .run_dir import RunDir

    d = RunDir(run_dir).read_config().to_dict()
    for o in overrides:
        apply_override(d, o)
    return RunConfig.from_dict(d).validate()


def _export(args) -> int:
    """Export what the run's method found (``SearchMethod.export``): a sampled candidate
    (``--seed``, default: the winner), the argmax cell, K draws of q(alpha) (``--sample``) or
    the pruned net; each as a compact net, with its validation accuracy."""
    from ..data import load_data, stack_split
    from ..methods import ExportRequest
    from ..rank import save_subnet
    from ..rank.portable import check_format, describe, write_portable
    from ..rank.sampling import check_candidate_seed
    from ..train import evaluate
    from .run_dir import RunDir, check_out_dir, load_supernet

    check_format(args.format)
    if args.seed is not None:  # arguments first: nothing is loaded or written for bad ones
        check_candidate_seed(args.seed)
    if args.dest:
        check_out_dir(Path(args.dest), "--dest")
    run = RunDir(args.out)
    cfg = run.read_config()
    if args.random and args.method not in (None, "random"):
        raise ConfigError("--method", args.method, "nothing when --random is given")
    method = "random" if args.random else (args.method or cfg.method.name)
    net, m = load_supernet(run, method)
    where = run.method_dir(method, cfg.method.name)

    def winner_seed() -> int:
        if not where.best.is_file():
            raise PgnasError(f"no ranked winner in {where.path}: pass --seed or run `pgnas rank`")
        seed = where.read_winner().seed
        if seed is None:
            raise PgnasError(
                f"the {method} winner in {where.path} is not a sampled candidate: pass --seed"
            )
        return seed

    data = load_data(cfg.data)
    exports = m.export(net, data, ExportRequest(args.seed, args.sample, winner_seed))
    x_val, y_val = stack_split(data.val)
    for e in exports:
        val = evaluate(e.compact, x_val, y_val, cfg.data.eval_batch_size)
        dest = where.path / e.name
        if args.dest:
            dest = Path(args.dest) / e.name if len(exports) > 1 else Path(args.dest)
        if dest.exists() and not dest.is_dir():
            raise PgnasError(f"--dest {dest} is a file, not a directory")
        meta = save_subnet(
            dest,
            e.compact,
            e.architecture,
            tuple(x_val.shape[1:]),
            method=method,
            **e.record,
            val_acc=val["acc"],
            val_loss=val["loss"],
        )
        print(
            f"exported {method} {e.description} ({e.architecture.archid}): "
            f"{meta['params']:,} params, {meta['flops']:,} FLOPs, val acc {val['acc']:.4f} "
            f"-> {dest}"
        )
        if args.format != "folder":
            portable = write_portable(args.format, dest, e.compact, x_val[:256], meta, data.info)
            print(describe(portable))
    return 0


if __name__ == "__main__":
    sys.exit(main())
