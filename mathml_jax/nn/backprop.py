"""Backpropagation written out by hand in NumPy float64: the chain rule through the layer
Jacobians, with no automatic differentiation. The independent side of the network's gradient
checks.

With z_l = A_l h_{l-1} + b_l, h_l = sigma(z_l) (l < L) and logits z_L, the Jacobian of one
layer is dh_l/dh_{l-1} = diag(sigma'(z_l)) A_l (as in the ``jacobian`` experiment), and of the
loss l_i = logsumexp(z_L) - z_L[y_i] with respect to the logits it is softmax(z_L) - e_{y_i}.
The chain rule multiplies these from the loss backwards:

    dl/dz_L = softmax(z_L) - e_y
    dl/dh_{l-1} = dl/dz_l A_l                  dl/dz_{l-1} = dl/dh_{l-1} diag(sigma'(z_{l-1}))
    dl/dA_l = (dl/dz_l)^T h_{l-1}              dl/db_l = dl/dz_l

and the loss's gradient is the mean of the per-example ones. Parameters are NumPy pairs
(A, b) in the order of :func:`mathml_jax.nn.mlp.ravel` (A_1, b_1, A_2, b_2, ... each row-major).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from mathml_jax.nn.mlp import np_sigma_and_derivative

NpParams = list[tuple[np.ndarray, np.ndarray]]


def np_unravel(theta: np.ndarray, sizes: Sequence[int]) -> NpParams:
    """The flat vector theta (P,) as (A, b) pairs, A of shape (fan_out, fan_in)."""
    theta = np.asarray(theta, np.float64)
    out, i = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        A = theta[i:i + n_in * n_out].reshape(n_out, n_in)
        i += n_in * n_out
        out.append((A, theta[i:i + n_out]))
        i += n_out
    if i != theta.size:
        raise ValueError(f"theta has {theta.size} entries, sizes {tuple(sizes)} need {i}")
    return out


def derivative_scale(z: np.ndarray, activation: str) -> np.ndarray:
    """The size of the operands sigma'(z) may be computed from, the scale of its round-off:
    autodiff's sigmoid' = s (1 - s) takes the difference 1 - s of two numbers near 1 where the
    sigmoid saturates (relative error eps / (1 - s)), so its scale is s (1 + s); tanh's
    1 - t^2 has scale 1 + t^2."""
    if activation == "sigmoid":
        s = expit(z)
        return s * (1.0 + s)
    if activation == "tanh":
        return 1.0 + np.tanh(z) ** 2
    if activation == "softplus":
        return expit(z)
    return np_sigma_and_derivative(z, activation)[1]


def np_forward(params: NpParams, X: np.ndarray, activation: str, *, absolute: bool = False):
    """Pre-activations z_l (N, m_l) and sigma'(z_l) of the hidden layers (with ``absolute``,
    :func:`derivative_scale` instead), the layer inputs h_{l-1}, and the logits (N, classes)."""
    h, zs, dsig, inputs = np.asarray(X, np.float64), [], [], []
    for A, b in params[:-1]:
        inputs.append(h)
        z = h @ A.T + b
        h, d = np_sigma_and_derivative(z, activation)
        zs.append(z)
        dsig.append(derivative_scale(z, activation) if absolute else d)
    inputs.append(h)
    A, b = params[-1]
    return zs, dsig, inputs, h @ A.T + b


def _log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))


def np_loss(theta: np.ndarray, sizes: Sequence[int], X: np.ndarray, y: np.ndarray,
            activation: str) -> float:
    """Mean cross-entropy mean_i [logsumexp(z_i) - z_i[y_i]], in float64."""
    *_, z = np_forward(np_unravel(theta, sizes), X, activation)
    return float(-_log_softmax(z)[np.arange(len(y)), y].mean())


def np_loss_scale(theta: np.ndarray, sizes: Sequence[int], X: np.ndarray, y: np.ndarray,
                  activation: str) -> float:
    """The size of the numbers the loss is computed from, mean_i (|logsumexp(z_i)| +
    |z_i[y_i]|): round-off in the loss is a few eps of this (a small loss is a difference of
    two larger numbers)."""
    *_, z = np_forward(np_unravel(theta, sizes), X, activation)
    lse = z[np.arange(len(y)), y] - _log_softmax(z)[np.arange(len(y)), y]
    return float(np.mean(np.abs(lse) + np.abs(z[np.arange(len(y)), y])))


def np_backprop(theta: np.ndarray, sizes: Sequence[int], X: np.ndarray, y: np.ndarray,
                activation: str, *, per_example: bool = False, absolute: bool = False
                ) -> np.ndarray:
    """The gradient of the mean cross-entropy by the chain rule through the layer Jacobians.

    Args:
      theta: flat parameters (P,); sizes: layer widths.
      X, y: inputs (N, d) and integer labels (N,).
      per_example: return every example's gradient (N, P) instead of their mean (P,).
      absolute: run the same products on the absolute values of their operands (softmax +
        e_y, |A|, :func:`derivative_scale`, |h|): the componentwise scale of the sums the
        gradient is made of, the scale of its round-off (Higham's |fl(a.b) - a.b| <=
        gamma_n |a|.|b|).

    Returns:
      (P,) or (N, P), float64, in the order of :func:`mathml_jax.nn.mlp.ravel`.
    """
    params = np_unravel(theta, sizes)
    _, dsig, inputs, z = np_forward(params, X, activation, absolute=absolute)
    f = np.abs if absolute else (lambda a: a)
    n = len(y)
    delta = np.exp(_log_softmax(z))
    # dl_i/dz_L = softmax - e_y (N, C); on absolute values a difference is a sum, |p| + |e_y|
    delta[np.arange(n), y] += 1.0 if absolute else -1.0
    grads = []
    for layer in range(len(params) - 1, -1, -1):
        A, _ = params[layer]
        h = f(inputs[layer])
        grads.append((delta[:, :, None] * h[:, None, :], delta))  # dA (N, out, in), db (N, out)
        if layer > 0:
            # dl/dh_{l-1} = dl/dz_l A_l, then times the layer Jacobian's diag(sigma'(z_{l-1}))
            delta = (delta @ f(A)) * f(dsig[layer - 1])
    G = np.concatenate([np.concatenate([dA.reshape(n, -1), db], axis=1)
                        for dA, db in reversed(grads)], axis=1)
    return G if per_example else G.mean(axis=0)
