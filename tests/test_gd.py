"""The ``gd`` experiment and its kernels, against independent references."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_all_claims_pass, assert_mutations_catch, compose
from jax.test_util import check_grads

from mathml_jax.optimization.descent import (
    gradient_descent_batch,
    gradient_descent_jit,
)
from mathml_jax.optimization.test_functions import (
    TEST_FUNCTIONS,
    make_quadratic,
    quadratic,
    rosenbrock,
)
from mathml_jax.status import describe_divergence


def _np_gd(A, b, x0, lr, steps, blowup=np.inf):
    """Brute-force NumPy reference: x <- x - lr (A x - b), stopping when ||x|| > blowup."""
    xs = [np.asarray(x0, np.float64)]
    for k in range(steps):
        x = xs[-1] - lr * (A @ xs[-1] - b)
        if not np.isfinite(x).all() or np.linalg.norm(x) > blowup:
            return np.array(xs), k + 1
        xs.append(x)
    return np.array(xs), -1


def test_make_quadratic_has_the_requested_spectrum():
    with jax.enable_x64(True):
        A, b = make_quadratic(jax.random.key(0), 12, 40.0, jnp.float64)
        A = np.asarray(A)
        np.testing.assert_allclose(A, A.T, atol=0)
        lam = np.linalg.eigvalsh(A)
        np.testing.assert_allclose(lam, np.linspace(1 / 40, 1, 12), atol=1e-13)
        assert b.shape == (12,)
    with pytest.raises(ValueError):
        make_quadratic(jax.random.key(0), 1, 2.0)


def test_gradient_descent_matches_numpy_iteration_on_a_quadratic():
    with jax.enable_x64(True):
        A, b = make_quadratic(jax.random.key(1), 8, 10.0, jnp.float64)
        An, bn = np.asarray(A), np.asarray(b)
        x0 = np.random.default_rng(0).normal(size=8)
        res = gradient_descent_jit(jnp.asarray(x0), 1.3, (A, b), loss_fn=quadratic, steps=50)
        ref, div = _np_gd(An, bn, x0, 1.3, 50)
        assert int(res.diverged_at) == div == -1
        np.testing.assert_allclose(np.asarray(res.trajectory), ref, rtol=1e-12, atol=1e-12)
        # closed form of the error: e_k = (I - eta A)^k e_0
        x_star = np.linalg.solve(An, bn)
        M = np.linalg.matrix_power(np.eye(8) - 1.3 * An, 50)
        np.testing.assert_allclose(np.asarray(res.trajectory[-1]) - x_star, M @ (x0 - x_star),
                                   atol=1e-12)
        losses = 0.5 * np.einsum("ki,ij,kj->k", ref, An, ref) - ref @ bn
        np.testing.assert_allclose(np.asarray(res.losses), losses, rtol=1e-12, atol=1e-12)


def test_divergence_is_a_status_at_the_step_numpy_finds():
    with jax.enable_x64(True):
        A, b = make_quadratic(jax.random.key(2), 6, 5.0, jnp.float64)
        x0 = np.ones(6)
        etas = jnp.asarray([0.5, 1.9, 2.2, 3.0])
        res = gradient_descent_batch(jnp.asarray(x0), etas, (A, b), 1e3, loss_fn=quadratic,
                                     steps=200, in_axes=(None, 0, None))
        for i, eta in enumerate(np.asarray(etas)):
            ref, div = _np_gd(np.asarray(A), np.asarray(b), x0, eta, 200, blowup=1e3)
            assert int(res.diverged_at[i]) == div
            assert (div >= 0) == (eta > 2.0)  # L = 1
            if div >= 0:  # frozen at the last finite iterate: no NaN in the trajectory
                assert np.isfinite(np.asarray(res.trajectory[i])).all()
                np.testing.assert_allclose(np.asarray(res.trajectory[i, -1]), ref[-1])
    assert describe_divergence(-1) == "did not diverge"
    assert describe_divergence(7) == "diverged at step 7"


def test_nan_gradients_count_as_divergence():
    res = gradient_descent_jit(jnp.asarray([-1.2, 1.0]), 0.02, loss_fn=rosenbrock, steps=50)
    assert int(res.diverged_at) > 0
    assert np.isfinite(np.asarray(res.trajectory)).all()


def test_a_new_learning_rate_or_start_does_not_recompile():
    A, b = make_quadratic(jax.random.key(0), 5, 10.0)
    kw = dict(loss_fn=quadratic, steps=20, in_axes=(None, 0, None))
    gradient_descent_batch(jnp.zeros(5), jnp.asarray([0.1, 0.2]), (A, b), 1e6, **kw)
    before = gradient_descent_batch._cache_size()
    res = gradient_descent_batch(jnp.ones(5), jnp.asarray([0.5, 1.5]), (A, b), 1e6, **kw)
    assert gradient_descent_batch._cache_size() == before
    assert res.trajectory.shape == (2, 21, 5)


@pytest.mark.parametrize("name", sorted(TEST_FUNCTIONS))
def test_test_function_gradients_and_known_points(name):
    """Autodiff against finite differences; the gradient vanishes at every listed critical
    point and the minimum value is attained at the minimisers."""
    tf = TEST_FUNCTIONS[name]
    with jax.enable_x64(True):
        x = jnp.asarray([0.3, -0.7])
        check_grads(tf.fn, (x,), order=2, modes=["rev"])
        for p, _ in tf.critical_points:
            g = jax.grad(tf.fn)(jnp.asarray(p, jnp.float64))
            assert float(jnp.linalg.norm(g)) < 1e-3, (p, g)
        for p in tf.minimisers:
            assert abs(float(tf.fn(jnp.asarray(p, jnp.float64))) - tf.min_value) < 1e-10


def test_gd_reaches_the_rosenbrock_minimiser():
    res = gradient_descent_jit(jnp.asarray([-1.2, 1.0]), 1.5e-3, loss_fn=rosenbrock,
                               steps=15_000)
    assert int(res.diverged_at) == -1
    assert np.linalg.norm(np.asarray(res.trajectory[-1]) - 1.0) < 1e-3


def test_gd_experiment_end_to_end_and_its_step_sweep_summary(run_experiment, tmp_path):
    """Two jobs of a sweep over gd.lr, one each side of 2/L = 2 (the first through the
    run_experiment fixture, which also redraws its figures with every kernel raising), then
    the foundation's summary: the table and plot show the divergence."""
    from experiments import gd
    from experiments._cli import execute
    from experiments._summary import summarize
    from mathml_jax import series

    # both jobs differ only in gd.lr, so the summary plots one series (named by its metric)
    small = ["gd.kappas=[5,50]", "gd.sweep_points=8", "gd.rosenbrock_steps=12000"]
    status, first, job = run_experiment("gd", "gd.lr=1.5", *small, determinism=True)
    assert status == 0
    assert_all_claims_pass(first)
    small = ["gd.lr=2.5", *small]
    cfg = compose("experiment=gd", "profile=fast", "strict=true", *small)
    status, second = execute(cfg, "gd", tmp_path / "gd_above", overrides=small)
    assert status == 0
    assert_all_claims_pass(second)
    rec = json.loads((job / "metrics.json").read_text())
    ids = {c["id"] for c in rec["claims"]}
    assert ids == {"optimal_step_rate", "random_starts_within_bound",
                   "steps_below_2_over_L_converge", "steps_above_2_over_L_diverge",
                   "sweep_rate_prediction", "configured_step_outcome", "rosenbrock_local_rate"}
    assert ids == {c.id for c in second.claims}  # the same claims on both sides of 2/L
    assert all(c["reference"] for c in rec["claims"])
    for name in ("trajectories", "error_vs_step", "rates", "rosenbrock"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    r = series.load(job / "series.npz", gd.Results)
    assert r.demos["quadratic"]["paths"].shape == (3, 26, 2)  # moved out of the figure code
    assert r.demos["quadratic"]["diverged_at"][-1] >= 0 > r.demos["quadratic"]["diverged_at"][0]
    assert first.metrics["diverged"] == 0 and second.metrics["diverged"] == 1
    assert second.metrics["status"].startswith("diverged at step")
    s = summarize(tmp_path, metric="growth_per_step", param="gd.lr")
    assert s.n_failed == 0 and s.plot_path is not None and s.plot_path.exists()
    assert "diverged" in s.columns and "growth_per_step" in s.columns
    growth = {r.overrides["gd.lr"]: r.metrics["growth_per_step"] for r in s.rows}
    assert growth["1.5"] < 1 < growth["2.5"]
    _mutations_are_caught(first)


def _mutations_are_caught(report):
    """Issue 13: perturbed results fail the claims that should catch them."""
    import copy

    def scale(section, key, factor, index=None):
        def mutate(r):
            v = np.array(getattr(r, section)[key], dtype=np.float64, copy=True)
            if index is None:
                v = v * factor
            else:
                v[index] = v[index] * factor
            getattr(r, section)[key] = v
        return mutate

    def random_start_too_slow(r):  # one random start's error 1% above r^k ||e_0|| late on
        e = np.array(r.kappas["random_errors"], copy=True)
        e[0, 0, 5:] = e[0, 0, 5:] + 0.01 * e[0, 0, 5]
        r.kappas["random_errors"] = e

    def small_step_diverges(r):
        d = np.array(r.sweep["diverged_at"], copy=True)
        d[0] = 3
        r.sweep["diverged_at"] = d

    def large_step_converges(r):
        d = np.array(r.sweep["diverged_at"], copy=True)
        d[-2] = -1
        r.sweep["diverged_at"] = d

    def configured_step_flips(r):  # the configured step (eta L = 1.5) reported diverged
        d = copy.deepcopy(r.sweep["diverged_at"])
        d[-1] = 10
        r.sweep["diverged_at"] = d

    def rosenbrock_rate_off(r):  # 1 - r off by 3%
        r.rosenbrock["fitted_rate"] = 1 - 1.03 * (1 - r.rosenbrock["fitted_rate"])

    assert_mutations_catch(report, {
        "optimal-step rates 1e-4 relative faster": (scale("kappas", "measured", 1 - 1e-4),
                                                    {"optimal_step_rate"}),
        "a random start 1% above the bound": (random_start_too_slow,
                                              {"random_starts_within_bound"}),
        "a small step diverges": (small_step_diverges, {"steps_below_2_over_L_converge"}),
        "a step above 2/L converges": (large_step_converges, {"steps_above_2_over_L_diverge"}),
        "swept rates 1e-5 relative off": (scale("sweep", "measured", 1 + 1e-5),
                                             {"sweep_rate_prediction"}),
        "the configured step diverges": (configured_step_flips, {"configured_step_outcome"}),
        "Rosenbrock local rate 3% off": (rosenbrock_rate_off, {"rosenbrock_local_rate"}),
    })
