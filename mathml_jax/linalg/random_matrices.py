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


def decaying_spectrum(n: int, *, decay: float = 1.0, kind: str = "polynomial", dtype=jnp.float32):
    """Singular values s_1 >= ... >= s_n > 0 of a standard test spectrum (Tropp, Yurtsever,
    Udell and Cevher, "Practical sketching algorithms for low-rank matrix approximation", 2017,
    Sec. 7.3, without their leading flat block):

    - ``"polynomial"``: s_i = i^(-decay). With decay = 1 the spectrum is the hard case for a
      randomised SVD: s_11 / s_10 = 0.91, so the sketch alone (q = 0) is far from optimal and
      each power iteration counts; the tail sum_{i>k} s_i^2 ~ 1/k keeps the optimal error large
      enough to measure a 0.1% excess in float32.
    - ``"exponential"``: s_i = 10^(-decay (i - 1)), the easy case (decay = 0.25: 10x every 4).
    """
    i = jnp.arange(1, n + 1, dtype=dtype)
    if kind == "polynomial":
        return i ** (-decay)
    if kind == "exponential":
        return 10.0 ** (-decay * (i - 1))
    raise ValueError(f"kind is 'polynomial' or 'exponential', got {kind!r}")


def matrix_with_decaying_spectrum(key, *, rows: int, cols: int, decay: float = 1.0,
                                  kind: str = "polynomial", dtype=jnp.float32):
    """A test matrix for low-rank approximation with a known spectrum: A = U diag(s) V^T of
    shape (rows, cols), rows >= cols, U and V Haar-random (:func:`matrix_with_singular_values`)
    and s = :func:`decaying_spectrum`. The best rank-k error is then known exactly (Eckart-Young:
    ||A - A_k||_F = sqrt(sum_{i>k} s_i^2)), so an approximation's excess error
    ||A - A~_k||_F / sqrt(sum_{i>k} s_i^2) - 1 is measured against the true optimum, not
    against another computed SVD.

    Haar U and V cost one thin QR of a (rows, cols) Gaussian (seconds at 20000 x 2000 on a CPU)
    but are not needed for the statistics of a Gaussian sketch (A Omega = U diag(s) (V^T Omega)
    and V^T Omega is again Gaussian): they make A dense and unstructured, so no product is
    cheaper than on a general matrix.

    Returns:
      (A (rows, cols), s (cols,)), both in ``dtype``.

    Example (the benchmark's matrix)::

        a, s = matrix_with_decaying_spectrum(jax.random.key(0), rows=20000, cols=2000)
        optimal_10 = jnp.sqrt(jnp.sum(s[10:] ** 2))
    """
    s = decaying_spectrum(cols, decay=decay, kind=kind, dtype=dtype)
    return matrix_with_singular_values(key, s, rows=rows), s
