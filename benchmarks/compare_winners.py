"""Winner check from saved tables: each racing table's winner vs the exhaustive winner.

    python benchmarks/compare_winners.py results/ranking_table_1500_exhaustive_compact.csv \\
        results/ranking_table_1500_racing_compact_order*.csv

Both kinds of table come from ``bench_ranking.py --save-tables`` on the same candidate
seeds; the full-split accuracies are compared (racing's winner has seen the whole split).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from pgnas_core.rank import best_candidate
from pgnas_core.train.tables import read_csv_exact

import _common


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        raise SystemExit(__doc__)
    exhaustive = read_csv_exact(argv[0])
    we = best_candidate(exhaustive)
    rows = []
    for path in argv[1:]:
        racing = read_csv_exact(path)
        if sorted(racing["seed"]) != sorted(exhaustive["seed"]):
            raise SystemExit(f"{path}: not the exhaustive table's candidate seeds")
        wr = best_candidate(racing)
        gap = 100 * (we["val_acc"] - wr["val_acc"])
        rows.append(
            dict(
                table=Path(path).name,
                winner_seed=int(wr["seed"]),
                winner_val_acc=wr["val_acc"],
                exhaustive_winner_seed=int(we["seed"]),
                exhaustive_winner_val_acc=we["val_acc"],
                gap_points=gap,
                within_0_1=gap <= 0.1 + 1e-9,
                image_evaluations=int(racing["evaluated_images"].sum()),
                survivors=int((racing["eliminated_round"] == -1).sum()),
            )
        )
        print(
            f"{rows[-1]['table']}: winner {rows[-1]['winner_seed']} "
            f"{wr['val_acc']:.4f} vs exhaustive {int(we['seed'])} {we['val_acc']:.4f}: "
            f"gap {gap:.2f} points, {rows[-1]['survivors']} survivors"
        )
    ok = sum(r["within_0_1"] for r in rows)
    print(f"within 0.1 points of the exhaustive winner: {ok}/{len(rows)}")
    _common.write_results("winner_check", rows, {"exhaustive_table": argv[0]})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
