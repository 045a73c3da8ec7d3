"""The ``neural_network`` experiment and its kernels, against independent references."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import assert_all_claims_pass, assert_mutations_catch

from mathml_jax.nn import spectrum
from mathml_jax.nn.backprop import np_backprop, np_loss, np_unravel
from mathml_jax.nn.data import two_moons, two_moons_bayes_posterior
from mathml_jax.nn.mlp import cross_entropy, init_mlp, num_params, ravel
from mathml_jax.nn.train import third_derivatives, train
from mathml_jax.optimization.stochastic import minibatch_indices

TINY = (3, 4, 3, 3)


def _tiny_problem(seed=0, n=7):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=num_params(TINY))
    return theta, rng.normal(size=(n, TINY[0])), rng.integers(0, TINY[-1], n)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softplus"])
def test_hand_backprop_matches_brute_force_central_differences(activation):
    """Every coordinate of the hand gradient against a float64 central difference of the loss
    (h = 1e-5: truncation ~h^2 |f'''| ~ 1e-10, round-off ~eps/h ~ 1e-11)."""
    theta, X, y = _tiny_problem()
    g = np_backprop(theta, TINY, X, y, activation)
    h, fd = 1e-5, np.empty_like(theta)
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        fd[i] = (np_loss(theta + e, TINY, X, y, activation)
                 - np_loss(theta - e, TINY, X, y, activation)) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-8)
    per = np_backprop(theta, TINY, X, y, activation, per_example=True)
    np.testing.assert_allclose(per.mean(axis=0), g, atol=1e-15)
    assert np.all(np_backprop(theta, TINY, X, y, activation, absolute=True) >= np.abs(g) - 1e-15)


def test_hand_backprop_and_layout_match_jax_in_float64():
    """The NumPy unravel follows ``ravel``'s order, and the hand gradient equals jax.grad."""
    theta, X, y = _tiny_problem(1)
    with jax.enable_x64(True):
        params = np_unravel(theta, TINY)
        flat, _ = ravel(tuple((jnp.asarray(A), jnp.asarray(b)) for A, b in params))
        np.testing.assert_array_equal(np.asarray(flat), theta)
        f = spectrum.mlp_flat_loss(TINY, "sigmoid")
        g = jax.grad(f)(jnp.asarray(theta), (jnp.asarray(X), jnp.asarray(y)))
        assert float(f(jnp.asarray(theta), (jnp.asarray(X), jnp.asarray(y)))) == pytest.approx(
            np_loss(theta, TINY, X, y, "sigmoid"), rel=1e-14)
    np.testing.assert_allclose(np.asarray(g), np_backprop(theta, TINY, X, y, "sigmoid"),
                               rtol=1e-12, atol=1e-15)


def test_third_derivatives_match_finite_differences_of_the_gradient():
    theta, X, y = _tiny_problem(2)
    f = spectrum.mlp_flat_loss(TINY, "tanh")
    coords = np.array([0, 5, theta.size - 1])
    with jax.enable_x64(True):
        d3 = np.asarray(third_derivatives(jnp.asarray(theta), (jnp.asarray(X), jnp.asarray(y)),
                                          jnp.asarray(coords), jnp.zeros(3), f=f))
    h = 1e-3  # second central difference of the exact gradient: error ~h^2 f'''''
    for c, d in zip(coords, d3, strict=True):
        e = np.zeros_like(theta)
        e[c] = h
        g = [np_backprop(theta + s * e, TINY, X, y, "tanh")[c] for s in (-1, 0, 1)]
        assert d == pytest.approx((g[0] - 2 * g[1] + g[2]) / h**2, rel=1e-4, abs=1e-8)


def test_two_moons_lie_on_scikit_learns_curves():
    """Without noise every point lies on the curve of its class, and scikit-learn's
    ``make_moons`` points lie on the same two curves."""
    from sklearn.datasets import make_moons

    def on_curve(X, y):
        r0 = np.hypot(X[:, 0], X[:, 1])                 # class 0: unit circle, upper half
        r1 = np.hypot(X[:, 0] - 1.0, X[:, 1] - 0.5)     # class 1: shifted, lower half
        return np.where(y == 0, np.abs(r0 - 1) + np.maximum(-X[:, 1], 0),
                        np.abs(r1 - 1) + np.maximum(X[:, 1] - 0.5, 0))

    X, y = two_moons(400, 0.0, 3)
    assert np.abs(on_curve(X, y)).max() < 1e-12
    assert np.bincount(y).tolist() == [200, 200]
    Xs, ys = make_moons(400, noise=0.0, random_state=0)
    assert np.abs(on_curve(Xs, ys)).max() < 1e-12


def test_bayes_posterior_matches_quadrature():
    """The class-1 posterior against SciPy's adaptive quadrature of the two class densities."""
    from scipy.integrate import quad

    noise = 0.3
    pts = np.array([[0.0, 0.5], [1.0, 0.0], [0.5, 0.25], [-1.0, 0.2], [2.0, 0.3]])

    def density(x, curve):
        return quad(lambda t: np.exp(-np.sum((x - curve(t)) ** 2) / (2 * noise**2)), 0, np.pi,
                    epsabs=0, epsrel=1e-12)[0]

    c0 = lambda t: np.array([np.cos(t), np.sin(t)])  # noqa: E731
    c1 = lambda t: np.array([1 - np.cos(t), 0.5 - np.sin(t)])  # noqa: E731
    ref = [density(x, c1) / (density(x, c0) + density(x, c1)) for x in pts]
    # midpoint rule on 721 nodes: relative error <= (pi/721)^2 pi max|g''| / (24 g) ~ 3e-4
    # for noise 0.3 (g'' ~ g / noise^4), far below what moves a decision
    np.testing.assert_allclose(two_moons_bayes_posterior(pts, noise), ref, rtol=3e-4)


def test_training_loop_matches_a_hand_written_optax_loop():
    """Three steps of ``train`` (Adam, one seed) against optax.adam applied by hand to the same
    minibatches, in float64."""
    X, y = two_moons(64, 0.2, 0)
    sizes, key = (2, 5, 2), jax.random.key(4)
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        theta, hist = jax.jit(lambda k: train(
            k, Xj, yj, Xj, yj, 0.05, 1, sizes=sizes, activation="sigmoid",
            optimizers=("sgd", "adam"), schedule="constant", batch_size=8, num_records=1,
            record_every=3))(key)
        opt = optax.adam(0.05)

        @jax.jit
        def hand_loop(key):
            k_init, k_batches = jax.random.split(key)
            params = init_mlp(k_init, sizes, jnp.float64)
            state, losses = opt.init(params), [cross_entropy(params, Xj, yj)]
            for k in jax.random.split(jax.random.split(k_batches, 1)[0], 3):  # a Python loop
                idx = minibatch_indices(k, 64, batch_size=8)
                g = jax.grad(cross_entropy)(params, Xj[idx], yj[idx])
                updates, state = opt.update(g, state, params)
                params = optax.apply_updates(params, updates)
            return ravel(params)[0], losses + [cross_entropy(params, Xj, yj)]

        ref, losses = hand_loop(key)
    np.testing.assert_allclose(np.asarray(theta), np.asarray(ref), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(hist.loss), np.asarray(losses), rtol=1e-12)


def test_neural_network_end_to_end_fast_profile(run_experiment):
    from sklearn.linear_model import LogisticRegression

    status, report, job = run_experiment("neural_network", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    rec = json.loads((job / "metrics.json").read_text())
    assert rec["status"] == "ok" and rec["claims_passed"] == rec["claims_total"]
    for name in ("decision_boundary", "training", "hessian_spectrum", "edge_of_stability"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    r = report.results
    # the digits network is in the ballpark of scikit-learn's logistic regression on the split
    d = r.data["digits"]
    lr = LogisticRegression(max_iter=2000).fit(d["X_train"], d["y_train"])
    assert np.median(r.runs["digits"]["adam"]["test_accuracy"][:, -1]) > lr.score(
        d["X_test"], d["y_test"]) - 0.03
    assert_mutations_catch(report, MUTATIONS)


def _set_final(problem, which, value, seed=0):
    def mutate(r):
        for opt in ("sgd", "adam"):
            r.runs[problem][opt][which][seed, -1] = value
    return mutate


def _edge_scaled(factor):
    def mutate(r):
        r.edge["sharpness"] = r.edge["sharpness"] * factor
    return mutate


def _smallest_eta_scaled(r):
    r.edge["sharpness"][:, np.argmin(r.edge["etas"])] *= 1.5


def _central_off(r):
    c = r.central
    bound = c["h"] ** 2 * c["third"] / 6 + c["loss_roundoff"] / c["h"] + c["grad_roundoff"]
    c["fd"] = c["fd"] + 2 * bound


def _hutchinson_biased(r):
    t = r.hessian["trace_samples"]
    r.hessian["trace_samples"] = t + 6 * t.std(ddof=1) / np.sqrt(t.size)


def _slq_shifted(r):
    lam = r.hessian["dense"]
    r.hessian["slq_nodes"] = r.hessian["slq_nodes"] + 0.1 * (lam[-1] - lam[0])


MUTATIONS = {
    "jax.grad off by 1e-3 of its scale": (
        lambda r: r.backprop["moons"].update(jax_run=r.backprop["moons"]["jax_run"]
                                             + 1e-3 * r.backprop["moons"]["scale"]),
        {"backprop_matches_hand_chain_rule"}),
    "central differences off by twice their bound": (
        _central_off, {"gradient_matches_central_differences"}),
    "averaged minibatch gradients biased (squared bias = the variance: MSE x 2)": (
        lambda r: r.unbiased.update(sq_errors=2.0 * r.unbiased["sq_errors"]),
        {"minibatch_gradient_unbiased"}),
    "averaging error falls as m^-0.3": (
        lambda r: r.unbiased.update(sq_errors=r.unbiased["sq_errors"]
                                    * r.unbiased["m"] ** 0.4),
        {"minibatch_average_slope"}),
    "a moons seed stuck at 0.88": (_set_final("moons", "test_accuracy", 0.88),
                                   {"moons_test_accuracy", "seeds_agree"}),
    "a moons seed fits its training set badly": (_set_final("moons", "train_accuracy", 0.85),
                                                 {"moons_train_accuracy"}),
    "a digits seed at 0.9": (_set_final("digits", "test_accuracy", 0.9),
                             {"digits_test_accuracy"}),
    "digits training accuracy 0.9": (_set_final("digits", "train_accuracy", 0.9),
                                     {"digits_train_accuracy"}),
    "Lanczos top eigenvalue 1% high": (
        lambda r: r.hessian["ritz"].__setitem__(-1, r.hessian["ritz"][-1] * 1.01),
        {"hessian_extremes_lanczos"}),
    "Hutchinson samples biased by 6 SE": (_hutchinson_biased, {"hessian_trace_hutchinson"}),
    "SLQ density shifted by 10% of the spectral range": (_slq_shifted, {"hessian_density_slq"}),
    "sharpness stays at half the edge": (_edge_scaled(0.5), {"sharpness_reaches_edge"}),
    "sharpness overshoots the edge by 40%": (_edge_scaled(1.4),
                                             {"sharpness_hovers_at_2_over_eta"}),
    "the smallest eta's plateau 1.5x too high": (_smallest_eta_scaled,
                                                 {"sharpness_plateau_slope"}),
}
