"""The modern first-order optimisers (from optax) run as one kernel, for fair comparisons.

:func:`build_optimizer` names the optax transformations compared by the ``optimizers``
experiment; :func:`optimize` runs one of them for ``steps`` steps in a ``lax.scan`` with
divergence detected in the loop (as :mod:`mathml_jax.optimization.descent` does for plain
gradient descent); :func:`optimize_batch` ``vmap``s it over starts, learning rates and
function indices, so a learning-rate grid and many starts are one compiled call per optimiser.

Heavy-ball momentum x_{k+1} = x_k - alpha grad f(x_k) + beta (x_k - x_{k-1}) is
``optax.sgd(alpha, momentum=beta)`` (its trace v_k = g_k + beta v_{k-1}); on a quadratic with
Hessian spectrum in [mu, L] the choice alpha = 4/(sqrt L + sqrt mu)^2,
beta = ((sqrt kappa - 1)/(sqrt kappa + 1))^2 gives the rate (sqrt kappa - 1)/(sqrt kappa + 1).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from mathml_jax.optimization import descent

OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "lion")
SCHEDULE_NAMES = ("constant", "cosine")
# optax states are bigger (Adam: 3 leaves per coordinate) and recomputing the step for every
# packed row costs more than it saves below this batch (measured on a 2-core CPU, Adam on
# Rosenbrock: 4000 starts 15 ms as columns, 31 ms packed; equal from 3e4 on)
OPTAX_PACK_MIN_BATCH = 1 << 15


def build_optimizer(name: str, learning_rate, momentum=0.9, *, schedule: str = "constant",
                    total_steps: int = 1) -> optax.GradientTransformation:
    """An optax optimiser by name; ``learning_rate`` and ``momentum`` may be traced.

    Args:
      name: "sgd" (plain gradient descent), "momentum" (heavy ball), "nesterov", "adagrad",
        "rmsprop", "adam", "lion" (sign of an interpolated momentum; Chen et al. 2023).
      momentum: beta of "momentum" and "nesterov".
      schedule: "constant", or "cosine" (decay to 0 over ``total_steps``).
    """
    if schedule == "cosine":
        learning_rate = optax.cosine_decay_schedule(learning_rate, decay_steps=total_steps)
    elif schedule != "constant":
        raise ValueError(f"unknown schedule {schedule!r}; allowed: {SCHEDULE_NAMES}")
    if name == "sgd":
        return optax.sgd(learning_rate)
    if name == "momentum":
        return optax.sgd(learning_rate, momentum=momentum)
    if name == "nesterov":
        return optax.sgd(learning_rate, momentum=momentum, nesterov=True)
    if name == "adagrad":
        return optax.adagrad(learning_rate)
    if name == "rmsprop":
        return optax.rmsprop(learning_rate)
    if name == "adam":
        return optax.adam(learning_rate)
    if name == "lion":
        return optax.lion(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; allowed: {OPTIMIZER_NAMES}")


class OptimizeResult(NamedTuple):
    """trajectory (T, d): the recorded iterates; losses (T,) f at them, or None when not
    recorded; diverged_at () int32 (-1: never); x (d,): the final iterate. T as in
    :class:`~mathml_jax.optimization.descent.GDResult`: steps + 1 by default."""

    trajectory: jax.Array
    losses: jax.Array | None
    diverged_at: jax.Array
    x: jax.Array


def optimize(x0: jax.Array, lr, momentum, params, blowup, *, f: Callable, optimizer: str,
             steps: int, schedule: str = "constant", record_every: int = 1,
             record_losses: bool = True) -> OptimizeResult:
    """``steps`` steps of an optax optimiser on f(x, params) from ``x0`` (d,).

    An iterate that is non-finite or has norm above ``blowup`` counts as diverged: the iterate
    is frozen and the step recorded (a status, never a NaN trajectory). The optimiser's state
    is not frozen (it is never returned, and it cannot unfreeze the iterate).

    Args:
      record_every: store x_0, x_k, x_2k, ... for k >= 1 (1: all, the default), or only the
        final iterate for 0 (static).
      record_losses: also evaluate f at the stored iterates (static).
    """
    opt = build_optimizer(optimizer, lr, momentum, schedule=schedule, total_steps=steps)
    grad = jax.grad(f)
    r2 = descent.squared_radius(blowup, x0.dtype)

    def step(carry, k):
        x, state, div = carry
        updates, new_state = opt.update(grad(x, params), state, x)
        x, div = descent.freeze_diverged(x, optax.apply_updates(x, updates), div, k, r2)
        return x, new_state, div  # the state runs on: see _optimize_columns

    init = (x0, opt.init(x0), jnp.asarray(-1, jnp.int32))
    (x, _, div), traj = descent.scan_recorded(step, init, steps, record_every, lambda c: c[0])
    losses = jax.vmap(f, in_axes=(0, None))(traj, params) if record_losses else None
    return OptimizeResult(traj, losses, div, x)


def _optimize_columns(x0, lr, momentum, params, blowup, *, f, optimizer, steps, schedule,
                      record_every, record_losses) -> OptimizeResult:
    """:func:`optimize_batch` for d <= COLUMNS_MAX_DIM: the iterate is a tuple of d columns
    (n,), optax's elementwise update runs once on the whole batch (its moments are columns
    too, its step count one shared scalar), gradients by forward mode."""
    n, d = x0.shape
    dtype = x0.dtype
    lr = jnp.asarray(lr, dtype)
    opt = build_optimizer(optimizer, lr, momentum, schedule=schedule, total_steps=steps)
    grad = jax.vmap(lambda c, p: descent.forward_gradient(f, c, p))
    r2 = descent.squared_radius(blowup, dtype)
    cols = tuple(x0[:, i] for i in range(d))

    def update(carry, k):
        cols, state, div = carry
        updates, new_state = opt.update(tuple(grad(cols, params)), state, cols)
        # only the iterate is frozen: the optimiser's state is never returned, and once a run
        # has diverged (div >= 0) its iterate stays frozen whatever the state does. Freezing
        # the state too made XLA:CPU recompute the gradient inside every state leaf's loop
        # (Adam, 1000 starts: 10 ms a run against 2.9 ms without)
        cols, div = descent.freeze_diverged(cols, optax.apply_updates(cols, updates), div, k,
                                            r2)
        return cols, new_state, div

    init = (cols, opt.init(cols), jnp.full((n,), -1, jnp.int32))
    (cols, _, div), traj = descent.run_packed(update, init, n, dtype, steps, record_every,
                                              lambda c: jnp.stack(c[0], axis=-1),
                                              min_batch=OPTAX_PACK_MIN_BATCH)
    traj = jnp.swapaxes(traj, 0, 1)
    losses = None
    if record_losses:
        losses = jax.vmap(jax.vmap(f, in_axes=(0, None)))(traj, params)
    return OptimizeResult(traj, losses, div, jnp.stack(cols, axis=-1))


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
        return _optimize_columns(x0, lr, momentum, params, blowup, **kw)

    def one(x, eta, p):
        return optimize(x, eta, momentum, p, blowup, **kw)

    return jax.vmap(one)(x0, lr, params)
