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

OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "lion")
SCHEDULE_NAMES = ("constant", "cosine")


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
    """trajectory (steps + 1, d), losses (steps + 1,), diverged_at () int32 (-1: never)."""

    trajectory: jax.Array
    losses: jax.Array
    diverged_at: jax.Array


def optimize(x0: jax.Array, lr, momentum, params, blowup, *, f: Callable, optimizer: str,
             steps: int, schedule: str = "constant") -> OptimizeResult:
    """``steps`` steps of an optax optimiser on f(x, params) from ``x0`` (d,).

    An iterate that is non-finite or has norm above ``blowup`` counts as diverged: the iterate
    is frozen and the step recorded (a status, never a NaN trajectory).
    """
    opt = build_optimizer(optimizer, lr, momentum, schedule=schedule, total_steps=steps)
    grad = jax.grad(f)

    def step(carry, k):
        x, state, div = carry
        updates, new_state = opt.update(grad(x, params), state, x)
        x_new = optax.apply_updates(x, updates)
        bad = ~jnp.all(jnp.isfinite(x_new)) | (jnp.linalg.norm(x_new) > blowup)
        stop = (div >= 0) | bad
        div = jnp.where((div < 0) & bad, k + 1, div).astype(jnp.int32)
        x = jnp.where(stop, x, x_new)
        state = jax.tree.map(lambda a, b: jnp.where(stop, a, b), state, new_state)
        return (x, state, div), x

    init = (x0, opt.init(x0), jnp.asarray(-1, jnp.int32))
    (_, _, div), xs = jax.lax.scan(step, init, jnp.arange(steps, dtype=jnp.int32))
    traj = jnp.concatenate([x0[None], xs])
    return OptimizeResult(traj, jax.vmap(f, in_axes=(0, None))(traj, params), div)


@partial(jax.jit, static_argnames=("f", "optimizer", "steps", "schedule"))
def optimize_batch(x0: jax.Array, lr: jax.Array, momentum, params: jax.Array, blowup, *,
                   f: Callable, optimizer: str, steps: int, schedule: str = "constant"
                   ) -> OptimizeResult:
    """:func:`optimize` for a batch: starts x0 (n, d), learning rates lr (n,) and per-run
    parameters ``params`` (n, ...) (e.g. the index of a function in a ``lax.switch``) in one
    ``vmap``. Returns fields with a leading axis n."""
    def one(x, eta, p):
        return optimize(x, eta, momentum, p, blowup, f=f, optimizer=optimizer, steps=steps,
                        schedule=schedule)

    return jax.vmap(one)(x0, lr, params)
