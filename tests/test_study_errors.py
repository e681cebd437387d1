"""`pgnas study` with bad input: ONE line ``pgnas: error: ...``, a non-zero exit, no traceback,
and nothing created or changed -- every file under the test's folder (an existing run, an
existing study, the spec) byte-identical before and after, and no ``--out`` folder made.
Nothing here trains a study: every check runs before the first file is written."""

from __future__ import annotations

import hashlib
import json

import pytest

from pgnas_core.run.cli import main
from pgnas_core.run.study.checks import max_jobs

pytestmark = pytest.mark.usefixtures("one_thread")

QUICK = ["temperature_tau", "--tier", "quick", "--no-progress"]
SPEC = """description: tiny
grid: {posterior.l2: [1, 20]}
tiers:
  quick: {preset: digits, overrides: [train.epochs=1, "method.baselines=[]"], seeds: [0, 1]}
"""


@pytest.fixture(scope="module")
def search_run(tmp_path_factory):
    """A real run folder (a 1-epoch digits training), made once for the module."""
    run = tmp_path_factory.mktemp("existing") / "run"
    argv = ["train", "--preset", "digits", "--no-progress", "--out", str(run)]
    argv += ["--set", "train.epochs=1", "--set", "data.train_size=64"]
    assert main([*argv, "--set", "method.baselines=[]"]) == 0
    return run


def _spec(t, text: str | bytes, name: str = "s.yaml") -> str:
    path = t / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(path)


def _spec_with(t, old: str, new: str) -> list[str]:
    return [_spec(t, SPEC.replace(old, new)), "--tier", "quick", "--out", str(t / "out")]


def _folder(t, files: dict) -> str:
    """A folder holding ``files`` (name -> text); its path."""
    out = t / "out"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    return str(out)


def _record(study: str, tier: str) -> str:
    return json.dumps({"study": study, "tier": tier, "starts": [], "spec": {}})


