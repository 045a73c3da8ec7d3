"""Coin tosses: counts of heads over repeated experiments, and running frequencies.

A coin with P(heads) = p tossed n times gives a number of heads X ~ Binomial(n, p),
P(X = k) = C(n, k) p^k (1 - p)^(n - k); the relative frequency X/n has standard deviation
sqrt(p (1 - p) / n), so it settles at p (the law of large numbers) at rate 1/sqrt(n).

Both kernels spread their batch over devices (:mod:`mathml_jax.sharding`) without changing a
number: :func:`heads_counts` draws its repetitions as one array whose rows are split over a
``mesh``; :func:`running_heads_of_keys` runs one path per key, so its paths can be cut into
chunks and split over devices by :func:`mathml_jax.sharding.map_rows`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from mathml_jax.sharding import constrain_rows, padded_rows


@partial(jax.jit, static_argnames=("num_tosses", "num_repetitions", "mesh"))
def heads_counts(key: jax.Array, p, *, num_tosses: int, num_repetitions: int,
                 mesh: Mesh | None = None) -> jax.Array:
    """Number of heads in ``num_tosses`` tosses, repeated ``num_repetitions`` times.

    Args:
      key: PRNG key.
      p: probability of heads (traced: a new p does not recompile).
      mesh: a 1-D device mesh whose devices each draw their share of the repetitions (the
        same numbers as on one device: :func:`mathml_jax.sharding.constrain_rows`).
    Returns:
      int32 array of shape (num_repetitions,), values in 0..num_tosses.
    """
    reps = padded_rows(num_repetitions, mesh)
    tosses = constrain_rows(jax.random.bernoulli(key, p, (reps, num_tosses)), mesh)
    return jnp.sum(tosses, axis=1, dtype=jnp.int32)[:num_repetitions]


@partial(jax.jit, static_argnames=("num_tosses",))
def running_heads_of_keys(keys: jax.Array, p, *, num_tosses: int) -> jax.Array:
    """Cumulative number of heads after 1..num_tosses tosses, one path per key of ``keys``
    (n,): int32 (n, num_tosses). Path i depends on ``keys[i]`` only."""
    def one_path(k):
        return jnp.cumsum(jax.random.bernoulli(k, p, (num_tosses,)), dtype=jnp.int32)

    return jax.vmap(one_path)(keys)


@partial(jax.jit, static_argnames=("num_tosses", "num_paths"))
def running_heads(key: jax.Array, p, *, num_tosses: int, num_paths: int) -> jax.Array:
    """Cumulative number of heads after 1..num_tosses tosses, for independent paths.

    The running frequency is ``running_heads(...) / n``; counts stay integers so that p = 0 or
    p = 1 gives a frequency of exactly 0 or 1. Path i is :func:`running_heads_of_keys` of
    ``jax.random.split(key, num_paths)[i]``.

    Returns:
      int32 array of shape (num_paths, num_tosses).
    """
    return running_heads_of_keys(jax.random.split(key, num_paths), p, num_tosses=num_tosses)
