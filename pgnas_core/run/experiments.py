"""Experiment runners behind the notebooks: cached searches, one-field sweeps, the C study.

A notebook sets parameters and calls these; the logic lives here, with tests
(``tests/test_experiments.py``). Runs are cached in folders named by a hash of their
resolved config, so notebooks that need the same run share it and a changed config never
reuses a stale one.

- :func:`quick_mode` - the notebooks' CI / laptop switch (``CI`` or ``PGNAS_QUICK``).
- :func:`cached_search` - Algorithm 1 into ``root/<name>-<hash>``, skipped when finished.
- :func:`run_sweep` - one net per value of one config field (Tables 4 and 5); a tidy table.
- :func:`rank_with_test` - rank C candidates of a trained run and also score them on the test
  split (reporting only: selection stays on validation), for Table 6.
- :func:`candidates_study` - resample C-candidate subsets of such a table (Table 6).
  (These two and :func:`summarise_study` live in :mod:`.candidate_counts`; the notebooks
  reach them here.)
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import RunConfig, apply_override
from ..errors import PgnasError
from ..methods.diagnostics import DIAGNOSTICS
from .candidate_counts import candidates_study, rank_with_test, summarise_study  # noqa: F401
from .run_dir import RunDir, Summary

#: The notebooks' shared quick run: scikit-learn's real digits (1,797 8x8 images), the tiny
#: two-branch supernet, PGNAS and the Random baseline, one epoch of fine-tuning of each winner.
QUICK_PRESET = "digits"
QUICK_OVERRIDES = (
    "train.epochs=6",
    "posterior.l2=10",
    "search.candidates=30",
    "search.finetune_epochs=1",
)

#: The cell space in quick mode: the tiny cell supernet on digits, architecture learning
#: rates for a few hundred steps, and every derived net also trained from scratch briefly.
CELL_QUICK_OVERRIDES = (
    "supernet.name=supnet_cell_tiny",
    "method.baselines=[]",
    "train.epochs=6",
    "darts.arch_lr=0.01",
    "balenas.eta=0.1",
    "search.candidates=20",
    "search.scratch_epochs=5",
)
#: Per-method additions to the quick cell runs: BayesNAS warms up on 30% of digits for 6
#: passes and takes batches of 16 (at 64 its few SGD steps left the tiny supernet at 0.74
#: test accuracy, at 16 0.94), SGD at 0.025 (0.1 diverged), lambda 0.05 (0.5 and above pruned
#: the net to nothing).
CELL_QUICK_METHOD_OVERRIDES = {
    "bayesnas": (
        "data.batch_size=16",
        "bayesnas.lam=0.05",
        "bayesnas.lr=0.025",
        "bayesnas.warmup_fraction=0.3",
        "bayesnas.warmup_epochs=6",
    ),
}

RUNS_ENV = "PGNAS_NOTEBOOK_RUNS"  # where cached notebook runs live (default runs/notebooks)
_OFF = ("", "0", "false", "no", "off")


def quick_mode(env: dict | None = None) -> bool:
    """True when ``CI`` or ``PGNAS_QUICK`` is set to something other than 0/false/no/off."""
    env = os.environ if env is None else env
    return any(str(env.get(k, "")).strip().lower() not in _OFF for k in ("CI", "PGNAS_QUICK"))


def quick_config(*overrides: str, preset: str = QUICK_PRESET) -> RunConfig:
    """The quick-mode config of the notebooks (``QUICK_PRESET`` + ``QUICK_OVERRIDES``) with
    further ``section.field=value`` overrides; the same overrides give the same cached run."""
    from ..config import resolve_config

    return resolve_config(preset, overrides=[*QUICK_OVERRIDES, *overrides])


def cell_config(
    method: str,
    *overrides: str,
    quick: bool = True,
    preset: str = "cell_small",
    scratch_epochs: int = 3,
) -> RunConfig:
    """A run of ``method`` on the cell space: quick (digits, CELL_QUICK_OVERRIDES) or
    ``preset`` (``cell_small``: Fashion-MNIST, minutes per method on a 2-core CPU;
    ``cell_cifar10``: the paper's size), with every derived net also trained from scratch for
    ``scratch_epochs`` epochs."""
    from ..config import resolve_config

    if quick:
        extra = CELL_QUICK_METHOD_OVERRIDES.get(method, ())
        return resolve_config(
            QUICK_PRESET,
            overrides=[*CELL_QUICK_OVERRIDES, f"method.name={method}", *extra, *overrides],
        )
    base = [f"method.name={method}", f"search.scratch_epochs={scratch_epochs}"]
    return resolve_config(preset, overrides=[*base, *overrides])


def default_runs_root(start: Path | None = None) -> Path:
    """``$PGNAS_NOTEBOOK_RUNS``, else ``<repo>/runs/notebooks`` (the repo found from ``start``
    or the working directory upwards), else ``./runs/notebooks``."""
    if os.environ.get(RUNS_ENV):
        return Path(os.environ[RUNS_ENV])
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "pgnas_core").is_dir():
            return d / "runs" / "notebooks"
    return here / "runs" / "notebooks"


def config_hash(cfg: RunConfig) -> str:
    """A short stable hash of everything that changes a run's numbers (not its description)."""
    d = cfg.to_dict()
    d.pop("description", None)
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:8]


