"""Refused commands change nothing and leave nothing behind (issue 22's groups).

Each case: a non-zero exit, ONE line ``pgnas: error: ...`` without a traceback, and every
file of the run folder byte-identical before and after (or no ``--out`` folder at all where
none existed). The runs are real 1-epoch digits trainings, made once per module.
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest
import torch

from pgnas_core.run.cli import main
from pgnas_core.train.kill_hook import KILL_ENV

from test_cli_errors import ONE_EPOCH, TINY, _assert_one_line, _snapshot

pytestmark = pytest.mark.usefixtures("one_thread")

RACING = ["--set", "search.rank=racing", "--set", "search.candidates=6"]
# a tiny race_delta keeps every candidate past round 1, so the Ctrl-C after 8 passes lands in
# round 2 (a Ctrl-C inside round 1 stops before any round is saved)
RACING += ["--set", "search.race_first_chunk=16", "--set", "search.race_delta=0.0001"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, one_thread):
    """Trained runs: ``main`` (pgnas, supnet_m_tiny), ``other_net`` (the same method on
    narrower widths), ``other_method`` (Random on the same net) and ``partial`` (``main``
    with a racing ranking killed after 8 candidate-passes)."""
    base = tmp_path_factory.mktemp("runs")
    made = {}
    for name, extra in [
        ("main", []),
        ("other_net", ["--set", "supernet.options={widths: [4, 8, 8]}"]),
        ("other_method", ["--set", "method.name=random"]),
    ]:
        made[name] = base / name
        assert main(["train", *TINY, "--out", str(made[name]), *ONE_EPOCH, *extra]) == 0
    made["partial"] = base / "partial"
    shutil.copytree(made["main"], made["partial"])
    os.environ[KILL_ENV] = "rank:8:INT"  # Ctrl-C after 8 candidate-passes (round 1 saved)
    # Python's own Ctrl-C, as in a shell: an earlier test's library may leave SIGINT ignored,
    # and then the Ctrl-C never lands (rc 0 in full-suite runs)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        rc = main(["rank", "--out", str(made["partial"]), "--no-progress", *RACING])
    finally:
        del os.environ[KILL_ENV]
        signal.signal(signal.SIGINT, previous)
    assert rc == 130 and (made["partial"] / "candidates.race.pt").is_file()
    return made


def _copy(runs, name: str, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(runs[name], run)
    return run


def _foreign(runs, which: str):
    """Put the newest checkpoint of run ``which`` into the run's checkpoints folder."""

    def setup(run):
        src = sorted((runs[which] / "checkpoints").glob("epoch_*.pt"))[-1]
        shutil.copy(src, run / "checkpoints" / "epoch_0002.pt")

    return setup


def _corrupt(run):
    path = sorted((run / "checkpoints").glob("epoch_*.pt"))[-1]
    path.write_bytes(path.read_bytes()[:100])


def _write(name: str, content: bytes):
    return lambda run: (run / name).write_bytes(content)


RESUME = ["search", *TINY, "--out", "{run}", "--resume", *ONE_EPOCH]
RESUME_FORCED = [*RESUME, "--force", "--set", "train.epochs=2"]
RANK = ["rank", "--out", "{run}", "--no-progress"]
EXPORT = ["export", "--out", "{run}", "--seed", "3"]

