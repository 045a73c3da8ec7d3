"""The ``integration`` experiment and its kernels, against independent references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
from conftest import assert_all_claims_pass, assert_mutations_catch

from experiments.integration import CATALOGUE, Results, reference_integral
from mathml_jax import series
from mathml_jax.calculus import (
    RULES,
    antiderivative_and_derivative,
    composite_rule_estimates,
    gauss_legendre_estimates,
    gauss_legendre_table,
    monte_carlo_running_estimates,
)


def _numpy_rules(f, a, b, n):
    x = np.linspace(a, b, n + 1)
    h = (b - a) / n
    fx = f(x)
    return [h * fx[:-1].sum(), h * fx[1:].sum(), h * f(x[:-1] + h / 2).sum(),
            scipy.integrate.trapezoid(fx, x), scipy.integrate.simpson(fx, x=x)]


def test_composite_rules_match_numpy_and_scipy():
    with jax.enable_x64(True):
        ns = np.array([2, 4, 6, 16])
        est = np.asarray(composite_rule_estimates(jnp.asarray(ns), 0.3, 2.1, f=jnp.cos,
                                                  n_max=16))
        for row, n in zip(est, ns, strict=True):
            np.testing.assert_allclose(row, _numpy_rules(np.cos, 0.3, 2.1, n), rtol=1e-13)
        assert est.shape == (4, len(RULES))


def test_simpson_is_exact_for_cubics_and_trapezoid_for_lines():
    with jax.enable_x64(True):
        est = np.asarray(composite_rule_estimates(jnp.array([2, 8]), -1.0, 2.0,
                                                  f=lambda x: x**3 - x + 1, n_max=8))
        exact = (16 / 4 - 2 + 2) - (1 / 4 - 1 / 2 - 1)
        np.testing.assert_allclose(est[:, RULES.index("simpson")], exact, rtol=1e-14)


def test_gauss_legendre_matches_scipy_fixed_quad():
    with jax.enable_x64(True):
        counts = [1, 3, 7, 12]
        t, w = gauss_legendre_table(counts)
        est = np.asarray(gauss_legendre_estimates(jnp.asarray(t), jnp.asarray(w), 0.0, 2.0,
                                                  f=jnp.exp))
        ref = [scipy.integrate.fixed_quad(np.exp, 0, 2, n=c)[0] for c in counts]
        np.testing.assert_allclose(est, ref, rtol=1e-14)


def test_monte_carlo_is_unbiased_within_standard_errors():
    with jax.enable_x64(True):
        run = np.asarray(monte_carlo_running_estimates(jax.random.key(0), 0.0, 1.0,
                                                       f=jnp.exp, num_samples=4096,
                                                       num_paths=64))
        final = run[:, -1]
        se = final.std(ddof=1) / np.sqrt(final.size)
        assert abs(final.mean() - (np.e - 1)) < 4 * se


def test_fundamental_theorem_on_closed_form():
    """F(x) = int_0^x cos = sin x and dF/dx = cos x."""
    with jax.enable_x64(True):
        t, w = (jnp.asarray(v[0]) for v in gauss_legendre_table([20]))
        x = jnp.linspace(0.1, 3.0, 9)
        F, dF = antiderivative_and_derivative(x, 0.0, t, w, f=jnp.cos)
        np.testing.assert_allclose(np.asarray(F), np.sin(np.asarray(x)), atol=1e-14)
        np.testing.assert_allclose(np.asarray(dF), np.cos(np.asarray(x)), atol=1e-13)


def test_closed_forms_agree_with_scipy_quad():
    for name, (_, fn, _, (a, b), closed) in CATALOGUE.items():
        if closed is not None:
            np.testing.assert_allclose(scipy.integrate.quad(fn, a, b, epsabs=1e-14)[0],
                                       closed, atol=1e-13, err_msg=name)
        else:
            assert np.isfinite(reference_integral(name)[0])


def test_new_panel_counts_do_not_recompile():
    ns = jnp.array([2, 4])
    composite_rule_estimates(ns, 0.0, 1.0, f=jnp.sin, n_max=8)
    before = composite_rule_estimates._cache_size()
    composite_rule_estimates(jnp.array([6, 8]), 0.0, 1.0, f=jnp.sin, n_max=8)
    assert composite_rule_estimates._cache_size() == before


def _each(key, fn):
    """A mutation applying ``fn`` to per_function[name][key] of every function."""
    def mutate(r):
        for p in r.per_function.values():
            p[key] = fn(p[key], r)
    return mutate


def _ftc(key, factor):
    def mutate(r):
        for p in r.per_function.values():
            p["ftc"][key] = p["ftc"][key] * factor
    return mutate


def _mc_bias(k):
    def mutate(r):
        for p in r.per_function.values():
            e = p["mc_error"]
            p["mc_error"] = e + k * e[:, -1].std(ddof=1) / np.sqrt(e.shape[0])
    return mutate


MUTATIONS = {
    "every panel rule half an order slower": (
        _each("composite", lambda c, r: {k: v * np.sqrt(r.panels) for k, v in c.items()}),
        {f"order_{rule}" for rule in RULES}),
    "Gauss error of the wrong sign": (_each("gauss_signed", lambda g, r: -g),
                                      {"gauss_error_formula"}),
    "Gauss rate 0.3 per node instead of 0.2": (
        _each("gauss_signed", lambda g, r: g * 1.5 ** r.nodes),
        {"gauss_rate_runge", "gauss_error_formula"}),
    "Gauss stalls at 1e-13": (_each("gauss_signed", lambda g, r: g + 1e-13),
                              {"gauss_roundoff"}),
    "Monte Carlo biased by 6 SE": (_mc_bias(6.0), {"monte_carlo_unbiased"}),
    "Monte Carlo error falls as n^-0.4": (
        _each("mc_error", lambda e, r: e * (r.samples / r.samples[0]) ** 0.1),
        {"monte_carlo_rate", "monte_carlo_error_size"}),
    "Monte Carlo error twice as large": (_each("mc_error", lambda e, r: 2 * e),
                                         {"monte_carlo_error_size"}),
    "F off by 0.1%": (_ftc("F", 1.001), {"antiderivative"}),
    "dF/dx off by 0.01%": (_ftc("dF", 1.0001), {"fundamental_theorem"}),
}


def test_integration_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("integration", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("signed_area", "convergence", "fundamental_theorem"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert {c.id for c in report.claims} == {
        "order_left", "order_right", "order_midpoint", "order_trapezoid", "order_simpson",
        "gauss_error_formula", "gauss_rate_runge", "gauss_roundoff", "monte_carlo_unbiased",
        "monte_carlo_rate", "monte_carlo_error_size", "antiderivative", "fundamental_theorem"}
    r = series.load(job / "series.npz", Results)
    assert set(r.per_function) == {"signed", "runge", "exp_sin"}
    assert r.per_function["signed"]["composite"]["simpson"].shape == r.panels.shape
    assert_mutations_catch(report, MUTATIONS)