# (id, setup(tmp folder, existing run) -> argv after `study`, words in the one line, exit code)
CASES = [
    # ---- data loss: --out holding anything but this study at this tier
    (
        "--out an existing run",
        lambda t, run: [*QUICK, "--out", str(run)],
        ["--out", "holds a run", "refusing"],
        1,
    ),
    (
        "--out a folder with other files",
        lambda t, run: [*QUICK, "--out", _folder(t, {"notes.txt": "mine"})],
        ["--out", "no study (study.json)", "refusing"],
        1,
    ),
    (
        "--out a study of another name",
        lambda t, run: [*QUICK, "--out", _folder(t, {"study.json": _record("precision", "quick")})],
        ["holds study precision (quick)", "another --out"],
        1,
    ),
    (
        "--out the same study at another tier",
        lambda t, run: [
            *QUICK,
            "--out",
            _folder(t, {"study.json": _record("temperature_tau", "laptop")}),
        ],
        ["temperature_tau (laptop), not temperature_tau (quick)"],
        1,
    ),
    (
        "--out a study.json of a run of this study whose spec changed",
        lambda t, run: [
            *QUICK,
            "--out",
            _folder(t, {"study.json": _record("temperature_tau", "quick")}),
        ],
        ["changed since its runs were made"],
        1,
    ),
    # ---- --out: bad study.json, a file, unwritable
    (
        "--out with a garbage study.json",
        lambda t, run: [*QUICK, "--out", _folder(t, {"study.json": "{not json"})],
        ["study.json cannot be read", "another --out"],
        1,
    ),
    (
        "--out with a study.json that is a list",
        lambda t, run: [*QUICK, "--out", _folder(t, {"study.json": "[1, 2]"})],
        ["study.json is not a study's record"],
        1,
    ),
    (
        "--out with a study.json whose starts are text",
        lambda t, run: [
            *QUICK,
            "--out",
            _folder(
                t, {"study.json": '{"study": "temperature_tau", "tier": "quick", "starts": "x"}'}
            ),
        ],
        ["study.json is not a study's record"],
        1,
    ),
    (
        "--out a file",
        lambda t, run: (t / "f").write_text("x") and [*QUICK, "--out", str(t / "f")],
        ["--out", "is a file"],
        1,
    ),
    (
        "--out under a file",
        lambda t, run: (t / "f").write_text("x") and [*QUICK, "--out", str(t / "f" / "study")],
        ["--out", "cannot be created or written"],
        1,
    ),
    (
        "--out under /proc (read-only, even for root)",
        lambda t, run: [*QUICK, "--out", "/proc/pgnas-no-such/study"],
        ["--out", "cannot be created or written"],
        1,
    ),
    # ---- the spec file
    (
        "spec missing",
        lambda t, run: [str(t / "none.yaml"), "--tier", "quick"],
        ["study file", "none.yaml", "does not exist"],
        1,
    ),
    ("spec a directory", lambda t, run: [str(t), "--tier", "quick"], ["is a directory"], 1),
    ("spec a YAML list", lambda t, run: [_spec(t, "- 1\n- 2\n")], ["holds a list", "mapping"], 1),
    ("spec a scalar", lambda t, run: [_spec(t, "3\n")], ["holds a single value (3)", "mapping"], 1),
    ("spec text", lambda t, run: [_spec(t, "hello\n")], ["holds text", "mapping"], 1),
    ("spec empty", lambda t, run: [_spec(t, "# nothing\n")], ["is empty"], 1),
    (
        "spec binary",
        lambda t, run: [_spec(t, b"\x89PNG\r\n\x1a\n\x00\xff\xfe")],
        ["not a text file"],
        1,
    ),
    (
        "spec not YAML",
        lambda t, run: [_spec(t, "tiers: {quick: [\n")],
        ["s.yaml", "valid YAML"],
        2,
    ),
    (
        "seeds as text",
        lambda t, run: _spec_with(t, "seeds: [0, 1]", "seeds: '012'"),
        ["tiers.quick.seeds", "'012'", "a list of distinct integers >= 0"],
        2,
    ),
    (
        "seeds a scalar",
        lambda t, run: _spec_with(t, "seeds: [0, 1]", "seeds: 3"),
        ["tiers.quick.seeds", "a list of distinct integers >= 0"],
        2,
    ),
    (
        "seeds negative",
        lambda t, run: _spec_with(t, "seeds: [0, 1]", "seeds: [0, -1]"),
        ["tiers.quick.seeds", ">= 0"],
        2,
    ),
    (
        "seeds repeated",
        lambda t, run: _spec_with(t, "seeds: [0, 1]", "seeds: [1, 1]"),
        ["tiers.quick.seeds", "distinct"],
        2,
    ),
    (
        "tiers a list",
        lambda t, run: [_spec(t, "tiers: [quick, laptop]\n")],
        ["tiers", "a mapping of quick, laptop or paper"],
        2,
    ),
    (
        "tier overrides text",
        lambda t, run: _spec_with(
            t, 'overrides: [train.epochs=1, "method.baselines=[]"]', "overrides: train.epochs=1"
        ),
        ["tiers.quick.overrides", "a list of field=value"],
        2,
    ),
    (
        "grid label with /",
        lambda t, run: _spec_with(t, "{posterior.l2: [1, 20]}", "{data.root: [/tmp/a, /tmp/b]}"),
        ["grid label", "root=/tmp/a", "no / or"],
        2,
    ),
    (
        "grid variant label with /",
        lambda t, run: _spec_with(t, "{posterior.l2: [1, 20]}", "{prior: {a/b: [posterior.l2=3]}}"),
        ["grid label", "prior=a/b", "no / or"],
        2,
    ),
    (
        "grid labels that name one folder",
        lambda t, run: _spec_with(t, "[1, 20]", "[1, '1']"),
        ["grid label", "l2=1", "distinct"],
        2,
    ),
    (
        "grid a list",
        lambda t, run: _spec_with(t, "{posterior.l2: [1, 20]}", "[posterior.l2]"),
        ["grid", "a mapping of config field"],
        2,
    ),
    (
        "analyses as text",
        lambda t, run: [_spec(t, SPEC + "analyses: pruning\n"), "--tier", "quick"],
        ["analyses", "'pruning'", "a list of"],
        2,
    ),
    (
        "a run's override is invalid",
        lambda t, run: _spec_with(t, "train.epochs=1", "train.lr=fast"),
        ["run l2=1-seed0", "train.lr", "fast", "a number"],
        2,
    ),
    (
        "the tier's preset is unknown",
        lambda t, run: _spec_with(t, "preset: digits", "preset: digitz"),
        ["preset", "digitz", "did you mean 'digits'"],
        2,
    ),
    # ---- arguments
    (
        "--jobs -1",
        lambda t, run: [*QUICK, "--jobs", "-1", "--out", str(t / "out")],
        ["--jobs=-1", f"1..{max_jobs()}", "one core"],
        2,
    ),
    (
        "--jobs 0",
        lambda t, run: [*QUICK, "--jobs", "0", "--out", str(t / "out")],
        ["--jobs=0", f"1..{max_jobs()}"],
        2,
    ),
    (
        "--jobs too many",
        lambda t, run: [*QUICK, "--jobs", "100000", "--out", str(t / "out")],
        ["--jobs=100000", f"1..{max_jobs()}"],
        2,
    ),
    (
        "--tier unknown leaves nothing",
        lambda t, run: ["temperature_tau", "--tier", "huge", "--out", str(t / "out")],
        ["tier", "huge", "quick"],
        2,
    ),
    (
        "--tier the study does not define",
        lambda t, run: [_spec(t, SPEC), "--tier", "laptop", "--out", str(t / "out")],
        ["tier", "laptop", "one this study defines: quick"],
        2,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_study_input_one_line_and_nothing_changed(case, tmp_path, search_run, capsys):
    _, setup, words, code = case
    argv = setup(tmp_path, search_run)
    before = _snapshot(tmp_path), _snapshot(search_run)
    capsys.readouterr()
    rc = main(["study", *argv])
    err = capsys.readouterr().err
    assert rc == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pgnas: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert (_snapshot(tmp_path), _snapshot(search_run)) == before, "a file or folder changed"


def test_the_existing_run_is_a_real_run(search_run):
    """The data-loss case above is checked against a real run folder, not a stand-in."""
    assert (search_run / "config.yaml").is_file() and (search_run / "environment.json").is_file()
    assert list((search_run / "checkpoints").glob("epoch_*.pt"))


def test_table_covers_every_group():
    assert len(CASES) >= 30


def _snapshot(folder) -> dict:
    """Every file (its bytes' hash) and folder under ``folder``: nothing may appear, go or
    change."""
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(folder.rglob("*"))
    }
