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
          learning_rate, *, sizes: tuple[int, ...], activation: str, optimizer: str,
          schedule: str, batch_size: int, num_records: int, record_every: int):
    """One seed: initialise (Glorot, :func:`~mathml_jax.nn.mlp.init_mlp`) and train.

    Args:
      key: PRNG key of this seed (split into the initialisation and the batch order).
      X, y: training inputs (N, d) and integer labels (N,); X_test, y_test: held-out set.
      learning_rate: peak step size (traced: a sweep over it does not recompile).
      sizes: layer widths (d, hidden..., classes); activation: a key of ``ACTIVATIONS``.
      optimizer, schedule: names for :func:`make_optimizer`.
      batch_size: B (static: it fixes the minibatch's shape).
      num_records, record_every: the run is num_records * record_every steps.

    Returns:
      (theta, history): the final parameters as one flat vector (P,) and a :class:`History`.
    """
    n = X.shape[0]
    k_init, k_batches = jax.random.split(key)
    params = init_mlp(k_init, sizes, X.dtype)
    opt = make_optimizer(optimizer, learning_rate, schedule=schedule,
                         total_steps=num_records * record_every)

    def measure(p):
        return (cross_entropy(p, X, y, activation), accuracy(p, X, y, activation),
                accuracy(p, X_test, y_test, activation))

    def step(carry, k):
        p, state = carry
        idx = minibatch_indices(k, n, batch_size=batch_size)
        g = jax.grad(cross_entropy)(p, X[idx], y[idx], activation)
        updates, state = opt.update(g, state, p)
        return (optax.apply_updates(p, updates), state), None

    def block(carry, k):
        carry, _ = jax.lax.scan(step, carry, jax.random.split(k, record_every))
        return carry, measure(carry[0])

    (params, _), hist = jax.lax.scan(block, (params, opt.init(params)),
                                     jax.random.split(k_batches, num_records))
    first = measure(init_mlp(k_init, sizes, X.dtype))
    hist = [jnp.concatenate([f[None], h]) for f, h in zip(first, hist, strict=True)]
    return ravel(params)[0], History(*hist)


@partial(jax.jit, static_argnames=("sizes", "activation", "optimizer", "schedule",
                                   "batch_size", "num_records", "record_every"))
def train_seeds(keys: jax.Array, X, y, X_test, y_test, learning_rate, **static):
    """:func:`train` for every key of ``keys`` (S,) in one ``vmap``: thetas (S, P) and a
    :class:`History` of (S, num_records + 1) arrays."""
    return jax.vmap(lambda k: train(k, X, y, X_test, y_test, learning_rate, **static))(keys)


@partial(jax.jit, static_argnames=("sizes", "activation"))
def class_probabilities(theta: jax.Array, points: jax.Array, *, sizes: tuple[int, ...],
                        activation: str) -> jax.Array:
    """Softmax probabilities (M, classes) of the network with flat parameters ``theta`` at
    ``points`` (M, d): e.g. a grid, whose class-1 probability 1/2 contour is the decision
    boundary."""
    _, unravel = ravel(init_mlp(jax.random.key(0), sizes, theta.dtype))
    return jax.nn.softmax(logits(unravel(theta), points, activation), axis=-1)
