"""What a study records of one finished run: tidy rows ``(method, metric, value)``.

Every run gives, per method it ran (the main one and its baselines), the winner's numbers
(``best.json``), the supernet's, the search's time and, for sample-and-rank methods, the
spread of its candidates (supp. Fig. 1). The ``analyses`` a study names add more, each
computed once and cached in the run's ``analyses/`` folder (a killed study resumes them):

- ``candidates_c``: Table 6 -- a larger candidate table ranked with test accuracy, then the
  expected test accuracy of the validation winner of C candidates (resampled);
- ``drop_by_depth``: Table 7 and supp. Fig. 2 -- channel and operation drop per stage;
- ``pruning``: BayesNAS -- accuracy before and after pruning, relevance against magnitude at
  equal sparsity, operations alive under a pruned parent;
- ``stability``: DARTS / BaLeNAS -- each epoch's argmax cell trained from scratch;
- ``tf_selection``: BaLeNAS -- training-free selection of K draws against the argmax.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ...methods.diagnostics import DIAGNOSTICS
from ..run_dir import RunDir

#: analyses/<name> + this: an analysis's per-image test bits (main method, keys: metrics)
ANALYSIS_CORRECT_SUFFIX = "_correct.npz"
#: Winner fields recorded per method (best.json), by metric name.
WINNER_METRICS = (
    "val_acc",
    "test_acc",
    "test_acc_finetuned",
    "test_acc_scratch",
    "params",
    "flops",
    "channel_drop",
    "operation_drop",
    "rank_seconds",
)


#: The last epoch's history.csv columns recorded per method (besides the diagnostics).
HISTORY_METRICS = (
    "param_free_fraction",
    "none_fraction",
    "mean_sigma",
    "hessian_eigenvalue",
    "val_acc_derived",
)


def run_metrics(run_dir: str | Path, analyses=(), settings: dict | None = None) -> list[dict]:
    """Every tidy row of one finished run: the base metrics, then each analysis's."""
    run = RunDir(run_dir)
    cfg, summary = run.read_config(), run.read_summary()
    rows = []
    for method, r in summary.methods.items():

        def add(metric, value, method=method):
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                rows.append({"method": method, "metric": metric, "value": float(value)})

        if r.supernet.is_supernet:  # not a version-1 DARTS/BaLeNAS record (the derived net)
            add("supernet_test_acc", r.supernet.test_acc)
        add("supernet_params", r.supernet.params)
        add("mean_keep", r.supernet.mean_keep)
        add("train_seconds", r.train_seconds)
        best = r.best
        for m in WINNER_METRICS:
            add(m, None if best is None else getattr(best, m))
        add("search_seconds", r.train_seconds + ((best.rank_seconds or 0.0) if best else 0.0))
        where = run.method_dir(method, cfg.method.name)
        if where.candidates.is_file():
            cands = pd.read_csv(where.candidates)
            full = cands[cands.get("eliminated_round", pd.Series(-1, cands.index)) == -1]
            add("candidate_val_mean", full["val_acc"].mean())
            add("candidate_val_sd", full["val_acc"].std(ddof=1) if len(full) > 1 else None)
        if where.history.is_file():
            last = pd.read_csv(where.history).iloc[-1]
            for k in (*HISTORY_METRICS, *DIAGNOSTICS):
                if k in last.index:
                    add(k, last[k])
            if {"param_free_fraction", "none_fraction"} <= set(last.index):
                add(
                    "param_free_or_none_fraction",
                    last["param_free_fraction"] + last["none_fraction"],
                )
    for name in analyses:
        rows += cached_analysis(run, name, settings or {})
    return rows


def cached_analysis(run: RunDir, name: str, settings: dict) -> list[dict]:
    """An analysis's rows, computed once per run (``analyses/<name>.json``)."""
    path = run.path / "analyses" / f"{name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    rows = [
        {**r, "value": float(r["value"])}
        for r in ANALYSES[name](run, settings)
        if r["value"] is not None and np.isfinite(r["value"])
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1))
    tmp.replace(path)
    return rows


def save_analysis_correct(run: RunDir, name: str, nets: dict, test) -> None:
    """An analysis's nets' per-image test correctness, keyed by their metric, in
    ``analyses/<name>_correct.npz`` (a study gathers them with the run's own)."""
    from ..correctness import save_correct, test_digest

    path = run.path / "analyses" / f"{name}{ANALYSIS_CORRECT_SUFFIX}"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_correct(path, nets, test_digest(*test))


