"""The ``eigen`` experiment and the linear-algebra kernels it uses, against NumPy/closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_all_claims_pass, assert_mutations_catch

import experiments.eigen as eigen_experiment
from mathml_jax import series
from mathml_jax.linalg import (
    circle_image,
    diagonalisation_error,
    eigenpair_residuals,
    matrix_with_singular_values,
    power_by_eigen,
    power_by_products,
    power_iteration,
    power_iteration_batch,
    random_orthogonal,
    sin_angle,
    symmetric_with_spectrum,
)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_random_orthogonal_and_prescribed_spectra(dtype):
    with jax.enable_x64(dtype == jnp.float64):
        eps = float(jnp.finfo(dtype).eps)
        q = np.asarray(random_orthogonal(jax.random.key(0), n=7, dtype=dtype), np.float64)
        np.testing.assert_allclose(q.T @ q, np.eye(7), atol=50 * eps)
        lam = jnp.asarray([3.0, -1.0, 0.5, 0.25], dtype)
        s, _ = symmetric_with_spectrum(jax.random.key(1), lam)
        np.testing.assert_allclose(np.linalg.eigvalsh(np.asarray(s, np.float64)),
                                   np.sort(np.asarray(lam)), atol=100 * eps)
        sv = jnp.asarray([5.0, 2.0, 1.0], dtype)
        a = matrix_with_singular_values(jax.random.key(2), sv, rows=6)
        np.testing.assert_allclose(np.linalg.svd(np.asarray(a, np.float64), compute_uv=False),
                                   np.asarray(sv), atol=100 * eps * 5)


def test_eigh_and_eig_residuals_and_diagonalisation_against_numpy():
    with jax.enable_x64(True):
        a = np.random.default_rng(0).normal(size=(8, 8))
        lam, v = np.linalg.eig(a)  # NumPy's pairs: the residual kernel must call them exact
        res = np.asarray(eigenpair_residuals(jnp.asarray(a), jnp.asarray(lam), jnp.asarray(v)))
        assert res.max() < 1e-12
        # a wrong eigenvalue gives a residual of exactly |delta| for a unit eigenvector
        bad = np.asarray(eigenpair_residuals(jnp.asarray(a), jnp.asarray(lam + 0.5),
                                             jnp.asarray(v)))
        np.testing.assert_allclose(bad, 0.5, rtol=1e-10)
        assert float(diagonalisation_error(jnp.asarray(a, jnp.complex128), jnp.asarray(lam),
                                           jnp.asarray(v))) < 1e-12
        a_s = a / np.abs(lam).max()
        lam_s = lam / np.abs(lam).max()
        ref = np.linalg.matrix_power(a_s, 9)
        np.testing.assert_allclose(np.asarray(power_by_eigen(jnp.asarray(lam_s), jnp.asarray(v),
                                                             k=9)), ref, atol=1e-11)
        np.testing.assert_allclose(np.asarray(power_by_products(jnp.asarray(a_s), k=9)), ref,
                                   atol=1e-12)


def test_power_iteration_finds_the_top_eigenvector_up_to_sign():
    with jax.enable_x64(True):
        s, q = symmetric_with_spectrum(jax.random.key(3), jnp.asarray([2.0, 1.0, 0.5, 0.1]))
        final, vecs, rq = power_iteration(s, jnp.ones(4), num_steps=80)
        lam, v = np.linalg.eigh(np.asarray(s))
        top = v[:, -1] * np.sign(v[:, -1] @ np.asarray(final.vector))  # fix the sign
        np.testing.assert_allclose(np.asarray(final.vector), top, atol=1e-12)
        np.testing.assert_allclose(float(final.eigenvalue), lam[-1], rtol=1e-14)
        assert vecs.shape == (81, 4) and rq.shape == (81,)
        # error at step k is tan angle_0 * (1/2)^k to leading order: ratio of successive errors
        e = np.asarray(sin_angle(vecs, jnp.asarray(top)))
        np.testing.assert_allclose(e[21:31] / e[20:30], 0.5, rtol=1e-3)


def test_power_iteration_batch_equals_single_runs_and_does_not_recompile():
    mats, _ = jax.vmap(symmetric_with_spectrum)(jax.random.split(jax.random.key(0), 3),
                                                jnp.asarray([[1.0, 0.5, 0.1]] * 3))
    v0 = jnp.ones((3, 3))
    _, vecs, _ = power_iteration_batch(mats, v0, num_steps=10)
    before = power_iteration_batch._cache_size()
    power_iteration_batch(mats * 2.0, v0, num_steps=10)
    assert power_iteration_batch._cache_size() == before
    for i in range(3):
        _, vi, _ = power_iteration(mats[i], v0[i], num_steps=10)
        np.testing.assert_allclose(np.asarray(vecs[i]), np.asarray(vi), atol=1e-6)


def test_circle_image_closed_form():
    t = jnp.asarray([0.0, np.pi / 2])
    a = jnp.asarray([[2.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(np.asarray(circle_image(a, t)), [[2, 0], [1, 3]], atol=1e-6)


def test_eigen_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("eigen", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("circle_to_ellipse", "power_iteration"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    ids = [c.id for c in report.claims]
    assert {"eigh_residual", "eig_matches_numpy", "ellipse_longest_axis",
            "power_iteration_rate", "power_iteration_theory", "power_by_products"} <= set(ids)
    saved = series.load(job / "series.npz", eigen_experiment.Results)
    np.testing.assert_array_equal(saved.power["sin_angle"], report.results.power["sin_angle"])
    assert saved.general["eigenvalues"].dtype == np.complex128
    _assert_mutations(report)


def _scale(section, key, f):
    def mutate(r):
        d = getattr(r, section)
        d[key] = f(np.array(d[key]))
    return mutate


def _assert_mutations(report):
    steps = report.results.power["steps"]

    def not_orthonormal(v):
        v[:, 0] *= 1.01
        return v

    def faster_rate(s):  # every ratio's error contracts 1% faster
        return s * 0.99 ** steps[None, :]

    def rayleigh_off(q):
        q[:, -1] += 1e-4
        return q
    assert_mutations_catch(report, {
        "eigh eigenvalues shifted 1e-4": (_scale("symmetric", "eigenvalues", lambda x: x + 1e-4),
                                          {"eigh_matches_numpy"}),
        "eigh residuals 1000x": (_scale("symmetric", "residuals", lambda x: x * 1e3),
                                 {"eigh_residual"}),
        "an eigenvector 1% too long": (_scale("symmetric", "eigenvectors", not_orthonormal),
                                       {"eigh_orthonormal"}),
        "eig residuals 1000x": (_scale("general", "residuals", lambda x: x * 1e3),
                                {"eig_residual"}),
        "eig eigenvalues shifted 1e-3": (_scale("general", "eigenvalues", lambda x: x + 1e-3),
                                         {"eig_matches_numpy"}),
        "ellipse 1% larger": (_scale("circle", "image", lambda x: x * 1.01),
                              {"ellipse_longest_axis", "ellipse_shortest_axis"}),
        "eigenvectors of the 2x2 swapped": (_scale("circle", "eigenvectors",
                                                   lambda v: v[:, ::-1].copy()),
                                            {"ellipse_axis_is_eigenvector"}),
        "power iteration 1% faster than theory": (_scale("power", "sin_angle", faster_rate),
                                                  {"power_iteration_rate",
                                                   "power_iteration_theory"}),
        "power iteration error + 1e-4": (_scale("power", "sin_angle", lambda x: x + 1e-4),
                                         {"power_iteration_theory"}),
        "Rayleigh quotient 1e-4 off": (_scale("power", "rayleigh", rayleigh_off),
                                       {"rayleigh_quotient"}),
        "diagonalisation error 1e-2": (_scale("diagonal", "error", lambda x: x + 1e-2),
                                       {"diagonalisation"}),
        "A^k by eigenvalues 0.1% off": (_scale("diagonal", "by_eigen", lambda x: x * 1.001),
                                        {"power_by_eigen"}),
        "A^k by products 0.1% off": (_scale("diagonal", "by_products", lambda x: x * 1.001),
                                     {"power_by_products"}),
    })


def test_eigen_runs_in_float64_with_another_seed(run_experiment):
    status, report, _ = run_experiment("eigen", "precision=float64", "seed=3",
                                    figures=False)
    assert status == 0
    assert_all_claims_pass(report)
