"""Power iteration: v_{k+1} = A v_k / ||A v_k|| converges to the top eigenvector of A.

For a symmetric A with |lambda_1| > |lambda_2| >= ..., write v_0 = sum_i c_i u_i. Then
tan angle(v_k, u_1) = sqrt(sum_{i>=2} c_i^2 (lambda_i/lambda_1)^(2k)) / |c_1|, which falls
like |lambda_2 / lambda_1|^k.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp


class PowerState(NamedTuple):
    """The iterate (unit vector) and its Rayleigh quotient v^T A v."""

    vector: jax.Array
    eigenvalue: jax.Array


def power_init(a, v0) -> PowerState:
    v = v0 / jnp.linalg.norm(v0)
    return PowerState(v, v @ (a @ v))


def power_update(a, state: PowerState) -> PowerState:
    w = a @ state.vector
    v = w / jnp.linalg.norm(w)
    return PowerState(v, v @ (a @ v))


@partial(jax.jit, static_argnames=("num_steps",))
def power_iteration(a, v0, *, num_steps: int):
    """Runs ``num_steps`` steps of power iteration from ``v0``.

    Args:
      a: (n, n) matrix.
      v0: (n,) start vector (not orthogonal to the top eigenvector).
      num_steps: number of steps (static).

    Returns:
      (final PowerState, trajectory of vectors (num_steps + 1, n), Rayleigh quotients
      (num_steps + 1,)); row 0 is the normalised start.
    """
    s0 = power_init(a, v0)

    def step(s, _):
        s = power_update(a, s)
        return s, s

    final, traj = jax.lax.scan(step, s0, None, length=num_steps)
    vecs = jnp.concatenate([s0.vector[None], traj.vector])
    vals = jnp.concatenate([s0.eigenvalue[None], traj.eigenvalue])
    return final, vecs, vals


@jax.jit
def sin_angle(vectors, u):
    """sin of the angle between each row of ``vectors`` (unit) and the unit vector ``u``:
    ||v - (u.v) u||, accurate down to round-off (unlike sqrt(1 - (u.v)^2))."""
    proj = vectors @ u
    return jnp.linalg.norm(vectors - proj[:, None] * u[None, :], axis=-1)


@partial(jax.jit, static_argnames=("num_steps",))
def power_iteration_batch(a, v0, *, num_steps: int):
    """:func:`power_iteration` over a batch: ``a`` (b, n, n), ``v0`` (b, n), one ``vmap``."""
    return jax.vmap(lambda m, v: power_iteration(m, v, num_steps=num_steps))(a, v0)
