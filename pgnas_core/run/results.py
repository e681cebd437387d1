"""Read a run directory back as tables: what the plots, widgets and notebooks show.

Data only (pandas, no plotting), so a run made elsewhere (``pgnas search`` on a GPU) can be
loaded and shown without retraining. Missing files give ``None``, never an error, so a run
that was only trained (no ranking yet) still loads.

Also the statistics of paper Table 7 per stage / block / branch (:func:`drop_proportions`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..architecture import Architecture
from ..config import RunConfig
from ..rank.export import SUBNET_META
from .run_dir import MethodDir, RunDir, Summary, Winner, read_json

#: Columns of keep_probs.csv that are not site tags.
KEEP_PROB_COLUMNS = ("epoch", "site", "op", "channels", "keep_prob")
#: Tags every supernet family sets on its sites (a family may add more, e.g. ``source``).
TAG_ORDER = ("stage", "block", "branch", "layer", "kernel")
#: Shorthands of :func:`drop_proportions`'s ``by``: a block is only unique within its stage.
GROUPINGS = {
    "stage": ("stage",),
    "block": ("stage", "block"),
    "branch": ("stage", "block", "branch"),
}


@dataclass
class RunResults:
    """Everything a run directory holds, as plain data (``None`` where a file is missing)."""

    run_dir: Path
    config: dict | None  # config.yaml (the resolved RunConfig as a dict)
    environment: dict | None  # environment.json (code version, hardware, seeds)
    history: pd.DataFrame | None  # history.csv: one row per epoch
    keep_probs: pd.DataFrame | None  # keep_probs.csv: one row per (epoch, site), with tags
    candidates: pd.DataFrame | None  # candidates.csv: one row per ranked candidate
    best: Winner | None  # best.json: the winner, measured on subnet/'s weights
    summary: Summary | None  # summary.json: the methods side by side
    architecture: Architecture | None  # subnet/arch.json: the winner's kept channels
    method: str = "pgnas"  # the method whose files these are
    baselines: dict = field(default_factory=dict)  # baseline method -> its RunResults
    tables: dict = field(default_factory=dict)  # the method's per-epoch tables, by name

    @property
    def random(self) -> RunResults | None:
        """The Random baseline's results, if it was run."""
        return self.baselines.get("random")

    @property
    def tags(self) -> dict[str, dict]:
        """Site name -> its tags (stage, block, branch, layer, kernel, ...)."""
        return site_tags(self.keep_probs) if self.keep_probs is not None else {}

    def keep_prob_table(self, epoch: int | None = None) -> pd.DataFrame:
        if self.keep_probs is None:
            raise FileNotFoundError(f"{self.run_dir}: no keep_probs.csv")
        return keep_prob_table(self.keep_probs, epoch)

    def drop_proportions(self, by: str | Iterable[str] = "stage") -> pd.DataFrame:
        if self.architecture is None:
            raise FileNotFoundError(f"{self.run_dir}: no subnet/arch.json (rank first)")
        return drop_proportions(self.architecture, by, tags=self.tags or None)

    def config_value(self, key: str, default=None):
        """A config field by dotted name, e.g. ``posterior.l2``."""
        node = self.config or {}
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def _read_json(path: Path):
    return read_json(path) if path.is_file() else None


def load_run(run_dir: str | Path) -> RunResults:
    """Load a run directory written by ``pgnas search`` / ``pgnas train`` (see run_dir.py)."""
    run = RunDir(run_dir)
    if not run.path.is_dir():
        raise FileNotFoundError(f"run directory {run.path} does not exist")
    config = run.read_config_dict() if run.is_run() else None
    cfg = RunConfig.from_dict(config) if config is not None else None
    main = cfg.method.name if cfg is not None else "pgnas"
    results = _method_results(run.path, main, config)
    results.environment = _read_json(run.environment_path)
    summary = _read_json(run.summary_path)
    results.summary = Summary.from_dict(summary) if summary is not None else None
    for name in cfg.method.baselines if cfg is not None else []:
        if (run.path / name).is_dir():
            results.baselines[name] = _method_results(run.path / name, name, config)
    return results


