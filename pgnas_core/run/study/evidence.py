"""What a study keeps beside its tidy table, for the claims that need more than one number
per run (docs/statistics.md):

- ``test_correct.npz``: each reported net's per-image test correctness, by (configuration,
  seed, method, metric), from the runs' ``test_correct.npz`` (:mod:`..correctness`) and
  their analyses' (``analyses/*_correct.npz``, e.g. BayesNAS before and after pruning): the
  intervals over seeds and test images;
- ``candidates.csv``: every ranked candidate's validation accuracy (configuration, seed,
  method, val_acc): the spread test of supp. Fig. 1 uses them all.

A study folder without them (the older reference results) still loads; the claims that need
them then say "no data yet" or fall back to the t-interval over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..correctness import CORRECT_FILE, NET_METRICS, correct_digest, load_correct
from ..run_dir import RunDir
from .metrics import ANALYSIS_CORRECT_SUFFIX

STUDY_CORRECT_FILE, STUDY_CANDIDATES_FILE = "test_correct.npz", "candidates.csv"
CANDIDATE_COLUMNS = ["config", "seed", "method", "val_acc"]


@dataclass(eq=False)  # compared by identity: pandas compares the attrs of tables it joins
class Evidence:
    """(config, seed, method, metric) -> bool per test image (and its test split's digest);
    the candidates' validation accuracies."""

    correct: dict = field(default_factory=dict)
    digests: dict = field(default_factory=dict)
    candidates: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=CANDIDATE_COLUMNS)
    )

    def __deepcopy__(self, memo):  # pandas deep-copies a table's attrs on every operation
        return self

    def bits(self, config: str, seed: int, method: str, metric: str):
        return self.correct.get((str(config), int(seed), str(method), str(metric)))

    def digest(self, config: str, seed: int, method: str, metric: str) -> str | None:
        return self.digests.get((str(config), int(seed), str(method), str(metric)))

    def candidate_values(self, config: str | None, method: str | None) -> dict:
        """seed -> every candidate's val_acc of one side."""
        c = self.candidates
        m = pd.Series(True, index=c.index)
        if config is not None:
            m &= c["config"].astype(str) == str(config)
        if method is not None:
            m &= c["method"].astype(str) == str(method)
        return {int(s): g["val_acc"].to_numpy(float) for s, g in c[m].groupby("seed")}


def of_table(table: pd.DataFrame) -> Evidence:
    """The evidence attached to a study's table (empty if none)."""
    return table.attrs.get("evidence") or Evidence()


def attach(table: pd.DataFrame, evidence: Evidence) -> pd.DataFrame:
    table.attrs["evidence"] = evidence
    return table


def run_evidence(run_dir: Path, config: str, seed: int) -> tuple[dict, dict, list]:
    """One finished run's per-image correctness (keyed as in :class:`Evidence`) and its
    candidates' rows."""
    correct, digests, cands = {}, {}, []
    if not (Path(run_dir) / "config.yaml").is_file():  # a bare metrics.json: no evidence kept
        return correct, digests, cands
    run = RunDir(run_dir)
    main = run.read_config().method.name
    for method in run.read_summary().methods:
        where = run.method_dir(method, main)
        path = where.path / CORRECT_FILE
        if path.is_file():
            digest = correct_digest(path)
            for net, bits in load_correct(path).items():
                key = (config, seed, method, NET_METRICS.get(net, net))
                correct[key], digests[key] = bits, digest
        if where.candidates.is_file():
            c = pd.read_csv(where.candidates)
            full = c[c.get("eliminated_round", pd.Series(-1, c.index)) == -1]
            cands += [[config, seed, method, float(v)] for v in full["val_acc"]]
    for path in sorted((run.path / "analyses").glob(f"*{ANALYSIS_CORRECT_SUFFIX}")):
        digest = correct_digest(path)
        for metric, bits in load_correct(path).items():  # keyed by metric, main method
            correct[(config, seed, main, metric)], digests[(config, seed, main, metric)] = (
                bits,
                digest,
            )
    return correct, digests, cands


def collect_evidence(out: Path, runs: list[tuple[Path, str, int]]) -> Evidence:
    """Gather the finished runs' evidence (``runs``: run folder, config label, seed) and write
    it to the study folder ``out``."""
    ev = Evidence()
    rows = []
    for path, config, seed in runs:
        correct, digests, cands = run_evidence(path, config, seed)
        ev.correct.update(correct)
        ev.digests.update(digests)
        rows += cands
    ev.candidates = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    write_evidence(out, ev)
    return ev


def write_evidence(folder: Path, ev: Evidence) -> None:
    folder = Path(folder)
    if ev.correct:
        keys = list(ev.correct)
        sizes = {len(v) for v in ev.correct.values()}
        if len(sizes) > 1:
            raise ValueError(f"test splits of different sizes in one study: {sorted(sizes)}")
        np.savez_compressed(
            folder / STUDY_CORRECT_FILE,
            keys=np.array(["\t".join(map(str, k)) for k in keys]),
            digests=np.array([ev.digests.get(k, "") for k in keys]),
            images=np.int64(sizes.pop()),
            bits=np.stack([np.packbits(ev.correct[k]) for k in keys]),
        )
    if len(ev.candidates):
        ev.candidates.to_csv(folder / STUDY_CANDIDATES_FILE, index=False)


def load_evidence(folder: str | Path) -> Evidence:
    """A study folder's evidence (what of it exists)."""
    folder, ev = Path(folder), Evidence()
    path = folder / STUDY_CORRECT_FILE
    if path.is_file():
        with np.load(path) as f:
            n = int(f["images"])
            for text, digest, packed in zip(f["keys"], f["digests"], f["bits"]):
                config, seed, method, metric = str(text).split("\t")
                key = (config, int(seed), method, metric)
                ev.correct[key] = np.unpackbits(packed, count=n).astype(bool)
                ev.digests[key] = str(digest)
    if (folder / STUDY_CANDIDATES_FILE).is_file():
        ev.candidates = pd.read_csv(folder / STUDY_CANDIDATES_FILE)
    return ev
