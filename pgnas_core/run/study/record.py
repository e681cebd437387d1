"""``study.json``: what a study folder holds and which code made it.

It names the study, its tier and spec, and the latest start's command, commit, dirty flag
(uncommitted changes to tracked files), machine and date; ``starts`` keeps every (re)start's.
A study's runs must come from one version of the code: continuing a study whose runs were
made at another commit stops unless forced, and the forced start is recorded.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path

from ...errors import PgnasError
from ..provenance import code_version, same_commit, short
from .spec import StudySpec

STUDY_FILE = "study.json"


def read_record(out: Path) -> dict | None:
    """The study.json of ``out`` (None when there is none); one line when it is not a
    study's record."""
    path = out / STUDY_FILE
    if not path.exists():
        return None
    try:
        info = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        why = getattr(e, "strerror", None) or str(e).splitlines()[0]
        raise PgnasError(
            f"--out {out}: {STUDY_FILE} cannot be read ({why}): choose another --out"
        ) from None
    starts = info.get("starts", []) if isinstance(info, dict) else None
    if (
        not isinstance(info, dict)
        or not {"study", "tier"} <= set(info)
        or not isinstance(starts, list)
        or not all(isinstance(s, dict) for s in starts)
    ):
        raise PgnasError(
            f"--out {out}: {STUDY_FILE} is not a study's record (expected study, tier and "
            "starts): choose another --out"
        )
    return info


def check_same_study(out: Path, info: dict, spec: StudySpec, tier: str) -> None:
    if info.get("study") != spec.name or info.get("tier") != tier:
        raise PgnasError(
            f"{out} holds study {info.get('study')} ({info.get('tier')}), not {spec.name} "
            f"({tier}): use another --out"
        )
    if info.get("spec") != spec.to_dict():
        raise PgnasError(
            f"{out}: study {spec.name} changed since its runs were made; use another --out "
            "or remove the folder"
        )


def check_code(out: Path, info: dict | None, force: bool) -> tuple[dict, list[str]]:
    """This start's code version (commit, dirty, and ``forced`` when it mixes commits) and
    the warnings to print; stops when the study's runs were made at another commit, unless
    ``force``."""
    code = code_version()
    notes = []
    starts = ((info or {}).get("starts") or [info]) if info else [{}]
    before = starts[-1].get("commit")
    before = before if isinstance(before, str) else None
    if before and before != "unknown" and _has_runs(out):
        if code["commit"] is None:
            notes.append(
                f"its runs were made at commit {short(before)}; this code's commit is unknown "
                "(no git checkout), so a mix of versions cannot be ruled out"
            )
        elif not same_commit(before, code["commit"]):
            if not force:
                raise PgnasError(
                    f"{out}: its runs were made at commit {short(before)}, this code is at "
                    f"{short(code['commit'])}; check that commit out, use another --out, or "
                    f"pass --force to mix the two (recorded in {STUDY_FILE})"
                )
            code["forced"] = True
            notes.append(
                f"continuing at commit {short(code['commit'])} runs made at {short(before)} "
                f"(--force; recorded in {STUDY_FILE})"
            )
    if code["dirty"]:
        notes.append(
            f"the code has uncommitted changes (commit {short(code['commit'])} + changes): "
            f"recorded in {STUDY_FILE}; its results cannot be remade from the commit alone"
        )
    return code, notes


def _has_runs(out: Path) -> bool:
    runs = out / "runs"
    return runs.is_dir() and any(runs.iterdir())


def write_record(
    out: Path,
    spec: StudySpec,
    tier: str,
    command: str | None,
    before: dict | None,
    code: dict,
) -> None:
    """study.json with this start appended to the earlier ones (written atomically: a study
    killed while writing it keeps the old one)."""
    start = {
        "command": command or f"pgnas study {spec.name} --tier {tier} --out {out}",
        **code,
        "machine": machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    starts = list((before or {}).get("starts") or ([_legacy_start(before)] if before else []))
    info = {"study": spec.name, "tier": tier, **start, "starts": [*starts, start]}
    info["spec"] = spec.to_dict()
    tmp = out / f".{STUDY_FILE}.tmp{os.getpid()}"
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, out / STUDY_FILE)


def _legacy_start(info: dict) -> dict:
    """A study.json from before ``starts`` recorded only its latest start."""
    return {k: info.get(k) for k in ("command", "commit", "dirty", "machine", "date")}


def warn(notes: list[str]) -> None:
    for note in notes:
        print(f"pgnas: warning: {note}", file=sys.stderr, flush=True)


def machine() -> str:
    import torch

    from ...train.precision import bf16_capability

    cores = os.cpu_count()
    return (
        f"{platform.machine()} {platform.system()}, {cores} cores, torch {torch.__version__}, "
        f"{bf16_capability('cpu')}"
    )
