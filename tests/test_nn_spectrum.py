"""``mathml_jax.nn.spectrum`` and ``mathml_jax.nn.stability`` against independent references:
closed forms on a quadratic with a known spectrum, the dense float64 Hessian of a tiny network,
the suite's own Lanczos, and a NumPy gradient-descent loop."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathml_jax.nn import data, mlp, spectrum, stability
from mathml_jax.optimization.critical_points import lanczos_extreme_eigenvalues
from mathml_jax.optimization.test_functions import quadratic

EPS64 = float(np.finfo(np.float64).eps)
Z = 4.0  # standard errors allowed for a sampled estimate


def _quad(theta, A):
    """0.5 theta^T A theta: Hessian A everywhere."""
    return 0.5 * theta @ (A @ theta)


def _known_spectrum(d=60, seed=0, bottom=-2.0):
    """A = Q diag(lam) Q^T with an isolated top and bottom eigenvalue."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    lam = np.concatenate([[bottom], np.linspace(bottom + 1.5, 1.5, d - 2), [5.0]])
    return (Q * lam) @ Q.T, lam, Q


def _probes(theta, num, key):
    """The Rademacher probes the kernels draw from ``key``: matfree's ``sampler_signs`` is
    ``jax.random.rademacher(key, (num, d), dtype)`` (matfree/backend/prng.py)."""
    return jax.random.rademacher(key, (num, theta.shape[0]), theta.dtype)


def _ritz_roundoff(d, scale):
    return spectrum.RITZ_ROUNDOFF_K * np.sqrt(d) * EPS64 * scale


def test_unflatten_matches_ravel_and_the_flat_loss():
    sizes = (2, 5, 3, 2)
    params = mlp.init_mlp(jax.random.key(0), sizes)
    params = jax.tree_util.tree_map(lambda a: a + 0.1, params)  # non-zero biases
    theta, unravel = mlp.ravel(params)
    assert theta.size == mlp.num_params(sizes)
    for (A, b), (A2, b2) in zip(unravel(theta), spectrum.unflatten_mlp(theta, sizes),
                                strict=True):
        np.testing.assert_array_equal(np.asarray(A), np.asarray(A2))
        np.testing.assert_array_equal(np.asarray(b), np.asarray(b2))
    f = spectrum.mlp_flat_loss(sizes, "sigmoid")
    assert f is spectrum.mlp_flat_loss(sizes, "sigmoid")  # cached: one compile per network
    with pytest.raises(ValueError, match="need"):
        spectrum.unflatten_mlp(theta[:-1], sizes)


