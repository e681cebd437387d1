"""pgnas_viz: plots, graphs, paper tables and widgets for PGNAS runs.

Every plot helper takes data (a run directory, a RunResults, a DataFrame or an Architecture)
and an optional Axes, draws with matplotlib's object-oriented API and returns the Axes; none
trains, shows or saves anything. ``pgnas_core`` never imports this package.
"""

from pgnas_core.run.results import (
    RunResults,
    drop_proportions,
    keep_prob_table,
    load_run,
    sweep_tables,
)

from .accuracies import plot_accuracies
from .alpha_heatmap import alpha_grid, plot_alpha_heatmap
from .candidates import plot_candidate_histogram, plot_error_vs_candidates, winner_row
from .cells import cell_graph, cell_table, plot_arch_weights, plot_param_free_fraction
from .drops import plot_drop_proportions
from .graph import architecture_graph, dot_available, render_graph, supernet_graph
from .keep_probs import keep_prob_grid, keep_prob_vmin, plot_keep_prob_evolution, plot_keep_probs
from .metric_ranges import clip_interval, metric_range
from .paper import compare_with_paper, paper_caption, paper_table, paper_tables
from .pareto import pareto_front, plot_pareto, wide_results
from .posterior_math import (
    nearest_sweep_row,
    regularisation_curve,
    regulariser_optimum,
    relaxed_mask_samples,
    typical_site_norms,
)
from .search_diagnostics import plot_search_diagnostics
from .studies import plot_claim, plot_claims, plot_study_metric, side_by_side_table
from .switches import (
    plot_magnitude_vs_relevance,
    plot_relevance,
    relevance_grid,
    relevance_notes,
    switch_table,
)
from .training_curves import plot_training_curves
from .widgets import (
    L2Explorer,
    PriorExplorer,
    PruningExplorer,
    TauExplorer,
    TrainButton,
    l2_explorer,
    prior_explorer,
    pruning_explorer,
    tau_explorer,
    train_button,
)

__all__ = [
    "plot_accuracies",
    "alpha_grid",
    "plot_alpha_heatmap",
    "winner_row",
    "keep_prob_vmin",
    "clip_interval",
    "metric_range",
    "pareto_front",
    "plot_pareto",
    "wide_results",
    "plot_search_diagnostics",
    "plot_claim",
    "plot_claims",
    "plot_study_metric",
    "side_by_side_table",
    "plot_magnitude_vs_relevance",
    "plot_relevance",
    "relevance_grid",
    "relevance_notes",
    "switch_table",
    "PriorExplorer",
    "PruningExplorer",
    "prior_explorer",
    "pruning_explorer",
    "cell_graph",
    "cell_table",
    "plot_arch_weights",
    "plot_param_free_fraction",
    "RunResults",
    "load_run",
    "keep_prob_table",
    "drop_proportions",
    "sweep_tables",
    "plot_keep_probs",
    "plot_keep_prob_evolution",
    "keep_prob_grid",
    "plot_drop_proportions",
    "plot_training_curves",
    "plot_candidate_histogram",
    "plot_error_vs_candidates",
    "architecture_graph",
    "supernet_graph",
    "render_graph",
    "dot_available",
    "paper_table",
    "paper_tables",
    "paper_caption",
    "compare_with_paper",
    "relaxed_mask_samples",
    "regularisation_curve",
    "regulariser_optimum",
    "nearest_sweep_row",
    "typical_site_norms",
    "tau_explorer",
    "TauExplorer",
    "l2_explorer",
    "L2Explorer",
    "train_button",
    "TrainButton",
]
