"""Shannon entropy of discrete distributions and differential entropy of densities.

H(p) = -sum_x p(x) log p(x), computed with ``jax.scipy.special.entr`` (entr(0) = 0, so a
point mass has zero entropy with no NaN). In base b it is H / log b: bits for b = 2, nats for
e, bans for 10. A density f has differential entropy h(f) = -integral f log f.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
from jax.scipy.special import entr


@partial(jax.jit, static_argnames=("axis",))
def entropy(p: jnp.ndarray, *, base: float | None = None, axis: int = -1) -> jnp.ndarray:
    """H(p) = -sum p log p along ``axis``, in nats (``base=None``) or in base ``base``.

    Args:
      p: probabilities (..., n), non-negative and summing to 1 along ``axis``; zero padding
        is harmless (entr(0) = 0).
      base: traced; ``None`` gives nats.
    Example: ``entropy(jnp.full(1024, 1 / 1024), base=2)`` is 10 bits.
    """
    h = jnp.sum(entr(p), axis=axis)
    return h if base is None else h / jnp.log(base)


def differential_entropy(pdf: Callable, lo: float, hi: float, *,
                         num_points: int = 200_001) -> jnp.ndarray:
    """h(f) = -integral_lo^hi f(x) log f(x) dx by the trapezoid rule, with ``entr`` so that
    f = 0 contributes 0 (nats)."""
    x = jnp.linspace(lo, hi, num_points)
    return jnp.trapezoid(entr(pdf(x)), x)