# Refused, but the folder was changed first. (id, source run, setup(run), argv, words, code)
REFUSED = [
    ("corrupt checkpoint, --resume --force", "main", _corrupt, RESUME_FORCED, ["cannot be read"]),
    ("corrupt checkpoint, --resume", "main", _corrupt, RESUME, ["cannot be read"]),
    ("corrupt checkpoint, rank", "main", _corrupt, RANK, ["cannot be read"]),
    ("other method, --resume --force", "main", "other_method", RESUME_FORCED, ["random run"]),
    ("other method, --resume", "main", "other_method", RESUME, ["random run", "not pgnas"]),
    ("other method, rank", "main", "other_method", RANK, ["random run", "not pgnas"]),
    ("other method, export", "main", "other_method", EXPORT, ["random run", "not pgnas"]),
    ("other supernet, --resume --force", "main", "other_net", RESUME_FORCED, ["another supernet"]),
    ("other supernet, --resume", "main", "other_net", RESUME, ["another supernet", "widths"]),
    ("other supernet, rank", "main", "other_net", RANK, ["another supernet"]),
    (
        "other supernet, rank --set search.*",
        "main",
        "other_net",
        [*RANK, "--set", "search.candidates=5"],
        ["another supernet"],
    ),
    ("other supernet, export", "main", "other_net", EXPORT, ["another supernet"]),
    (
        "unfinished ranking with other settings",
        "partial",
        None,
        [*RANK, *RACING, "--set", "search.race_delta=0.2"],
        ["search.race_delta (0.0001 -> 0.2)", "--force"],
    ),
    # tracebacks before: a resumed ranking whose saved files are garbage
    (
        "candidates.partial.csv garbage",
        "partial",
        _write("candidates.partial.csv", b"\x89PNG\r\n\x00\xff\xfe garbage\n"),
        [*RANK, *RACING],
        ["candidates.partial.csv", "remove it", "--force"],
    ),
    (
        "candidates.partial.csv wrong columns",
        "partial",
        _write("candidates.partial.csv", b"a,b,c\n1,2,3\n"),
        [*RANK, *RACING],
        ["candidates.partial.csv", "columns", "remove it", "--force"],
    ),
    (
        "candidates.race.pt garbage",
        "partial",
        _write("candidates.race.pt", b"not a torch file"),
        [*RANK, *RACING],
        ["candidates.race.pt", "remove it", "--force"],
    ),
]


@pytest.mark.slow  # the module's trained runs take ~15 s to make
@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_command_changes_nothing(case, runs, tmp_path, capsys):
    _, source, setup, argv, words = case
    run = _copy(runs, source, tmp_path)
    if isinstance(setup, str):
        setup = _foreign(runs, setup)
    if setup is not None:
        setup(run)
    before = _snapshot(tmp_path)
    capsys.readouterr()
    rc = main([a.replace("{run}", str(run)) for a in argv])
    _assert_one_line(rc, capsys.readouterr().err, 1, words)
    assert _snapshot(tmp_path) == before, "a refused command changed the run"


@pytest.mark.slow
def test_garbage_race_state_is_set_aside_with_force(runs, tmp_path, capsys):
    run = _copy(runs, "partial", tmp_path)
    (run / "candidates.race.pt").write_bytes(b"not a torch file")
    assert main([*[a.replace("{run}", str(run)) for a in RANK], *RACING, "--force"]) == 0
    assert (run / "candidates.race.pt.stale0").read_bytes() == b"not a torch file"
    assert (run / "candidates.csv").is_file()


