"""The modern first-order optimisers (from optax) run as one kernel, for fair comparisons.

The optax transformations compared by the ``optimizers`` experiment come from the one
factory, :func:`mathml_jax.optimization.optimizers.make_optimizer`; :func:`optimize` runs one
of them for ``steps`` steps in a ``lax.scan`` with divergence detected in the loop (the same
runner as plain gradient descent, :mod:`mathml_jax.optimization.descent`);
:func:`optimize_batch` ``vmap``s it over starts, learning rates and
function indices, so a learning-rate grid and many starts are one compiled call per optimiser.

Heavy-ball momentum x_{k+1} = x_k - alpha grad f(x_k) + beta (x_k - x_{k-1}) is
``optax.sgd(alpha, momentum=beta)`` (its trace v_k = g_k + beta v_{k-1}); on a quadratic with
Hessian spectrum in [mu, L] the choice alpha = 4/(sqrt L + sqrt mu)^2,
beta = ((sqrt kappa - 1)/(sqrt kappa + 1))^2 gives the rate (sqrt kappa - 1)/(sqrt kappa + 1).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp

from mathml_jax.optimization import descent
from mathml_jax.optimization.descent import OptimizeResult
from mathml_jax.optimization.optimizers import OPTIMIZERS, SCHEDULES, make_optimizer

__all__ = ["OPTIMIZERS", "SCHEDULES", "OptimizeResult", "optimize", "optimize_batch"]

# optax states are bigger (Adam: 3 leaves per coordinate) and recomputing the step for every
# packed row costs more than it saves below this batch (measured on a 2-core CPU, Adam on
# Rosenbrock: 4000 starts 15 ms as columns, 31 ms packed; equal from 3e4 on)
OPTAX_PACK_MIN_BATCH = 1 << 15


def optimize(x0: jax.Array, lr, momentum, params, blowup, *, f: Callable, optimizer: str,
             steps: int, schedule: str = "constant", record_every: int = 1,
             record_losses: bool = True) -> OptimizeResult:
    """``steps`` steps of an optax optimiser on f(x, params) from ``x0`` (d,)
    (:func:`~mathml_jax.optimization.descent.run_optimizer`).

    An iterate that is non-finite or has norm above ``blowup`` counts as diverged: the iterate
    is frozen and the step recorded (a status, never a NaN trajectory).

    Args:
      optimizer, schedule: names from OPTIMIZERS and SCHEDULES (static).
      record_every: store x_0, x_k, x_2k, ... for k >= 1 (1: all, the default), or only the
        final iterate for 0 (static).
      record_losses: also evaluate f at the stored iterates (static).
    """
    opt = make_optimizer(optimizer, lr, momentum, schedule=schedule, total_steps=steps)
    return descent.run_optimizer(opt, x0, params, blowup, loss_fn=f, steps=steps,
                                 record_every=record_every, record_losses=record_losses)


@partial(jax.jit, static_argnames=("f", "optimizer", "steps", "schedule", "record_every",
                                   "record_losses"))
def optimize_batch(x0: jax.Array, lr: jax.Array, momentum, params: jax.Array, blowup, *,
                   f: Callable, optimizer: str, steps: int, schedule: str = "constant",
                   record_every: int = 1, record_losses: bool = True) -> OptimizeResult:
    """:func:`optimize` for a batch: starts x0 (n, d), learning rates lr (n,) and per-run
    parameters ``params`` (n, ...) (e.g. the index of a function in a ``lax.switch``) in one
    compiled loop. Returns fields with a leading axis n.

    ``record_every=0, record_losses=False`` keeps only the final iterates (n, d). For
    d <= ``COLUMNS_MAX_DIM`` the batch runs as columns (one elementwise optax update on the
    whole batch per step; :mod:`mathml_jax.optimization.descent`), with results equal to
    ``vmap(optimize)`` up to rounding."""
    kw = dict(f=f, optimizer=optimizer, steps=steps, schedule=schedule,
              record_every=record_every, record_losses=record_losses)
    if x0.ndim != 2:
        raise ValueError(f"optimize_batch expects starts of shape (n, d), got {x0.shape}")
    if x0.shape[1] <= descent.COLUMNS_MAX_DIM:
        opt = make_optimizer(optimizer, jnp.asarray(lr, x0.dtype), momentum, schedule=schedule,
                             total_steps=steps)
        return descent.run_optimizer_columns(
            opt, x0, params, blowup, loss_fn=f, steps=steps, p_axis=0,
            record_every=record_every, record_losses=record_losses,
            min_batch=OPTAX_PACK_MIN_BATCH)

    def one(x, eta, p):
        return optimize(x, eta, momentum, p, blowup, **kw)

    return jax.vmap(one)(x0, lr, params)
