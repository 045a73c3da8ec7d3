"""Numerical integration: Riemann sums, trapezoid, Simpson, Gauss-Legendre, Monte Carlo.

All composite rules on [a, b] with n panels of width h = (b - a)/n are weighted sums of f at
the nodes x_i = a + i h, i = 0..n:

    left Riemann   h sum_{i<n} f(x_i)                 error O(h)
    right Riemann  h sum_{0<i<=n} f(x_i)              error O(h)
    midpoint       h sum_{i<n} f(x_i + h/2)           error O(h^2)
    trapezoid      h [f_0/2 + f_1 + ... + f_{n-1} + f_n/2]   error O(h^2)
    Simpson        h/3 [f_0 + 4 f_1 + 2 f_2 + ... + 4 f_{n-1} + f_n]  (n even), error O(h^4)

The panel count n is *traced*: the nodes live in a fixed array of ``n_max + 1`` slots and the
unused slots get weight 0, so one compiled kernel serves every n (``vmap`` over n).
Gauss-Legendre's nodes and weights (NumPy's ``leggauss``) are passed in, padded the same way.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

RULES = ("left", "right", "midpoint", "trapezoid", "simpson")


def composite_rules(f, a, b, n, *, n_max: int) -> jax.Array:
    """All five composite rules of :data:`RULES` with ``n`` panels (traced, 1 <= n <= n_max)
    on [a, b], sharing the evaluations of f: shape (5,)."""
    i = jnp.arange(n_max + 1)
    h = (b - a) / n
    x = a + jnp.minimum(i, n) * h  # unused slots evaluate f at a node and get weight 0
    fx = jax.vmap(f)(x)
    fm = jax.vmap(f)(x + h / 2)
    inside = (i < n).astype(fx.dtype)
    ends = ((i == 0) | (i == n)).astype(fx.dtype)
    left = jnp.sum(inside * fx)
    right = jnp.sum(((i >= 1) & (i <= n)) * fx)
    midpoint = jnp.sum(inside * fm)
    trapezoid = jnp.sum((inside - 0.5 * ends + ((i == n) * 1.0)) * fx)
    simpson = jnp.sum((ends + inside * (1 - ends) * jnp.where(i % 2 == 1, 4.0, 2.0)) * fx) / 3
    return h * jnp.stack([left, right, midpoint, trapezoid, simpson])


@partial(jax.jit, static_argnames=("f", "n_max"))
def composite_rule_estimates(ns: jax.Array, a: jax.Array, b: jax.Array, *, f,
                             n_max: int) -> jax.Array:
    """Every rule's estimate for every panel count in ``ns`` (k,): shape (k, 5), columns in
    the order of :data:`RULES`. One compiled kernel for all n (n is traced)."""
    return jax.vmap(lambda n: composite_rules(f, a, b, n, n_max=n_max))(ns)


def gauss_legendre_table(counts) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights on [-1, 1] for each node count, zero-padded: two (k, max) arrays."""
    m = int(max(counts))
    t = np.zeros((len(counts), m))
    w = np.zeros((len(counts), m))
    for r, c in enumerate(counts):
        t[r, :c], w[r, :c] = np.polynomial.legendre.leggauss(int(c))
    return t, w


def gauss_legendre(f, a, b, t: jax.Array, w: jax.Array):
    """sum_i w_i f(x_i) (b - a)/2 with x_i = a + (b - a)(t_i + 1)/2: exact for polynomials of
    degree 2m - 1 with m nodes."""
    x = a + (b - a) * (t + 1) / 2
    return (b - a) / 2 * jnp.sum(w * jax.vmap(f)(x))


@partial(jax.jit, static_argnames=("f",))
def gauss_legendre_estimates(t: jax.Array, w: jax.Array, a: jax.Array, b: jax.Array, *, f):
    """Gauss-Legendre estimates for each row of the padded tables t, w (k, m): shape (k,)."""
    return jax.vmap(lambda tt, ww: gauss_legendre(f, a, b, tt, ww))(t, w)


@partial(jax.jit, static_argnames=("f", "num_samples", "num_paths"))
def monte_carlo_running_estimates(key: jax.Array, a: jax.Array, b: jax.Array, *, f,
                                  num_samples: int, num_paths: int) -> jax.Array:
    """Plain Monte Carlo (b - a) mean f(U), U ~ Uniform[a, b]: the running estimate after
    1..num_samples samples on each of ``num_paths`` independent paths, shape (paths, samples)."""
    u = jax.random.uniform(key, (num_paths, num_samples), dtype=jnp.result_type(a, float),
                           minval=a, maxval=b)
    fx = jax.vmap(jax.vmap(f))(u)
    return (b - a) * jnp.cumsum(fx, axis=1) / jnp.arange(1, num_samples + 1)


@partial(jax.jit, static_argnames=("f",))
def antiderivative_and_derivative(x: jax.Array, a: jax.Array, t: jax.Array, w: jax.Array, *,
                                  f):
    """F(x) = integral_a^x f by Gauss-Legendre (nodes t, weights w), and dF/dx by ``jax.grad``
    at each point of x (n,). The fundamental theorem says dF/dx = f(x)."""
    def F(xx):
        return gauss_legendre(f, a, xx, t, w)

    return jax.vmap(F)(x), jax.vmap(jax.grad(F))(x)
