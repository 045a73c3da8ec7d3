"""The ``pca`` experiment and its kernels, against scikit-learn and NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass, assert_mutations_catch
from sklearn.decomposition import PCA

from mathml_jax.linalg import (
    fix_signs,
    pca,
    pca_reconstruct,
    pca_reconstruct_ranks,
    pca_transform,
    sampled_pca_spectra,
)
from mathml_jax.linalg.datasets import DIGITS_SHAPE, digits


def test_digits_shape():
    X, y = digits()
    assert X.shape == DIGITS_SHAPE and set(np.unique(y)) == set(range(10))


def test_pca_matches_scikit_learn_in_float64():
    with jax.enable_x64(True):
        X = np.random.default_rng(0).normal(size=(200, 6)) @ np.diag([5, 3, 2, 1, 0.5, 0.1])
        r = pca(jnp.asarray(X), num_components=4)
        sk = PCA(n_components=4, svd_solver="full").fit(X)
        # directions compared after fixing signs, never raw
        np.testing.assert_allclose(np.asarray(r.components),
                                   np.asarray(fix_signs(jnp.asarray(sk.components_))), atol=1e-10)
        np.testing.assert_allclose(np.asarray(r.explained_variance), sk.explained_variance_,
                                   rtol=1e-12)
        np.testing.assert_allclose(np.asarray(r.explained_variance_ratio),
                                   sk.explained_variance_ratio_, rtol=1e-12)
        # explained variances are the eigenvalues of the sample covariance (NumPy)
        np.testing.assert_allclose(np.asarray(r.explained_variance),
                                   np.linalg.eigvalsh(np.cov(X.T))[::-1][:4], rtol=1e-10)
        z = pca_transform(jnp.asarray(X), r)
        np.testing.assert_allclose(np.abs(np.asarray(z)), np.abs(sk.transform(X)), atol=1e-10)
        np.testing.assert_allclose(np.asarray(r.components @ r.components.T), np.eye(4),
                                   atol=1e-13)


def test_full_rank_reconstruction_is_exact():
    with jax.enable_x64(True):
        X = jnp.asarray(np.random.default_rng(1).normal(size=(30, 5)))
        r = pca(X, num_components=5)
        np.testing.assert_allclose(np.asarray(pca_reconstruct(pca_transform(X, r), r)),
                                   np.asarray(X), atol=1e-13)


def test_fix_signs_makes_largest_entry_positive():
    c = fix_signs(jnp.asarray([[0.1, -0.9], [0.8, 0.2]]))
    np.testing.assert_allclose(np.asarray(c), [[-0.1, 0.9], [0.8, 0.2]])


def test_sampled_spectra_are_unbiased_for_the_covariance_trace():
    """Sum of explained variances = trace of the sample covariance, whose mean is tr(Sigma)."""
    with jax.enable_x64(True):
        cov_sqrt = jnp.diag(jnp.asarray([2.0, 1.0, 0.5]))
        var, comps = sampled_pca_spectra(jax.random.split(jax.random.key(0), 400), cov_sqrt,
                                         num_samples=50)
        tr = np.asarray(var).sum(axis=1)
        se = tr.std(ddof=1) / np.sqrt(tr.size)
        assert abs(tr.mean() - 5.25) < 4 * se
        assert comps.shape == (400, 3, 3)


def _scale(group: str, key: str, factor: float, rows=slice(None)):
    def mutate(r):
        getattr(r, group)[key][rows] = getattr(r, group)[key][rows] * factor
    return mutate


def _bias_mean(r):
    s = r.synthetic
    s["mean_error"][-1] += 6 * s["mean_se"][-1]


def _constant_errors(key: str):
    def mutate(r):
        r.synthetic[key][:] = r.synthetic[key][:1]
    return mutate


def _turn_component_3(r):
    c = r.digits["components"]
    c[2] = np.cos(1e-3) * c[2] + np.sin(1e-3) * c[3]


# perturbations of the computed results, and the claims each must fail
PCA_MUTATIONS = {
    "sample means 6 SE high": (_bias_mean, {"eigenvalues_unbiased"}),
    "eigenvalue RMS error x2": (_scale("synthetic", "eigenvalue_rel_rms", 2.0, -1),
                                {"eigenvalue_rms_anderson"}),
    "direction RMS error x2": (_scale("synthetic", "direction_sin_rms", 2.0, -1),
                               {"direction_rms_anderson"}),
    "eigenvalue errors do not shrink": (_constant_errors("eigenvalue_rel_rms"),
                                        {"eigenvalue_error_slope"}),
    "direction errors do not shrink": (_constant_errors("direction_sin_rms"),
                                       {"direction_error_slope"}),
    "component 3 turned by 1e-3": (_turn_component_3, {"components_match_sklearn"}),
    "variance ratios 0.1% high": (_scale("digits", "explained_variance_ratio", 1.001),
                                  {"variance_ratios_match_sklearn"}),
    "projection 0.1% stretched": (_scale("digits", "projection", 1.001),
                                  {"projection_matches_sklearn"}),
    "reconstruction errors 0.1% high": (_scale("digits", "reconstruction_mse", 1.001),
                                        {"reconstruction_error_matches_sklearn"}),
}


def test_pca_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("pca", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("sampling_error", "projection_2d", "explained_variance", "reconstructions"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert {c.id for c in report.claims} == {
        "eigenvalues_unbiased", "eigenvalue_rms_anderson", "direction_rms_anderson",
        "eigenvalue_error_slope", "direction_error_slope", "components_match_sklearn",
        "variance_ratios_match_sklearn", "projection_matches_sklearn",
        "reconstruction_error_matches_sklearn"}
    # the identity reconstruction error = discarded variance stays visible, as a metric
    assert report.metrics["reconstruction_minus_discarded_variance"] < 1e-4
    assert_mutations_catch(report, PCA_MUTATIONS)
    from experiments import pca as pca_experiment
    from mathml_jax import series

    saved = series.load(job / "series.npz", pca_experiment.Results)
    np.testing.assert_array_equal(saved.digits["projection"], report.results.digits["projection"])
    assert saved.synthetic["eigenvalue_rel_rms"].shape == (3, 5)


def test_pca_experiment_other_seed_float64(run_experiment):
    status, report, _ = run_experiment("pca", "seed=7", "precision=float64",
                                    figures=False)
    assert status == 0
    assert_all_claims_pass(report)


def test_reconstruct_ranks_equals_truncated_pca_and_compiles_once():
    with jax.enable_x64(True):
        X = jnp.asarray(np.random.default_rng(2).normal(size=(40, 6)))
        full = pca(X, num_components=6)
        recs = pca_reconstruct_ranks(X, full, jnp.asarray([1, 3]))
        before = pca_reconstruct_ranks._cache_size()
        pca_reconstruct_ranks(X, full, jnp.asarray([2, 5]))
        assert pca_reconstruct_ranks._cache_size() == before
        for i, k in enumerate((1, 3)):
            sk = PCA(n_components=k, svd_solver="full").fit(np.asarray(X))
            ref = sk.inverse_transform(sk.transform(np.asarray(X)))
            np.testing.assert_allclose(np.asarray(recs[i]), ref, atol=1e-12)
