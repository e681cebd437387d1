"""Studies: a grid of configurations times seeds, run resumably and in parallel, aggregated
with error bars, and the paper's claims judged from them (``pgnas study``)."""

from .accuracies import accuracy_intervals, accuracy_table, learned_line, search_learned
from .claims import CLAIMS, Claim, Side, claims_of, evaluate, verdict_line, verdicts
from .evidence import Evidence, load_evidence
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
from .stats import (
    hierarchical_interval,
    paired_difference,
    paired_differences,
    seeds_needed,
    side_values,
    summarise,
    t_interval,
)

__all__ = [
    "CLAIMS",
    "Evidence",
    "MODES",
    "Claim",
    "accuracy_intervals",
    "accuracy_table",
    "Side",
    "StudySpec",
    "claims_of",
    "collect",
    "evaluate",
    "hierarchical_interval",
    "learned_line",
    "list_studies",
    "load_study",
    "load_evidence",
    "load_study_folder",
    "notebook_mode",
    "paired_difference",
    "paired_differences",
    "provenance_line",
    "publish_reference",
    "reference_root",
    "seeds_needed",
    "side_values",
    "run_study",
    "search_learned",
    "study_results",
    "summarise",
    "t_interval",
    "verdict_line",
    "verdicts",
]