def with_overrides(cfg: RunConfig, overrides: dict | Iterable[str] = ()) -> RunConfig:
    """A validated copy of ``cfg`` with ``{"posterior.l2": 10}`` or ``["posterior.l2=10"]``
    applied (the same dotted names as ``pgnas --set``)."""
    d = copy.deepcopy(cfg.to_dict())
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            *sections, last = str(key).split(".")
            node = d
            for part in sections:
                node = node.setdefault(part, {})
            node[last] = value
    else:
        for assignment in overrides:
            apply_override(d, assignment)
    return RunConfig.from_dict(d).validate()


def run_dir_for(cfg: RunConfig, root: Path, name: str = "run") -> Path:
    """``root/<name>-<hash>``, or an already finished run of the same config under another
    name (an l2 sweep's point equal to a tau sweep's point is trained once)."""
    h = config_hash(cfg)
    own = Path(root) / f"{name}-{h}"
    if not is_finished(own) and Path(root).is_dir():
        for other in sorted(Path(root).glob(f"*-{h}")):
            if is_finished(other):
                return other
    return own


def is_finished(run_dir: Path) -> bool:
    return (Path(run_dir) / "summary.json").is_file()


def cached_search(
    cfg: RunConfig, root: Path | None = None, name: str = "run", progress: bool = False
) -> Path:
    """Run Algorithm 1 (:func:`pgnas_core.run.pipeline.search`) into ``root/<name>-<hash>`` unless
    that folder already holds a finished run; an unfinished one is resumed. Returns the folder."""
    from .pipeline import search

    out = run_dir_for(cfg, root or default_runs_root(), name)
    if not is_finished(out):
        search(cfg, out, resume=out.exists(), progress=progress)
    return out


def load_summary(run_dir: Path) -> Summary:
    """summary.json of a finished run (RunDirError when there is none)."""
    return RunDir(run_dir).read_summary()


def summary_row(run_dir: Path, method: str | None = None) -> dict:
    """One tidy row of a finished run: its settings and what one method's winner measured
    (default: the run's main method)."""
    run = RunDir(run_dir)
    s = run.read_summary()
    cfg = run.read_config()
    method = method or cfg.method.name
    r = s[method]
    best = r.best
    get = (lambda k: getattr(best, k)) if best is not None else (lambda k: None)
    return {
        "method": method,
        "supernet": cfg.supernet.name,
        "dataset": s.dataset,
        "l2": cfg.posterior.l2,
        "tau": cfg.posterior.tau,
        "weight_term": cfg.posterior.weight_term,
        "epochs": cfg.train.epochs,
        "candidates": get("candidates"),
        "mean_keep": r.supernet.mean_keep,
        "supernet_params": r.supernet.params,
        # None for a version-1 DARTS/BaLeNAS record, whose number was the argmax cell's
        "supernet_test_acc": r.supernet.test_acc if r.supernet.is_supernet else None,
        "supernet_evaluated_as": r.supernet.evaluated_as,
        "channel_drop": get("channel_drop"),
        "operation_drop": get("operation_drop"),
        "params": get("params"),
        "val_acc": get("val_acc"),
        "test_acc": get("test_acc"),
        "test_acc_finetuned": get("test_acc_finetuned"),
        "test_acc_scratch": get("test_acc_scratch"),
        "train_seconds": r.train_seconds,
        "rank_seconds": get("rank_seconds"),
        "search_seconds": r.train_seconds + (get("rank_seconds") or 0.0),
        "wall_seconds": s.wall_seconds,
        "device": s.device,
        "seed": cfg.train.seed,
        "test_images": s.sizes["test"],
        "val_images": s.sizes["val"],
        **_last_epoch(run.method_dir(method, cfg.method.name).history),
        "run_dir": str(run_dir),
    }


