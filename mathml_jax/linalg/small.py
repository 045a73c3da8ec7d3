"""Closed forms for 2 x 2 matrices: symmetric eigenvalues and the solution of A x = b.

A batch of millions of 2 x 2 problems (a Hessian at every point of a grid, a Newton step from
every start) needs no LAPACK call: these are elementwise formulas that ``jax.vmap`` turns into
vector arithmetic on any backend, with no batched-solver limit and no per-matrix call.

Both scale the matrix by a power of two s near max |a_ij| first (exact in binary floating
point), so that products of entries neither overflow nor underflow at huge or tiny scales, and
undo the scaling at the end.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _power_of_two_scale(m: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(s, 1/s) for a power of two s near m >= 0: s = 2^e with s <= m < 2 s for a normal m
    (m's exponent bits, the mantissa masked off), capped at 2^(emax - 1) so that 1/s is normal
    too; the smallest normal number for a subnormal m; 1 for m = 0 or a non-finite m (which
    then propagates through the caller's arithmetic). Both come from integer operations on the
    bits (no frexp/ldexp, no division), and multiplying by either is exact.

    (A batch of millions of 2 x 2 problems is elementwise code, in which XLA keeps every
    division as a loop of its own; multiplying by 1/s instead of dividing by s removes them.)
    """
    info = jnp.finfo(m.dtype)
    uint = {2: jnp.uint16, 4: jnp.uint32, 8: jnp.uint64}[m.dtype.itemsize]
    keep = ((1 << 8 * m.dtype.itemsize) - 1) ^ ((1 << info.nmant) - 1)  # sign and exponent
    bias = info.maxexp - 1
    bits = jax.lax.bitcast_convert_type(m, uint) & jnp.asarray(keep, uint)
    lo = jax.lax.bitcast_convert_type(jnp.asarray(info.smallest_normal, m.dtype), uint)
    hi = jnp.asarray((2 * bias - 1) << info.nmant, uint)  # 2^(emax - 1)
    one = jnp.asarray(bias << info.nmant, uint)
    bits = jnp.where((m > 0) & jnp.isfinite(m), jnp.clip(bits, lo, hi), one)
    inv = jnp.asarray((2 * bias) << info.nmant, uint) - bits  # biased exponent 2 bias - E
    return (jax.lax.bitcast_convert_type(bits, m.dtype),
            jax.lax.bitcast_convert_type(inv, m.dtype))


def eigvalsh_2x2(h: jax.Array) -> jax.Array:
    """Eigenvalues, ascending, of the symmetric 2 x 2 matrix [[a, b], [b, c]] (h (2, 2); only
    a = h[0, 0], b = h[0, 1] and c = h[1, 1] are read, as LAPACK reads one triangle).

    As LAPACK's dlaev2: the eigenvalue of larger magnitude is

        rt1 = (a + c)/2 + sign(a + c) hypot(a - c, 2 b)/2,

    a sum of two terms of the same sign (no cancellation), accurate to a few ulps, and the
    other is

        rt2 = (a c - b^2) / rt1 = det / rt1,

    evaluated as (acmx/rt1) acmn - (b/rt1) b with acmx, acmn the larger- and smaller-magnitude
    of a, c. Its error is a few eps ||H|| (backward stable, as LAPACK), and a few ulps of rt2
    itself where a c - b^2 does not cancel (e.g. b small): the textbook
    (a + c)/2 - hypot(a - c, 2 b)/2 subtracts two numbers of size ||H||/2 there and loses the
    small eigenvalue's leading digits.

    Returns:
      (2,): (lambda_min, lambda_max), as ``jnp.linalg.eigvalsh``.
    """
    if h.shape != (2, 2):
        raise ValueError(f"eigvalsh_2x2 needs a (2, 2) matrix, got {h.shape}")
    a, b, c = h[0, 0], h[0, 1], h[1, 1]
    s, inv_s = _power_of_two_scale(jnp.maximum(jnp.maximum(jnp.abs(a), jnp.abs(b)),
                                                jnp.abs(c)))
    a, b, c = a * inv_s, b * inv_s, c * inv_s
    sm, rt = a + c, jnp.hypot(a - c, 2 * b)
    rt1 = 0.5 * (sm + jnp.where(sm < 0, -rt, rt))  # sm = 0: rt1 = rt/2, rt2 = -rt/2
    big_a = jnp.abs(a) > jnp.abs(c)
    acmx, acmn = jnp.where(big_a, a, c), jnp.where(big_a, c, a)
    # rt1 = 0 only for the zero matrix, whose eigenvalues are 0 and 0
    inv = 1.0 / jnp.where(rt1 == 0, jnp.ones_like(rt1), rt1)
    rt2 = jnp.where(rt1 == 0, jnp.zeros_like(rt1), (acmx * inv) * acmn - (b * inv) * b)
    return jnp.stack([jnp.minimum(rt1, rt2), jnp.maximum(rt1, rt2)]) * s


def solve_2x2(a: jax.Array, b: jax.Array) -> jax.Array:
    """x with A x = b for a 2 x 2 matrix A = [[p, q], [r, t]] (a (2, 2)) and b (2,) or (2, k),
    by Cramer's rule:

        x = adj(A) b / det(A),   adj(A) = [[t, -q], [-r, p]],   det(A) = p t - q r,

    with A scaled by a power of two first (x = adj(A/s) b (1/s) / det(A/s)). For n = 2 Cramer's
    rule is forward stable: ||x - x_hat|| / ||x|| <= c cond(A) eps, as Gaussian elimination
    with partial pivoting (Higham, Accuracy and Stability of Numerical Algorithms, sec. 1.10.1).
    A singular A (det = 0) gives a non-finite x (inf or nan), as LAPACK's getrf/getrs do, so
    callers can test ``isfinite``.
    """
    if a.shape != (2, 2) or b.shape[:1] != (2,) or b.ndim > 2:
        raise ValueError(f"solve_2x2 needs a (2, 2) matrix and b (2,) or (2, k), got "
                         f"{a.shape} and {b.shape}")
    p, q, r, t = a[0, 0], a[0, 1], a[1, 0], a[1, 1]
    # max |a_ij| as an elementwise chain: a reduction op is a separate, slower loop in a batch
    _, inv_s = _power_of_two_scale(jnp.maximum(jnp.maximum(jnp.abs(p), jnp.abs(q)),
                                                jnp.maximum(jnp.abs(r), jnp.abs(t))))
    p, q, r, t = p * inv_s, q * inv_s, r * inv_s, t * inv_s
    scale = inv_s / (p * t - q * r)  # one division: x = adj(A/s) b / det(A/s) / s
    x0 = t * b[0] - q * b[1]
    x1 = p * b[1] - r * b[0]
    return jnp.stack([x0, x1]) * scale
