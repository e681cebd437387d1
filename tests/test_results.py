"""Loading a run directory back as tables (pgnas_core.run.results), Table 7's drop proportions."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from pgnas_core.architecture import Architecture, SiteChoice
from pgnas_core.run.results import (
    drop_proportions,
    keep_prob_table,
    load_run,
    operation_table,
    site_tags,
    sweep_tables,
)

from viz_run import digits_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return digits_run(tmp_path_factory)


def _drop_ops(arch: Architecture, pattern: str) -> Architecture:
    """The architecture with every site of ops whose name contains ``pattern`` emptied."""
    sites = tuple(
        SiteChoice(s.name, s.op, s.channels, () if pattern in s.op else s.kept) for s in arch.sites
    )
    return Architecture(arch.supernet, arch.options, sites)


def test_import_pgnas_core_pulls_in_no_plotting_or_widgets():
    code = (
        "import sys, pgnas_core, pgnas_core.run.results, pgnas_core.run.pipeline; "
        "bad = [m for m in ('matplotlib', 'seaborn', 'graphviz', 'ipywidgets') "
        "if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "", f"importing pgnas_core imported {out}"


def test_load_run_reads_every_file(run_dir):
    run = load_run(run_dir)
    assert run.config["data"]["dataset"] == "digits"
    assert list(run.history["epoch"]) == [1, 2]
    assert set(run.keep_probs["epoch"]) == {0, 1, 2}
    assert len(run.candidates) == 6
    assert run.best.archid == run.architecture.archid
    assert run.summary["pgnas"].best.val_acc == run.best.val_acc
    assert run.environment["seed"] == run.config["train"]["seed"]
    # the Random baseline: its own files, the run's config
    assert run.method == "pgnas" and run.random.method == "random"
    assert run.random is not None and len(run.random.candidates) == 6
    assert run.random.best.archid == run.random.architecture.archid
    assert run.random.random is None
    assert run.config_value("posterior.l2") == run.config["posterior"]["l2"]
    assert run.config_value("no.such.key", 3) == 3


def test_load_run_tolerates_missing_files(tmp_path, run_dir):
    (tmp_path / "history.csv").write_text((run_dir / "history.csv").read_text())
    run = load_run(tmp_path)
    assert len(run.history) == 2
    assert run.keep_probs is None and run.architecture is None and run.random is None
    with pytest.raises(FileNotFoundError):
        run.drop_proportions()
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path / "nowhere")


def test_keep_prob_table_picks_one_epoch(run_dir):
    kp = load_run(run_dir).keep_probs
    n_sites = kp["site"].nunique()
    last = keep_prob_table(kp)
    assert len(last) == n_sites and set(last["epoch"]) == {2}
    first = keep_prob_table(kp, epoch=0)
    assert first["keep_prob"].round(5).eq(0.9).all()  # p_init = 0.1
    assert list(first["site"]) == list(last["site"])  # the supernet's site order
    with pytest.raises(ValueError, match="epoch 7"):
        keep_prob_table(kp, epoch=7)


def test_site_tags_agree_between_csv_and_meta_supernet(run_dir):
    run = load_run(run_dir)
    from_csv = run.tags
    from_meta = site_tags(run.architecture)  # the supernet rebuilt on the meta device
    assert from_csv == from_meta
    assert {"stage", "block", "branch", "layer", "kernel"} <= set(next(iter(from_csv.values())))


def test_drop_proportions_overall_matches_architecture(run_dir):
    arch = load_run(run_dir).architecture
    for by in ("stage", "block", "branch", "kernel", ["stage", "layer"]):
        table = drop_proportions(arch, by)
        overall = table.set_index("group").loc["overall"]
        assert overall["channel_drop"] == pytest.approx(arch.channel_drop_proportion)
        assert overall["operation_drop"] == pytest.approx(arch.operation_drop_proportion)
        assert overall["channels"] == table["channels"].iloc[:-1].sum()
    stages = drop_proportions(arch, "stage")["group"].tolist()
    assert stages == ["0", "1", "2", "head", "overall"]


def test_drop_proportions_count_a_dropped_operation_in_its_group(run_dir):
    arch = _drop_ops(load_run(run_dir).architecture, "blocks.1.branches.1")
    table = drop_proportions(arch, "block").set_index("group")
    ops = operation_table(arch)
    dropped = ops[~ops["kept"]]
    assert set(dropped["op"]) == {
        "body.blocks.1.branches.1.ops.0",
        "body.blocks.1.branches.1.ops.1",
    }
    n_block = (ops["stage"].astype(str).eq("1")).sum()
    assert table.loc["1.0", "dropped_operations"] == 2
    assert table.loc["1.0", "operation_drop"] == pytest.approx(2 / n_block)
    assert table.loc["0.0", "operation_drop"] == 0
    assert table.loc["overall", "operation_drop"] == pytest.approx(arch.operation_drop_proportion)


def test_sweep_tables_summarise_runs(run_dir):
    runs, keeps = sweep_tables([run_dir, run_dir / "random"])
    best = json.loads((run_dir / "best.json").read_text())
    assert list(runs["run"]) == [0, 1]
    assert runs.loc[0, "params"] == best["params"]
    assert runs.loc[0, "error"] == pytest.approx(100 * (1 - best["test_acc"]))
    assert runs.loc[0, "l2"] == load_run(run_dir).config["posterior"]["l2"]
    sites = pd.read_csv(run_dir / "keep_probs.csv")["site"].nunique()
    assert len(keeps) == 2 * sites and set(keeps["run"]) == {0, 1}
    assert runs.loc[1, "mean_keep"] == pytest.approx(0.9, abs=1e-6)  # Random: p fixed at 0.1
