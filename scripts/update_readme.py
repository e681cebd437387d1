"""Regenerate the README's tables from the reference results (results/reference/):
the paper's claims with our verdicts, and the methods' measured lines.

    python scripts/update_readme.py          # rewrite README.md in place
    python scripts/update_readme.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pgnas_core.run.study.report import render_readme

README = Path(__file__).resolve().parents[1] / "README.md"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args(argv)
    text = README.read_text()
    new = render_readme(text)
    if a.check:
        if new != text:
            print("README.md is out of date: run python scripts/update_readme.py")
            return 1
        return 0
    README.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
