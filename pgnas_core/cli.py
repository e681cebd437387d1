"""The ``pgnas`` command: search (Algorithm 1 end to end), its steps alone, and presets."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import PgnasError

EPILOG = """examples:
  pgnas search --preset demo --out runs/demo
  pgnas search --preset digits --set train.epochs=3 --set search.candidates=20 --out runs/d
  pgnas train --preset supnet_m_cifar10 --set data.root=/data --out runs/m
  pgnas rank --out runs/m --set search.candidates=1500
  pgnas export --out runs/m --seed 17
  pgnas presets"""


def _add_config_args(p: argparse.ArgumentParser, preset_default: str | None = "demo") -> None:
    p.add_argument("--preset", default=preset_default,
                   help="a preset name (see `pgnas presets`; default: %(default)s)")
    p.add_argument("--config", help="a YAML file merged over the preset")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field, e.g. --set train.lr=0.1 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgnas", description="Posterior-Guided Neural Architecture Search.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in [("search", "train, rank and export (Algorithm 1 end to end)"),
                        ("train", "train the supernet(s) only")]:
        p = sub.add_parser(name, help=help_)
        _add_config_args(p)
        p.add_argument("--out", default="runs/demo", help="run directory (default: %(default)s)")
        p.add_argument("--resume", action="store_true", help="continue the run in --out")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p = sub.add_parser("rank", help="rank candidates of a trained run and export the winner")
    p.add_argument("--out", required=True, help="a run directory made by `pgnas train`")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--no-progress", action="store_true")
    p = sub.add_parser("export", help="export one candidate of a trained run as a compact net")
    p.add_argument("--out", required=True, help="a run directory")
    p.add_argument("--seed", type=int, help="the candidate's seed (default: the ranked winner)")
    p.add_argument("--dest", help="where to write it (default: OUT/subnet_seed<SEED>)")
    p.add_argument("--random", action="store_true", help="from the Random baseline's supernet")
    sub.add_parser("presets", help="list presets and registered supernets")
    return parser


def _run_config(run_dir: Path, overrides):
    from .config import resolve_config
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise PgnasError(f"{run_dir} is not a run directory (no config.yaml): "
                         f"make one with `pgnas train --out {run_dir}`")
    return resolve_config(None, path, overrides)


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors a user can act on print ONE line (no traceback unless
    ``--debug``): exit 2 for bad input (like argparse), 1 for other failures, 130 for Ctrl-C."""
    args = build_parser().parse_args(argv)
    from .errors import ConfigError, Interrupted
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
        print(f"pgnas: error: {e}", file=sys.stderr)
        return 2 if isinstance(e, ConfigError) else 1
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("pgnas: interrupted; resume with --resume", file=sys.stderr)
        return 130
    finally:
        from .distributed import shutdown
        shutdown()


def _init_distributed(cfg) -> None:
    """Under torchrun, join the process group before any work."""
    from .distributed import init_distributed, launched_by_torchrun
    if launched_by_torchrun():
        init_distributed(cfg.train.device, cfg.train.dist_backend)


def _dispatch(args) -> int:
    from .config import list_presets, resolve_config
    from .search import format_summary, search

    if args.command == "presets":
        from .supernets import list_supernets, supernet_entry
        print("presets:")
        for name, desc in list_presets().items():
            print(f"  {name:<28} {desc}")
        print("supernets:")
        for name in list_supernets():
            e = supernet_entry(name)
            print(f"  {name:<28} {e.description}")
        return 0
    if args.command in ("search", "train"):
        cfg = resolve_config(args.preset, args.config, args.overrides)
        _init_distributed(cfg)
        steps = ("train", "rank") if args.command == "search" else ("train",)
        summary = search(cfg, Path(args.out), resume=args.resume,
                         progress=not args.no_progress, steps=steps)
        if _is_main():
            print(format_summary(summary))
            print(f"results in {args.out}")
        return 0
    if args.command == "rank":
        cfg = _run_config(args.out, args.overrides)
        _init_distributed(cfg)
        summary = search(cfg, Path(args.out), resume=True, progress=not args.no_progress,
                         steps=("rank",))
        if _is_main():
            print(format_summary(summary))
        return 0
    if args.command == "export":
        return _export(args)
    raise AssertionError(args.command)


def _is_main() -> bool:
    from .distributed import context
    return context().is_main


def _export(args) -> int:
    from .data import load_data, stack_split
    from .evaluation import evaluate
    from .export import export_subnet, save_subnet
    from .sampling import sample_architecture
    from .train import load_trained_supernet

    cfg = _run_config(args.out, [])
    run = Path(args.out) / ("random" if args.random else "")
    seed = args.seed
    if seed is None:
        best = run / "best.json"
        if not best.is_file():
            raise PgnasError(f"no ranked winner in {run}: pass --seed or run `pgnas rank`")
        seed = json.loads(best.read_text())["seed"]
    data = load_data(cfg.data)
    net = load_trained_supernet(cfg, data.info, run, "random" if args.random else "pgnas")
    arch = sample_architecture(net, seed)
    compact = export_subnet(net, arch)
    x_val, y_val = stack_split(data.val)
    val = evaluate(compact, x_val, y_val)
    dest = Path(args.dest or run / f"subnet_seed{seed}")
    meta = save_subnet(dest, compact, arch, tuple(x_val.shape[1:]), seed=seed,
                       val_acc=val["acc"])
    print(f"exported candidate seed {seed} ({arch.archid}): {meta['params']:,} params, "
          f"{meta['flops']:,} FLOPs, val acc {val['acc']:.4f} -> {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
