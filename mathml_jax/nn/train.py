"""Minibatch training of the network, many seeds in one ``vmap``, the steps in ``lax.scan``.

Each step draws a minibatch of B examples uniformly without replacement
(:func:`mathml_jax.optimization.stochastic.minibatch_indices`), takes the gradient of the
minibatch cross-entropy (an unbiased estimate of the full gradient) and applies the optax
update of :func:`mathml_jax.optimization.optimizers.make_optimizer`. Every ``record_every``
steps the full training loss, the training accuracy and the held-out accuracy are recorded.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from mathml_jax.nn.mlp import accuracy, cross_entropy, init_mlp, logits, ravel
from mathml_jax.optimization.optimizers import make_optimizer
from mathml_jax.optimization.stochastic import minibatch_indices


class History(NamedTuple):
    """Recorded before training and after every ``record_every`` steps: each (records + 1,)
    for one seed, (seeds, records + 1) from :func:`train_seeds`."""

    loss: jax.Array        # full training cross-entropy
    train_accuracy: jax.Array
    test_accuracy: jax.Array


def train(key: jax.Array, X: jax.Array, y: jax.Array, X_test: jax.Array, y_test: jax.Array,
          learning_rate, choice, *, sizes: tuple[int, ...], activation: str,
          optimizers: tuple[str, ...], schedule: str, batch_size: int, num_records: int,
          record_every: int):
    """One seed: initialise (Glorot, :func:`~mathml_jax.nn.mlp.init_mlp`) and train.

    Args:
      key: PRNG key of this seed (split into the initialisation and the batch order).
      X, y: training inputs (N, d) and integer labels (N,); X_test, y_test: held-out set.
      learning_rate: peak step size (traced: a sweep over it does not recompile).
      choice: index into ``optimizers`` of the one this run uses (traced, so that runs of
        several optimisers share one compiled program: each step computes every optimiser's
        update and keeps the chosen one).
      sizes: layer widths (d, hidden..., classes); activation: a key of ``ACTIVATIONS``.
      optimizers, schedule: names for :func:`make_optimizer`.
      batch_size: B (static: it fixes the minibatch's shape).
      num_records, record_every: the run is num_records * record_every steps.

    Returns:
      (theta, history): the final parameters as one flat vector (P,) and a :class:`History`.
    """
    n = X.shape[0]
    k_init, k_batches = jax.random.split(key)
    params = init_mlp(k_init, sizes, X.dtype)
    opts = [make_optimizer(name, learning_rate, schedule=schedule,
                           total_steps=num_records * record_every) for name in optimizers]

    def measure(p):
        return (cross_entropy(p, X, y, activation), accuracy(p, X, y, activation),
                accuracy(p, X_test, y_test, activation))

    def step(carry, k):
        p, states = carry
        idx = minibatch_indices(k, n, batch_size=batch_size)
        g = jax.grad(cross_entropy)(p, X[idx], y[idx], activation)
        out = [opt.update(g, s, p) for opt, s in zip(opts, states, strict=True)]
        updates = jax.tree.map(lambda *u: jnp.stack(u)[choice], *[u for u, _ in out])
        return (optax.apply_updates(p, updates), tuple(s for _, s in out)), None

    def block(carry, k):
        carry, _ = jax.lax.scan(step, carry, jax.random.split(k, record_every))
        return carry, measure(carry[0])

    states = tuple(opt.init(params) for opt in opts)
    (params, _), hist = jax.lax.scan(block, (params, states),
                                     jax.random.split(k_batches, num_records))
    first = measure(init_mlp(k_init, sizes, X.dtype))
    hist = [jnp.concatenate([f[None], h]) for f, h in zip(first, hist, strict=True)]
    return ravel(params)[0], History(*hist)


@partial(jax.jit, static_argnames=("sizes", "activation", "optimizers", "schedule",
                                   "batch_size", "num_records", "record_every"))
def train_seeds(keys: jax.Array, X, y, X_test, y_test, learning_rates, choices, **static):
    """:func:`train` for every run (key, learning rate, optimiser index) of ``keys`` (R,),
    ``learning_rates`` (R,) and ``choices`` (R,) in one ``vmap``: thetas (R, P) and a
    :class:`History` of (R, num_records + 1) arrays. E.g. seeds x optimisers of one problem in
    one compiled program."""
    return jax.vmap(lambda k, lr, c: train(k, X, y, X_test, y_test, lr, c, **static))(
        keys, learning_rates, choices)


@partial(jax.jit, static_argnames=("sizes", "activation"))
def class_probabilities(theta: jax.Array, points: jax.Array, *, sizes: tuple[int, ...],
                        activation: str) -> jax.Array:
    """Softmax probabilities (M, classes) of the network with flat parameters ``theta`` at
    ``points`` (M, d): e.g. a grid, whose class-1 probability 1/2 contour is the decision
    boundary."""
    _, unravel = ravel(init_mlp(jax.random.key(0), sizes, theta.dtype))
    return jax.nn.softmax(logits(unravel(theta), points, activation), axis=-1)


@partial(jax.jit, static_argnames=("f",))
def loss_gradient(theta: jax.Array, data, *, f) -> jax.Array:
    """jax.grad of f(theta, data) (reverse mode: backpropagation), (P,)."""
    return jax.grad(f)(theta, data)


@partial(jax.jit, static_argnames=("f",))
def per_example_gradients(theta: jax.Array, data, *, f) -> jax.Array:
    """The gradient of each example's loss, (N, P): f on one example at a time, in a vmap."""
    x, y = data
    return jax.vmap(lambda xi, yi: jax.grad(f)(theta, (xi[None], yi[None])))(x, y)


@partial(jax.jit, static_argnames=("f",))
def third_derivatives(theta: jax.Array, data, coords: jax.Array, offsets: jax.Array, *, f
                      ) -> jax.Array:
    """d^3/dt^3 f(theta + t e_c, data) at t = offsets[k] along coordinate c = coords[k], (K,):
    the f''' of the central-difference error model, by three nested forward derivatives."""
    def along(c, s):
        e = jnp.zeros_like(theta).at[c].set(1.0)
        g = lambda t: f(theta + t * e, data)  # noqa: E731
        d1 = lambda t: jax.jvp(g, (t,), (jnp.ones_like(t),))[1]  # noqa: E731
        d2 = lambda t: jax.jvp(d1, (t,), (jnp.ones_like(t),))[1]  # noqa: E731
        return jax.jvp(d2, (s,), (jnp.ones_like(s),))[1]

    return jax.vmap(along)(coords, offsets)
