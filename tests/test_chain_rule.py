"""The ``chain_rule`` experiment and its kernels, against independent references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass, assert_mutations_catch

from experiments import chain_rule
from experiments.chain_rule import complex_step_derivative, numpy_compose, richardson_derivative
from mathml_jax import series
from mathml_jax.calculus import chain_rule_derivative, compose, random_compositions
from mathml_jax.calculus.chain_rule import IDENTITY, NAMES


def _idx(*names):
    return np.array([NAMES.index(n) for n in names])


def test_chain_rule_derivative_matches_hand_derived_closed_form():
    """d/dx sin(log(1 + x^2)) = cos(log(1 + x^2)) 2x / (1 + x^2)."""
    with jax.enable_x64(True):
        x = np.linspace(-3, 3, 13)
        idx = jnp.asarray(_idx("log1p_sq", "sin"))
        v, d = jax.vmap(chain_rule_derivative, in_axes=(None, 0))(idx, jnp.asarray(x))
        np.testing.assert_allclose(np.asarray(v), np.sin(np.log1p(x**2)), rtol=1e-14)
        np.testing.assert_allclose(np.asarray(d), np.cos(np.log1p(x**2)) * 2 * x / (1 + x**2),
                                   rtol=1e-13, atol=1e-15)


def test_identity_padding_changes_nothing():
    with jax.enable_x64(True):
        x = jnp.asarray(0.37)
        a = chain_rule_derivative(jnp.asarray(_idx("tanh", "atan")), x)
        b = chain_rule_derivative(jnp.asarray(np.r_[_idx("tanh", "atan"), IDENTITY, IDENTITY]), x)
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0)


def test_compose_matches_numpy_and_grad_matches_complex_step():
    with jax.enable_x64(True):
        x = np.linspace(-1, 1, 7)
        for names in (("sin", "exp"), ("sigmoid", "cube", "cos"), ("sqrt1p_sq", "tanh")):
            idx = _idx(*names)
            np.testing.assert_allclose(
                np.asarray(jax.vmap(compose, in_axes=(None, 0))(jnp.asarray(idx),
                                                                jnp.asarray(x))),
                numpy_compose(idx, x), rtol=1e-14, atol=1e-15)
            g = jax.vmap(jax.grad(compose, argnums=1), in_axes=(None, 0))(jnp.asarray(idx),
                                                                          jnp.asarray(x))
            np.testing.assert_allclose(np.asarray(g), complex_step_derivative(idx, x),
                                       rtol=1e-13, atol=1e-15)


def test_complex_step_and_richardson_on_closed_form():
    """d/dx exp(sin x) = cos x exp(sin x)."""
    x = np.linspace(-2, 2, 9)
    exact = np.cos(x) * np.exp(np.sin(x))
    idx = _idx("sin", "exp")
    np.testing.assert_allclose(complex_step_derivative(idx, x), exact, rtol=2e-16 * 4,
                               atol=1e-16)
    np.testing.assert_allclose(richardson_derivative(idx, x), exact, atol=1e-10)


def test_random_compositions_are_well_formed():
    allowed = jnp.asarray(_idx("sin", "cos", "tanh"))
    idx = np.asarray(random_compositions(jax.random.key(1), allowed, length=300, depth_max=5))
    assert idx.shape == (300, 5)
    depth = (idx != IDENTITY).sum(axis=1)
    assert depth.min() == 2 and depth.max() == 5
    for row, k in zip(idx, depth, strict=True):
        assert set(row[:k]) <= set(np.asarray(allowed)) and np.all(row[k:] == IDENTITY)


def test_chain_rule_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("chain_rule", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    assert (job / "chain_rule.png").stat().st_size > 10_000
    assert [c.id for c in report.claims] == [
        "compositions_finite", "rule_equals_complex_step", "grad_equals_complex_step",
        "showcase_closed_form"]
    saved = series.load(job / "series.npz", chain_rule.Results)
    np.testing.assert_array_equal(saved.rule, report.results.rule)
    assert_mutations_catch(report, _MUTATIONS)


def _nan_rule(r):
    r.rule[0, 0] = np.nan


def _rule_rounded(r):
    r.rule[5] = r.rule[5] * (1 + 1e-5)  # one composition's product good to 5 digits only


def _grad_sign(r):
    r.grad[:, 0] = -r.grad[:, 0]


def _outer_at_x(r):
    """The classic slip: f'(x) g'(x) instead of f'(g(x)) g'(x) (outer sin, the default)."""
    sc = r.showcase
    sc["rule"] = sc["inner_derivative"] * np.cos(sc["x"])


_MUTATIONS = {
    "a composition overflows to NaN": (_nan_rule, {"compositions_finite"}),
    "one chain-rule product off by 1e-5": (_rule_rounded, {"rule_equals_complex_step"}),
    "jax.grad with the wrong sign at one point": (_grad_sign, {"grad_equals_complex_step"}),
    "outer derivative taken at x, not at g(x)": (_outer_at_x, {"showcase_closed_form"}),
}