def _main(run: RunDir) -> str:
    return run.read_config().method.name


def _has_table(run: RunDir, name: str) -> bool:
    main = _main(run)
    return run.method_dir(main, main).table(name).is_file()


def candidates_c(run: RunDir, settings: dict) -> list[dict]:
    """Table 6: the expected test accuracy of the validation winner among C candidates, for
    every sample-and-rank method of the run (PGNAS and Random: Table 6's few guided
    candidates against many random ones)."""
    from ..experiments import candidates_study, rank_with_test

    count = int(settings.get("candidates", 200))
    counts = [int(c) for c in settings.get("counts", (5, 20, 50, 200)) if int(c) <= count]
    cfg = run.read_config()
    main, rows = _main(run), []
    for method in run.read_summary().methods:
        if not run.method_dir(method, main).candidates.is_file():
            continue  # not a sample-and-rank method
        name = "c_table.csv" if method == main else f"c_table_{method}.csv"
        table = rank_with_test(
            run.path, count, cfg.search.seed, method, cache=run.path / "analyses" / name
        )
        study = candidates_study(table, counts, repeats=int(settings.get("repeats", 200)))
        means = study.groupby("candidates")["test_acc"].mean()
        rows += [
            {"method": method, "metric": f"winner_test_acc_c{c}", "value": float(v)}
            for c, v in means.items()
        ]
        # the fewest and the most candidates of this tier, for the claims at any size
        rows += [
            {"method": method, "metric": "winner_test_acc_cmin", "value": float(means.iloc[0])},
            {"method": method, "metric": "winner_test_acc_cmax", "value": float(means.iloc[-1])},
        ]
    return rows


def drop_by_depth(run: RunDir, settings: dict) -> list[dict]:
    """Table 7: the winner's channel and operation drop per stage (and overall)."""
    from ..results import drop_proportions, load_run

    results = load_run(run.path)
    if results.architecture is None:
        return []
    table = drop_proportions(results.architecture, by="stage")
    method = _main(run)
    rows = []
    for r in table.to_dict("records"):
        suffix = "" if r["group"] == "overall" else f"_stage{r['group'].split('=')[-1]}"
        rows.append(
            {"method": method, "metric": f"channel_drop{suffix}", "value": r["channel_drop"]}
        )
        rows.append(
            {"method": method, "metric": f"operation_drop{suffix}", "value": r["operation_drop"]}
        )
    return rows


def pruning(run: RunDir, settings: dict) -> list[dict]:
    """BayesNAS: before and after pruning at the run's threshold, and the equal-sparsity
    comparison of relevance against magnitude (mean over the fractions)."""
    from ..pruning import PrunedRun, pruning_study

    if not _has_table(run, "switches"):
        return []  # not a BayesNAS run
    fractions = tuple(settings.get("fractions", (0.25, 0.5, 0.75)))
    pruned = PrunedRun(run.path)
    threshold = float(pruned.method.settings.threshold)
    before = pruned.evaluate(None)["test"]
    after = pruned.at_threshold(threshold)
    study = pruning_study(pruned, fractions)
    wide = study[study["by"] != "none"].pivot_table(
        index="fraction", columns="by", values="test_acc"
    )
    orphans = int(study["orphans"].sum()) + after["orphans"]
    dead = study["dead_cells"]  # over the equal-sparsity prunings (claim 2's nets)
    kept = pruned.method.kept(pruned.net, by="relevance", threshold=threshold)
    save_analysis_correct(  # the per-image bits of both nets of the pruning claim
        run,
        "pruning",
        {
            "unpruned_test_acc": pruned.test_correct(None),
            "pruned_test_acc": pruned.test_correct(kept),
        },
        pruned.splits["test"],
    )
    pruned_share = 1 - after["kept_children"] / after["children"]
    m = _main(run)
    return [
        {"method": m, "metric": "unpruned_test_acc", "value": before},
        {"method": m, "metric": "pruned_test_acc", "value": after["test_acc"]},
        {"method": m, "metric": "pruned_fraction", "value": pruned_share},
        {"method": m, "metric": "relevance_test_acc", "value": float(wide["relevance"].mean())},
        {"method": m, "metric": "magnitude_test_acc", "value": float(wide["magnitude"].mean())},
        {"method": m, "metric": "orphans", "value": orphans},
        # the derived (threshold-pruned) net's cells with no path from input to output: a
        # severed net, at chance even when trained from scratch
        {"method": m, "metric": "pruned_dead_cells", "value": after["dead_cells"]},
        {"method": m, "metric": "equal_sparsity_dead_cells", "value": int(dead.sum())},
    ]


