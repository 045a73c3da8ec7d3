"""The determinant as volume scaling, measured without the determinant: the shoelace formula
for the image of the unit square, and Monte Carlo for the image of the unit cube."""

from __future__ import annotations

import itertools
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from mathml_jax.linalg import lapack


@jax.jit
def shoelace_signed_area(polygon):
    """Signed area of a polygon with vertices (k, 2) in order:
    (1/2) sum_i (x_i y_(i+1) - x_(i+1) y_i); positive when counter-clockwise."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * jnp.sum(x * jnp.roll(y, -1) - jnp.roll(x, -1) * y)


UNIT_SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])  # counter-clockwise


@jax.jit
def image_of_unit_square(a):
    """The corners A v of the image of the unit square, in the square's order: (4, 2)."""
    return jnp.asarray(UNIT_SQUARE, a.dtype) @ a.T


@partial(jax.jit, static_argnames=("num_samples",))
def monte_carlo_image_volume(a, key, *, num_samples: int):
    """Volume of A([0,1]^d) by hit-or-miss Monte Carlo, never using det(A).

    Uniform points y in the bounding box of the image; y is inside iff A^-1 y lies in [0,1]^d
    (solved per point). Returns (estimate, standard error) with
    SE = box_volume sqrt(p (1 - p) / N), p the hit fraction."""
    d = a.shape[0]
    corners = jnp.asarray(list(itertools.product([0.0, 1.0], repeat=d)), a.dtype) @ a.T
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    y = lo + (hi - lo) * jax.random.uniform(key, (num_samples, d), a.dtype)
    x = lapack.solve(a, y.T).T
    inside = jnp.all((x >= 0) & (x <= 1), axis=1)
    p = jnp.mean(inside.astype(a.dtype))
    box = jnp.prod(hi - lo)
    return box * p, box * jnp.sqrt(p * (1 - p) / num_samples)


@partial(jax.jit, static_argnames=("num_samples",))
def monte_carlo_image_volumes(a, keys, *, num_samples: int):
    """:func:`monte_carlo_image_volume` over a batch: ``a`` (b, d, d), ``keys`` (b,)."""
    return jax.vmap(lambda m, k: monte_carlo_image_volume(m, k, num_samples=num_samples))(a, keys)
