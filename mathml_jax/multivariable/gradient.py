"""Partial derivatives, directional derivatives and the gradient of f: R^n -> R.

    partial_i f(x) = d/dt f(x + t e_i) at t = 0       (slope of the tangent line of a slice)
    D_u f(x)       = d/dt f(x + t u) at t = 0 = grad f(x) . u   (u a unit vector)

By Cauchy-Schwarz D_u f <= ||grad f||, with equality exactly at u = grad f / ||grad f||: the
gradient points in the direction of fastest increase, and its length is that rate.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp


def partials_by_slices(f, x: jax.Array) -> jax.Array:
    """(partial_1 f(x), ..., partial_n f(x)): the slopes of the n one-variable slices
    t -> f(x + t e_i) at t = 0, each by a one-variable derivative. Shape (n,)."""
    eye = jnp.eye(x.shape[0], dtype=x.dtype)
    return jax.vmap(lambda e: jax.grad(lambda t: f(x + t * e))(jnp.zeros((), x.dtype)))(eye)


def directional_derivative(f, x: jax.Array, u: jax.Array) -> jax.Array:
    """D_u f(x) = d/dt f(x + t u) at 0, by a forward-mode ``jax.jvp`` (no gradient formed)."""
    return jax.jvp(f, (x,), (u,))[1]


def tangent_plane(f, x0: jax.Array, x: jax.Array) -> jax.Array:
    """The first-order (tangent plane) approximation f(x0) + grad f(x0) . (x - x0)."""
    value, g = jax.value_and_grad(f)(x0)
    return value + jnp.dot(g, x - x0)


@partial(jax.jit, static_argnames=("f",))
def gradient_study(points: jax.Array, directions: jax.Array, *, f):
    """At each point (P, n): the gradient (P, n), the partials from slices (P, n), and the
    directional derivatives along every unit direction in ``directions`` (K, n): (P, K)."""
    grads = jax.vmap(jax.grad(f))(points)
    parts = jax.vmap(lambda x: partials_by_slices(f, x))(points)
    dirs = jax.vmap(lambda x: jax.vmap(lambda u: directional_derivative(f, x, u))(directions))(
        points)
    return grads, parts, dirs
