"""Which code made a result: the commit and dirty flag read from a real git repository, runs'
environment.json and each study start's record, and a study that refuses to mix commits
unless ``--force``. The study's code version is read from a repository made here with
``git init`` (the package's own checkout may be anything), and its runs are marked finished
by hand, so nothing trains."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess

import pytest

from pgnas_core.config import resolve_config
from pgnas_core.run import study as st
from pgnas_core.run.cli import main
from pgnas_core.run.provenance import code_version, same_commit, short
from pgnas_core.run.run_dir import environment_info
from pgnas_core.run.study import record
from pgnas_core.run.study.runner import METRICS_FILE, run_path

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

SPEC = """description: tiny
grid: {posterior.l2: [1, 20]}
tiers:
  quick: {preset: digits, overrides: [train.epochs=1, "method.baselines=[]"], seeds: [0]}
"""


def _git(repo, *args) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git repository with one commit of one tracked file."""
    repo = tmp_path / "code"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    _git(repo, "add", "a.py")
    _git(repo, "commit", "-qm", "one")
    return repo


def _commit(repo, text: str) -> str:
    (repo / "a.py").write_text(text)
    _git(repo, "commit", "-qam", text)
    return _git(repo, "rev-parse", "HEAD")


@needs_git
def test_the_commit_and_dirty_flag_come_from_git(repo, tmp_path):
    head = _git(repo, "rev-parse", "HEAD")
    assert code_version(repo) == {"commit": head, "dirty": False}
    (repo / "scratch.txt").write_text("untracked")  # not a code change
    assert code_version(repo) == {"commit": head, "dirty": False}
    (repo / "a.py").write_text("x = 2\n")
    assert code_version(repo) == {"commit": head, "dirty": True}
    assert code_version(_commit(repo, "x = 3\n") and repo)["dirty"] is False