def _method_results(path: Path, method: str, config: dict | None) -> RunResults:
    from ..methods import list_methods, method_class

    where = MethodDir(path, method)
    names = method_class(method).epoch_table_names if method in list_methods() else ()
    tables = {n: t for n in names if (t := _read_csv(where.table(n))) is not None}
    best = _read_json(where.best)
    meta = _read_json(where.subnet / SUBNET_META)
    return RunResults(
        run_dir=path,
        config=config,
        environment=None,
        history=_read_csv(where.history),
        keep_probs=_read_csv(where.table("keep_probs")),
        candidates=_read_csv(where.candidates),
        best=Winner.from_dict(best) if best is not None else None,
        summary=None,
        architecture=Architecture.from_dict(meta["architecture"]) if meta else None,
        method=method,
        tables=tables,
    )


def as_run(source) -> RunResults:
    """A RunResults from itself or from a run directory path."""
    return source if isinstance(source, RunResults) else load_run(source)


def keep_prob_table(keep_probs: pd.DataFrame, epoch: int | None = None) -> pd.DataFrame:
    """One row per site at ``epoch`` (the last one when None), in the supernet's site order."""
    if "epoch" not in keep_probs.columns:
        return keep_probs.reset_index(drop=True)
    epochs = keep_probs["epoch"]
    epoch = int(epochs.max()) if epoch is None else int(epoch)
    if epoch not in set(epochs.astype(int)):
        raise ValueError(
            f"epoch {epoch} is not in the table (epochs {int(epochs.min())} to {int(epochs.max())})"
        )
    return keep_probs[epochs == epoch].reset_index(drop=True)


def tag_columns(table: pd.DataFrame) -> list[str]:
    """The tag columns of a site table, known tags first."""
    extra = [c for c in table.columns if c not in KEEP_PROB_COLUMNS and c not in TAG_ORDER]
    return [c for c in TAG_ORDER if c in table.columns] + extra


def _clean(value):
    """CSV round trips turn tags into floats (NaN for missing) or numeric strings."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value.item() if hasattr(value, "item") else value


def site_tags(source) -> dict[str, dict]:
    """Site name -> tags, from a keep_probs / site table, a Supernet, an Architecture (its
    supernet is built on the meta device: no memory, no weights), or a mapping (returned)."""
    if isinstance(source, Mapping):
        return {k: dict(v) for k, v in source.items()}
    if isinstance(source, pd.DataFrame):
        table = keep_prob_table(source) if "epoch" in source.columns else source
        cols = tag_columns(table)
        return {
            row["site"]: {c: v for c in cols if (v := _clean(row[c])) is not None}
            for row in table.to_dict("records")
        }
    if isinstance(source, Architecture):
        return site_tags(supernet_skeleton(source))
    if hasattr(source, "sites"):  # a Supernet
        return {s.name: {k: _clean(v) for k, v in s.tags.items()} for s in source.sites()}
    raise TypeError(f"cannot read site tags from {type(source).__name__}")


def supernet_skeleton(arch: Architecture):
    """The supernet an architecture belongs to, built on the meta device (tags and shapes
    only, no memory); raises if the supernet is not registered here."""
    import torch

    from ..supernets import create_supernet

    with torch.device("meta"):
        return create_supernet(arch.supernet, **arch.supernet_options)


def operation_table(
    arch: Architecture,
    tags: Mapping[str, dict] | None = None,
    keep_probs: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per operation (masked conv or linear), in the supernet's order: its channels,
    kept channels, whether it is kept, the tags of its first site and, given ``keep_probs``
    (site -> keep-probability), the channel-weighted mean keep-probability of its sites."""
    tags = site_tags(arch if tags is None else tags)
    rows: dict[str, dict] = {}
    for s in arch.sites:
        row = rows.get(s.op)
        if row is None:
            row = rows[s.op] = {
                "op": s.op,
                "sites": 0,
                "channels": 0,
                "kept_channels": 0,
                "_q": 0.0,
                **tags.get(s.name, {}),
            }
        row["sites"] += 1
        row["channels"] += s.channels
        row["kept_channels"] += len(s.kept)
        if keep_probs is not None and s.name in keep_probs:
            row["_q"] += float(keep_probs[s.name]) * s.channels
    table = pd.DataFrame(list(rows.values()))
    table["kept"] = table["kept_channels"] > 0
    table["kept_fraction"] = table["kept_channels"] / table["channels"]
    if keep_probs is not None:
        table["keep_prob"] = table["_q"] / table["channels"]
    return table.drop(columns="_q")


