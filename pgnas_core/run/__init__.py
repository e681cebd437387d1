"""Running Algorithm 1 for users: the pipeline, the run directory and its records, reading
results back as tables, the experiment runners behind the notebooks, and the CLI."""

from .pipeline import format_summary, search
from .results import RunResults, drop_proportions, keep_prob_table, load_run, sweep_tables
from .run_dir import MethodResult, RunDir, Summary, SupernetReport, Winner, load_supernet

__all__ = [
    "format_summary",
    "search",
    "RunResults",
    "drop_proportions",
    "keep_prob_table",
    "load_run",
    "sweep_tables",
    "MethodResult",
    "RunDir",
    "Summary",
    "SupernetReport",
    "Winner",
    "load_supernet",
]