@needs_git
def test_changed_results_are_not_changed_code(repo):
    """`pgnas study --reference` rewrites tracked tables under results/: the next study of
    the same checkout was still made by committed code, also when asked from a subfolder."""
    table = repo / "results" / "reference" / "s" / "verdicts.csv"
    table.parent.mkdir(parents=True)
    table.write_text("key\n")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "b.py").write_text("y = 1\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "results and a package")
    table.write_text("key\nt3\n")
    assert code_version(repo)["dirty"] is False
    assert code_version(repo / "pkg")["dirty"] is False
    (repo / "pkg" / "b.py").write_text("y = 2\n")
    assert code_version(repo / "results")["dirty"] is True


@needs_git
def test_unknown_code_is_recorded_as_null(repo, tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert code_version(plain) == {"commit": None, "dirty": None}
    # installed into an untracked folder of some other project's repository
    site = repo / "venv" / "site-packages" / "pgnas_core"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("")
    assert code_version(site) == {"commit": None, "dirty": None}
    monkeypatch.setenv("PATH", str(plain))  # no git at all
    assert code_version(repo) == {"commit": None, "dirty": None}


def test_every_run_records_its_commit_and_dirty_flag():
    env = environment_info(resolve_config("digits", None, ["train.device=cpu"]))
    now = code_version()
    assert env["git_commit"] == now["commit"] and env["git_dirty"] == now["dirty"]


def test_commits_compare_by_prefix_and_print_short():
    full = "0123456789abcdef" * 2 + "01234567"
    assert same_commit(full, "0123456") and same_commit("0123456", full)
    assert not same_commit(full, "fedcba9") and not same_commit(None, None)
    assert short(full) == "0123456789ab" and short(None) == "unknown"


# ---- a study's record ----------------------------------------------------------------------
def _finished_study(tmp_path, repo):
    """A study folder whose every run is finished, started at the repository's HEAD."""
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(SPEC)
    spec = st.load_study(spec_path)
    out = tmp_path / "out"
    out.mkdir()
    for job in spec.jobs("quick"):
        run_path(out, job).mkdir(parents=True)
        row = {"method": "pgnas", "metric": "test_acc", "value": 0.5 + 0.1 * job.seed}
        (run_path(out, job) / METRICS_FILE).write_text(json.dumps([row]))
    record.write_record(out, spec, "quick", "pgnas study s.yaml", None, code_version(repo))
    argv = ["study", str(spec_path), "--tier", "quick", "--out", str(out), "--no-progress"]
    return out, argv


@pytest.fixture
def study_code(repo, monkeypatch):
    """The study records the test repository's commit, as if pgnas were checked out there."""
    monkeypatch.setattr(record, "code_version", lambda: code_version(repo))
    return repo


@needs_git
def test_a_study_refuses_to_mix_commits_unless_forced(tmp_path, study_code, capsys):
    out, argv = _finished_study(tmp_path, study_code)
    first = _git(study_code, "rev-parse", "HEAD")
    second = _commit(study_code, "x = 2\n")
    before = _snapshot(out)
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pgnas: error: "), err
    for word in (f"made at commit {short(first)}", f"at {short(second)}", "--force"):
        assert word in err[0], (word, err[0])
    assert _snapshot(out) == before  # refused: nothing written

    assert main([*argv, "--force"]) == 0
    assert f"continuing at commit {short(second)}" in capsys.readouterr().err
    info = json.loads((out / "study.json").read_text())
    assert [s["commit"] for s in info["starts"]] == [first, second]
    assert info["starts"][-1]["forced"] is True and info["commit"] == second
    assert "commits" in st.provenance_line(info)  # the mix shows wherever it is quoted

    assert main(argv) == 0  # the forced commit is now the study's: no --force needed again


@needs_git
def test_a_dirty_tree_is_recorded_and_warned_about(tmp_path, study_code, capsys):
    out, argv = _finished_study(tmp_path, study_code)
    capsys.readouterr()
    assert main(argv) == 0  # the same commit, clean: no warning
    assert "warning" not in capsys.readouterr().err
    (study_code / "a.py").write_text("x = 99\n")
    assert main(argv) == 0  # the same commit with changes: recorded and warned
    err = capsys.readouterr().err
    assert "pgnas: warning: the code has uncommitted changes" in err
    info = json.loads((out / "study.json").read_text())
    assert [s["dirty"] for s in info["starts"]] == [False, False, True] and info["dirty"]
    assert "with uncommitted changes" in st.provenance_line(info)


def test_a_study_without_git_is_recorded_as_unknown(tmp_path, monkeypatch, capsys):
    """No git: the commit and dirty flag are null, and a restart is not refused."""
    monkeypatch.setattr(record, "code_version", lambda: {"commit": None, "dirty": None})
    out, argv = _finished_study(tmp_path, tmp_path)
    assert main(argv) == 0
    info = json.loads((out / "study.json").read_text())
    assert info["commit"] is None and info["dirty"] is None


def test_an_older_study_json_without_starts_is_continued(tmp_path, monkeypatch, capsys):
    """study.json from before ``starts`` (one short commit at the top) still compares."""
    full = "ab12cd3" + "0" * 33
    monkeypatch.setattr(record, "code_version", lambda: {"commit": full, "dirty": False})
    out, argv = _finished_study(tmp_path, tmp_path)
    info = json.loads((out / "study.json").read_text())
    del info["starts"], info["dirty"]
    info["commit"] = "ab12cd3"
    (out / "study.json").write_text(json.dumps(info))
    assert main(argv) == 0
    starts = json.loads((out / "study.json").read_text())["starts"]
    assert [s["commit"] for s in starts] == ["ab12cd3", full]
    monkeypatch.setattr(record, "code_version", lambda: {"commit": "f" * 40, "dirty": False})
    assert main(argv) == 1 and "made at commit" in capsys.readouterr().err


def _snapshot(folder) -> dict:
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else "/"
        for p in sorted(folder.rglob("*"))
    }
