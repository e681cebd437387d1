"""Reading back the tables pgnas writes, exactly (a resume must see the same floats)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

# pandas >= 3 parses floats exactly by default and deprecates the option; older ones need it.
_EXACT = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


def read_csv_exact(path: Path, **kwargs) -> pd.DataFrame:
    """``pd.read_csv`` whose floats round-trip bit for bit."""
    return pd.read_csv(path, **_EXACT, **kwargs)


def read_appended_csv(path: Path, **kwargs) -> pd.DataFrame:
    """Read a CSV that rows are appended to, ignoring a last line cut short by a kill (one
    without its newline), and truncate the file to the complete rows so appends continue."""
    path = Path(path)
    text = path.read_text()
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]
        path.write_text(text)
    return pd.read_csv(io.StringIO(text), **_EXACT, **kwargs)
