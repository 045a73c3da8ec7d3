"""Probability kernels: coins, dice, expectations and the law of large numbers."""

from mathml_jax.probability.bounds import (
    binomial_two_sided_tail,
    count_within_z,
    z_failure_probability,
)
from mathml_jax.probability.coin import heads_counts, running_heads
from mathml_jax.probability.expectation import (
    die_game_payoffs,
    die_game_winnings,
    exact_expectation,
    monte_carlo_values,
    trapezoid_expectation,
)
from mathml_jax.probability.lln import draw, running_means, streak_win_counts
from mathml_jax.probability.streaming import (
    combine_counts,
    device_mesh,
    stream,
    stream_counts,
)

__all__ = [
    "binomial_two_sided_tail",
    "z_failure_probability",
    "combine_counts",
    "count_within_z",
    "device_mesh",
    "die_game_payoffs",
    "die_game_winnings",
    "draw",
    "exact_expectation",
    "heads_counts",
    "monte_carlo_values",
    "running_heads",
    "running_means",
    "stream",
    "stream_counts",
    "streak_win_counts",
    "trapezoid_expectation",
]
