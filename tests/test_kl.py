"""The ``kl`` experiment and its kernels, against independent references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.stats
from conftest import assert_all_claims_pass, assert_mutations_catch, compose

import experiments.kl as kl_experiment
from experiments._cli import execute
from mathml_jax import series
from mathml_jax.information import (
    cross_entropy,
    density_kl,
    entropy,
    fit_gaussian,
    gaussian_kl,
    kl_divergence,
    mixture_logpdf,
)


def test_discrete_kl_and_cross_entropy_against_scipy():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        p, q = rng.dirichlet(np.ones(7), size=(2, 50))
        p[:, 0] = 0.0  # zeros in p are allowed: 0 log 0 = 0
        p /= p.sum(axis=1, keepdims=True)
        kl = np.asarray(kl_divergence(jnp.asarray(p), jnp.asarray(q)))
        np.testing.assert_allclose(kl, scipy.stats.entropy(p, q, axis=1), rtol=1e-12)
        ce = np.asarray(cross_entropy(jnp.asarray(p), jnp.asarray(q)))
        np.testing.assert_allclose(ce, -(p * np.log(q)).sum(axis=1), rtol=1e-12)
        np.testing.assert_allclose(kl, ce - np.asarray(entropy(jnp.asarray(p))), atol=1e-12)


def test_kl_is_infinite_when_q_misses_the_support_of_p():
    assert np.isinf(float(kl_divergence(jnp.array([0.5, 0.5]), jnp.array([1.0, 0.0]))))
    assert float(kl_divergence(jnp.array([1.0, 0.0]), jnp.array([0.5, 0.5]))) == \
        pytest.approx(np.log(2), rel=1e-6)


@pytest.mark.parametrize("m1,s1,m2,s2", [(0, 1, 0, 1), (0, 1, 1, 2), (-2, 0.3, 1, 3)])
def test_gaussian_kl_closed_form_against_scipy_quadrature(m1, s1, m2, s2):
    f = lambda x: scipy.stats.norm.pdf(x, m1, s1) * (  # noqa: E731
        scipy.stats.norm.logpdf(x, m1, s1) - scipy.stats.norm.logpdf(x, m2, s2))
    ref, _ = scipy.integrate.quad(f, -np.inf, np.inf, epsabs=1e-12)
    with jax.enable_x64(True):
        assert abs(float(gaussian_kl(m1, s1, m2, s2)) - ref) < 1e-8
        x = jnp.linspace(m1 - 15 * s1, m1 + 15 * s1, 40_001)
        quad = float(density_kl(jax.scipy.stats.norm.logpdf(x, m1, s1),
                                jax.scipy.stats.norm.logpdf(x, m2, s2), x))
        assert abs(quad - ref) < 1e-7


def test_mixture_logpdf_matches_scipy():
    x = np.linspace(-30, 30, 13)
    w, m, s = np.array([0.3, 0.7]), np.array([-2.0, 2.0]), np.array([0.6, 1.0])
    ref = np.log(w[0] * scipy.stats.norm.pdf(x, m[0], s[0])
                 + w[1] * scipy.stats.norm.pdf(x, m[1], s[1]))
    with jax.enable_x64(True):
        got = np.asarray(mixture_logpdf(jnp.asarray(x), jnp.asarray(w), jnp.asarray(m),
                                        jnp.asarray(s)))
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_forward_kl_fit_is_moment_matching_and_lr_does_not_recompile():
    """The minimiser of KL(P||N(m, s^2)) is the mean and sd of P (closed form)."""
    w, m, s = np.array([0.3, 0.7]), np.array([-1.0, 2.0]), np.array([0.5, 0.8])
    x = jnp.linspace(-8, 10, 3001)
    logp = mixture_logpdf(x, jnp.asarray(w), jnp.asarray(m), jnp.asarray(s))
    starts = jnp.array([[0.0, 0.0], [3.0, -1.0]])
    traj, loss = fit_gaussian(logp, x, starts, 0.05, direction="forward", steps=1500)
    mean = w @ m
    sd = np.sqrt(w @ (s**2 + m**2) - mean**2)
    np.testing.assert_allclose(np.asarray(traj[:, -1]), [[mean, sd]] * 2, atol=2e-3)
    assert traj.shape == (2, 1501, 2) and bool(jnp.all(loss[:, -1] <= loss[:, 0]))
    before = fit_gaussian._cache_size()
    fit_gaussian(logp, x, starts, 0.01, direction="forward", steps=1500)
    assert fit_gaussian._cache_size() == before


def test_kl_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("kl", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("fits", "kl_family", "kl_identity"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    ids = {c.id for c in report.claims}
    assert {"kl_matches_scipy", "one_hot_cross_entropy_is_nll", "gaussian_kl_quadrature",
            "forward_kl_moment_matching", "reverse_kl_locks_onto_bump",
            "starts_pick_different_bumps"} <= ids
    # identities of the kernel, or inequalities random pairs cannot break: metrics and a figure
    assert not {"kl_is_cross_minus_entropy", "gibbs_inequality", "kl_positive",
                "kl_not_symmetric", "cross_entropy_positive"} & ids
    assert report.metrics["kl_minus_cross_entropy_plus_entropy_max"] < 1e-5
    saved = series.load(job / "series.npz", kl_experiment.Results)
    np.testing.assert_array_equal(saved.fits["reverse"]["mean"],
                                  report.results.fits["reverse"]["mean"])
    _assert_mutations(report)


def _set(section, key, f):
    def mutate(r):
        d = getattr(r, section)
        d[key] = f(d[key])
    return mutate


def _final(direction, key, f):
    """A mutation of the final value of every fit (the last step)."""
    def mutate(r):
        a = r.fits[direction][key]
        a[:, -1] = f(a[:, -1])
    return mutate


def _assert_mutations(report):
    left_bump = -report.config.separation / 2
    assert_mutations_catch(report, {
        "KL(Q||P) computed as KL(P||Q) (a symmetric KL)": (
            _set("discrete", "kl_qp", lambda _: report.results.discrete["kl_pq"]),
            {"kl_matches_scipy"}),
        "KL 0.1% high": (_set("discrete", "kl_pq", lambda k: k * 1.001), {"kl_matches_scipy"}),
        "KL(P||P) = 1e-3 (a smoothing epsilon)": (_set("discrete", "self_kl",
                                                       lambda k: k + 1e-3), {"self_kl_zero"}),
        "cross-entropy 0.01 nats high": (_set("discrete", "ce_onehot", lambda c: c + 0.01),
                                         {"one_hot_cross_entropy_is_nll"}),
        "a perfect prediction costs 1e-7": (_set("discrete", "ce_perfect", lambda c: c + 1e-7),
                                            {"perfect_prediction_zero_cross_entropy"}),
        "Gaussian KL quadrature 1e-4 high": (_set("gaussian_kl", "quadrature",
                                                  lambda q: q + 1e-4),
                                             {"gaussian_kl_quadrature"}),
        "forward fit stopped early: sd 1% low": (_final("forward", "sd", lambda s: s * 0.99),
                                                 {"forward_kl_moment_matching"}),
        "reverse fit 0.1 off its bump": (_final("reverse", "mean", lambda m: m + 0.1),
                                         {"reverse_kl_locks_onto_bump"}),
        "reverse KL value 0.02 high": (_final("reverse", "kl", lambda k: k + 0.02),
                                       {"reverse_kl_value"}),
        "every reverse fit on the left bump": (_final("reverse", "mean",
                                                      lambda m: np.full_like(m, left_bump)),
                                               {"starts_pick_different_bumps"}),
    })


def test_kl_unequal_weights_pass(run_experiment):
    # kl's float64 run; no figures (the end-to-end test checks them)
    status, report, _ = run_experiment("kl", "kl.weight=0.3", "seed=5", "precision=float64",
                                       figures=False)
    assert status == 0
    assert_all_claims_pass(report)


def test_overlapping_bumps_are_a_config_error(tmp_path):
    status, report = execute(compose("experiment=kl", "profile=fast", "kl.separation=1"), "kl",
                             tmp_path / "job")
    assert status == 2 and report is None