def test_lanczos_quadrature_and_hutchinson_on_a_known_spectrum():
    with jax.enable_x64(True):
        A, lam, Q = _known_spectrum()
        d = lam.size
        theta, Aj = jnp.zeros(d), jnp.asarray(A)
        scale = np.abs(lam).max()
        # Lanczos: every Ritz value within its residual bound (+ round-off) of an eigenvalue
        run = spectrum.lanczos(theta, Aj, jax.random.key(0), f=_quad, num_matvecs=30)
        ritz, bounds = np.asarray(run.ritz), np.asarray(run.bounds)
        dist = np.abs(ritz[:, None] - lam[None, :]).min(axis=1)
        assert np.all(dist <= bounds + _ritz_roundoff(d, scale))
        np.testing.assert_allclose(ritz[[0, -1]], [-2.0, 5.0],
                                   atol=bounds[[0, -1]].max() + _ritz_roundoff(d, scale))
        np.testing.assert_allclose(np.sum(np.asarray(run.weights)), 1.0, atol=1e3 * EPS64)
        suite = lanczos_extreme_eigenvalues(theta, (Aj, theta), jax.random.key(0), f=quadratic,
                                            num_steps=30)
        np.testing.assert_allclose(np.asarray(suite.extremes), ritz[[0, -1]],
                                   atol=bounds[[0, -1]].max() + _ritz_roundoff(d, scale))

        # SLQ: Gauss quadrature with m nodes is exact to degree 2m - 1, so each probe's moments
        # are v^T A^k v / d exactly (the same Rademacher probes, regenerated)
        m, P = 4, 40
        key = jax.random.key(1)
        q = spectrum.slq(theta, Aj, key, f=_quad, num_matvecs=m, num_probes=P)
        V = np.asarray(_probes(theta, P, key))
        powers = (1, 2, 3, 4, 5, 6, 7)
        direct = np.stack([np.einsum("pi,ij,pj->p", V, np.linalg.matrix_power(A, k), V) / d
                           for k in powers], axis=1)
        per_probe = spectrum.slq_moments(q.nodes, q.weights, powers)
        np.testing.assert_allclose(per_probe, direct, rtol=0,
                                   atol=_ritz_roundoff(d, scale) * 7 * scale ** 6)
        mean, se = spectrum.mean_and_se(per_probe)
        exact = spectrum.spectral_moments(lam, powers)
        assert np.all(np.abs(mean - exact) <= Z * se)
        with pytest.raises(ValueError, match="degree"):
            spectrum.slq_moments(q.nodes, q.weights, (8,))

        # the Chebyshev-Markov-Stieltjes bracket holds probe by probe (the exact measure of a
        # probe v puts (u_j^T v)^2 / d on lambda_j) and, averaged, brackets the spectral CDF
        t = np.array([-1.0, 0.0, 0.7, 1.49, 3.0])
        lower, upper = spectrum.slq_cdf_bracket(q.nodes, q.weights, t)
        mu = (V @ Q) ** 2 / d
        cdf_v = (mu[:, None, :] * (lam[None, None, :] <= t[None, :, None])).sum(axis=-1)
        slack = 1e3 * EPS64
        assert np.all(lower <= cdf_v + slack) and np.all(cdf_v <= upper + slack)
        (lm, ls), (um, us) = spectrum.mean_and_se(lower), spectrum.mean_and_se(upper)
        cdf = spectrum.spectral_cdf(lam, t)
        assert np.all(lm - Z * ls <= cdf) and np.all(cdf <= um + Z * us)
        # the smoothed density integrates to 1 (both the quadrature's and the dense one)
        grid = np.linspace(-4, 7, 2001)
        for dens in (spectrum.slq_density(q.nodes, q.weights, grid, 0.1),
                     spectrum.dense_density(lam, grid, 0.1)):
            np.testing.assert_allclose(np.trapezoid(dens, grid), 1.0, atol=1e-6)

        # Hutchinson: samples are v^T A v; their variance is the closed form
        # 2 sum_{i != j} A_ij^2 for Rademacher v; z-scores of batch means have spread ~ 1
        n = 2000
        s = np.asarray(spectrum.hutchinson_trace(theta, Aj, jax.random.key(2), f=_quad,
                                                 num_probes=n))
        V = np.asarray(_probes(theta, n, jax.random.key(2)))
        np.testing.assert_allclose(s, np.einsum("pi,ij,pj->p", V, A, V), rtol=1e-12)
        var = 2 * (np.sum(A ** 2) - np.sum(np.diag(A) ** 2))
        mean, se = spectrum.mean_and_se(s)
        assert abs(mean - lam.sum()) <= Z * np.sqrt(var / n)
        kurt = np.mean((s - s.mean()) ** 4) / s.var() ** 2
        rel_se_of_sd = np.sqrt((kurt - 1) / (4 * n))  # delta method for a sample std
        assert abs(se / np.sqrt(var / n) - 1) <= Z * rel_se_of_sd
        batches = s.reshape(80, 25)
        bm, bse = spectrum.mean_and_se(batches, axis=1)
        z = (bm - lam.sum()) / bse
        # t_24 z-scores have sd sqrt(24/22); the sd of 80 of them has relative SE ~ 1/sqrt(160)
        assert abs(z.std(ddof=1) / np.sqrt(24 / 22) - 1) <= Z / np.sqrt(160)


