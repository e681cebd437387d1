"""The sections of a study's report (``report_templates/study_report.ipynb``): where the
numbers come from, the claims' verdicts as a table and as plots, the metrics over the
configurations, and accuracy against size across methods and seeds."""

from __future__ import annotations

import html

import pandas as pd

from pgnas_core.run.study import claims_of, load_study_folder, provenance_line, verdicts

from .report_display import figure, note, setup, show_html, table  # noqa: F401 (setup: for the template)

MAIN_METRICS = ("test_acc", "test_acc_scratch", "params", "flops", "search_seconds")
SIZES = ("params", "flops")


def header(folder: str) -> tuple[pd.DataFrame, dict]:
    """The study's name, tier, configurations and seeds, and its provenance."""
    results, info = load_study_folder(folder)
    name = str(results["study"].iloc[0]) if "study" in results else info.get("study", "?")
    tier = str(results["tier"].iloc[0]) if "tier" in results else info.get("tier", "?")
    configs = list(dict.fromkeys(results["config"].astype(str)))
    seeds = sorted(results["seed"].unique())
    show_html(
        f"<h1>Study report: {html.escape(name)}</h1>"
        f"<p>{html.escape(info.get('spec', {}).get('description', ''))}</p>"
        f"<p>tier <b>{html.escape(tier)}</b>; configurations: "
        f"{html.escape(', '.join(configs))}; seeds: {', '.join(map(str, seeds))}</p>"
        f"<p class='pgnas-note'>{html.escape(provenance_line(info))}</p>"
    )
    return results, info


def _study(results: pd.DataFrame) -> str:
    return str(results["study"].iloc[0])


def claims_table(results: pd.DataFrame) -> None:
    """One row per claim: the paper's numbers, ours, the paired 95% interval, the verdict."""
    v = verdicts(results, _study(results))
    if v.empty:
        return note(f"no paper claims are judged from the study {_study(results)}")
    shown = v[["item", "statement", "paper", "metric", "seeds", "a_mean", "b_mean",
               "difference", "ci_low", "ci_high", "interval", "seeds_needed", "beside",
               "verdict", "learned"]]  # fmt: skip
    table(shown.rename(columns={"ci_low": "95% CI low", "ci_high": "95% CI high"}),
          "the claims, judged by the paired 95% interval of a - b (over seeds and test images "
          "where the runs saved per-image bits, else over seeds; docs/statistics.md)")  # fmt: skip


def claims_plots(results: pd.DataFrame) -> None:
    from .studies import plot_claims

    if not claims_of(_study(results)):
        return note("no claims to draw")
    axes = plot_claims(results)
    figure(axes.flat[0].figure)


def metrics(results: pd.DataFrame) -> None:
    """Mean +- sd of the main metrics per configuration and method, and the winners' test
    accuracy over the configurations with 95% t-intervals."""
    from .studies import plot_study_metric, side_by_side_table

    present = [m for m in MAIN_METRICS if m in set(results["metric"])]
    if not present:
        return note("none of the main metrics in this study")
    by = "config" if results["config"].nunique() > 1 else "method"
    table(side_by_side_table(results, present, by=by), f"mean ± sd over seeds, per {by}")
    if "test_acc" in present:
        figure(plot_study_metric(results, "test_acc", x=by,
                                 hue="method" if by == "config" else None).figure)  # fmt: skip


def pareto(results: pd.DataFrame) -> None:
    """Test accuracy against params and FLOPs, every run's winner, the front dashed."""
    from .pareto import plot_pareto

    have = set(results["metric"])
    sizes = [s for s in SIZES if s in have]
    if "test_acc" not in have or not sizes:
        return note("the study records no test accuracy with params or FLOPs")
    for size in sizes:
        figure(plot_pareto(results, x=size, y="test_acc").figure)