def _group_key(by: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(by, str):
        return GROUPINGS.get(by, (by,))
    return tuple(by)


def group_label(row: Mapping, keys: tuple[str, ...]) -> str:
    """``stage.block`` style label of a row's tags (``-`` for a missing tag)."""
    values = [_clean(row.get(k)) for k in keys]
    return ".".join("-" if v is None else str(v) for v in values)


def drop_proportions(
    arch: Architecture,
    by: str | Iterable[str] = "stage",
    tags: Mapping[str, dict] | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Channel- and operation-level drop proportions (paper Table 7) per group and overall.

    ``by``: a tag (``stage``, ``branch``, ``kernel``, ...), ``block`` (stage and block),
    ``branch`` (stage, block and branch) or a list of tags. ``tags`` maps site -> tags (or is
    a keep_probs table); by default they come from the supernet built on the meta device.
    An operation is dropped when none of its sites keeps a channel; it belongs to the group
    of its first site. The ``overall`` row equals the Architecture's own proportions.
    """
    keys = _group_key(by)
    ops = operation_table(arch, site_tags(arch if tags is None else tags))
    ops["group"] = [group_label(r, keys) for r in ops.to_dict("records")]
    order = list(dict.fromkeys(ops["group"]))  # the supernet's order (data flow)
    g = ops.groupby("group", sort=False).agg(
        channels=("channels", "sum"),
        kept_channels=("kept_channels", "sum"),
        operations=("op", "size"),
        dropped_operations=("kept", lambda k: int((~k).sum())),
    )
    g = g.loc[order]
    total = g.sum(numeric_only=True).rename("overall")
    g = pd.concat([g, total.to_frame().T])
    g.index.name = "+".join(keys)
    g = g.astype({c: int for c in g.columns})
    g["channel_drop"] = 1 - g["kept_channels"] / g["channels"]
    g["operation_drop"] = g["dropped_operations"] / g["operations"]
    return g.reset_index().rename(columns={g.index.name: "group"})


def sweep_tables(
    run_dirs: Iterable[str | Path], keys: tuple[str, ...] = ("posterior.l2", "posterior.tau")
):
    """Summarise runs of a sweep: one row per run (config ``keys`` by their last name, mean
    keep-probability, the winner's drop proportions, params, accuracies and test ``error`` in
    percent as the paper reports it) and, in long form,
    every site's final keep-probability per run. For the l2 / tau widgets and Tables 4-5."""
    rows, keeps = [], []
    for i, d in enumerate(run_dirs):
        run = as_run(d)
        row = {"run": i, "run_dir": str(run.run_dir)}
        for key in keys:
            row[key.split(".")[-1]] = run.config_value(key)
        if run.keep_probs is not None:
            last = keep_prob_table(run.keep_probs)
            row["mean_keep"] = float(last["keep_prob"].mean())
            names = [k.split(".")[-1] for k in keys]
            keeps.append(last.drop(columns="epoch").assign(run=i, **{k: row[k] for k in names}))
        if run.best is not None:
            for k in (
                "channel_drop",
                "operation_drop",
                "params",
                "val_acc",
                "test_acc",
                "flops",
                "candidates",
            ):
                if getattr(run.best, k) is not None:
                    row[k] = getattr(run.best, k)
            if run.best.test_acc is not None:
                row["error"] = 100.0 * (1 - run.best.test_acc)  # percent, as the paper
        rows.append(row)
    return pd.DataFrame(rows), (pd.concat(keeps, ignore_index=True) if keeps else pd.DataFrame())
