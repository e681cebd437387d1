"""Studies: a grid of configurations times seeds, run resumably and in parallel, aggregated
with error bars, and the paper's claims judged from them (``pgnas study``)."""

from .claims import CLAIMS, Claim, Side, claims_of, evaluate, verdict_line, verdicts
from .reference import (
    MODES,
    load_study_folder,
    notebook_mode,
    provenance_line,
    publish_reference,
    reference_root,
    study_results,
)
from .runner import collect, run_study
from .spec import StudySpec, list_studies, load_study
from .stats import paired_difference, paired_differences, side_values, summarise, t_interval

__all__ = [
    "CLAIMS",
    "MODES",
    "Claim",
    "Side",
    "StudySpec",
    "claims_of",
    "collect",
    "evaluate",
    "list_studies",
    "load_study",
    "load_study_folder",
    "notebook_mode",
    "paired_difference",
    "paired_differences",
    "provenance_line",
    "publish_reference",
    "reference_root",
    "side_values",
    "run_study",
    "study_results",
    "summarise",
    "t_interval",
    "verdict_line",
    "verdicts",
]
