"""Linear maps of the plane as matrices, and the linearity test f(a x + b y) = a f(x) + b f(y)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


def plane_maps(angle: float = np.pi / 6, shear: float = 0.8,
               scale: tuple[float, float] = (1.5, 0.5)) -> dict[str, np.ndarray]:
    """The standard maps of the plane as 2x2 matrices: rotation by ``angle``, reflection in the
    line at ``angle``, horizontal shear, axis scaling, orthogonal projection onto the line at
    ``angle``."""
    c, s = np.cos(angle), np.sin(angle)
    c2, s2 = np.cos(2 * angle), np.sin(2 * angle)
    return {
        "rotation": np.array([[c, -s], [s, c]]),
        "reflection": np.array([[c2, s2], [s2, -c2]]),
        "shear": np.array([[1.0, shear], [0.0, 1.0]]),
        "scaling": np.diag(scale),
        "projection": np.array([[c * c, c * s], [c * s, s * s]]),
    }


def apply_matrix(m, x):
    """x -> M x (linear)."""
    return m @ x


def translate(t, x):
    """x -> x + t (affine, not linear unless t = 0)."""
    return x + t


@partial(jax.jit, static_argnames=("f", "num_pairs"))
def linearity_defects(f: Callable, params, key, *, num_pairs: int):
    """||f(a x + b y) - a f(x) - b f(y)|| / (|a| ||x|| + |b| ||y||) for ``num_pairs`` random
    (x, y, a, b), with f(params, x) (``f`` static, ``params`` traced); 0 up to round-off
    exactly when f is linear. Returns shape (num_pairs,)."""
    dim = params.shape[-1]
    kx, ky, ka = jax.random.split(key, 3)
    x = jax.random.normal(kx, (num_pairs, dim), params.dtype)
    y = jax.random.normal(ky, (num_pairs, dim), params.dtype)
    a, b = jax.random.normal(ka, (2, num_pairs, 1), params.dtype)
    fv = jax.vmap(lambda v: f(params, v))
    lhs = fv(a * x + b * y)
    rhs = a * fv(x) + b * fv(y)
    scale = (jnp.abs(a[:, 0]) * jnp.linalg.norm(x, axis=1)
             + jnp.abs(b[:, 0]) * jnp.linalg.norm(y, axis=1))
    return jnp.linalg.norm(lhs - rhs, axis=1) / scale


@jax.jit
def product_by_inner_products(a, b):
    """(AB)_ij = <row i of A, column j of B>, written out with a double vmap (no matmul)."""
    return jax.vmap(lambda row: jax.vmap(lambda col: jnp.sum(row * col))(b.T))(a)
