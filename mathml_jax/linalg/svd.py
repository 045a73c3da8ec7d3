"""The singular value decomposition A = U diag(s) V^T (from ``jnp.linalg``) and what it gives:
best low-rank approximation (Eckart-Young), and a randomised SVD for the top k of a tall A."""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax

from mathml_jax.linalg import lapack


@jax.jit
def eckart_young_errors(s):
    """The smallest possible errors of a rank-k approximation, k = 0 .. len(s):
    Frobenius sqrt(sum_{i>k} s_i^2) and spectral s_{k+1} (0 for k = len(s)).

    Returns (frobenius (r+1,), spectral (r+1,))."""
    tail_sq = jnp.cumsum((s**2)[::-1])[::-1]
    frob = jnp.sqrt(jnp.concatenate([tail_sq, jnp.zeros(1, s.dtype)]))
    spec = jnp.concatenate([s, jnp.zeros(1, s.dtype)])
    return frob, spec


@partial(jax.jit, static_argnames=("k",))
def rank_k_approximation(u, s, vt, *, k: int):
    """A_k = U_k diag(s_k) V_k^T, the truncation to the top k singular triplets."""
    return (u[:, :k] * s[:k]) @ vt[:k]


@jax.jit
def truncation_residual_norms(a, u, s, vt):
    """||A - A_k||_F for every k = 0 .. r, measured on the residual matrix itself:
    R_0 = A, R_k = R_{k-1} - s_k u_k v_k^T (a ``lax.scan`` over k). Returns shape (r+1,)."""

    def step(r, triplet):
        uk, sk, vk = triplet
        r = r - sk * jnp.outer(uk, vk)
        return r, jnp.linalg.norm(r)

    _, norms = jax.lax.scan(step, a, (u.T, s, vt))
    return jnp.concatenate([jnp.linalg.norm(a)[None], norms])


def _left_product(q, a):
    """Q^T A (w, n) for a thin Q (m, w), computed as the plain row-major product
    (w, m) @ (m, n) of a materialised Q^T with A.

    Left to itself XLA folds ``q.T`` (and any transpose of the result) into the dot as a
    contraction over A's rows, which XLA:CPU (jaxlib 0.10, 2 cores, 20000 x 2000 float32,
    w = 20) ran at 61 ms against 24 ms for A @ X of the same cost and 30 ms for this form.
    The barriers keep the (w, m) copy of Q^T (0.1% of the product's memory traffic) and stop
    a transpose of the result from being folded back into the dot."""
    return lax.optimization_barrier(lax.optimization_barrier(q.T) @ a)


@partial(jax.jit, static_argnames=("rank", "oversample", "power_iters"))
def randomized_svd(a, key, *, rank: int, oversample: int = 10, power_iters: int = 0):
    """Randomised SVD of the top ``rank`` triplets (Halko, Martinsson and Tropp, 2011).

    1. sketch Y = A Omega with a Gaussian Omega of shape (n, rank + oversample);
    2. optionally ``power_iters`` times Y <- A (A^T Y), re-orthonormalised by QR each time
       (sharpens the decay: the error factor shrinks like (s_{k+1}/s_k)^(2q+1));
    3. Q = qr(Y), B = Q^T A (small), B = U_B diag(s) V^T, U = Q U_B.

    2q + 2 passes over A, each a product with a thin matrix (all of them written as plain
    row-major products, see :func:`_left_product`), 2q + 1 Householder QRs of thin matrices
    (m x w or n x w, w = rank + oversample) and one SVD of the w x n matrix B. The QRs stay
    Householder: after the power iterations Y's condition number is about
    (s_1 / s_w)^(2q+1), beyond what a Cholesky QR survives in float32.

    Args:
      a: (m, n) matrix, m >= n typical.
      key: PRNG key for Omega.
    Returns:
      (u (m, rank), s (rank,), vt (rank, n)).
    """
    m, n = a.shape
    width = rank + oversample
    if width > min(m, n):
        raise ValueError(f"rank + oversample = {width} exceeds min(m, n) = {min(m, n)}")
    omega = jax.random.normal(key, (n, width), a.dtype)
    q, _ = lapack.qr(a @ omega)

    def power(_, q):
        z, _ = lapack.qr(_left_product(q, a).T)  # A^T Q, as (Q^T A)^T
        q, _ = lapack.qr(a @ z)
        return q

    q = jax.lax.fori_loop(0, power_iters, power, q)
    ub, s, vt = lapack.svd(_left_product(q, a), full_matrices=False)
    return (q @ ub)[:, :rank], s[:rank], vt[:rank]


@jax.jit
def thin_svd(a):
    """``lapack.svd(a, full_matrices=False)``, jitted once (the baseline for timings)."""
    return lapack.svd(a, full_matrices=False)


# -- what the decompositions cost, in flops (a multiply-add is 2), for counting a program's
# work (``mathml_jax.timing.traced_flops``): LAPACK calls are opaque to XLA's cost analysis,
# so they are counted by the textbook operation counts of the algorithms behind them.

def svd_flops(m: int, n: int, *, compute_uv: bool = True, full_matrices: bool = False) -> float:
    """Flops of the SVD of an m x n matrix (Golub and Van Loan, Matrix Computations, 4th ed.,
    Fig. 8.6.1; stated for m >= n, an m < n matrix costs what its transpose does): the cheaper
    of the Golub-Reinsch SVD and the R-SVD (QR first, then the SVD of R)

    - singular values only: min(4 m n^2 - 4 n^3 / 3, 2 m n^2 + 2 n^3);
    - with the thin U (m x n) and V: min(14 m n^2 + 8 n^3, 6 m n^2 + 20 n^3);
    - with the full U (m x m) and V: min(4 m^2 n + 8 m n^2 + 9 n^3, 4 m^2 n + 22 n^3).
    """
    m, n = max(m, n), min(m, n)
    if not compute_uv:
        return min(4 * m * n**2 - 4 * n**3 / 3, 2 * m * n**2 + 2 * n**3)
    if full_matrices:
        return min(4 * m**2 * n + 8 * m * n**2 + 9 * n**3, 4 * m**2 * n + 22 * n**3)
    return min(14 * m * n**2 + 8 * n**3, 6 * m * n**2 + 20 * n**3)


def qr_flops(m: int, n: int) -> float:
    """Flops of a Householder QR of an m x n matrix (m >= n) with its thin Q: 2 m n^2 - 2 n^3/3
    for R (Golub and Van Loan, Alg. 5.2.1) and as many again to accumulate Q (m x n)."""
    m, n = max(m, n), min(m, n)
    return 2 * (2 * m * n**2 - 2 * n**3 / 3)


def _svd_op(op) -> float:
    *batch, m, n = op.in_shapes[0]
    return math.prod(batch) * svd_flops(m, n, compute_uv=op.params.get("compute_uv", True),
                     full_matrices=op.params.get("full_matrices", False))


def _qr_op(op) -> float:
    *batch, m, n = op.in_shapes[0]
    return math.prod(batch) * qr_flops(m, n)


#: costs of the decomposition primitives a traced program may hold, for
#: ``traced_flops(..., costs=DECOMPOSITION_FLOPS)``
DECOMPOSITION_FLOPS = {"svd": _svd_op, "qr": _qr_op}
