"""Random matrices with a prescribed structure: orthogonal, symmetric with given eigenvalues,
general with given singular values."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from mathml_jax.linalg import lapack


@partial(jax.jit, static_argnames=("n", "dtype"))
def random_orthogonal(key, *, n: int, dtype=jnp.float32):
    """A Haar-random orthogonal n x n matrix: Q of the QR of a Gaussian matrix, with the signs
    of R's diagonal moved into Q (so the distribution is uniform on O(n))."""
    q, r = lapack.qr(jax.random.normal(key, (n, n), dtype))
    return q * jnp.sign(jnp.diagonal(r))[None, :]


@jax.jit
def symmetric_with_spectrum(key, eigenvalues):
    """S = Q diag(eigenvalues) Q^T with Q Haar-orthogonal: a symmetric matrix whose eigenvalues
    are exactly ``eigenvalues`` (shape (n,)) and whose eigenvectors are the columns of Q.

    Returns (S, Q)."""
    n = eigenvalues.shape[0]
    q = random_orthogonal(key, n=n, dtype=eigenvalues.dtype)
    s = (q * eigenvalues[None, :]) @ q.T
    return 0.5 * (s + s.T), q


@partial(jax.jit, static_argnames=("rows",))
def matrix_with_singular_values(key, singular_values, *, rows: int):
    """A = U diag(s) V^T of shape (rows, n) with U, V Haar-random: singular values are exactly
    ``singular_values`` (shape (n,), rows >= n)."""
    n = singular_values.shape[0]
    if rows < n:
        raise ValueError(f"rows={rows} must be >= the number of singular values {n}")
    ku, kv = jax.random.split(key)
    # thin QR of a Gaussian (rows, n): n orthonormal columns without forming a rows x rows Q
    u, r = lapack.qr(jax.random.normal(ku, (rows, n), singular_values.dtype))
    u = u * jnp.sign(jnp.diagonal(r))[None, :]
    v = random_orthogonal(kv, n=n, dtype=singular_values.dtype)
    return (u * singular_values[None, :]) @ v.T