def stability(run: RunDir, settings: dict) -> list[dict]:
    """DARTS / BaLeNAS: how much the final argmax cell (trained from scratch) falls below the
    best earlier epoch's."""
    from ..posterior_samples import epoch_architectures

    if not _has_table(run, "derived"):
        return []  # not a differentiable method (DARTS, BaLeNAS)
    epochs = epoch_architectures(run.path, int(settings.get("scratch_epochs", 3)))
    acc = epochs.set_index("epoch")["test_acc_scratch"]
    final, earlier = float(acc.iloc[-1]), float(acc.iloc[:-1].max())
    m = _main(run)
    return [
        {"method": m, "metric": "final_epoch_scratch_acc", "value": final},
        {"method": m, "metric": "best_earlier_scratch_acc", "value": earlier},
        {"method": m, "metric": "fall_from_best_epoch", "value": earlier - final},
    ]


def tf_selection(run: RunDir, settings: dict) -> list[dict]:
    """BaLeNAS-TF: the K draws' best by a training-free proxy against the argmax of mu, each
    trained from scratch (test accuracy), and the proxy's rank correlation with it."""
    from ...methods import method_class
    from ..posterior_samples import score_posterior_samples

    if not hasattr(method_class(_main(run)), "score_samples"):
        return []  # no Gaussian over architectures to draw from (BaLeNAS only)
    k = int(settings.get("k", 10))
    proxy = settings.get("proxy", "naswot")
    samples = score_posterior_samples(
        run.path,
        k,
        scratch_epochs=int(settings.get("scratch_epochs", 3)),
        cache=run.path / "analyses" / "tf_samples.csv",
    )
    drawn = samples[samples["sample"] >= 0]
    argmax = samples[samples["sample"] == -1].iloc[0]
    rho = drawn[[proxy, "test_acc_scratch"]].corr(method="spearman").iloc[0, 1]
    m = _main(run)
    rows = [
        {"method": m, "metric": "tf_scratch_acc", "value": _tf_choice(drawn, proxy)},
        {"method": m, "metric": "argmax_scratch_acc", "value": float(argmax["test_acc_scratch"])},
        {"method": m, "metric": "proxy_rank_correlation", "value": float(rho)},
    ]
    # selection among K of the draws, for each K of ``ks`` (does it improve with K?)
    ks = sorted({int(x) for x in settings.get("ks", ()) if 1 <= int(x) <= len(drawn)})
    by_k = expected_pick_by_k(drawn, proxy, "test_acc_scratch", ks)
    rows += [{"method": m, "metric": f"tf_scratch_acc_k{x}", "value": v} for x, v in by_k.items()]
    if len(ks) > 1:
        rows += [
            {"method": m, "metric": "tf_scratch_acc_kmin", "value": by_k[ks[0]]},
            {"method": m, "metric": "tf_scratch_acc_kmax", "value": by_k[ks[-1]]},
        ]
    return rows


def expected_pick_by_k(drawn: pd.DataFrame, by: str, value: str, ks) -> dict[int, float]:
    """K -> the expected ``value`` of the draw ranked first by ``by`` among K draws taken at
    random without replacement from ``drawn`` (exact: the draw ranked j-th of n is picked
    with probability C(n-1-j, K-1) / C(n, K)); ties go to the earlier sample."""
    from math import comb

    ranked = drawn.sort_values([by, "sample"], ascending=[False, True])[value].to_numpy(float)
    n = len(ranked)
    return {
        int(k): float(sum(comb(n - 1 - j, k - 1) * v for j, v in enumerate(ranked)) / comb(n, k))
        for k in ks
    }


def _tf_choice(drawn: pd.DataFrame, proxy: str) -> float:
    """The scratch-trained test accuracy of the draw the proxy ranks first."""
    chosen = drawn.sort_values([proxy, "sample"], ascending=[False, True]).iloc[0]
    return float(chosen["test_acc_scratch"])


ANALYSES: dict[str, Callable[[RunDir, dict], list[dict]]] = {
    "candidates_c": candidates_c,
    "drop_by_depth": drop_by_depth,
    "pruning": pruning,
    "stability": stability,
    "tf_selection": tf_selection,
}
