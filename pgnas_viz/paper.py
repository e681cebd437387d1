"""The paper's numbers as data (Zhou et al., AAAI 2020; docs/method_pgnas.md section 9), and a
helper that puts our measured numbers beside them. Pure pandas, no plotting.

Errors are in percent and parameter counts in millions, as the paper prints them.
"""

from __future__ import annotations

import pandas as pd

_T1 = ["method", "error", "gpu_days", "params_m", "search_method"]
_NA = float("nan")

_TABLES: dict[str, tuple[str, list[str], list[tuple]]] = {
    "table1": (
        "CIFAR-10 error, search cost and size vs other NAS methods (supp. full Table 1); "
        "PGNAS is not fine-tuned",
        _T1,
        [
            ("DenseNet-BC", 3.46, _NA, 25.6, "manual"),
            ("PyramidNet", 3.31, _NA, 26.0, "manual"),
            ("shake-shake", 2.86, _NA, 26.2, "manual"),
            ("shake-shake + cutout", 2.56, _NA, 26.2, "manual"),
            ("NAS", 4.47, 22400, 7.1, "RL"),
            ("NAS + more filters", 3.65, 22400, 37.4, "RL"),
            ("NASNET-A", 3.41, 1800, 3.3, "RL"),
            ("NASNET-A + cutout", 2.65, 1800, 3.3, "RL"),
            ("Macro NAS + Q-Learning", 6.92, 100, 11.2, "RL"),
            ("Micro NAS + Q-Learning", 3.60, 96, _NA, "RL"),
            ("PathLevel EAS + PyramidNet + cutout", 2.30, 8.3, 13.0, "RL"),
            ("Proxyless-R + cutout", 2.30, 4, 5.8, "RL"),
            ("ENAS + cutout", 2.89, 0.5, 4.6, "RL"),
            ("EAS (DenseNet)", 3.44, 10, 10.7, "RL"),
            ("AmoebaNet-A + cutout", 3.34, 3150, 3.2, "evolution"),
            ("AmoebaNet-B + cutout", 2.55, 3150, 2.8, "evolution"),
            ("Hierarchical Evo", 3.63, 300, 61.3, "evolution"),
            ("PNAS", 3.63, 225, 3.2, "SMBO"),
            ("Proxyless-G + cutout", 2.08, 4, 5.7, "gradient-based"),
            ("BayesNAS + cutout", 2.81, 0.2, 3.4, "gradient-based"),
            ("BayesNAS + PyramidNet + cutout", 2.40, 0.1, 3.4, "gradient-based"),
            ("DARTS + cutout", 2.83, 4, 3.4, "gradient-based"),
            ("SNAS + cutout", 2.85, 1.5, 2.8, "gradient-based"),
            ("NAONet + cutout", 2.07, 200, 128, "gradient-based"),
            ("One-Shot Top", 3.70, _NA, 45.3, "sampling-based"),
            ("SMASH", 4.03, 1.5, 16.0, "sampling-based"),
            ("PGNAS-MI", 2.06, 6.5, 33.4, "guided sampling"),
            ("PGNAS-MI* (10k candidates)", 1.98, 11.1, 32.8, "guided sampling"),
        ],
    ),
    "table2": (
        "CIFAR-100 error, and the constant-L2 ablation (the weight term without the (1-p) factor)",
        _T1,
        [
            ("NASNET-A", 19.70, 1800, 3.3, "RL"),
            ("ENAS", 19.43, 0.5, 4.6, "RL"),
            ("AmoebaNet-B", 17.66, 3150, 2.8, "evolution"),
            ("PNAS", 19.53, 150, 3.2, "SMBO"),
            ("NAONet + cutout", 14.36, 200, 128, "gradient-based"),
            ("PGNAS-MI + constant L2 term", 17.41, _NA, 39.6, "-"),
            ("PGNAS-MI", 14.28, 11, 46.4, "guided sampling"),
        ],
    ),
    "table3": (
        "guided sampling vs Random (predefined dropout, Bender et al.) without and with "
        "fine-tuning; CIFAR-10; SupNet-MI's full-model error is not reported",
        ["supernet", "method", "error", "params_m"],
        [
            ("supnet_ei", "full", 2.78, 15.3),
            ("supnet_ei", "random", 13.45, 10.7),
            ("supnet_ei", "random_ft", 3.16, 10.7),
            ("supnet_ei", "pgnas", 2.56, 10.8),
            ("supnet_e", "full", 2.98, 4.6),
            ("supnet_e", "random", 15.87, 3.0),
            ("supnet_e", "random_ft", 3.47, 3.0),
            ("supnet_e", "pgnas", 2.73, 3.1),
            ("supnet_mi", "full", _NA, 72.7),
            ("supnet_mi", "random", 9.75, 35.4),
            ("supnet_mi", "random_ft", 2.69, 35.4),
            ("supnet_mi", "pgnas", 2.06, 33.4),
            ("supnet_m", "full", 2.58, 26.2),
            ("supnet_m", "random", 2.63, 22.4),
            ("supnet_m", "random_ft", 2.56, 22.4),
            ("supnet_m", "pgnas", 2.20, 21.6),
        ],
    ),
    "table4": (
        "the weight prior l2: larger l2, smaller net. The caption says SupNet-EI, but "
        "l2=150 with 2.06% / 33.4M is PGNAS-MI (Tables 1, 3) and EI uses l2=0.1",
        ["supernet", "l2", "error", "params_m"],
        [
            ("supnet_mi", 50.0, 2.13, 49.9),
            ("supnet_mi", 150.0, 2.06, 33.4),
            ("supnet_mi", 250.0, 2.27, 23.8),
            ("supnet_mi", 500.0, 2.39, 18.2),
        ],
    ),
    "table5": (
        "the temperature tau: smaller tau, lower error (finetuned: the searched net fine-tuned)",
        ["supernet", "tau", "finetuned", "error"],
        [
            ("supnet_ei", 2 / 3, False, 2.74),
            ("supnet_ei", 1 / 5, False, 2.56),
            ("supnet_m", 2 / 3, False, 2.49),
            ("supnet_m", 1 / 5, False, 2.20),
            ("supnet_ei", 2 / 3, True, 2.68),
            ("supnet_ei", 1 / 5, True, _NA),
        ],
    ),
    "table6": (
        "the number of candidates C on SupNet-MI: error of the winner and the extra "
        "GPU-days of ranking",
        ["candidates", "error", "extra_gpu_days"],
        [
            (50, 2.17, 0.02),
            (500, 2.06, 0.23),
            (1500, 2.06, 0.69),
            (5000, 2.04, 2.31),
            (10000, 1.98, 4.63),
            (20000, _NA, 9.26),
        ],
    ),
    "table7": (
        "proportions of dropped channels and operations of the searched nets "
        "(MI*: the 10k-candidate search)",
        ["supernet", "channel_drop", "operation_drop"],
        [
            ("supnet_mi", 0.44, 0.26),
            ("supnet_m", 0.18, 0.10),
            ("supnet_e", 0.33, 0.19),
            ("supnet_ei", 0.29, 0.21),
        ],
    ),
    "table8": (
        "ImageNet: SupNet-D-121 searched directly on ImageNet vs other NAS methods",
        ["method", "top1_error", "top5_error", "gpu_days", "params_m", "search_method"],
        [
            ("NASNET-A", 26.0, 8.4, 1800, 5.3, "RL"),
            ("AmoebaNet-C", 24.3, 7.6, 3150, 6.4, "evolution"),
            ("PNAS", 25.8, 8.1, 225, 5.1, "SMBO"),
            ("BayesNAS", 26.5, 8.9, 0.2, 3.9, "gradient-based"),
            ("FBNet-C", 25.1, _NA, 9, 5.5, "gradient-based"),
            ("DARTS", 26.9, 9.0, 4, 4.9, "gradient-based"),
            ("SNAS", 27.3, 9.2, 1.5, 4.3, "gradient-based"),
            ("One-Shot Top", 26.2, _NA, _NA, 6.8, "sampling-based"),
            ("SinglePath", 25.3, _NA, 12, _NA, "sampling-based"),
            ("PGNAS-D-121", 24.8, 7.5, 26, 6.6, "guided sampling"),
        ],
    ),
    "table9": (
        "ImageNet: ResNet-50, its inflated supernet (4 kernel branches) and the PGNAS "
        "search result",
        ["model", "error", "params_m"],
        [
            ("resnet50", 23.96, 25.6),
            ("supnet_r50 (full)", 22.93, 44.0),
            ("PGNAS-R-50", 22.73, 26.0),
        ],
    ),
    "fig1": (
        "supp. Fig. 1, histograms of candidate accuracy (qualitative: no numbers are "
        "printed): PGNAS has a higher mean and a smaller spread than Random on every "
        "supernet; the gap is small on SupNet-M",
        ["supernet", "pgnas_mean_vs_random", "pgnas_spread_vs_random"],
        [
            ("supnet_m", "higher (small gap)", "smaller"),
            ("supnet_mi", "higher", "smaller"),
            ("supnet_e", "higher", "smaller"),
            ("supnet_ei", "higher", "smaller"),
        ],
    ),
}

