"""Gram-Schmidt orthonormalisation, classical and modified, written out (the experiment is about
the algorithm); Householder QR comes from ``jnp.linalg.qr``.

Both turn the columns a_1..a_n of A (m x n, full column rank) into orthonormal q_1..q_n with
span(q_1..q_k) = span(a_1..a_k) for every k, and A = Q R with R upper triangular.

- classical (CGS): q_j from a_j - sum_(i<j) (q_i . a_j) q_i: all coefficients from the
  original a_j. Loss of orthogonality ||Q^T Q - I|| ~ eps kappa(A)^2.
- modified (MGS): the same sum, but each coefficient is taken from the partially reduced
  vector (q_i . v), so errors are projected out as they arise: ~ eps kappa(A).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mathml_jax.linalg import lapack


@jax.jit
def classical_gram_schmidt(a):
    """Classical Gram-Schmidt. ``a``: (m, n), m >= n. Returns (Q (m, n), R (n, n))."""
    m, n = a.shape
    if m < n:
        raise ValueError(f"need m >= n, got {a.shape}")

    def step(j, qr):
        q, r = qr
        aj = a[:, j]
        coeff = q.T @ aj  # columns >= j of q are still zero, so only i < j contribute
        v = aj - q @ coeff
        norm = jnp.linalg.norm(v)
        q = q.at[:, j].set(v / norm)
        r = r.at[:, j].set(coeff.at[j].set(norm))
        return q, r

    zeros = (jnp.zeros_like(a), jnp.zeros((n, n), a.dtype))
    return jax.lax.fori_loop(0, n, step, zeros)


@jax.jit
def modified_gram_schmidt(a):
    """Modified Gram-Schmidt (row-oriented). ``a``: (m, n), m >= n. Returns (Q, R).

    Step i normalises v_i into q_i, then removes the q_i component from every later v_j, using
    the current (already reduced) v_j."""
    m, n = a.shape
    if m < n:
        raise ValueError(f"need m >= n, got {a.shape}")
    cols = jnp.arange(n)

    def step(i, vr):
        v, r = vr
        norm = jnp.linalg.norm(v[:, i])
        qi = v[:, i] / norm
        coeff = jnp.where(cols > i, qi @ v, 0.0)
        v = v - jnp.outer(qi, coeff)
        v = v.at[:, i].set(qi)
        r = r.at[i].set(coeff.at[i].set(norm))
        return v, r

    return jax.lax.fori_loop(0, n, step, (a, jnp.zeros((n, n), a.dtype)))


@jax.jit
def householder_qr(a):
    """Householder QR from ``jnp.linalg.qr`` (reduced): (Q (m, n), R (n, n))."""
    return lapack.qr(a, mode="reduced")


@jax.jit
def orthogonality_loss(q):
    """||Q^T Q - I||_2: how far the computed columns are from orthonormal."""
    n = q.shape[1]
    return lapack.spectral_norm(q.T @ q - jnp.eye(n, dtype=q.dtype))


@jax.jit
def all_methods(a):
    """(Q, R) of classical GS, modified GS and Householder, stacked on a leading axis of 3."""
    outs = [classical_gram_schmidt(a), modified_gram_schmidt(a), householder_qr(a)]
    return jnp.stack([o[0] for o in outs]), jnp.stack([o[1] for o in outs])
