"""The Hessian of a network's loss without forming it: its extreme eigenvalues (Lanczos), its
trace (Hutchinson) and its spectral density (stochastic Lanczos quadrature), all from
Hessian-vector products H v = d/dt grad L(theta + t v) at t = 0 (forward over reverse).

The losses are functions ``f(theta, data)`` of one flat parameter vector theta (d,) and the
data (for a network, ``data = (x, y)``; :func:`mlp_flat_loss` builds f for a layer-size tuple),
the convention of :mod:`mathml_jax.optimization.critical_points`. Every kernel computes in the
dtype of theta.

The matrix-free parts come from matfree 0.6 (``matfree.decomp.tridiag_sym``: Lanczos with full
re-orthogonalisation, classical Gram-Schmidt applied twice; ``matfree.stochtrace``: the
Rademacher sampler and the Hutchinson integrand v^T H v). What this module adds:

- :func:`lanczos` / :func:`lanczos_from`: m Lanczos steps give H Q = Q T + r e_m^T with Q
  (d, m) orthonormal and T tridiagonal. For T = S diag(theta) S^T, each Ritz value theta_i
  has an eigenvalue lambda of H with |theta_i - lambda| <= ||r|| |e_m^T s_i| (the residual
  norm of the Ritz pair, a computable a-posteriori bound; Parlett, *The Symmetric Eigenvalue
  Problem*, Thm 3.2.1 / 13.1). In floating point the relation holds up to
  ||E|| ~ eps ||H|| (per HVP round-off); see :data:`RITZ_ROUNDOFF_K`.
- :func:`hutchinson_trace`: tr H = E[v^T H v] for Rademacher v (E[v v^T] = I); returns the
  per-probe samples, whose mean and standard error come from :func:`mean_and_se` (NumPy).
- :func:`slq`: per Rademacher probe v, the Lanczos run from v / ||v|| gives the Gauss quadrature
  of the measure mu_v = sum_j (u_j^T v)^2 / d delta_{lambda_j}: nodes theta_i (Ritz values),
  weights tau_i = (e_1^T s_i)^2. Since ||v||^2 = d exactly, E[mu_v] is the spectral density
  (1/d) sum_j delta_{lambda_j}. The quadrature is exact for polynomials of degree <= 2m - 1, so
  sum_i tau_i theta_i^k = v^T H^k v / d: per probe an unbiased estimate of the moment
  (1/d) tr H^k (k <= 2m - 1), whose spread over probes is its standard error
  (:func:`slq_moments`, :func:`spectral_moments`). The CDF F(t) = #{lambda_j <= t} / d is
  not a polynomial; for it the Chebyshev-Markov-Stieltjes inequalities bracket mu_v's CDF by
  the quadrature's, sum_{i < k} tau_i <= mu_v((-inf, t]) <= sum_{i <= k + 1} tau_i for
  theta_k <= t < theta_{k+1} (:func:`slq_cdf_bracket`): a deterministic bracket per probe,
  averaged over probes with its standard error (Golub & Meurant, *Matrices, Moments and
  Quadrature*, Thm 6.4; Lin, Saad & Yang, SIAM Review 2016).

The NumPy functions at the end (no JAX) turn nodes and weights into those statistics and the
dense eigenvalues into their exact counterparts, for the claims phase.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from matfree import decomp, stochtrace

from mathml_jax.linalg import lapack
from mathml_jax.nn import mlp
from mathml_jax.optimization.critical_points import hvp

#: A Ritz value from float-``eps`` HVPs is within (residual bound) + RITZ_ROUNDOFF_K sqrt(d) eps
#: max|lambda| of an eigenvalue of the exact Hessian (the model of the ``hessian`` experiment's
#: eigenvalue comparison: a random-walk accumulation of d rounding errors of size eps ||H||).
RITZ_ROUNDOFF_K = 8.0


# ------------------------------------------------------------------ the network's flat loss

def unflatten_mlp(theta: jax.Array, sizes: Sequence[int]) -> mlp.Params:
    """The (A, b) pairs of a network with layer widths ``sizes`` from its flat vector theta, in
    the order of :func:`mathml_jax.nn.mlp.ravel` (A_1 row-major, b_1, A_2, b_2, ...), in the
    dtype of theta (``ravel_pytree``'s unravel would cast to the dtype it was made for)."""
    params, start = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        A = theta[start:start + n_out * n_in].reshape(n_out, n_in)
        start += n_out * n_in
        params.append((A, theta[start:start + n_out]))
        start += n_out
    if start != theta.shape[0]:
        raise ValueError(f"theta has {theta.shape[0]} entries; sizes {tuple(sizes)} need {start}")
    return tuple(params)


@functools.cache
def mlp_flat_loss(sizes: tuple[int, ...], activation: str = "sigmoid") -> Callable:
    """f(theta, (x, y)) = cross_entropy(unflatten_mlp(theta, sizes), x, y, activation).

    Cached: the same (sizes, activation) gives the same function object, so a kernel that
    takes f as a static argument compiles once for it."""
    sizes = tuple(int(s) for s in sizes)
    if activation not in mlp.ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; allowed: "
                         f"{', '.join(mlp.ACTIVATIONS)}")

    def f(theta, data):
        x, y = data
        return mlp.cross_entropy(unflatten_mlp(theta, sizes), x, y, activation)

    return f


