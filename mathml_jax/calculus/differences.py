"""The derivative as a limit: finite-difference quotients and autodiff, for one function.

    forward:  D+ f(x; h) = (f(x + h) - f(x)) / h          error ~ f''(x) h / 2 + eps |f| / h
    central:  D0 f(x; h) = (f(x + h) - f(x - h)) / (2 h)  error ~ f'''(x) h^2 / 6 + eps |f| / h

The first term (truncation) shrinks with h at order 1 and 2; the second (round-off in the two
evaluations of f, divided by h) grows, so the total error is smallest near h ~ sqrt(eps) for
the forward quotient and h ~ eps^(1/3) for the central one. ``jax.grad`` has no step at all.
"""

from __future__ import annotations

from functools import partial

import jax


def forward_difference(f, x: jax.Array, h: jax.Array) -> jax.Array:
    """(f(x + h) - f(x)) / h: the secant slope over [x, x + h]."""
    return (f(x + h) - f(x)) / h


def central_difference(f, x: jax.Array, h: jax.Array) -> jax.Array:
    """(f(x + h) - f(x - h)) / (2 h): the secant slope over [x - h, x + h]."""
    return (f(x + h) - f(x - h)) / (2 * h)


@partial(jax.jit, static_argnames=("f",))
def derivative_estimates(x: jax.Array, h: jax.Array, *, f):
    """Forward and central quotients on a grid of steps, and ``jax.grad``, at many points.

    Args:
      x: points, shape (n,), in the working dtype.
      h: steps, shape (m,), same dtype.
      f: a scalar function of a scalar (static).

    Returns:
      (forward (m, n), central (m, n), autodiff (n,)).
    """
    fwd = jax.vmap(lambda hh: jax.vmap(lambda xx: forward_difference(f, xx, hh))(x))(h)
    cen = jax.vmap(lambda hh: jax.vmap(lambda xx: central_difference(f, xx, hh))(x))(h)
    return fwd, cen, jax.vmap(jax.grad(f))(x)
