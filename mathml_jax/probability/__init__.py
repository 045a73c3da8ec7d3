"""Probability kernels: coins, dice, expectations and the law of large numbers."""

from mathml_jax.probability.bounds import binomial_two_sided_tail, count_within_z
from mathml_jax.probability.coin import heads_counts, running_heads
from mathml_jax.probability.expectation import (
    die_game_payoffs,
    die_game_winnings,
    exact_expectation,
    monte_carlo_values,
    trapezoid_expectation,
)

__all__ = [
    "binomial_two_sided_tail",
    "count_within_z",
    "die_game_payoffs",
    "die_game_winnings",
    "exact_expectation",
    "heads_counts",
    "monte_carlo_values",
    "running_heads",
    "trapezoid_expectation",
]
