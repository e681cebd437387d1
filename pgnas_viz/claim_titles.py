"""Short titles for the claim plots: a panel titled only "BaLeNAS:" says nothing; one that
says "BaLeNAS falls less than DARTS" does. A claim without an entry here gets its statement
shortened to fit the panel."""

from __future__ import annotations

import textwrap

SHORT_TITLES = {
    "t3_guided_beats_random": "PGNAS winner beats Random's",
    "t3_guided_beats_random_finetuned": "PGNAS beats fine-tuned Random",
    "t3_finetuning_helps_random": "fine-tuning helps Random",
    "sf1_higher_mean": "PGNAS candidates: higher mean",
    "sf1_smaller_spread": "PGNAS candidates: smaller spread",
    "t6_more_candidates": "more candidates, better winner",
    "t7_channels_dropped": "PGNAS drops channels",
    "t7_operations_dropped": "PGNAS drops operations",
    "t4_larger_l2_smaller_net": "larger l2, smaller net",
    "t4_largest_l2_costs_accuracy": "largest l2 costs accuracy",
    "t5_smaller_tau": "tau 1/5 beats tau 2/3",
    "t2_coupled_beats_constant": "coupled prior beats constant L2",
    "bayesnas_pruning_keeps_accuracy": "pruning keeps accuracy",
    "bayesnas_relevance_beats_magnitude": "relevance beats magnitude",
    "bayesnas_no_orphans": "no orphaned operations",
    "bayesnas_lambda_size": "larger lambda, smaller net",
    "bayesnas_lambda_accuracy": "larger lambda costs accuracy",
    "balenas_stable": "BaLeNAS falls less than DARTS",
    "balenas_fewer_param_free": "BaLeNAS: fewer param-free ops",
    "balenas_flatter": "BaLeNAS: flatter than DARTS",
    "balenas_tf_beats_argmax": "training-free beats argmax",
    "bf16_keeps_accuracy": "bf16 keeps accuracy",
    "bf16_keeps_posterior": "bf16 keeps the posterior",
}

WIDTH = 34  # characters per title line in a 3.6-inch panel at 8 pt


def claim_title(claim) -> str:
    """The claim in a few words (at most two lines of ``WIDTH`` characters)."""
    short = SHORT_TITLES.get(claim.key) or textwrap.shorten(claim.statement, 2 * WIDTH - 4)
    return "\n".join(textwrap.wrap(short, WIDTH)[:2])
