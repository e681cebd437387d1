"""Algorithm 1, steps 2-4: sample candidates from the posterior, rank them on held-out data
(fast engines, racing, resumable), and export the winner as a compact network."""

from .candidates import CANDIDATE_COLUMNS, RANKED_COLUMNS, best_candidate
from .config import ENGINES, RANK_METHODS, SearchConfig
from .export import export_candidate, export_subnet, load_subnet, save_subnet
from .naive import naive_rank
from .ranker import rank_candidates
from .sampling import candidate_seeds, sample_architecture, sample_masks
from .store import RowStore

__all__ = [
    "CANDIDATE_COLUMNS",
    "RANKED_COLUMNS",
    "best_candidate",
    "ENGINES",
    "RANK_METHODS",
    "SearchConfig",
    "export_candidate",
    "export_subnet",
    "load_subnet",
    "save_subnet",
    "naive_rank",
    "rank_candidates",
    "candidate_seeds",
    "sample_architecture",
    "sample_masks",
    "RowStore",
]
