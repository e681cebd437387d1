"""The resumable row store of a ranking: finished candidate rows appended to a CSV (flushed
per write), the race state, and the settings both were made with, beside each other.

A killed ranking resumes where it stopped; a ranking resumed with other settings stops with
the fields that differ (or, forced, sets the old files aside, never deleting them).
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd
import torch

from ..errors import ConfigChanged, RunDirError
from ..train.checkpoint import atomic_save
from ..train.tables import read_appended_csv


class RowStore:
    """``rows``: the CSV of finished rows; ``state``: the race state (torch file); ``key``:
    the settings they depend on (a JSON file written beside them). All paths None: a
    ranking that keeps nothing (nothing to resume)."""

    def __init__(
        self,
        rows: Path | None = None,
        state: Path | None = None,
        key_file: Path | None = None,
        columns: list[str] | None = None,
    ):
        self.rows = Path(rows) if rows is not None else None
        self.state = Path(state) if state is not None else None
        self.key_file = Path(key_file) if key_file is not None else None
        self.columns = columns
        self.key: dict | None = None

    def open(self, key: dict, force: bool = False) -> None:
        """Start or continue a ranking made with ``key``. Saved rows made with other settings
        raise ConfigChanged naming the fields; with ``force`` they are set aside instead."""
        self.key = key
        if not self._has_rows() and not (self.state is not None and self.state.exists()):
            self._write_key()
            return
        old = self._saved_key()
        if old == key:
            self._check_readable(force)
            return
        changed = sorted(k for k in set(old) | set(key) if old.get(k) != key.get(k))
        if not force:
            detail = ", ".join(
                f"{k} ({_short(old.get(k))} -> {_short(key.get(k))})" for k in changed
            )
            raise ConfigChanged(
                f"the unfinished ranking in {self.rows.parent} was made with other "
                f"settings: {detail}; set them back, or pass --force to set "
                f"its rows aside and rank afresh"
            )
        self.set_aside()
        self._write_key()

    def finished(self) -> pd.DataFrame:
        if not self._has_rows():
            return pd.DataFrame(columns=self.columns)
        done = read_appended_csv(self.rows)
        return done if len(done.columns) else pd.DataFrame(columns=self.columns)

    def append(self, rows: list[dict]) -> None:
        if self.rows is None or not rows:
            return
        new = not self._has_rows()
        with open(self.rows, "a") as f:
            pd.DataFrame(rows, columns=self.columns).to_csv(f, header=new, index=False)
            f.flush()
            os.fsync(f.fileno())

    def load_state(self) -> dict | None:
        if self.state is None or not self.state.exists():
            return None
        state = torch.load(self.state, weights_only=True)
        return state if state.get("key") == self.key else None

    def save_state(self, state: dict) -> None:
        if self.state is not None:
            atomic_save({"key": self.key, **state}, self.state)

    def remove(self) -> None:
        """Delete the store once the final table is written."""
        for p in (self.rows, self.state, self.key_file):
            if p is not None:
                p.unlink(missing_ok=True)

    def set_aside(self) -> None:
        """Rename the store's files to ``*.stale<N>`` (nothing is deleted)."""
        n = 0
        while any(
            p is not None and p.with_name(f"{p.name}.stale{n}").exists()
            for p in (self.rows, self.state, self.key_file)
        ):
            n += 1
        for p in (self.rows, self.state, self.key_file):
            if p is not None and p.exists():
                p.rename(p.with_name(f"{p.name}.stale{n}"))

    def _check_readable(self, force: bool) -> None:
        """Saved rows or race state that cannot be read: set aside when forced, else one
        line naming the file (read only: a refused ranking changes nothing)."""
        bad = self._unreadable()
        if bad is None:
            return
        if force:
            self.set_aside()
            self._write_key()
            return
        path, why = bad
        raise RunDirError(
            f"{path} is not a ranking's saved {why}: remove it, or rerun with --force to set "
            f"the unfinished ranking aside and rank afresh"
        )

    def _unreadable(self) -> tuple[Path, str] | None:
        if self._has_rows():
            try:
                text = self.rows.read_text()
                text = text[: text.rfind("\n") + 1] if not text.endswith("\n") else text
                head = pd.read_csv(io.StringIO(text), nrows=2) if text.strip() else None
            except (UnicodeDecodeError, ValueError, pd.errors.ParserError):
                return self.rows, "rows (not a CSV)"
            if head is not None and self.columns and list(head.columns) != list(self.columns):
                return self.rows, f"rows (columns {_short(list(head.columns))})"
        if self.state is not None and self.state.exists():
            try:
                state = torch.load(self.state, map_location="cpu", weights_only=True)
            except Exception:  # truncated, corrupted or not a torch file
                return self.state, "race state (unreadable)"
            if not isinstance(state, dict):
                return self.state, "race state (not a mapping)"
        return None

    # ---- helpers ------------------------------------------------------------------------
    def _has_rows(self) -> bool:
        return self.rows is not None and self.rows.exists() and self.rows.stat().st_size > 0

    def _saved_key(self) -> dict:
        if self.key_file is None or not self.key_file.is_file():
            return {}
        try:
            return json.loads(self.key_file.read_text())
        except (json.JSONDecodeError, OSError):
            return {}

    def _write_key(self) -> None:
        if self.key_file is not None and self.key is not None:
            self.key_file.write_text(json.dumps(self.key, indent=1))


def _short(value) -> str:
    text = "unset" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
