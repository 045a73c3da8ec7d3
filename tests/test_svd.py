"""The ``svd`` experiment and its kernels, against NumPy and closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass

from mathml_jax.linalg import (
    eckart_young_errors,
    matrix_with_singular_values,
    randomized_svd,
    rank_k_approximation,
    thin_svd,
    truncation_residual_norms,
)
from mathml_jax.linalg.datasets import sample_photograph


def test_sample_photograph_loads_offline():
    img = sample_photograph(4)
    assert img.shape == (150, 128) and 0.0 <= img.min() and img.max() <= 1.0
    assert img.std() > 0.1  # a picture, not a constant


def test_eckart_young_values_closed_form():
    s = jnp.asarray([3.0, 2.0, 1.0])
    frob, spec = eckart_young_errors(s)
    np.testing.assert_allclose(np.asarray(frob), [np.sqrt(14), np.sqrt(5), 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(spec), [3, 2, 1, 0])


def test_truncation_residuals_match_numpy_brute_force():
    with jax.enable_x64(True):
        a = np.random.default_rng(0).normal(size=(9, 6))
        u, s, vt = thin_svd(jnp.asarray(a))
        # SVD as an invariant: reconstruction and orthonormality (not raw vectors)
        np.testing.assert_allclose(np.asarray((u * s) @ vt), a, atol=1e-13)
        np.testing.assert_allclose(np.asarray(u.T @ u), np.eye(6), atol=1e-13)
        got = np.asarray(truncation_residual_norms(jnp.asarray(a), u, s, vt))
        u_n, s_n, vt_n = np.linalg.svd(a, full_matrices=False)
        ref = [np.linalg.norm(a - (u_n[:, :k] * s_n[:k]) @ vt_n[:k]) for k in range(7)]
        np.testing.assert_allclose(got, ref, atol=1e-12)
        a2 = np.asarray(rank_k_approximation(u, s, vt, k=2))
        assert np.linalg.matrix_rank(a2) == 2
        np.testing.assert_allclose(np.linalg.norm(a - a2, 2), s_n[2], rtol=1e-12)


def test_randomized_svd_is_exact_for_an_exactly_low_rank_matrix():
    with jax.enable_x64(True):
        sv = jnp.asarray([5.0, 3.0, 2.0, 1.0] + [0.0] * 16)
        a = matrix_with_singular_values(jax.random.key(0), sv, rows=60)
        u, s, vt = randomized_svd(a, jax.random.key(1), rank=4, oversample=5)
        np.testing.assert_allclose(np.asarray(s), [5, 3, 2, 1], rtol=1e-12)
        np.testing.assert_allclose(np.asarray((u * s) @ vt), np.asarray(a), atol=1e-12)
        np.testing.assert_allclose(np.asarray(u.T @ u), np.eye(4), atol=1e-12)


def test_randomized_svd_with_power_iterations_approaches_the_optimum():
    """Against NumPy's exact SVD of a matrix with slowly decaying spectrum."""
    with jax.enable_x64(True):
        sv = jnp.asarray((np.arange(80) + 1.0) ** -0.5)
        a = matrix_with_singular_values(jax.random.key(2), sv, rows=300)
        a64 = np.asarray(a)
        s_exact = np.linalg.svd(a64, compute_uv=False)
        errs = []
        for q in (0, 4):
            u, s, vt = randomized_svd(a, jax.random.key(3), rank=10, oversample=5, power_iters=q)
            errs.append(np.linalg.norm(a64 - (np.asarray(u) * np.asarray(s)) @ np.asarray(vt),
                                       2) / s_exact[10])
        assert errs[1] < errs[0] and errs[1] < 1.1


def test_svd_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("svd")
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("rotate_scale_rotate", "image_ranks", "singular_values", "eckart_young",
                 "randomized_svd"):
        assert (job / f"{name}.png").stat().st_size > 10_000


def test_svd_experiment_other_seed_and_float64(run_experiment):
    status, report, _ = run_experiment("svd", "seed=5", "precision=float64", "svd.power_iters=1")
    assert status == 0
    assert_all_claims_pass(report)