def test_the_network_hessian_against_its_dense_float64_spectrum():
    with jax.enable_x64(True):
        sizes = (2, 6, 6, 2)
        X, y = data.two_moons(48, 0.2, 0)
        batch = (jnp.asarray(X), jnp.asarray(y))
        f = spectrum.mlp_flat_loss(sizes, "sigmoid")
        theta = mlp.ravel(mlp.init_mlp(jax.random.key(3), sizes, jnp.float64))[0]
        d = theta.size
        lam = np.asarray(spectrum.dense_hessian_eigenvalues(theta, batch, f=f))
        scale = np.abs(lam).max()
        # one SLQ run serves both checks: each probe's extreme Ritz values are Lanczos's
        # extreme eigenvalue estimates (its kernel's own test: the quadratic above)
        q = spectrum.slq(theta, batch, jax.random.key(6), f=f, num_matvecs=20, num_probes=16)
        nodes, bounds = np.asarray(q.nodes), np.asarray(q.bounds)
        for end in (0, -1):
            assert np.all(np.abs(nodes[:, end] - lam[end])
                          <= bounds[:, end] + _ritz_roundoff(d, scale))
        # moment 1 times d is Hutchinson's trace estimate (its kernel: the quadratic's test)
        mean, se = spectrum.mean_and_se(spectrum.slq_moments(q.nodes, q.weights))
        assert np.all(np.abs(mean - spectrum.spectral_moments(lam)) <= Z * se)


def test_gd_sharpness_on_a_quadratic_matches_a_numpy_loop_and_2_over_lambda():
    with jax.enable_x64(True):
        A, lam, _ = _known_spectrum(d=30, seed=1, bottom=0.1)  # convex
        d, lam_max = lam.size, lam.max()
        rng = np.random.default_rng(2)
        starts = rng.normal(size=(2, d))
        etas = np.array([1.8, 2.2]) / lam_max  # below and above the threshold 2 / lambda_max
        every, steps = 5, 40
        path = stability.gd_sharpness(jnp.asarray(starts), jnp.asarray(A), jnp.asarray(etas),
                                      jax.random.key(0), f=_quad, num_steps=steps,
                                      record_every=every, num_matvecs=8)
        rec = stability.record_steps(steps, every)
        assert path.loss.shape == (2, 2, rec.size)
        for s in range(2):
            for e, eta in enumerate(etas):
                theta, losses = starts[s].copy(), []
                for k in range(steps):
                    if k % every == 0:
                        losses.append(0.5 * theta @ A @ theta)
                    theta = theta - eta * (A @ theta)
                np.testing.assert_allclose(np.asarray(path.loss[s, e]), losses, rtol=1e-9)
        assert path.sharpness.dtype == jnp.float64  # the dtype of theta
        # the Hessian is A everywhere: every record is lambda_max, within its bound
        sharp, bound = np.asarray(path.sharpness), np.asarray(path.bound)
        assert np.all(np.abs(sharp - lam_max) <= bound + _ritz_roundoff(d, lam_max))
        loss = np.asarray(path.loss)
        assert np.all(np.diff(loss[:, 0], axis=-1) < 0)  # eta < 2 / lambda_max: descends
        assert np.all(loss[:, 1, -1] > 10 * loss[:, 1, 0])  # eta > 2 / lambda_max: diverges
        band = stability.eos_band(sharp[0, 0], etas[0], threshold=0.85)
        assert band.onset == 1 and abs(band.median - 0.9) <= 1e-9  # eta lambda / 2 = 0.9
        before = stability.gd_sharpness._cache_size()
        stability.gd_sharpness(jnp.asarray(starts), jnp.asarray(A), jnp.asarray(etas / 2),
                               jax.random.key(1), f=_quad, num_steps=steps, record_every=every,
                               num_matvecs=8)
        assert stability.gd_sharpness._cache_size() == before  # a new eta: no recompile


def test_eos_band_finds_the_onset_after_the_lowest_point():
    eta = 0.5  # q = eta lambda / 2 = lambda / 4
    q = np.array([1.2, 0.6, 0.5, 0.7, 0.95, 1.05, 0.85, 1.0, 1.1, 0.98])
    band = stability.eos_band(4 * q, eta)  # from 0.5 the path climbs to the edge at record 4
    assert band.onset == 4 and band.min_before == 0.5 and band.count == 6
    np.testing.assert_allclose(band.median, np.median(q[4:]))
    np.testing.assert_allclose([band.q10, band.q90], np.quantile(q[4:], [0.1, 0.9]))
    assert band.max_after == 1.1
    above = stability.eos_band(4 * np.array([3.0, 1.0, 0.95, 1.05]), eta)  # never below
    assert above.onset == 1 and above.count == 3 and above.min_before == 1.0
    never = stability.eos_band(4 * np.array([1.2, 0.5, 0.6, 0.8]), eta)
    assert never.onset == -1 and np.isnan(never.median) and never.min_before == 0.5
    assert stability.eos_band(np.array([1.0, np.nan]), eta).onset == -1
