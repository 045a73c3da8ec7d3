"""Expected values: exactly by summing over outcomes, by quadrature, and by Monte Carlo.

For a discrete random variable E[X] = sum_x x P(X = x); for a continuous one with density f,
E[g(X)] = integral g(x) f(x) dx. The Monte Carlo average (1/N) sum_i g(X_i) of independent
draws is unbiased with standard error sd(g(X)) / sqrt(N).

The Monte Carlo kernels take a ``mesh``: each device draws its rows of the one array a single
device would draw (:func:`mathml_jax.sharding.constrain_rows`), so the numbers do not depend
on the number of devices.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from jax.sharding import Mesh

from mathml_jax.sharding import constrain_rows, padded_rows


def exact_expectation(values: jax.Array, probs: jax.Array) -> jax.Array:
    """E[X] = sum_x x P(X = x) over a finite set of outcomes (arrays of the same shape)."""
    return jnp.sum(values * probs)


def die_game_payoffs(win, lose) -> jax.Array:
    """The payoff of each face 1..6 of a fair die: ``win`` on 1 or 2, ``-lose`` otherwise."""
    faces = jnp.arange(1, 7)
    return jnp.where(faces <= 2, win, -lose)


@partial(jax.jit, static_argnames=("num_rounds", "num_players", "mesh"))
def die_game_winnings(key: jax.Array, win, lose, *, num_rounds: int, num_players: int,
                      mesh: Mesh | None = None) -> jax.Array:
    """Cumulative winnings of independent players of the die game, after each round.

    Each round a fair die is rolled (``jax.random.randint`` over 1..6); the player wins ``win``
    on 1 or 2 and loses ``lose`` otherwise. ``win`` and ``lose`` are traced; the players are
    split over ``mesh``'s devices (None: one device).

    Returns:
      array (num_players, num_rounds): total winnings after rounds 1..num_rounds.
    """
    rows = padded_rows(num_players, mesh)
    faces = constrain_rows(jax.random.randint(key, (rows, num_rounds), 1, 7), mesh)
    payoff = jnp.where(faces <= 2, win, -lose)
    return jnp.cumsum(payoff, axis=1)[:num_players]


@partial(jax.jit, static_argnames=("sampler", "g", "num_samples", "mesh"))
def monte_carlo_values(key: jax.Array, params: jax.Array, *, sampler: Callable,
                       g: Callable, num_samples: int, mesh: Mesh | None = None) -> jax.Array:
    """g(X_i) for ``num_samples`` independent draws X_i = sampler(key, params, shape).

    The caller reduces (mean, running mean, standard error); ``params`` is traced. The draws
    are split over ``mesh``'s devices (None: one device); ``sampler`` must draw
    elementwise from one key (``jax.random.normal(key, shape)``), as JAX's samplers do.
    """
    n = padded_rows(num_samples, mesh)
    return g(constrain_rows(sampler(key, params, (n,)), mesh))[:num_samples]


def trapezoid_expectation(g: Callable, pdf: Callable, lo: float, hi: float,
                          num_points: int = 20_001) -> jax.Array:
    """E[g(X)] = integral g(x) f(x) dx on [lo, hi] by the trapezoid rule (JAX quadrature)."""
    x = jnp.linspace(lo, hi, num_points)
    return jnp.trapezoid(g(x) * pdf(x), x)