# ------------------------------------------------------------------------------ Lanczos

class Lanczos(NamedTuple):
    """One Lanczos run of m steps on v -> H v.

    ritz (m,): the eigenvalues theta_i of T, ascending.
    bounds (m,): ||r|| |e_m^T s_i|, the residual norm of each Ritz pair: some eigenvalue of H
      lies within it of theta_i (exact arithmetic; add round-off, :data:`RITZ_ROUNDOFF_K`).
    weights (m,): (e_1^T s_i)^2, the Gauss quadrature weights of the start vector (sum 1).
    top_vector (d,): the Ritz vector Q s_m of the largest Ritz value (unit norm), to warm-start
      a later run.
    """

    ritz: jax.Array
    bounds: jax.Array
    weights: jax.Array
    top_vector: jax.Array


def tridiagonalise(f: Callable, theta, data, v0, num_matvecs: int) -> Lanczos:
    """The un-jitted step under :func:`lanczos`, :func:`slq` and the sharpness tracker of
    :mod:`mathml_jax.nn.stability`: ``num_matvecs`` steps of matfree's ``tridiag_sym`` (full
    re-orthogonalisation) on v -> H v from v0, then the eigen-decomposition of T.
    A start vector in an invariant subspace of H (an exact eigenvector) breaks the iteration
    down (a zero residual, then NaN); a random or warm start is not one, to round-off."""

    def matvec(v, theta, data):
        return hvp(f, theta, v, data)

    run = decomp.tridiag_sym(num_matvecs, materialize=True, reortho="full", custom_vjp=False)
    Q, T, r, _ = run(matvec, v0, theta, data)  # Q (m, d), T (m, m), r (d,) = beta_m q_{m+1}
    ritz, S = lapack.eigh(T)
    beta = jnp.linalg.norm(r)
    top = S[:, -1] @ Q
    return Lanczos(ritz, beta * jnp.abs(S[-1, :]), S[0, :] ** 2, top / jnp.linalg.norm(top))


def _check_steps(theta, num_matvecs):
    if theta.ndim != 1:
        raise ValueError(f"theta must be a flat vector, got shape {theta.shape}")
    if not 1 <= num_matvecs <= theta.shape[0]:
        raise ValueError(f"num_matvecs={num_matvecs} must be in 1..{theta.shape[0]} (= d)")