def _last_epoch(history_path: Path) -> dict:
    """The epochs the method trained (its own count: BayesNAS's differs from train.epochs)
    and the differentiable methods' per-epoch numbers of the final epoch (if any)."""
    if not Path(history_path).is_file():
        return {}
    history = pd.read_csv(history_path)
    last = history.iloc[-1]
    keys = ("param_free_fraction", "none_fraction", "mean_sigma", *DIAGNOSTICS)
    return {"epochs": len(history), **{k: float(last[k]) for k in keys if k in last.index}}


def with_paper_units(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``error`` (test error of the winner in percent) and ``params_m`` (millions), the
    units the paper prints, to a table with ``test_acc`` and ``params`` columns."""
    out = df.copy()
    out["error"] = 100.0 * (1.0 - out["test_acc"].astype(float))
    out["params_m"] = out["params"].astype(float) / 1e6
    if "test_acc_finetuned" in out.columns:
        out["error_finetuned"] = 100.0 * (1.0 - out["test_acc_finetuned"].astype(float))
    return out


def guided_vs_random(run_dir: Path) -> pd.DataFrame:
    """Paper Table 3's rows for one finished run with its Random baseline: ``full`` (the
    Random-trained supernet with every channel, evaluated as its mean network), ``random`` and
    ``random_ft`` (the Random winner without / with fine-tuning), ``pgnas`` and ``pgnas_ft``.
    Errors in percent, params in millions; fine-tuned rows only when the run fine-tuned."""
    run = RunDir(run_dir)
    s = run.read_summary()
    if "random" not in s:
        raise PgnasError(f"{run_dir} has no Random baseline (method.baselines has no random)")
    supernet = run.read_config().supernet.name
    rows = [
        {
            "method": "full",
            "test_acc": s["random"].supernet.test_acc,
            "params": s["random"].supernet.params,
        }
    ]
    for method in ("random", "pgnas"):
        best = s[method].best
        rows.append({"method": method, "test_acc": best.test_acc, "params": best.params})
        if best.test_acc_finetuned is not None:
            rows.append(
                {
                    "method": f"{method}_ft",
                    "test_acc": best.test_acc_finetuned,
                    "params": best.params,
                }
            )
    df = with_paper_units(pd.DataFrame(rows))
    df.insert(0, "supernet", supernet)
    return df[["supernet", "method", "error", "params_m", "test_acc", "params"]]


def run_sweep(
    base_cfg: RunConfig,
    field: str,
    values: Sequence,
    out_root: Path | None = None,
    resume: bool = True,
    progress: bool = False,
) -> pd.DataFrame:
    """Train and search one net per value of ``field`` (e.g. ``"posterior.l2"``, Table 4;
    ``"posterior.tau"``, Table 5). One row per value (see :func:`summary_row`) plus a
    ``value`` column. With ``resume`` finished runs are reused and unfinished ones continued;
    without it every run must be new."""
    df = run_grid(base_cfg, {field: values}, out_root, resume, progress)
    df.insert(0, "field", field)
    return df.rename(columns={field: "value"})


def run_grid(
    base_cfg: RunConfig,
    grid: dict,
    out_root: Path | None = None,
    resume: bool = True,
    progress: bool = False,
) -> pd.DataFrame:
    """One run per combination of the ``grid``'s values (field -> values, e.g.
    ``{"balenas.lambda0": [...], "balenas.sigma0": [...]}``), cached like
    :func:`cached_search`; one row per run (:func:`summary_row`) with a column per field."""
    import itertools

    root = Path(out_root or default_runs_root())
    rows = []
    for combo in itertools.product(*grid.values()):
        point = dict(zip(grid, combo))
        cfg = with_overrides(base_cfg, point)
        name = ",".join(f"{k.split('.')[-1]}={v}" for k, v in point.items())
        out = run_dir_for(cfg, root, name)
        if not resume and out.exists() and any(out.iterdir()):
            raise PgnasError(f"{out} already holds a run; pass resume=True to reuse it")
        if not is_finished(out):
            from .pipeline import search

            search(cfg, out, resume=resume and out.exists(), progress=progress)
        rows.append({**point, **summary_row(out)})
    return pd.DataFrame(rows)


def regulariser_gradients(
    supernet, l2: float, n_train: float = 1.0, weight_term: str = "coupled"
) -> pd.DataFrame:
    """d(term)/dp_j of the two parts of R/N (Eq. 15) at every learnable site, by autograd
    through :func:`pgnas_core.loss.regulariser`: one row per site with its tags,
    ``keep_prob``, ``d_weight_dp`` and ``d_entropy_dp``. Gradient descent moves ``p_j``
    against the sign: the weight term pushes p up (drop more), the entropy term towards 0.5."""
    import torch

    from ..train.loss import regulariser

    sites = [s for s in supernet.sites() if s.learnable]
    thetas = [s.theta for s in sites]
    reg = regulariser(supernet, l2, weight_term)
    rows = []
    d_weight = torch.autograd.grad(
        reg.weight / n_train, thetas, retain_graph=True, allow_unused=True
    )
    d_entropy = torch.autograd.grad(reg.entropy / n_train, thetas, allow_unused=True)
    for s, gw, ge in zip(sites, d_weight, d_entropy):
        p = float(s.p.detach())
        dp_dtheta = p * (1 - p)  # chain rule through p = sigmoid(theta)
        rows.append(
            {
                "site": s.name,
                **s.tags,
                "keep_prob": 1 - p,
                "d_weight_dp": (0.0 if gw is None else float(gw)) / dp_dtheta,
                "d_entropy_dp": (0.0 if ge is None else float(ge)) / dp_dtheta,
            }
        )
    return pd.DataFrame(rows)


def small_supernet_of(name: str, prefer: Sequence[str] = ("_tiny", "_small")) -> str | None:
    """A registered CPU-sized supernet of the same family as the paper supernet ``name``
    (``supnet_r50`` -> ``supnet_r50_tiny``), or None when its family has none."""
    from ..supernets import list_supernets, supernet_entry

    family = supernet_entry(name).family
    small = [n for n in list_supernets(paper=False) if supernet_entry(n).family == family]
    for suffix in prefer:
        if f"{name}{suffix}" in small:
            return f"{name}{suffix}"
    return small[0] if small else None


def monotone_trend(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation of ``y`` with ``x`` (+1: y rises with x, -1: falls), used by
    the notebooks to state in words whether a small run shows the paper's trend."""
    s = pd.Series(list(y), dtype=float).rank()
    t = pd.Series(list(x), dtype=float).rank()
    if s.nunique() < 2 or t.nunique() < 2:
        return 0.0
    return float(np.corrcoef(s, t)[0, 1])


def one_run_verdict(ours: float, theirs: float, lower_is_better: bool, resolution: float) -> str:
    """A paper claim's verdict from ONE run, which says so: ``ours`` should beat ``theirs``
    (lower or higher); a difference smaller than ``resolution`` (for example one test image,
    in the metric's units) is "not resolved", never "holds"."""
    gap = (theirs - ours) if lower_is_better else (ours - theirs)
    if abs(gap) < resolution:
        return (
            f"not resolved in this one run (a difference of {abs(gap):.3g} is below the "
            f"resolution of {resolution:.3g})"
        )
    if gap > 0:
        return "holds in this one run (one seed: not a claim about spread)"
    return "does not hold in this one run (one seed: not a claim about spread)"


def _read_yaml(path: Path) -> dict:
    import yaml

    return yaml.safe_load(Path(path).read_text()) or {}
