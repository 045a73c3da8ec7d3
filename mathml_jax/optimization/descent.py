"""Gradient descent as a kernel, with divergence detected inside the loop.

The roadmap's three steps, repeated ``steps`` times in one ``lax.scan``:

    1. compute the gradient g = grad f(x_k);
    2. step against it: x_{k+1} = x_k - eta g;
    3. repeat from x_{k+1}.

On the quadratic f(x) = 1/2 x^T A x - b^T x with Hessian eigenvalues in [mu, L] the error
obeys e_{k+1} = (I - eta A) e_k, so it contracts at rate max_i |1 - eta lambda_i| per step:
every eta in (0, 2/L) converges, every eta > 2/L diverges, and eta = 2/(L + mu) gives the best
rate (kappa - 1)/(kappa + 1), kappa = L/mu.

Divergence is a status, not a NaN: when an iterate becomes non-finite or leaves the ball of
radius ``blowup``, the iterate is frozen and the step index is recorded in ``diverged_at``
(-1 when the run never diverged). :func:`describe_status` turns it into words outside ``jit``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

LossFn = Callable[[jax.Array, object], jax.Array]

NOT_DIVERGED = -1


class GDState(NamedTuple):
    """State of gradient descent: the iterate and the step at which it diverged (-1: never)."""

    x: jax.Array
    diverged_at: jax.Array


class GDResult(NamedTuple):
    """Trajectory (steps + 1, d), losses (steps + 1,), diverged_at () int32 (-1: never)."""

    trajectory: jax.Array
    losses: jax.Array
    diverged_at: jax.Array


def gd_init(x0: jax.Array) -> GDState:
    return GDState(x0, jnp.asarray(NOT_DIVERGED, jnp.int32))


def gd_update(state: GDState, k, lr, params, *, loss_fn: LossFn, blowup) -> GDState:
    """One step x <- x - lr grad f(x), or no step once the run has diverged."""
    x_new = state.x - lr * jax.grad(loss_fn)(state.x, params)
    bad = ~jnp.all(jnp.isfinite(x_new)) | (jnp.linalg.norm(x_new) > blowup)
    already = state.diverged_at >= 0
    diverged_at = jnp.where(~already & bad, k + 1, state.diverged_at).astype(jnp.int32)
    x = jnp.where(already | bad, state.x, x_new)
    return GDState(x, diverged_at)


def gradient_descent(x0: jax.Array, lr, params=None, blowup=1e8, *, loss_fn: LossFn,
                     steps: int) -> GDResult:
    """``steps`` steps of gradient descent from ``x0`` (d,) with step ``lr``, for one start.

    Args:
      x0: start, shape (d,).
      lr: step size eta (traced: a new value does not recompile).
      params: the loss's parameters (e.g. (A, b) of a quadratic), passed to ``loss_fn``.
      blowup: an iterate with norm above this counts as diverged (traced).
      loss_fn: f(x, params) -> scalar (static).
      steps: number of steps (static).

    Returns:
      GDResult with the trajectory x_0..x_steps, f along it, and the divergence step.
    """
    if x0.ndim != 1:
        raise ValueError(f"gradient_descent expects one start of shape (d,), got {x0.shape}")
    lr = jnp.asarray(lr, x0.dtype)

    def step(state, k):
        state = gd_update(state, k, lr, params, loss_fn=loss_fn, blowup=blowup)
        return state, state.x

    final, xs = jax.lax.scan(step, gd_init(x0), jnp.arange(steps, dtype=jnp.int32))
    traj = jnp.concatenate([x0[None], xs])
    losses = jax.vmap(loss_fn, in_axes=(0, None))(traj, params)
    return GDResult(traj, losses, final.diverged_at)


@partial(jax.jit, static_argnames=("loss_fn", "steps"))
def gradient_descent_jit(x0, lr, params=None, blowup=1e8, *, loss_fn: LossFn, steps: int):
    """:func:`gradient_descent` inside one ``jit``."""
    return gradient_descent(x0, lr, params, blowup, loss_fn=loss_fn, steps=steps)


@partial(jax.jit, static_argnames=("loss_fn", "steps", "in_axes"))
def gradient_descent_batch(x0, lr, params=None, blowup=1e8, *, loss_fn: LossFn, steps: int,
                           in_axes=(0, 0, None)):
    """Gradient descent for a batch of starts, steps and/or problems in one ``vmap``.

    Args:
      in_axes: batch axes of (x0, lr, params), as for ``jax.vmap`` (static), e.g. (None, 0,
        None) sweeps the step size, (0, None, None) the starts, (None, None, 0) the problems.

    Returns:
      GDResult with a leading batch axis on every field.
    """
    def one(x, eta, p):
        return gradient_descent(x, eta, p, blowup, loss_fn=loss_fn, steps=steps)

    return jax.vmap(one, in_axes=in_axes)(x0, lr, params)


def describe_status(diverged_at) -> str:
    """Words for a divergence code: "diverged at step k" or "did not diverge"."""
    k = int(diverged_at)
    return "did not diverge" if k < 0 else f"diverged at step {k}"


def contraction_rate(eigenvalues, lr):
    """max_i |1 - lr lambda_i|: the per-step contraction of GD's error on a quadratic."""
    return jnp.max(jnp.abs(1.0 - lr * jnp.asarray(eigenvalues)))
