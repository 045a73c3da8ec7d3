"""Critical points: Newton's method on grad f = 0, classification by the Hessian, and the
Hessian's extreme eigenvalues from Hessian-vector products only.

- :func:`newton_critical_point`: x <- x - H(x)^{-1} grad f(x) in a ``lax.scan``; it finds
  critical points of every type (Newton does not care whether it climbs or descends). Status
  codes (:class:`mathml_jax.status.Status`): CONVERGED, NOT_CONVERGED, DIVERGED (non-finite
  step or left the search radius).
- :func:`classify_hessian` (codes :class:`mathml_jax.status.Kind`): by the eigenvalues of
  the symmetric Hessian H, all > tol: MINIMUM; all < -tol: MAXIMUM; some > tol and some
  < -tol: SADDLE; otherwise DEGENERATE (an eigenvalue within tol of zero and no sign change:
  the second-order test is inconclusive, as for x^3 or x^4 at 0). :func:`classify_points`
  does it at n points, in fixed-size chunks (memory bounded by the outputs, whatever n).

In two variables (d = 2, a static shape check) the Newton step and the eigenvalues are closed
forms (:mod:`mathml_jax.linalg.small`: Cramer's rule, LAPACK dlaev2's formulas), elementwise
arithmetic that batches to millions of points on any backend; for d > 2 they come from LAPACK
through :mod:`mathml_jax.linalg.lapack`. The batched two-variable kernels
(:func:`newton_from_starts`, :func:`classify_points`) also take the derivatives in closed
elementwise form: g_i = d f(x + t e_i)/dt and H_ij = d^2 f(x + s e_i + t e_j)/ds dt by forward
mode on the columns x_1 (n,), x_2 (n,) of the points, so a step is one elementwise loop over
the batch, with no (n, 2, 2) Hessian formed unless it is returned.
- :func:`determinant_test`: the two-variable test with D = f_xx f_yy - f_xy^2.
- :func:`hvp`: H v = d/dt grad f(x + t v) at t = 0, forward-over-reverse, never forming H.
- :func:`lanczos_extreme_eigenvalues`: the Lanczos iteration on v -> H v (with full
  re-orthogonalisation), whose tridiagonal matrix's extreme eigenvalues approximate H's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from mathml_jax.linalg import lapack, small
from mathml_jax.optimization import descent
from mathml_jax.status import Kind, Status

# the codes of mathml_jax.status (words outside jit: Kind.words(codes), Status.words(codes))
MINIMUM, MAXIMUM, SADDLE, DEGENERATE = Kind.MINIMUM, Kind.MAXIMUM, Kind.SADDLE, Kind.DEGENERATE
CONVERGED, NOT_CONVERGED, DIVERGED = Status.CONVERGED, Status.NOT_CONVERGED, Status.DIVERGED


class NewtonResult(NamedTuple):
    """x (d,), grad_norm (), last_step () (size of the last Newton step), status () int32."""

    x: jax.Array
    grad_norm: jax.Array
    last_step: jax.Array
    status: jax.Array


def newton_critical_point(f: Callable, x0: jax.Array, params, radius, xtol, *, steps: int
                          ) -> NewtonResult:
    """Newton's method for grad f(x) = 0 from one start ``x0`` (d,).

    Args:
      f: f(x, params) -> scalar (static).
      params: f's parameters (traced; None for the fixed test functions).
      radius: iterates with ||x|| > radius count as diverged (traced).
      xtol: converged when the last step is at most xtol (1 + ||x||) (traced).
      steps: Newton steps (static).

    The step solves H(x) dx = grad f(x): by Cramer's rule for d = 2
    (:func:`~mathml_jax.linalg.small.solve_2x2`), by LAPACK's LU for d > 2. Either gives a
    non-finite dx for a singular H. Where the Hessian is singular and the gradient exactly zero
    the iterate is already a critical point and stays; a non-finite step elsewhere freezes the
    iterate as DIVERGED.
    """
    def grad(x):
        return jax.grad(f)(x, params)

    def hess(x):
        return jax.hessian(f)(x, params)

    def step(carry, _):
        x, last, diverged = carry
        g = grad(x)
        H = hess(x)
        dx = small.solve_2x2(H, g) if H.shape == (2, 2) else lapack.solve(H, g)
        finite = jnp.all(jnp.isfinite(dx))
        at_cp = jnp.all(g == 0)
        dx = jnp.where(finite, dx, jnp.zeros_like(dx))
        x_new = x - dx
        out = ~jnp.all(jnp.isfinite(x_new)) | (jnp.linalg.norm(x_new) > radius)
        bad = diverged | out | (~finite & ~at_cp)
        x = jnp.where(bad, x, x_new)
        last = jnp.where(bad, last, jnp.linalg.norm(dx))
        return (x, last, bad), None

    init = (x0, jnp.asarray(jnp.inf, x0.dtype), jnp.asarray(False))
    (x, last, diverged), _ = jax.lax.scan(step, init, None, length=steps)
    conv = last <= xtol * (1.0 + jnp.linalg.norm(x))
    status = jnp.where(diverged, DIVERGED, jnp.where(conv, CONVERGED, NOT_CONVERGED))
    return NewtonResult(x, jnp.linalg.norm(grad(x)), last, status.astype(jnp.int32))


def grad_hessian_columns(f: Callable, cols: list, params) -> tuple[list, list]:
    """Gradient g_i and Hessian H_ij (i <= j; H_ji = H_ij) of f at one point given by its
    coordinates ``cols`` (d scalars), by forward mode: g_i = jvp along e_i,
    H_ij = jvp along e_j of the jvp along e_i (the gradient is
    :func:`~mathml_jax.optimization.descent.forward_gradient`, each partial
    :func:`~mathml_jax.optimization.descent.forward_partial`). Returns (g list, H as a list of
    d lists)."""
    d = len(cols)
    g = descent.forward_gradient(f, cols, params)
    H = [[None] * d for _ in range(d)]
    for i in range(d):
        for j in range(i, d):
            def along(cj, i=i, j=j):
                return descent.forward_partial(f, cols[:j] + [cj] + cols[j + 1:], i, params)
            H[i][j] = H[j][i] = jax.jvp(along, (cols[j],), (jnp.ones_like(cols[j]),))[1]
    return g, H


def _newton_columns(starts, params, radius, xtol, *, f, steps) -> NewtonResult:
    """:func:`newton_from_starts` for d = 2: the state is columns (n,), the step Cramer's rule
    on forward-mode derivatives, elementwise over the batch (the same steps, status rules and
    freezing as :func:`newton_critical_point`)."""
    n = starts.shape[0]
    dtype = starts.dtype
    r2 = descent.squared_radius(radius, dtype)
    derivs = jax.vmap(lambda c: grad_hessian_columns(f, list(c), params))

    def newton_step(cols):
        g, H = derivs(tuple(cols))
        A = jnp.stack([jnp.stack(H[0]), jnp.stack(H[1])])  # (2, 2, n)
        dx = jax.vmap(small.solve_2x2, in_axes=(2, 1), out_axes=1)(A, jnp.stack(g))
        return g, [dx[0], dx[1]]

    def update(state, _):
        cols, last, diverged = state
        g, dx = newton_step(cols)
        finite = jnp.isfinite(dx[0]) & jnp.isfinite(dx[1])
        at_cp = (g[0] == 0) & (g[1] == 0)
        dx = [jnp.where(finite, d, jnp.zeros_like(d)) for d in dx]
        new = [c - d for c, d in zip(cols, dx, strict=True)]
        bad = diverged | descent.out_of_ball(new, r2) | (~finite & ~at_cp)
        step_norm = jnp.hypot(dx[0], dx[1])
        cols = tuple(jnp.where(bad, c, m) for c, m in zip(cols, new, strict=True))
        return cols, jnp.where(bad, last, step_norm), bad

    init = ((starts[:, 0], starts[:, 1]), jnp.full((n,), jnp.inf, dtype),
            jnp.zeros((n,), bool))
    (cols, last, diverged), _ = descent.run_packed(update, init, n, dtype, steps, 0,
                                                   lambda s: ())
    x = jnp.stack(cols, axis=-1)
    g, _ = derivs(cols)
    xnorm = jnp.hypot(cols[0], cols[1])
    conv = last <= xtol * (1.0 + xnorm)
    status = jnp.where(diverged, DIVERGED, jnp.where(conv, CONVERGED, NOT_CONVERGED))
    return NewtonResult(x, jnp.hypot(g[0], g[1]), last, status.astype(jnp.int32))


@partial(jax.jit, static_argnames=("f", "steps"))
def newton_from_starts(starts: jax.Array, params, radius, xtol, *, f: Callable, steps: int
                       ) -> NewtonResult:
    """:func:`newton_critical_point` from every row of ``starts`` (n, d), in one ``vmap``.

    For d = 2 the batch runs as columns with forward-mode derivatives and Cramer's rule (module
    docstring); the results equal the ``vmap`` of :func:`newton_critical_point` up to
    rounding."""
    if starts.ndim == 2 and starts.shape[1] == 2:
        return _newton_columns(starts, params, radius, xtol, f=f, steps=steps)
    return jax.vmap(lambda x0: newton_critical_point(f, x0, params, radius, xtol,
                                                     steps=steps))(starts)


def classify_hessian(H: jax.Array, tol) -> tuple[jax.Array, jax.Array]:
    """(code, eigenvalues) for a symmetric Hessian H (d, d): MINIMUM, MAXIMUM, SADDLE or
    DEGENERATE, decided by the eigenvalues (ascending) of (H + H^T)/2 against ``tol``: the
    closed form :func:`~mathml_jax.linalg.small.eigvalsh_2x2` for d = 2, LAPACK's
    ``eigvalsh`` for d > 2."""
    Hs = 0.5 * (H + H.T)
    lam = small.eigvalsh_2x2(Hs) if H.shape == (2, 2) else lapack.eigvalsh(Hs)
    pos, neg = jnp.any(lam > tol), jnp.any(lam < -tol)
    zero = jnp.any(jnp.abs(lam) <= tol)
    code = jnp.where(pos & neg, SADDLE,
                     jnp.where(zero, DEGENERATE, jnp.where(pos, MINIMUM, MAXIMUM)))
    return code.astype(jnp.int32), lam


def _classify_columns(points, params, tol, f, return_hessians):
    """:func:`classify_points` on a chunk of 2-D points: forward-mode Hessian entries
    a = f_xx, b = f_xy, c = f_yy per point, then the closed-form eigenvalues."""
    def one(p):
        _, H = grad_hessian_columns(f, [p[0], p[1]], params)
        Hm = jnp.stack([jnp.stack(H[0]), jnp.stack(H[1])])
        code, lam = classify_hessian(Hm, tol)
        return code, lam, (Hm if return_hessians else None)

    return jax.vmap(one)(points)


@partial(jax.jit, static_argnames=("f", "chunk_size", "return_hessians"))
def classify_points(points: jax.Array, params, tol, *, f: Callable, chunk_size: int = 2**20,
                    return_hessians: bool = True
                    ) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """:func:`classify_hessian` of ``jax.hessian(f)`` at every row of ``points`` (n, d).

    The points are processed ``chunk_size`` at a time (static) in a loop
    (:func:`~mathml_jax.linalg.lapack.map_in_chunks`, the last chunk overlapping the one
    before), so memory is the inputs and outputs plus one chunk's work: 16 million 2-D points
    fit on a CPU. The result does not depend on ``chunk_size``. The default, 2^20 points (a
    few tens of MB of work in 2-D), is large because each chunk costs a pass of its own: on a
    2-core CPU a million 2-D points take 9 ms in one chunk and 13 ms in chunks of 2^16. For
    d = 2 the Hessian entries come from forward mode on the coordinates (module docstring), the
    eigenvalues from :func:`~mathml_jax.linalg.small.eigvalsh_2x2`.

    Args:
      return_hessians: also return the Hessians (static); False skips writing n d^2 numbers,
        most of the output when only the types are wanted.

    Returns (codes (n,), eigenvalues (n, d), Hessians (n, d, d) or None)."""
    if points.ndim == 2 and points.shape[1] == 2:
        def chunk(p):
            return _classify_columns(p, params, tol, f, return_hessians)
    else:
        def one(x):
            H = jax.hessian(f)(x, params)
            code, lam = classify_hessian(H, tol)
            return code, lam, (H if return_hessians else None)
        chunk = jax.vmap(one)

    return lapack.map_in_chunks(chunk, (points,), chunk_size)


def determinant_test(H: jax.Array, tol) -> jax.Array:
    """The second-derivative test in two variables, D = f_xx f_yy - f_xy^2:
    D > tol and f_xx > 0: MINIMUM; D > tol and f_xx < 0: MAXIMUM; D < -tol: SADDLE;
    |D| <= tol: DEGENERATE (the test does not decide)."""
    if H.shape != (2, 2):
        raise ValueError(f"the determinant test is for two variables, got a Hessian {H.shape}")
    D = H[0, 0] * H[1, 1] - H[0, 1] * H[1, 0]
    code = jnp.where(D > tol, jnp.where(H[0, 0] > 0, MINIMUM, MAXIMUM),
                     jnp.where(D < -tol, SADDLE, DEGENERATE))
    return code.astype(jnp.int32)


@jax.jit
def determinant_test_points(H: jax.Array, tol) -> jax.Array:
    """:func:`determinant_test` for a batch of 2 x 2 Hessians (n, 2, 2)."""
    return jax.vmap(determinant_test, in_axes=(0, None))(H, tol)


@partial(jax.jit, static_argnames=("f",))
def hessian_eigenvalues(x: jax.Array, params, *, f: Callable) -> jax.Array:
    """All eigenvalues of the full ``jax.hessian(f)(x, params)`` (the d x d matrix is formed)."""
    return lapack.eigvalsh(jax.hessian(f)(x, params))


def hvp(f: Callable, x: jax.Array, v: jax.Array, params=None) -> jax.Array:
    """Hessian-vector product H(x) v by forward-over-reverse: jvp of grad f along v."""
    return jax.jvp(lambda y: jax.grad(f)(y, params), (x,), (v,))[1]


class LanczosResult(NamedTuple):
    """extremes (2,): (lambda_min, lambda_max) of T; alphas (m,), betas (m,): T's diagonal
    and off-diagonal (betas[:-1]), from which T_j's eigenvalues after j < m steps follow."""

    extremes: jax.Array
    alphas: jax.Array
    betas: jax.Array


