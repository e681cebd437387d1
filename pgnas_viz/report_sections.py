"""The sections of a run's report (``report_templates/run_report.ipynb`` calls one per cell):
each displays its figures and tables, or one line saying why the run has none (a DARTS run
ranks no candidates, a PGNAS run has no alpha)."""

from __future__ import annotations

import base64
import html
import json

import pandas as pd
import yaml

from pgnas_core.run.results import RunResults, load_run

from .report_display import figure, note, setup, show_html, table  # noqa: F401 (setup: for the template)

METHOD_NAMES = {"pgnas": "PGNAS", "random": "Random", "darts": "DARTS", "balenas": "BaLeNAS",
                "bayesnas": "BayesNAS"}  # fmt: skip


def _methods(run: RunResults) -> dict[str, RunResults]:
    """The main method's results and each baseline's, by display name."""
    named = {METHOD_NAMES.get(run.method, run.method): run}
    for name, base in run.baselines.items():
        named[METHOD_NAMES.get(name, name)] = base
    return named


def header(folder: str) -> RunResults:
    """The run's name, method, supernet and data, and its winner in one line; returns it."""
    run = load_run(folder)
    cfg = run.config or {}
    supernet = (cfg.get("supernet") or {}).get("name", "?")
    dataset = (cfg.get("data") or {}).get("dataset", "?")
    lines = [
        f"<h1>Run report: {html.escape(run.run_dir.name)}</h1>",
        f"<p><code>{html.escape(str(run.run_dir))}</code></p>",
        f"<p>method <b>{html.escape(run.method)}</b> on <b>{html.escape(str(supernet))}</b>, "
        f"data <b>{html.escape(str(dataset))}</b>"
        + (f"; baselines: {', '.join(run.baselines)}" if run.baselines else "")
        + "</p>",
    ]
    if run.best is not None:
        b = run.best
        acc = "" if b.test_acc is None else f"test acc {b.test_acc:.4f}, "
        size = "" if b.params is None else f"{b.params:,} params"
        lines.append(f"<p>winner {html.escape(b.archid)}: {acc}{size}</p>")
    show_html("\n".join(lines))
    return run


def training_curves(run: RunResults) -> None:
    from .training_curves import plot_training_curves

    if run.history is None or run.history.empty:
        return note("no history.csv: the run was not trained here")
    axes = None
    for name, r in _methods(run).items():
        if r.history is not None and not r.history.empty:
            axes = plot_training_curves(r.history, ax=axes, label=name)
    figure(axes[0].figure)


def heatmaps(run: RunResults) -> None:
    """The keep-probabilities (PGNAS-style runs) or the architecture weights (DARTS,
    BaLeNAS), whichever the run has."""
    from .alpha_heatmap import plot_alpha_heatmap
    from .keep_probs import plot_keep_prob_evolution, plot_keep_probs

    shown = False
    if run.keep_probs is not None and not run.keep_probs.empty:
        figure(plot_keep_probs(run).figure)
        figure(plot_keep_prob_evolution(run).figure)
        shown = True
    if "arch_params" in run.tables:
        figure(plot_alpha_heatmap(run)[0].figure)
        shown = True
    if not shown:
        note("no keep_probs.csv and no arch_params.csv in this run")


def architecture(run: RunResults) -> None:
    """The derived architecture as a graphviz drawing, embedded as an SVG image."""
    from .cells import cell_graph
    from .graph import architecture_graph, dot_available

    if run.architecture is None:
        return note("no subnet/arch.json: the run was not ranked yet (`pgnas rank`)")
    is_cell = run.architecture.supernet.startswith("supnet_cell")
    graph = cell_graph(run) if is_cell else architecture_graph(run)
    if not dot_available():
        return note("graphviz's dot is not installed: no drawing of the architecture")
    svg = base64.b64encode(graph.pipe(format="svg")).decode("ascii")
    show_html(
        f'<img class="pgnas-graph" alt="the derived architecture of {run.method}" '
        f'style="max-width:100%" src="data:image/svg+xml;base64,{svg}">'
    )


def candidates(run: RunResults, top: int = 10) -> None:
    """The ranked candidates: the best ``top`` by validation accuracy, and the histogram
    of every method's candidates with each winner marked."""
    from .candidates import plot_candidate_histogram

    sides = {n: r.candidates for n, r in _methods(run).items() if r.candidates is not None}
    if not sides:
        return note(f"no candidates.csv: {run.method} derives its architecture without ranking")
    for name, cands in sides.items():
        cols = [c for c in ("candidate", "seed", "archid", "val_acc", "params", "flops",
                            "kept_fraction", "dropped_ops") if c in cands]  # fmt: skip
        best = cands.sort_values("val_acc", ascending=False).head(top)[cols]
        table(best, f"{name}: the best {min(top, len(cands))} of {len(cands)} candidates")
    figure(plot_candidate_histogram(run if len(sides) > 1 else next(iter(sides.values()))).figure)


def records(run: RunResults) -> None:
    """best.json of every method side by side, and summary.json's per-method numbers."""
    rows = {n: r.best.to_dict() for n, r in _methods(run).items() if r.best is not None}
    if rows:
        table(pd.DataFrame(rows), "best.json (the winner, measured on subnet/'s weights)")
    else:
        note("no best.json: the run was not ranked yet")
    if run.summary is not None:
        methods = run.summary.to_dict()["methods"]
        wide = pd.DataFrame({m: pd.json_normalize(v).iloc[0] for m, v in methods.items()})
        if not wide.empty:
            table(wide, "summary.json (every method, its fields flattened)")


def provenance(run: RunResults) -> None:
    """config.yaml and environment.json as they are on disk."""
    config = yaml.safe_dump(run.config, sort_keys=False) if run.config else "(none)"
    env = json.dumps(run.environment, indent=1) if run.environment else "(none)"
    show_html(
        f"<details><summary>config.yaml</summary><pre>{html.escape(config)}</pre></details>"
        f"<details><summary>environment.json</summary><pre>{html.escape(env)}</pre></details>"
    )
