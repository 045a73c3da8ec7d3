"""L2-regularised logistic regression, the model of the ``sgd`` experiment.

With labels y_i in {-1, +1} and features x_i, the loss of weights w is

    L(w) = (1/N) sum_i log(1 + exp(-y_i x_i . w)) + (lam / 2) ||w||^2,

the mean of per-example losses l_i(w) = log(1 + exp(-y_i x_i . w)) + (lam / 2) ||w||^2.
log(1 + exp(t)) is ``jax.nn.softplus``, which does not overflow for large t.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mathml_jax.linalg import lapack


def example_loss(w: jax.Array, x: jax.Array, y: jax.Array, l2: jax.Array) -> jax.Array:
    """Loss of one example: softplus(-y x.w) + l2/2 ||w||^2. Shapes: w (d,), x (d,), y ()."""
    return jax.nn.softplus(-y * jnp.dot(x, w)) + 0.5 * l2 * jnp.dot(w, w)


def logistic_loss(w: jax.Array, X: jax.Array, y: jax.Array, l2: jax.Array) -> jax.Array:
    """Mean loss over the rows of X (N, d) with labels y (N,): the function SGD minimises."""
    return jnp.mean(jax.nn.softplus(-y * (X @ w))) + 0.5 * l2 * jnp.dot(w, w)


def per_example_gradients(w: jax.Array, X: jax.Array, y: jax.Array, l2: jax.Array) -> jax.Array:
    """Gradients of the N per-example losses, shape (N, d): ``vmap`` of ``grad``.

    Their mean is the full gradient; the mean over a minibatch is the minibatch gradient.
    """
    return jax.vmap(jax.grad(example_loss), in_axes=(None, 0, 0, None))(w, X, y, l2)


def smoothness_constant(X: jax.Array, l2: float) -> jax.Array:
    """L = lambda_max(X^T X) / (4 N) + l2, an upper bound on the Hessian's largest eigenvalue
    (the logistic function's derivative is at most 1/4). 1/L is a safe gradient-descent step."""
    n = X.shape[0]
    return lapack.eigvalsh(X.T @ X / n)[-1] / 4.0 + l2
