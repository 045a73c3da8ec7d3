"""Vector-space axioms, p-norms and inner products, checked numerically on batches."""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.jit
def p_norm(x, p):
    """(sum_i |x_i|^p)^(1/p) along the last axis, computed with the max factored out so large
    p does not overflow; p traced (one compile for every p). p = inf is the sup norm."""
    m = jnp.max(jnp.abs(x), axis=-1)
    safe = jnp.where(m > 0, m, 1.0)
    r = jnp.sum((jnp.abs(x) / safe[..., None]) ** p, axis=-1) ** (1.0 / p)
    return jnp.where(jnp.isinf(p), m, m * r)


@jax.jit
def axiom_defects(u, v, w, a, b):
    """Largest violation over a batch (rows) of each vector-space axiom, as a dict: addition
    associative and commutative, zero and negatives, scalar distributivity (two laws),
    compatibility a(bv) = (ab)v, identity 1v = v. ``a``, ``b``: (batch,) scalars."""
    a, b = a[:, None], b[:, None]
    mx = lambda z: jnp.max(jnp.abs(z))  # noqa: E731
    zero = jnp.zeros_like(u)
    return {
        "u + (v + w) = (u + v) + w": mx((u + (v + w)) - ((u + v) + w)),
        "u + v = v + u": mx((u + v) - (v + u)),
        "u + 0 = u": mx(u + zero - u),
        "u + (-u) = 0": mx(u + (-u)),
        "a (u + v) = a u + a v": mx(a * (u + v) - (a * u + a * v)),
        "(a + b) u = a u + b u": mx((a + b) * u - (a * u + b * u)),
        "a (b u) = (a b) u": mx(a * (b * u) - (a * b) * u),
        "1 u = u": mx(1.0 * u - u),
    }


@jax.jit
def parallelogram_defect(x, y, p):
    """Relative defect of the parallelogram law in the p-norm, over a batch of pairs:
    max | ||x+y||^2 + ||x-y||^2 - 2||x||^2 - 2||y||^2 | / (||x||^2 + ||y||^2).
    Zero exactly when the norm comes from an inner product (p = 2)."""
    n = lambda z: p_norm(z, p) ** 2  # noqa: E731
    d = n(x + y) + n(x - y) - 2 * n(x) - 2 * n(y)
    return jnp.max(jnp.abs(d) / (n(x) + n(y)))


@jax.jit
def triangle_violation(x, y, p):
    """||x + y||_p - ||x||_p - ||y||_p for each pair (positive = the triangle inequality fails;
    possible only for p < 1)."""
    return p_norm(x + y, p) - p_norm(x, p) - p_norm(y, p)