#: The columns that identify a row of each table (what measured rows are matched on).
TABLE_KEYS = {
    "table1": ["method"],
    "table2": ["method"],
    "table3": ["supernet", "method"],
    "table4": ["supernet", "l2"],
    "table5": ["supernet", "tau", "finetuned"],
    "table6": ["candidates"],
    "table7": ["supernet"],
    "table8": ["method"],
    "table9": ["model"],
    "fig1": ["supernet"],
}


def paper_tables() -> list[str]:
    return list(_TABLES)


def paper_caption(table: str) -> str:
    return _entry(table)[0]


def _entry(table: str):
    key = table.lower().replace(" ", "").replace("_", "")
    key = {"supfig1": "fig1", "suppfig1": "fig1", "figure1": "fig1"}.get(key, key)
    if key not in _TABLES:
        raise KeyError(f"unknown paper table {table!r}: one of {', '.join(_TABLES)}")
    return _TABLES[key]


def paper_table(table: str) -> pd.DataFrame:
    """The paper's ``table`` ("table1" ... "table9", "fig1") as a fresh DataFrame."""
    caption, columns, rows = _entry(table)
    df = pd.DataFrame(rows, columns=columns)
    df.attrs["caption"] = caption
    return df


def _round_keys(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    df = df.copy()
    for k in keys:
        if pd.api.types.is_float_dtype(df[k]):
            df[k] = df[k].round(4)
    return df


def compare_with_paper(
    measured: pd.DataFrame, table: str, note: str | None = None, on: list[str] | None = None
) -> pd.DataFrame:
    """Our measured numbers beside the paper's.

    Rows are matched on the table's key columns (``TABLE_KEYS``, or ``on``: e.g. ``["l2"]``
    to put a small supernet's l2 sweep beside SupNet-MI's); every other column becomes
    ``paper_<col>`` / ``ours_<col>``. The paper's rows come first in its order, then measured
    rows that match none. ``note``: one line for every row (e.g. "ours: supnet_m_small on
    Fashion-MNIST, 4 epochs, CPU"); a ``note`` column in ``measured`` overrides it per row.
    Errors in percent and params in millions, as the paper prints them.
    """
    key = _entry(table)
    name = next(k for k, v in _TABLES.items() if v is key)
    keys = list(on) if on is not None else TABLE_KEYS[name]
    paper = paper_table(name)
    for side, df in (("measured rows", measured), (f"paper {name}", paper)):
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise KeyError(f"{side} lack the key column(s) {missing} (keys: {keys})")
    ours = measured.copy()
    notes = ours.pop("note") if "note" in ours.columns else None
    values = [c for c in ours.columns if c not in keys]
    paper_values = [c for c in paper.columns if c not in keys]
    for k in keys:  # compare like with like (tau 0.2 vs 1/5, l2 50 vs 50.0)
        if pd.api.types.is_numeric_dtype(paper[k]) and not pd.api.types.is_bool_dtype(paper[k]):
            ours[k] = pd.to_numeric(ours[k]).astype(float)
            paper[k] = paper[k].astype(float)
    paper, ours = _round_keys(paper, keys), _round_keys(ours, keys)
    if notes is not None:
        ours["note"] = notes.to_numpy()
    left = paper.rename(columns={c: f"paper_{c}" for c in paper_values})
    right = ours.rename(columns={c: f"ours_{c}" for c in values})
    matched = left.merge(right, on=keys, how="left")
    extra = right.merge(paper[keys], on=keys, how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"].drop(columns="_merge")
    out = pd.concat([matched, extra], ignore_index=True)
    order = keys[:]
    for c in dict.fromkeys(paper_values + values):
        order += [x for x in (f"paper_{c}", f"ours_{c}") if x in out.columns]
    if "note" not in out.columns:
        out["note"] = note or ""
    elif note:
        out["note"] = out["note"].fillna(note)
    out["note"] = out["note"].fillna("")
    out = out[order + ["note"]]
    out.attrs["caption"] = paper_caption(name)
    return out