@partial(jax.jit, static_argnames=("f", "num_steps"))
def lanczos_extreme_eigenvalues(x: jax.Array, params, key: jax.Array, *, f: Callable,
                                num_steps: int) -> LanczosResult:
    """Smallest and largest eigenvalue of the Hessian of f at x, from ``num_steps`` Lanczos
    steps on v -> H v (Hessian-vector products only; H is never formed).

    Lanczos builds an orthonormal basis q_1..q_m of the Krylov space of H and the tridiagonal
    T = Q^T H Q (alpha_j on the diagonal, beta_j off it); T's extreme eigenvalues converge to
    H's fastest. Every new vector is re-orthogonalised against all previous ones, which keeps
    the basis orthonormal in floating point.

    Returns:
      LanczosResult: T's extreme eigenvalues and its entries.
    """
    d = x.shape[0]
    if num_steps > d:
        raise ValueError(f"num_steps={num_steps} exceeds the dimension {d}")
    q0 = jax.random.normal(key, (d,), x.dtype)
    q0 = q0 / jnp.linalg.norm(q0)
    Q0 = jnp.zeros((num_steps, d), x.dtype).at[0].set(q0)

    def step(carry, j):
        Q, q_prev, beta_prev = carry
        q = Q[j]
        w = hvp(f, x, q, params)
        alpha = jnp.dot(w, q)
        w = w - alpha * q - beta_prev * q_prev
        mask = (jnp.arange(num_steps) <= j).astype(x.dtype)[:, None]
        for _ in range(2):  # full re-orthogonalisation, twice is enough
            w = w - (Q * mask).T @ ((Q * mask) @ w)
        beta = jnp.linalg.norm(w)
        q_next = jnp.where(beta > 0, w / jnp.where(beta > 0, beta, 1.0), 0.0)
        Q = jnp.where(j + 1 < num_steps, Q.at[jnp.minimum(j + 1, num_steps - 1)].set(q_next), Q)
        return (Q, q, beta), (alpha, beta)

    _, (alphas, betas) = jax.lax.scan(step, (Q0, jnp.zeros(d, x.dtype),
                                             jnp.asarray(0.0, x.dtype)), jnp.arange(num_steps))
    T = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    ritz = lapack.eigvalsh(T)
    return LanczosResult(jnp.stack([ritz[0], ritz[-1]]), alphas, betas)
