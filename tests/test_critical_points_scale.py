"""Closed-form 2 x 2 kernels and chunked classification of many points.

1. ``small.eigvalsh_2x2`` and ``small.solve_2x2`` agree with NumPy in float64 and with the
   LAPACK path (``lapack.eigvalsh``, ``lapack.solve``) on random symmetric matrices and on hard
   ones (nearly singular, a = c with b tiny, huge and tiny scales), within a few eps ||H||
   (eigenvalues) or a few eps cond(A) ||x|| (solve), eps that of the dtype computed in.
2. A singular matrix gives a non-finite Newton step, as LAPACK's solve does.
3. ``classify_points`` in chunks equals ``classify_points`` in one batch, on a batch that is not
   a multiple of the chunk, for d = 2 (closed forms) and d = 3 (LAPACK); its eigenvalues agree
   with NumPy's on closed-form Himmelblau Hessians; its compiled working memory does not grow
   with the number of points.
"""

from __future__ import annotations

import decimal

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathml_jax.linalg import lapack, small
from mathml_jax.optimization.critical_points import (
    DEGENERATE,
    MAXIMUM,
    MINIMUM,
    SADDLE,
    classify_points,
    newton_from_starts,
)
from mathml_jax.optimization.test_functions import himmelblau, quadratic_plus_cosines

DTYPES = [jnp.float32, jnp.float64]


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


