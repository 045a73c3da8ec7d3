"""A multilayer network of the roadmap's layers sigma(A x + b), its loss, and its parameters as
one flat vector.

    h_0 = x,   h_l = sigma(A_l h_{l-1} + b_l)  (l = 1..L-1),   logits = A_L h_{L-1} + b_L

The last layer is affine: its softmax lives in the cross-entropy
    loss(theta) = mean_i [ logsumexp(logits_i) - logits_i[y_i] ].
``params`` is a tuple of (A, b) pairs, A of shape (fan_out, fan_in); ``ravel`` / the returned
``unravel`` map it to and from one vector theta, the coordinates of the Hessian.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

Params = tuple[tuple[jax.Array, jax.Array], ...]

ACTIVATIONS: dict[str, Callable] = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "softplus": jax.nn.softplus,
    "relu": jax.nn.relu,
}


def init_mlp(key: jax.Array, sizes: Sequence[int], dtype=jnp.float32) -> Params:
    """Glorot-normal weights (variance 2 / (fan_in + fan_out)) and zero biases.

    Args:
      key: PRNG key.
      sizes: layer widths (input, hidden..., classes), e.g. (2, 16, 16, 2).
      dtype: float dtype of every parameter.
    """
    keys = jax.random.split(key, len(sizes) - 1)
    params = []
    for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        scale = jnp.sqrt(2.0 / (n_in + n_out)).astype(dtype)
        params.append((scale * jax.random.normal(k, (n_out, n_in), dtype),
                       jnp.zeros((n_out,), dtype)))
    return tuple(params)


def num_params(sizes: Sequence[int]) -> int:
    """sum over layers of fan_out * (fan_in + 1)."""
    return int(sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:], strict=True)))


def logits(params: Params, x: jax.Array, activation: str = "sigmoid") -> jax.Array:
    """The network's class scores for a batch x (n, d): (n, classes)."""
    sigma = ACTIVATIONS[activation]
    h = x
    for A, b in params[:-1]:
        h = sigma(h @ A.T + b)
    A, b = params[-1]
    return h @ A.T + b


def cross_entropy(params: Params, x: jax.Array, y: jax.Array,
                  activation: str = "sigmoid") -> jax.Array:
    """Mean softmax cross-entropy of integer labels y (n,) (optax's stable logsumexp form)."""
    return optax.softmax_cross_entropy_with_integer_labels(logits(params, x, activation),
                                                           y).mean()


def accuracy(params: Params, x: jax.Array, y: jax.Array, activation: str = "sigmoid"):
    """Fraction of points whose largest score is their label."""
    return jnp.mean(jnp.argmax(logits(params, x, activation), axis=-1) == y)


def ravel(params: Params) -> tuple[jax.Array, Callable[[jax.Array], Params]]:
    """(theta, unravel): all parameters as one vector, and the map back."""
    return ravel_pytree(params)


def flat_loss(unravel: Callable[[jax.Array], Params], x: jax.Array, y: jax.Array,
              activation: str = "sigmoid") -> Callable[[jax.Array], jax.Array]:
    """theta -> cross_entropy(unravel(theta), x, y): the loss as a function of one vector."""
    return lambda theta: cross_entropy(unravel(theta), x, y, activation)


# ------------------------------------------------------------- NumPy float64 reference (no JAX)

def np_sigma_and_derivative(z: np.ndarray, activation: str) -> tuple[np.ndarray, np.ndarray]:
    """(sigma(z), sigma'(z)) in closed form, NumPy: the independent side of backprop checks."""
    from scipy.special import expit

    # sigma' = sigma(z) sigma(-z), not s (1 - s): no difference of two numbers near 1, so the
    # reference keeps its relative accuracy where the sigmoid saturates (either side)
    if activation == "sigmoid":
        return expit(z), expit(z) * expit(-z)
    if activation == "tanh":
        t = np.tanh(z)
        return t, 1.0 / np.cosh(z) ** 2
    if activation == "softplus":
        return np.logaddexp(0.0, z), expit(z)
    if activation == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(z.dtype)
    raise ValueError(f"unknown activation {activation!r}; allowed: {', '.join(ACTIVATIONS)}")
