"""Coin tosses: counts of heads over repeated experiments, and running frequencies.

A coin with P(heads) = p tossed n times gives a number of heads X ~ Binomial(n, p),
P(X = k) = C(n, k) p^k (1 - p)^(n - k); the relative frequency X/n has standard deviation
sqrt(p (1 - p) / n), so it settles at p (the law of large numbers) at rate 1/sqrt(n).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp


@partial(jax.jit, static_argnames=("num_tosses", "num_repetitions"))
def heads_counts(key: jax.Array, p, *, num_tosses: int, num_repetitions: int) -> jax.Array:
    """Number of heads in ``num_tosses`` tosses, repeated ``num_repetitions`` times.

    Args:
      key: PRNG key.
      p: probability of heads (traced: a new p does not recompile).
    Returns:
      int32 array of shape (num_repetitions,), values in 0..num_tosses.
    """
    tosses = jax.random.bernoulli(key, p, (num_repetitions, num_tosses))
    return jnp.sum(tosses, axis=1, dtype=jnp.int32)


@partial(jax.jit, static_argnames=("num_tosses", "num_paths"))
def running_heads(key: jax.Array, p, *, num_tosses: int, num_paths: int) -> jax.Array:
    """Cumulative number of heads after 1..num_tosses tosses, for independent paths.

    The running frequency is ``running_heads(...) / n``; counts stay integers so that p = 0 or
    p = 1 gives a frequency of exactly 0 or 1.

    Returns:
      int32 array of shape (num_paths, num_tosses).
    """
    keys = jax.random.split(key, num_paths)

    def one_path(k):
        return jnp.cumsum(jax.random.bernoulli(k, p, (num_tosses,)), dtype=jnp.int32)

    return jax.vmap(one_path)(keys)