# Tracebacks and accepted nonsense of `pgnas export`: checked before anything is loaded.
EXPORT_BAD = [
    ("--seed 2**64", ["--seed", str(2**64)], ["--seed", "2**64 - 1"], 2),
    ("--seed huge", ["--seed", "9" * 40], ["--seed", "2**64 - 1"], 2),
    ("--seed -1", ["--seed", "-1"], ["--seed=-1", "from 0"], 2),
    ("--dest under a file", ["--seed", "1", "--dest", "{tmp}/f/sub"], ["--dest", "cannot"], 1),
    ("--dest a file", ["--seed", "1", "--dest", "{tmp}/f"], ["--dest", "is a file"], 1),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", EXPORT_BAD, ids=[c[0] for c in EXPORT_BAD])
def test_export_bad_arguments(case, runs, tmp_path, capsys):
    _, extra, words, code = case
    run = _copy(runs, "main", tmp_path)
    (tmp_path / "f").write_text("a file")
    before = _snapshot(tmp_path)
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    rc = main(["export", "--out", str(run), *extra])
    _assert_one_line(rc, capsys.readouterr().err, code, words)
    assert _snapshot(tmp_path) == before


@pytest.mark.slow
def test_export_takes_the_largest_seed(runs, tmp_path, capsys):
    run = _copy(runs, "main", tmp_path)
    assert main(["export", "--out", str(run), "--seed", str(2**64 - 1)]) == 0
    assert (run / f"subnet_seed{2**64 - 1}" / "weights.pt").is_file()


# Accepted nonsense and left behind: a new --out stays absent.
NEW_RUN_BAD = [
    ("posterior.tau=.inf", ["posterior.tau=.inf"], ["posterior.tau", "<= 10"], 2),
    ("posterior.tau=1e300", ["posterior.tau=1e300"], ["posterior.tau", "<= 10"], 2),
    ("search.candidates=1e9", ["search.candidates=1000000000"], ["<= 100000"], 2),
    ("search.seed past 2**64", [f"search.seed={2**64}"], ["search.seed"], 2),
    ("method darts on a ResNet", ["method.name=darts"], ["cell space"], 1),
    (
        "bad data root",
        ["data.dataset=fashion-mnist", "data.root=/nonexistent"],
        ["data.root", "does not exist"],
        1,
    ),
    ("train.lr huge", ["train.lr=1e300"], ["train.lr=1e+300", "<= 10"], 2),
]
if not torch.cuda.is_available():
    NEW_RUN_BAD.append(("train.device=cuda", ["train.device=cuda"], ["train.device", "CUDA"], 2))


@pytest.mark.parametrize("case", NEW_RUN_BAD, ids=[c[0] for c in NEW_RUN_BAD])
def test_failed_new_run_leaves_nothing(case, tmp_path, capsys):
    _, sets, words, code = case
    out = tmp_path / "new" / "run"
    overrides = [a for s in sets for a in ("--set", s)]
    rc = main(["search", *TINY, "--out", str(out), *ONE_EPOCH, *overrides])
    _assert_one_line(rc, capsys.readouterr().err, code, words)
    assert not (tmp_path / "new").exists(), "a failed command left its --out behind"


def test_failed_run_in_an_empty_folder_leaves_it_empty_and_a_rerun_works(
    tmp_path, capsys, monkeypatch
):
    from pgnas_core.train.config import TrainConfig

    out = tmp_path / "run"
    out.mkdir()
    argv = ["search", *TINY, "--out", str(out), *ONE_EPOCH, "--set", "search.candidates=2"]
    with monkeypatch.context() as m:  # lift train.lr's bound: a divergence after the checks
        m.setattr(TrainConfig, "validate", lambda self: self)
        assert main([*argv, "--set", "train.lr=1e300"]) == 1
    assert "train.lr" in capsys.readouterr().err and list(out.iterdir()) == []
    assert main(argv) == 0, capsys.readouterr().err  # the corrected rerun, same --out
    assert (out / "best.json").is_file()


def _field_id(value):
    return value if isinstance(value, str) and "." in value else ""


# Misleading message: the divergence names the setting of the group that blew up.
DIVERGED = [
    ("darts.arch_lr", "darts", ["darts.arch_lr=1e300"]),
    ("balenas.eta", "balenas", ["balenas.eta=1e300"]),
    ("bayesnas.lr", "bayesnas", ["bayesnas.lr=1e300"]),
    pytest.param("bayesnas.lam", "bayesnas", ["bayesnas.lam=1e300"], marks=pytest.mark.slow),
]


@pytest.mark.parametrize("field, method, sets", DIVERGED, ids=lambda v: _field_id(v))
def test_divergence_names_the_setting_that_diverged(
    field, method, sets, tmp_path, capsys, monkeypatch
):
    # 1e300 is refused up front; lift the section's bounds to reach the divergence diagnosis,
    # which must name the setting of the group that blew up, whatever the value
    from pgnas_core.methods import settings_sections

    monkeypatch.setattr(settings_sections()[field.split(".")[0]], "validate", lambda self: self)
    overrides = ["supernet.name=supnet_cell_tiny", f"method.name={method}", *sets]
    overrides += ["train.epochs=2"]  # BayesNAS's first epoch is its warm-up
    rc = main(
        [
            "search",
            *TINY,
            "--out",
            str(tmp_path / "run"),
            *ONE_EPOCH,
            *[a for s in overrides for a in ("--set", s)],
        ]
    )
    err = capsys.readouterr().err
    _assert_one_line(rc, err, 1, [f"{field}=1e+300 is too large"])
    assert "train.lr" not in err