@partial(jax.jit, static_argnames=("f", "num_matvecs"))
def lanczos_from(theta: jax.Array, data, v0: jax.Array, *, f: Callable, num_matvecs: int
                 ) -> Lanczos:
    """``num_matvecs`` Lanczos steps on the Hessian of f(., data) at theta (d,), from the start
    vector v0 (d,) (normalised inside): e.g. the previous ``top_vector``, to track the top
    eigenvalue along training with few steps."""
    _check_steps(theta, num_matvecs)
    return tridiagonalise(f, theta, data, v0.astype(theta.dtype), num_matvecs)


@partial(jax.jit, static_argnames=("f", "num_matvecs"))
def lanczos(theta: jax.Array, data, key: jax.Array, *, f: Callable, num_matvecs: int
            ) -> Lanczos:
    """:func:`lanczos_from` a standard normal start vector drawn with ``key``.

    The extreme eigenvalues are ``ritz[0]``, ``ritz[-1]``, each within ``bounds[0]``,
    ``bounds[-1]`` (plus round-off) of an eigenvalue of H."""
    _check_steps(theta, num_matvecs)
    v0 = jax.random.normal(key, theta.shape, theta.dtype)
    return tridiagonalise(f, theta, data, v0, num_matvecs)


# ------------------------------------------------------------------- Hutchinson and SLQ

@partial(jax.jit, static_argnames=("f", "num_probes"))
def hutchinson_trace(theta: jax.Array, data, key: jax.Array, *, f: Callable, num_probes: int
                     ) -> jax.Array:
    """Hutchinson's samples v_p^T H v_p (num_probes,) for Rademacher probes v_p (matfree's
    ``sampler_signs`` and ``monte_carlo_trace``): each is an unbiased estimate of tr H, with
    variance 2 sum_{i != j} H_ij^2. Their mean and standard error: :func:`mean_and_se`."""
    if num_probes < 2:
        raise ValueError(f"num_probes={num_probes}: a standard error needs at least 2")

    def matvec(v, theta, data):
        return hvp(f, theta, v, data)

    probes = stochtrace.sampler_signs(theta, num=num_probes)(key)
    integrand = stochtrace.monte_carlo_trace()
    return jax.vmap(lambda v: integrand(matvec, v, theta, data))(probes)


class SLQ(NamedTuple):
    """Stochastic Lanczos quadrature: per probe p, nodes[p] (m,) (Ritz values, ascending),
    weights[p] (m,) (sum 1) and bounds[p] (m,) (Ritz residual norms)."""

    nodes: jax.Array
    weights: jax.Array
    bounds: jax.Array


@partial(jax.jit, static_argnames=("f", "num_matvecs", "num_probes"))
def slq(theta: jax.Array, data, key: jax.Array, *, f: Callable, num_matvecs: int,
        num_probes: int) -> SLQ:
    """``num_matvecs`` Lanczos steps from each of ``num_probes`` Rademacher probes (one
    ``vmap``): the Gauss quadrature of each probe's spectral measure (module docstring).
    The spectral density is approximately the probe average of sum_i weights_i
    delta(t - nodes_i) (:func:`slq_density` smooths it)."""
    _check_steps(theta, num_matvecs)
    probes = stochtrace.sampler_signs(theta, num=num_probes)(key)
    runs = jax.vmap(lambda v: tridiagonalise(f, theta, data, v, num_matvecs))(probes)
    return SLQ(runs.ritz, runs.weights, runs.bounds)


@partial(jax.jit, static_argnames=("f",))
def dense_hessian_eigenvalues(theta: jax.Array, data, *, f: Callable) -> jax.Array:
    """All eigenvalues (ascending) of the full ``jax.hessian`` of f(., data) at theta, formed
    as a d x d matrix (symmetrised): the dense reference for a small network."""
    H = jax.hessian(f)(theta, data)
    return lapack.eigvalsh(0.5 * (H + H.T))


# ------------------------------------------------------------------ NumPy statistics (no JAX)

