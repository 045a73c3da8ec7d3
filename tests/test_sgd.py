"""The ``sgd`` experiment and its kernels, against independent references."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_all_claims_pass, assert_mutations_catch
from sklearn.linear_model import LogisticRegression

from experiments.sgd import Results, _np_loss, _np_per_example_grads, reference_optimum
from mathml_jax import series
from mathml_jax.data import BREAST_CANCER_N, breast_cancer
from mathml_jax.optimization import (
    logistic_loss,
    minibatch_gradient_sq_errors,
    minibatch_mean,
    per_example_gradients,
    running_mean_sq_errors,
    smoothness_constant,
)
from mathml_jax.optimization.stochastic import nested_minibatch_masks, train_seeds

L2 = 0.01


@pytest.fixture(scope="module")
def data():
    return breast_cancer()


def test_dataset_shape_and_standardisation(data):
    X, y = data
    assert X.shape == (BREAST_CANCER_N, 31)
    np.testing.assert_allclose(X[:, :-1].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X[:, :-1].std(axis=0), 1, atol=1e-12)
    assert set(np.unique(y)) == {-1.0, 1.0}


def test_reference_optimum_matches_scikit_learn(data):
    """sklearn minimises 1/2||w||^2 + C sum log(1+exp(-y x.w)); with C = 1/(lambda N) that is
    N*C times our objective, so both have the same minimiser."""
    X, y = data
    w_star, _ = reference_optimum(X, y, L2)
    clf = LogisticRegression(C=1.0 / (L2 * X.shape[0]), fit_intercept=False, tol=1e-12,
                             max_iter=10_000, solver="lbfgs").fit(X, (y > 0).astype(int))
    np.testing.assert_allclose(clf.coef_.ravel(), w_star, rtol=1e-5, atol=1e-6)


def test_jax_loss_and_gradients_match_numpy_closed_form(data):
    with jax.enable_x64(True):
        X, y = data
        w = np.random.default_rng(0).normal(size=X.shape[1])
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        eps = float(jnp.finfo(jnp.float64).eps)
        np.testing.assert_allclose(float(logistic_loss(jnp.asarray(w), Xj, yj, L2)),
                                   _np_loss(w, X, y, L2), rtol=100 * eps)
        G = per_example_gradients(jnp.asarray(w), Xj, yj, L2)
        np.testing.assert_allclose(np.asarray(G), _np_per_example_grads(w, X, y, L2),
                                   rtol=1e-12, atol=1e-13)
        # the mean of per-example gradients is the gradient of the mean loss
        full = jax.grad(logistic_loss)(jnp.asarray(w), Xj, yj, L2)
        np.testing.assert_allclose(np.asarray(G.mean(axis=0)), np.asarray(full), atol=1e-14)


def test_minibatch_mean_is_the_gradient_of_the_minibatch_loss(data):
    """The masked estimator equals grad of the loss on the drawn rows."""
    with jax.enable_x64(True):
        X, y = (jnp.asarray(a) for a in data)
        w = jnp.linspace(-1, 1, X.shape[1])
        G = per_example_gradients(w, X, y, L2)
        key = jax.random.key(3)
        g = minibatch_mean(G, key, 7)
        idx = np.flatnonzero(nested_minibatch_masks(key, X.shape[0], jnp.array([7]))[0])
        assert idx.size == 7
        np.testing.assert_allclose(np.asarray(g),
                                   np.asarray(jax.grad(logistic_loss)(w, X[idx], y[idx], L2)),
                                   atol=1e-14)


def test_minibatch_variance_matches_brute_force_enumeration():
    """N=5, B=2: all 10 subsets enumerated give the exact variance to compare with."""
    from itertools import combinations

    with jax.enable_x64(True):
        G = np.random.default_rng(1).normal(size=(5, 3))
        exact = np.mean([np.sum((G[list(c)].mean(0) - G.mean(0)) ** 2)
                         for c in combinations(range(5), 2)])
        sq = minibatch_gradient_sq_errors(jnp.asarray(G), jax.random.key(0), jnp.array([2]),
                                          num_draws=40_000)
        se = float(np.std(sq) / np.sqrt(sq.size))
        assert abs(float(sq.mean()) - exact) < 4 * se
        sigma2 = np.mean(np.sum((G - G.mean(0)) ** 2, axis=1))
        np.testing.assert_allclose(exact, sigma2 / 2 * (5 - 2) / (5 - 1), rtol=1e-12)


def test_running_mean_shapes_and_first_step():
    G = jnp.asarray(np.random.default_rng(2).normal(size=(6, 2)))
    sq = running_mean_sq_errors(G, jax.random.key(0), batch_size=6, num_batches=5, num_paths=3)
    assert sq.shape == (3, 5)
    assert float(jnp.max(sq)) < 1e-10  # B = N: every minibatch is the full data


def test_training_does_not_recompile_for_a_new_learning_rate(data):
    X, y = (jnp.asarray(a, jnp.float32) for a in data)
    keys = jax.random.split(jax.random.key(0), 2)
    kw = dict(loss_fn=logistic_loss, optimizer="sgd", schedule="cosine", batch_size=32, epochs=2)
    train_seeds(jnp.zeros(X.shape[1]), X, y, L2, 0.1, keys, **kw)
    before = train_seeds._cache_size()
    losses, _ = train_seeds(jnp.zeros(X.shape[1]), X, y, L2, 0.2, keys, **kw)
    assert train_seeds._cache_size() == before
    assert losses.shape == (2, 3) and bool(jnp.all(losses[:, -1] < losses[:, 0]))


def test_gradient_descent_with_one_over_L_reaches_the_reference(data):
    X64, y64 = data
    w_star, f_star = reference_optimum(X64, y64, L2)
    with jax.enable_x64(True):
        X, y = jnp.asarray(X64), jnp.asarray(y64)
        L = float(smoothness_constant(X, L2))
        # the bound L is at least the Hessian's largest eigenvalue at the optimum
        H = jax.hessian(logistic_loss)(jnp.asarray(w_star), X, y, L2)
        assert float(jnp.linalg.eigvalsh(H)[-1]) <= L
        losses, w = train_seeds(jnp.zeros(X.shape[1]), X, y, L2, 1.0 / L,
                                jax.random.split(jax.random.key(0), 1), loss_fn=logistic_loss,
                                optimizer="sgd", schedule="constant",
                                batch_size=X.shape[0], epochs=3000)
    # strongly convex, step 1/L: linear convergence; after 3000 steps the gap is tiny
    assert _np_loss(np.asarray(w[0]), X64, y64, L2) - f_star < 1e-9


def test_sgd_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("sgd", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    rec = json.loads((job / "metrics.json").read_text())
    assert rec["status"] == "ok" and rec["claims_passed"] == rec["claims_total"] > 5
    for name in ("training", "unbiasedness", "variance"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert np.load(job / "series.npz")["variance/exact"].shape == (11,)
    ids = {c.id for c in report.claims}
    assert ids == {"jax_loss_matches_numpy", "unbiased_average_slope",
                   "unbiased_average_mse", "minibatch_variance_formula",
                   "full_batch_variance_zero", "minibatch_final_gap", "full_batch_linear_rate",
                   "descent_lemma"}

    r = series.load(job / "series.npz", Results)
    assert set(r.training) == {"B=1", "B=16", "B=64", "full batch"}
    assert_mutations_catch(report, MUTATIONS)


def _variance_bias(k):
    def mutate(r):
        v = r.variance
        part = v["batch_size"] < r.num_examples
        v["measured"] = np.where(part, v["measured"] + k * v["standard_error"], v["measured"])
    return mutate


def _slower_full_batch(r):
    t = r.training["full batch"]
    k = np.arange(t["gap"].shape[1])
    t["gap"] = t["gap"] * 1.005 ** k  # decay per step 0.0095 -> 0.0045 < theory 0.006
    t["loss"] = t["gap"] + r.reference_loss


MUTATIONS = {
    "JAX loss off by 1e-6": (lambda r: setattr(r, "jax_loss_at_reference",
                                               r.jax_loss_at_reference + 1e-6),
                             {"jax_loss_matches_numpy"}),
    "averaging error falls as m^-0.4": (
        lambda r: r.unbiasedness.update(sq_errors=r.unbiasedness["sq_errors"]
                                        * r.unbiasedness["m"] ** 0.2),
        {"unbiased_average_slope", "unbiased_average_mse"}),
    "averaging MSE 1.5x too large": (
        lambda r: r.unbiasedness.update(sq_errors=1.5 * r.unbiasedness["sq_errors"]),
        {"unbiased_average_mse"}),
    "variance biased by 6 SE": (_variance_bias(6.0), {"minibatch_variance_formula"}),
    "B = N sampled with replacement": (
        lambda r: r.variance["measured"].__setitem__(-1, r.sigma2 / r.num_examples),
        {"full_batch_variance_zero"}),
    "a minibatch run stalls at gap 0.01": (
        lambda r: r.training["B=16"].update(final_gap=r.training["B=16"]["final_gap"] + 0.01),
        {"minibatch_final_gap"}),
    "full-batch GD slower than its slowest mode": (_slower_full_batch,
                                                   {"full_batch_linear_rate"}),
    "one GD step raises the loss to 1": (
        lambda r: r.training["full batch"]["loss"].__setitem__((0, 100), 1.0),
        {"descent_lemma"}),
}


def test_sgd_runs_in_float64(run_experiment):
    status, report, _ = run_experiment("sgd", "precision=float64", "sgd.batch_sizes=[8]",
                                    figures=False)
    assert status == 0
    assert_all_claims_pass(report)
