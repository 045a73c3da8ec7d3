"""Stochastic gradients: minibatch estimates, their error and variance, and SGD training.

A minibatch of size B drawn without replacement from N examples gives the estimate

    g_B = (1/B) sum_{i in batch} grad l_i(w),

which is unbiased (E g_B = grad L(w)) with total variance

    E ||g_B - grad L||^2 = (sigma^2 / B) (N - B) / (N - 1),
    sigma^2 = (1/N) sum_i ||grad l_i - grad L||^2

(the finite-population correction makes it exactly 0 at B = N). Averaging m independent
minibatch gradients divides that by m: the error shrinks like 1/sqrt(m), the law of large
numbers at work inside SGD.

Batch sizes here are traced, not static, wherever the computation allows it (a mask over a
random permutation), so a sweep over B is one compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import optax

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("constant", "cosine", "linear")


def make_optimizer(name: str, learning_rate, *, schedule: str = "constant",
                   total_steps: int = 1) -> optax.GradientTransformation:
    """An optax optimizer by name, with a learning-rate schedule over ``total_steps`` steps.

    ``learning_rate`` may be a traced value (it is only used arithmetically), so changing it
    does not recompile a jitted caller.

    Args:
      name: one of OPTIMIZERS: "sgd", "momentum" (heavy ball, 0.9), "nesterov" (0.9), "adam".
      schedule: one of SCHEDULES: "constant", "cosine" (decay to 0), "linear" (decay to 0).
    """
    if schedule == "constant":
        lr = learning_rate
    elif schedule == "cosine":
        lr = optax.cosine_decay_schedule(learning_rate, decay_steps=total_steps)
    elif schedule == "linear":
        lr = optax.linear_schedule(learning_rate, 0.0, transition_steps=total_steps)
    else:
        raise ValueError(f"unknown schedule {schedule!r}; allowed: {SCHEDULES}")
    if name == "sgd":
        return optax.sgd(lr)
    if name == "momentum":
        return optax.sgd(lr, momentum=0.9)
    if name == "nesterov":
        return optax.sgd(lr, momentum=0.9, nesterov=True)
    if name == "adam":
        return optax.adam(lr)
    raise ValueError(f"unknown optimizer {name!r}; allowed: {OPTIMIZERS}")


def minibatch_mean(values: jax.Array, key: jax.Array, batch_size) -> jax.Array:
    """Mean of ``batch_size`` rows of ``values`` (N, ...) drawn without replacement.

    ``batch_size`` may be traced: the batch is the first ``batch_size`` entries of a random
    permutation, turned into a weight per example (1/B in the batch, 0 outside), so every size
    shares one compiled kernel and a ``vmap`` over draws becomes one matrix product.
    """
    n = values.shape[0]
    perm = jax.random.permutation(key, n)
    in_batch = (jnp.arange(n) < batch_size).astype(values.dtype) / batch_size
    weights = jnp.zeros(n, values.dtype).at[perm].set(in_batch)
    return jnp.tensordot(weights, values, axes=1)


@partial(jax.jit, static_argnames=("num_draws",))
def minibatch_gradient_sq_errors(per_example: jax.Array, key: jax.Array, batch_sizes: jax.Array,
                                 *, num_draws: int) -> jax.Array:
    """Squared errors ||g_B - g||^2 of independent minibatch gradients, for each batch size.

    Args:
      per_example: per-example gradients, shape (N, d); their mean g is the full gradient.
      key: PRNG key.
      batch_sizes: integer array (K,) of batch sizes in [1, N].
      num_draws: minibatches drawn per batch size.

    Returns:
      Array (K, num_draws). Its mean over draws estimates (sigma^2/B) (N-B)/(N-1).
    """
    full = jnp.mean(per_example, axis=0)

    def one(b, k):
        g = minibatch_mean(per_example, k, b)
        return jnp.sum((g - full) ** 2)

    keys = jax.random.split(key, (batch_sizes.shape[0], num_draws))
    return jax.vmap(lambda b, ks: jax.vmap(lambda k: one(b, k))(ks))(batch_sizes, keys)


@partial(jax.jit, static_argnames=("num_batches", "num_paths"))
def running_mean_sq_errors(per_example: jax.Array, key: jax.Array, batch_size, *,
                           num_batches: int, num_paths: int) -> jax.Array:
    """||(1/m) sum_{j<=m} g_B^(j) - g||^2 for m = 1..num_batches, on independent paths.

    The running average of m independent minibatch gradients, compared with the full
    gradient g; a ``lax.scan`` over m, a ``vmap`` over paths.

    Returns:
      Array (num_paths, num_batches). Its mean over paths is (sigma^2/B)(N-B)/(N-1) / m.
    """
    full = jnp.mean(per_example, axis=0)

    def path(k):
        def step(total, inp):
            m, kk = inp
            total = total + minibatch_mean(per_example, kk, batch_size)
            return total, jnp.sum((total / m - full) ** 2)

        ms = jnp.arange(1, num_batches + 1, dtype=per_example.dtype)
        _, errs = jax.lax.scan(step, jnp.zeros_like(full), (ms, jax.random.split(k, num_batches)))
        return errs

    return jax.vmap(path)(jax.random.split(key, num_paths))


LossFn = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]


def train(w0: jax.Array, X: jax.Array, y: jax.Array, l2, learning_rate, key: jax.Array, *,
          loss_fn: LossFn, optimizer: str, schedule: str, batch_size: int,
          epochs: int) -> tuple[jax.Array, jax.Array]:
    """Minibatch training of ``loss_fn(w, X_batch, y_batch, l2)`` for one seed.

    Each epoch shuffles the N examples and takes N // batch_size steps, one per disjoint
    minibatch (``batch_size = N`` is full-batch gradient descent). Epochs and steps are two
    nested ``lax.scan`` loops; the full-data loss is recorded after every epoch.

    Returns:
      losses: shape (epochs + 1,), the full-data loss before training and after each epoch.
      w: the final weights, shape (d,).
    """
    n = X.shape[0]
    steps = n // batch_size
    opt = make_optimizer(optimizer, learning_rate, schedule=schedule, total_steps=steps * epochs)
    grad_fn = jax.grad(loss_fn)

    def epoch(carry, k):
        perm = jax.random.permutation(k, n) if batch_size < n else jnp.arange(n)
        batches = perm[: steps * batch_size].reshape(steps, batch_size)

        def step(c, idx):
            w, state = c
            updates, state = opt.update(grad_fn(w, X[idx], y[idx], l2), state, w)
            return (optax.apply_updates(w, updates), state), None

        carry, _ = jax.lax.scan(step, carry, batches)
        return carry, loss_fn(carry[0], X, y, l2)

    (w, _), losses = jax.lax.scan(epoch, (w0, opt.init(w0)), jax.random.split(key, epochs))
    return jnp.concatenate([loss_fn(w0, X, y, l2)[None], losses]), w


@partial(jax.jit, static_argnames=("loss_fn", "optimizer", "schedule", "batch_size", "epochs"))
def train_seeds(w0, X, y, l2, learning_rate, keys, *, loss_fn: LossFn, optimizer: str,
                schedule: str, batch_size: int, epochs: int):
    """:func:`train` for many seeds at once: one ``vmap`` over ``keys`` (S,) inside one ``jit``.

    Returns losses (S, epochs + 1) and final weights (S, d).
    """
    def one(k):
        return train(w0, X, y, l2, learning_rate, k, loss_fn=loss_fn, optimizer=optimizer,
                     schedule=schedule, batch_size=batch_size, epochs=epochs)

    return jax.vmap(one)(keys)
