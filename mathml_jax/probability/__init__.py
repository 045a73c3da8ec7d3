"""Probability kernels: coins, dice, expectations and the law of large numbers."""

from mathml_jax.probability.bounds import binomial_two_sided_tail, count_within_z
from mathml_jax.probability.coin import heads_counts, running_heads

__all__ = [
    "binomial_two_sided_tail",
    "count_within_z",
    "heads_counts",
    "running_heads",
]