def mean_and_se(samples, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and its standard error std(ddof=1) / sqrt(n) along ``axis``."""
    s = np.asarray(samples, np.float64)
    n = s.shape[axis]
    return s.mean(axis=axis), s.std(axis=axis, ddof=1) / np.sqrt(n)


def slq_moments(nodes, weights, powers: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    """Per-probe quadrature moments sum_i weights_i nodes_i^k, shape (probes, len(powers)):
    each an unbiased estimate of (1/d) tr H^k while k <= 2m - 1 (m = nodes.shape[-1])."""
    x, w = np.asarray(nodes, np.float64), np.asarray(weights, np.float64)
    m = x.shape[-1]
    if max(powers) > 2 * m - 1:
        raise ValueError(f"m={m} Lanczos steps integrate degree <= {2 * m - 1} exactly; "
                         f"powers {tuple(powers)} ask for more")
    return np.stack([(w * x ** k).sum(axis=-1) for k in powers], axis=-1)


def spectral_moments(eigenvalues, powers: Sequence[int] = (1, 2, 3, 4)) -> np.ndarray:
    """(1/d) sum_j lambda_j^k for each k in ``powers``: the exact moments of the spectrum."""
    lam = np.asarray(eigenvalues, np.float64)
    return np.array([np.mean(lam ** k) for k in powers])


def slq_cdf_bracket(nodes, weights, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """Per probe and threshold t, (lower, upper) with lower <= mu_v((-inf, t]) <= upper by the
    Chebyshev-Markov-Stieltjes inequalities: with k the last node <= t, lower = sum_{i<k} tau_i
    and upper = sum_{i<=k+1} tau_i. Shapes (probes, len(thresholds)).

    Averaged over probes (with :func:`mean_and_se`) they bracket the spectral CDF
    #{lambda_j <= t} / d up to sampling error."""
    x, w = np.asarray(nodes, np.float64), np.asarray(weights, np.float64)
    t = np.asarray(thresholds, np.float64)
    order = np.argsort(x, axis=-1)
    x, w = np.take_along_axis(x, order, -1), np.take_along_axis(w, order, -1)
    cum = np.concatenate([np.zeros(w.shape[:-1] + (1,)), np.cumsum(w, axis=-1)], axis=-1)
    k = (x[..., None, :] <= t[:, None]).sum(axis=-1)  # (probes, T): nodes <= t
    m = x.shape[-1]
    lower = np.take_along_axis(cum, np.maximum(k - 1, 0), -1)
    upper = np.take_along_axis(cum, np.minimum(k + 1, m), -1)
    return lower, upper


def spectral_cdf(eigenvalues, thresholds) -> np.ndarray:
    """#{lambda_j <= t} / d for each threshold t."""
    lam = np.asarray(eigenvalues, np.float64)
    return (lam[None, :] <= np.asarray(thresholds, np.float64)[:, None]).mean(axis=-1)


def slq_density(nodes, weights, grid, sigma: float) -> np.ndarray:
    """The probe-averaged quadrature measures smoothed by a Gaussian of width sigma, on
    ``grid`` (G,): (1/P) sum_p sum_i tau_pi N(t; theta_pi, sigma^2). Integrates to ~1."""
    x, w = np.asarray(nodes, np.float64), np.asarray(weights, np.float64)
    num_probes = x.reshape(-1, x.shape[-1]).shape[0]
    return _gaussian_mixture(x.reshape(-1), w.reshape(-1) / num_probes, grid, sigma)


def dense_density(eigenvalues, grid, sigma: float) -> np.ndarray:
    """(1/d) sum_j N(t; lambda_j, sigma^2) on ``grid``: the dense spectrum smoothed alike."""
    lam = np.asarray(eigenvalues, np.float64)
    return _gaussian_mixture(lam, np.full(lam.shape, 1.0 / lam.size), grid, sigma)


def _gaussian_mixture(centres, weights, grid, sigma):
    g = np.asarray(grid, np.float64)[:, None]
    z = (g - centres[None, :]) / sigma
    return (weights[None, :] * np.exp(-0.5 * z * z)).sum(axis=1) / (sigma * np.sqrt(2 * np.pi))