def _symmetric_cases(rng: np.random.Generator, dtype) -> np.ndarray:
    """(m, 2, 2) symmetric matrices: random, nearly singular, a = c with b tiny, scaled."""
    big = 1e25 if dtype == jnp.float32 else 1e200  # entries squared overflow unscaled
    tiny = 1e-18 if dtype == jnp.float32 else 1e-150
    eps = float(jnp.finfo(dtype).eps)

    def sym(a, b, c):
        return np.stack([np.stack([a, b], -1), np.stack([b, c], -1)], -2)

    g = rng.normal(size=(3, 400))
    random = sym(*g)
    # rank one plus a relative perturbation of 1e-2 .. 1e-9: det nearly cancels
    u = rng.normal(size=(2, 400))
    delta = 10.0 ** rng.uniform(-9, -2, 400)
    near = sym(u[0] ** 2, u[0] * u[1], u[1] ** 2 + delta * (u[0] ** 2 + u[1] ** 2))
    # a = c, b tiny: eigenvalues a -+ |b|, close together
    a = rng.normal(size=200)
    equal = sym(a, a * eps * rng.uniform(-4, 4, 200), a)
    scaled = np.concatenate([random[:100] * big, random[100:200] * tiny,
                             near[:100] * big, near[100:200] * tiny])
    special = np.array([np.zeros((2, 2)), np.eye(2), -np.eye(2), [[0.0, 1.0], [1.0, 0.0]],
                        [[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, -3.0]],
                        [[1.0, 2.0], [2.0, 4.0]], [[-5.0, 0.0], [0.0, 5.0]]])
    cases = np.concatenate([random, near, equal, scaled, special])
    return cases.astype(np.dtype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_closed_form_eigenvalues_match_numpy_and_lapack(dtype):
    h = _symmetric_cases(np.random.default_rng(0), dtype)
    eps = float(jnp.finfo(dtype).eps)
    ours = np.asarray(jax.jit(jax.vmap(small.eigvalsh_2x2))(jnp.asarray(h)), np.float64)
    ref = np.linalg.eigvalsh(h.astype(np.float64))  # of the same (rounded) matrices
    via_lapack = np.asarray(jax.jit(jax.vmap(lapack.eigvalsh))(jnp.asarray(h)), np.float64)
    norm = np.max(np.abs(ref), axis=1, keepdims=True)  # ||H||_2
    # backward stable: each eigenvalue within a few eps ||H|| (Weyl), LAPACK's bound too
    bound = 4 * eps * norm
    assert np.all(np.isfinite(ours))
    assert np.all(np.abs(ours - ref) <= bound), np.max(np.abs(ours - ref) / (eps * norm))
    assert np.all(np.abs(via_lapack - ref) <= bound)
    assert np.all(np.abs(ours - via_lapack) <= 2 * bound)
    assert np.all(ours[:, 0] <= ours[:, 1])  # ascending, as eigvalsh


def test_closed_form_small_eigenvalue_keeps_relative_accuracy_where_det_does_not_cancel():
    # [[1, t], [t, t]], t = 10^-k: det = t - t^2 has no cancellation; lambda_min ~ t (1 - t)
    t = 10.0 ** -np.arange(4, 13)
    h = np.stack([np.stack([np.ones_like(t), t], -1), np.stack([t, t], -1)], -2)
    lam = np.asarray(jax.vmap(small.eigvalsh_2x2)(jnp.asarray(h)))[:, 0]
    decimal.getcontext().prec = 60
    exact = []
    for a, b, c in zip(h[:, 0, 0], h[:, 0, 1], h[:, 1, 1], strict=True):
        a, b, c = (decimal.Decimal(float(v)) for v in (a, b, c))  # the binary values, exactly
        exact.append(float((a + c) / 2 - (((a - c) / 2) ** 2 + b * b).sqrt()))
    exact = np.array(exact)
    eps = float(jnp.finfo(jnp.float64).eps)
    np.testing.assert_allclose(lam, exact, rtol=8 * eps, atol=0)
    # the textbook m - r loses it (so this test can tell the two formulas apart)
    m, r = (h[:, 0, 0] + h[:, 1, 1]) / 2, np.hypot((h[:, 0, 0] - h[:, 1, 1]) / 2, h[:, 0, 1])
    assert np.max(np.abs((m - r) - exact) / exact) > 1e3 * eps


def _random_systems(rng, dtype):
    g = rng.normal(size=(600, 2, 2))
    # nearly singular: second row = first row times t plus a small multiple of a random row
    t = rng.normal(size=(200, 1))
    delta = 10.0 ** rng.uniform(-7 if dtype == jnp.float32 else -12, -2, (200, 1))
    near = g[:200].copy()
    near[:, 1] = near[:, 0] * t + delta * rng.normal(size=(200, 2))
    scale = np.concatenate([np.full(100, 1e25 if dtype == jnp.float32 else 1e200),
                            np.full(100, 1e-18 if dtype == jnp.float32 else 1e-150)])
    scaled = g[200:400] * scale[:, None, None]
    a = np.concatenate([g, near, scaled]).astype(np.dtype(dtype))
    b = rng.normal(size=(len(a), 2)).astype(np.dtype(dtype))
    b[800:] *= scale[:, None].astype(np.dtype(dtype))  # b on the matrix's scale
    return a, b


@pytest.mark.parametrize("dtype", DTYPES)
def test_cramer_solve_matches_numpy_and_lapack(dtype):
    a, b = _random_systems(np.random.default_rng(1), dtype)
    eps = float(jnp.finfo(dtype).eps)
    ours = np.asarray(jax.jit(jax.vmap(small.solve_2x2))(jnp.asarray(a), jnp.asarray(b)),
                      np.float64)
    via_lapack = np.asarray(jax.jit(jax.vmap(lapack.solve))(jnp.asarray(a), jnp.asarray(b)),
                            np.float64)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref = np.linalg.solve(a64, b64[..., None])[..., 0]
    cond = np.linalg.cond(a64)
    keep = cond < 0.1 / eps  # beyond that neither method has a correct digit
    assert keep.sum() > 0.9 * len(a)
    xnorm = np.linalg.norm(ref, axis=1)
    # forward error of a backward-stable 2 x 2 solve: a small multiple of eps cond(A) ||x||
    bound = 8 * eps * cond * xnorm
    err = np.linalg.norm(ours - ref, axis=1)
    assert np.all(err[keep] <= bound[keep]), np.max(err[keep] / bound[keep])
    err_lapack = np.linalg.norm(via_lapack - ref, axis=1)
    assert np.all(err_lapack[keep] <= bound[keep])
    # several right-hand sides (2, k): each column within the same bound
    bm = np.stack([b[:50], -2 * b[:50]], axis=-1)
    ours_m = np.asarray(jax.vmap(small.solve_2x2)(jnp.asarray(a[:50]), jnp.asarray(bm)),
                        np.float64)
    for col, factor in enumerate((1, -2)):
        err = np.linalg.norm(ours_m[..., col] - factor * ref[:50], axis=1)
        assert np.all(err <= abs(factor) * bound[:50])


@pytest.mark.parametrize("dtype", DTYPES)
def test_singular_matrices_give_a_non_finite_step_as_lapack_does(dtype):
    singular = np.array([[[0.0, 0.0], [0.0, 2.0]], [[1.0, 2.0], [2.0, 4.0]],
                         [[0.0, 0.0], [0.0, 0.0]], [[3.0, 6.0], [1.0, 2.0]]], np.dtype(dtype))
    b = np.array([[0.0, 2.0], [1.0, 1.0], [1.0, 0.0], [1.0, -1.0]], np.dtype(dtype))
    ours = np.asarray(jax.vmap(small.solve_2x2)(jnp.asarray(singular), jnp.asarray(b)))
    theirs = np.asarray(jax.vmap(lapack.solve)(jnp.asarray(singular), jnp.asarray(b)))
    assert not np.isfinite(ours).all(axis=1).any()
    assert not np.isfinite(theirs).all(axis=1).any()


def test_newton_step_by_cramer_matches_lapack_solve_on_himmelblau():
    # one Newton step from many starts: the closed form against an explicit LAPACK step
    starts = jnp.asarray(np.random.default_rng(2).uniform(-5, 5, (500, 2)))
    res = newton_from_starts(starts, None, 1e6, 0.0, f=himmelblau, steps=1)

    def lapack_step(x):
        g, H = jax.grad(himmelblau)(x), jax.hessian(himmelblau)(x)
        return x - lapack.solve(H, g), jnp.linalg.cond(H)

    ref, cond = jax.vmap(lapack_step)(starts)
    eps = float(jnp.finfo(jnp.float64).eps)
    step = np.linalg.norm(np.asarray(ref - starts), axis=1)
    err = np.linalg.norm(np.asarray(res.x - ref), axis=1)
    bound = 8 * eps * np.asarray(cond) * step + 4 * eps * np.linalg.norm(starts, axis=1)
    assert np.all(err <= bound), np.max(err / bound)


def _himmelblau_hessian(p):
    """Closed-form Hessian of (x^2 + y - 11)^2 + (x + y^2 - 7)^2 (no autodiff)."""
    x, y = p[:, 0], p[:, 1]
    fxx = 12 * x**2 + 4 * y - 42
    fxy = 4 * (x + y)
    fyy = 12 * y**2 + 4 * x - 26
    return np.stack([np.stack([fxx, fxy], -1), np.stack([fxy, fyy], -1)], -2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_chunked_classification_equals_one_batch_and_numpy(dtype):
    n, chunk = 1000, 96  # 10 full chunks and an overlapping last one
    pts = jnp.asarray(np.random.default_rng(3).uniform(-5, 5, (n, 2)), dtype)
    tol = jnp.asarray(1e-3, dtype)
    c1, l1, h1 = classify_points(pts, None, tol, f=himmelblau, chunk_size=chunk)
    c2, l2, h2 = classify_points(pts, None, tol, f=himmelblau, chunk_size=n)
    np.testing.assert_array_equal(np.asarray(c1), np.asarray(c2))
    eps = float(jnp.finfo(dtype).eps)
    H_ref = _himmelblau_hessian(np.asarray(pts, np.float64))
    lam_ref = np.linalg.eigvalsh(H_ref)
    norm = np.max(np.abs(lam_ref), axis=1, keepdims=True)
    # the same program per point: equal up to a rounding or two, whatever the chunking
    assert np.all(np.abs(np.asarray(l1, np.float64) - np.asarray(l2, np.float64)) <= 2 * eps * norm)
    np.testing.assert_array_equal(np.asarray(h1), np.asarray(h2))
    # Hessian entries are sums of a few terms of size <= 12 x^2: a few eps of that
    h_scale = 12 * 25 + 4 * 5 + 42
    assert np.max(np.abs(np.asarray(h1, np.float64) - H_ref)) <= 8 * eps * h_scale
    assert np.all(np.abs(np.asarray(l1, np.float64) - lam_ref) <= 16 * eps * h_scale)
    # codes from NumPy's eigenvalues, away from the tolerance
    clear = np.all(np.abs(np.abs(lam_ref) - 1e-3) > 16 * eps * h_scale, axis=1)
    pos, neg = (lam_ref > 1e-3).any(1), (lam_ref < -1e-3).any(1)
    zero = (np.abs(lam_ref) <= 1e-3).any(1)
    code_ref = np.where(pos & neg, SADDLE, np.where(zero, DEGENERATE,
                                                    np.where(pos, MINIMUM, MAXIMUM)))
    np.testing.assert_array_equal(np.asarray(c1)[clear], code_ref[clear])
    assert set(np.unique(code_ref)) >= {MINIMUM, SADDLE}
    # closed form against the LAPACK path on the same Hessians
    via_lapack = np.asarray(jax.jit(jax.vmap(lapack.eigvalsh))(h1), np.float64)
    assert np.all(np.abs(np.asarray(l1, np.float64) - via_lapack) <= 8 * eps * norm)


def test_chunked_classification_in_three_variables_uses_lapack_and_equals_one_batch():
    rng = np.random.default_rng(4)
    m = rng.normal(size=(3, 3))
    A = jnp.asarray((m + m.T) / 2)
    pts = jnp.asarray(rng.uniform(-2, 2, (250, 3)))
    c1, l1, h1 = classify_points(pts, A, 1e-6, f=quadratic_plus_cosines, chunk_size=64)
    c2, l2, h2 = classify_points(pts, A, 1e-6, f=quadratic_plus_cosines, chunk_size=250)
    np.testing.assert_array_equal(np.asarray(c1), np.asarray(c2))
    np.testing.assert_array_equal(np.asarray(h1), np.asarray(h2))
    eps = float(jnp.finfo(jnp.float64).eps)
    ref = np.linalg.eigvalsh(np.asarray(h1))
    norm = np.max(np.abs(ref), axis=1, keepdims=True)
    assert np.all(np.abs(np.asarray(l1) - ref) <= 16 * eps * norm)
    assert np.all(np.abs(np.asarray(l2) - ref) <= 16 * eps * norm)


def test_chunked_classification_working_memory_does_not_grow_with_n():
    def temp_bytes(n, chunk):
        pts = jax.ShapeDtypeStruct((n, 2), jnp.float32)
        compiled = classify_points.lower(pts, None, jnp.float32(1e-3), f=himmelblau,
                                         chunk_size=chunk).compile()
        stats = compiled.memory_analysis()
        if stats is None:
            pytest.skip("no memory analysis on this backend")
        return stats.temp_size_in_bytes

    chunk = 4096
    small_n, large_n = temp_bytes(10 * chunk + 7, chunk), temp_bytes(100 * chunk + 7, chunk)
    # ten times the points: outputs are arguments/results, not temporaries; the working set
    # is one chunk's (a few arrays of chunk x 4 entries)
    assert large_n <= small_n + 64 * 1024, (small_n, large_n)
