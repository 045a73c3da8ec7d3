"""Critical points of a function of one variable: Newton's method on f', and the
second-derivative test.

A critical point is a zero of f'. Newton's method on f' iterates

    x <- x - f'(x) / f''(x),

from many starts at once (``vmap``), the loop a ``lax.scan``. The second-derivative test then
says: f'' > 0 a minimum, f'' < 0 a maximum, f'' = 0 **inconclusive** (x^3 and x^4 at 0 both have
f' = f'' = 0; the first is no extremum, the second a minimum): the code DEGENERATE, the same
code as a degenerate critical point in several variables. Outcomes are the codes of
:mod:`mathml_jax.status` inside ``jit`` (:class:`~mathml_jax.status.Kind`,
:class:`~mathml_jax.status.Status`), turned into words outside by ``Kind.words(codes)``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from mathml_jax.status import Kind, Status

MINIMUM, MAXIMUM, DEGENERATE = Kind.MINIMUM, Kind.MAXIMUM, Kind.DEGENERATE
CONVERGED, LEFT_INTERVAL, NOT_CONVERGED = (Status.CONVERGED, Status.LEFT_INTERVAL,
                                           Status.NOT_CONVERGED)


def newton_step(f, x: jax.Array) -> jax.Array:
    """One Newton step on f': x - f'(x)/f''(x); where f''(x) = 0 the step is 0 (no NaN)."""
    d1 = jax.grad(f)
    d1x, d2x = jax.value_and_grad(d1)(x)
    safe = jnp.where(d2x == 0, 1.0, d2x)  # double-where: no division by zero, no NaN gradient
    return x - jnp.where(d2x == 0, 0.0, d1x / safe)


@partial(jax.jit, static_argnames=("f", "steps"))
def newton_critical_points(starts: jax.Array, lo: jax.Array, hi: jax.Array, tol: jax.Array, *,
                           f, steps: int):
    """Newton on f' from every start; returns the end points and a status per start.

    Args:
      starts: initial points, shape (n,).
      lo, hi: the interval; a run that leaves it gets status ``LEFT_INTERVAL``.
      tol: a run whose final |f'(x)| exceeds ``tol`` gets status ``NOT_CONVERGED``.
      f: scalar function of a scalar (static).
      steps: number of Newton steps (static).

    Returns:
      (x (n,), status (n,) int32, |f'(x)| (n,)).
    """
    def one(x0):
        def body(x, _):
            x = newton_step(f, x)
            return x, None

        x, _ = jax.lax.scan(body, x0, None, length=steps)
        g = jnp.abs(jax.grad(f)(x))
        status = jnp.where((x < lo) | (x > hi) | ~jnp.isfinite(x), LEFT_INTERVAL,
                           jnp.where(g > tol, NOT_CONVERGED, CONVERGED))
        return x, status.astype(jnp.int32), g

    return jax.vmap(one)(starts)


@partial(jax.jit, static_argnames=("f",))
def classify_critical_point(x: jax.Array, tol: jax.Array, *, f) -> tuple[jax.Array, jax.Array]:
    """The second-derivative test at critical points x (n,): (kind codes (n,), f''(x) (n,)).

    |f''(x)| <= tol is ``DEGENERATE``: the test says nothing there, and is not guessed.
    """
    d2 = jax.vmap(jax.grad(jax.grad(f)))(x)
    kind = jnp.where(d2 > tol, MINIMUM, jnp.where(d2 < -tol, MAXIMUM, DEGENERATE))
    return kind.astype(jnp.int32), d2


@partial(jax.jit, static_argnames=("f",))
def derivative_sign_change(x: jax.Array, delta: jax.Array, *, f) -> jax.Array:
    """The first-derivative test: signs of f'(x - delta) and f'(x + delta), shape (n, 2).

    (-1, +1): f falls then rises, a minimum; (+1, -1): a maximum; equal signs: no extremum.
    """
    d1 = jax.vmap(jax.grad(f))
    return jnp.stack([jnp.sign(d1(x - delta)), jnp.sign(d1(x + delta))], axis=-1)
