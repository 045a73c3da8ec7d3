"""The ``optimizers`` experiment and its kernels, against independent references."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_all_claims_pass, assert_mutations_catch

from experiments import optimizers
from experiments.optimizers import _steps_to_stay
from mathml_jax import series
from mathml_jax.optimization.first_order import optimize_batch
from mathml_jax.optimization.optimizers import OPTIMIZERS, make_optimizer
from mathml_jax.optimization.test_functions import (
    ILL_QUADRATIC_HESSIAN,
    TEST_FUNCTIONS,
    ill_conditioned_quadratic,
    rosenbrock,
)


def _np_grad_quadratic(x):
    return ILL_QUADRATIC_HESSIAN @ (x - np.array([1.0, -1.0]))


def test_ill_conditioned_quadratic_has_the_stated_hessian():
    with jax.enable_x64(True):
        H = jax.hessian(ill_conditioned_quadratic)(jnp.zeros(2))
        np.testing.assert_allclose(np.asarray(H), ILL_QUADRATIC_HESSIAN, atol=1e-15)
        np.testing.assert_allclose(np.linalg.eigvalsh(ILL_QUADRATIC_HESSIAN), [0.01, 1.0],
                                   atol=1e-15)


def test_heavy_ball_matches_the_polyak_recursion_in_numpy():
    """optax.sgd(alpha, momentum=beta) is x_{k+1} = x_k - alpha g_k + beta (x_k - x_{k-1})."""
    with jax.enable_x64(True):
        alpha, beta, steps = 0.3, 0.7, 40
        x0 = np.array([-2.0, 2.0])
        res = optimize_batch(jnp.asarray([x0]), jnp.asarray([alpha]), beta, jnp.zeros(1),
                             1e6, f=ill_conditioned_quadratic, optimizer="momentum", steps=steps)
        xs = [x0, x0 - alpha * _np_grad_quadratic(x0)]
        for _ in range(steps - 1):
            xs.append(xs[-1] - alpha * _np_grad_quadratic(xs[-1]) + beta * (xs[-1] - xs[-2]))
        np.testing.assert_allclose(np.asarray(res.trajectory[0]), np.array(xs), atol=1e-12)


def test_adam_matches_its_update_rule_in_numpy():
    with jax.enable_x64(True):
        lr, b1, b2, eps, steps = 0.05, 0.9, 0.999, 1e-8, 30
        x = np.array([-1.2, 1.0])
        res = optimize_batch(jnp.asarray([x]), jnp.asarray([lr]), 0.0, jnp.zeros(1), 1e6,
                             f=rosenbrock, optimizer="adam", steps=steps)

        def grad(p):
            return np.array([-2 * (1 - p[0]) - 400 * p[0] * (p[1] - p[0] ** 2),
                             200 * (p[1] - p[0] ** 2)])

        m = v = np.zeros(2)
        for k in range(1, steps + 1):
            g = grad(x)
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            x = x - lr * (m / (1 - b1**k)) / (np.sqrt(v / (1 - b2**k)) + eps)
        np.testing.assert_allclose(np.asarray(res.trajectory[0, -1]), x, rtol=1e-10)


def test_divergence_is_a_status_and_a_new_lr_does_not_recompile():
    x0 = jnp.asarray([[-2.0, 1.5]] * 3)  # not on an eigenvector of the Hessian
    kw = dict(f=ill_conditioned_quadratic, optimizer="sgd", steps=200)
    optimize_batch(x0, jnp.asarray([0.1, 0.5, 1.0]), 0.0, jnp.zeros(3), 1e4, **kw)
    before = optimize_batch._cache_size()
    res = optimize_batch(x0, jnp.asarray([0.5, 1.9, 2.2]), 0.0, jnp.zeros(3), 1e4, **kw)
    assert optimize_batch._cache_size() == before
    div = np.asarray(res.diverged_at)
    assert div[0] == -1 and div[1] == -1 and div[2] > 0  # L = 1: the threshold is 2
    assert np.isfinite(np.asarray(res.trajectory)).all()


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_builds_and_descends(name):
    opt = make_optimizer(name, 1e-4)
    x = jnp.asarray([-1.2, 1.0])
    u, _ = opt.update(jax.grad(rosenbrock)(x), opt.init(x), x)
    assert float(rosenbrock(x + u)) < float(rosenbrock(x))


def test_steps_to_stay_below_a_tolerance():
    v = np.array([[5, 0.5, 2, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1, 0.1], [5, 5, 5, 5, 2]])
    np.testing.assert_array_equal(_steps_to_stay(v, 1.0), [3, 0, -1])


def test_known_minimisers_are_where_the_functions_say():
    for name in ("ill_quadratic", "rosenbrock", "beale", "himmelblau"):
        tf = TEST_FUNCTIONS[name]
        with jax.enable_x64(True):
            for p in tf.minimisers:
                H = np.asarray(jax.hessian(tf.fn)(jnp.asarray(p)))
                assert np.all(np.linalg.eigvalsh(H) > 0)  # a strict local minimum


def test_optimizers_experiment_end_to_end_fast_profile(run_experiment):
    """The whole run, with the animation on (one run for both: it is the suite's costliest)."""
    from PIL import Image

    status, report, job = run_experiment("optimizers", "optimizers.animate=true",
                                         "optimizers.animation_frames=5", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    rec = json.loads((job / "metrics.json").read_text())
    m = rec["metrics"]
    for opt in OPTIMIZERS:
        for name in ("ill_quadratic", "rosenbrock", "beale", "himmelblau", "saddle"):
            assert f"{name}.{opt}.steps_median" in m and f"{name}.{opt}.gap_q3" in m
    for fig in ("trajectories", "loss_curves", "steps_to_tolerance", "heavy_ball_rate"):
        assert (job / f"{fig}.png").stat().st_size > 10_000
    # optimizers.animate=true adds trajectories.gif (several frames); off by default
    with Image.open(job / "trajectories.gif") as im:
        assert im.n_frames >= 3
    assert not list(job.glob(".*tmp*"))
    assert optimizers.Config().animate is False
    assert {c["id"] for c in rec["claims"]} == {
        "heavy_ball_optimal_rate", "gd_optimal_rate", "heavy_ball_beats_gd",
        "rosenbrock_median_reaches_minimiser", "all_escape_saddle", "quadratic_all_converge"}
    assert all(c["reference"] for c in rec["claims"])
    r = series.load(job / "series.npz", optimizers.Results)
    assert list(r.optimizers) == list(OPTIMIZERS) and r.comparison["lr"].shape == (5, 7)
    assert set(r.contours) == set(optimizers.FUNCTIONS)
    assert r.contours["rosenbrock"].shape == (optimizers.GRID, optimizers.GRID)
    assert r.contours["rosenbrock"].dtype == np.float32  # the job's dtype (float32 here)
    _mutations_are_caught(report)


def _mutations_are_caught(report):
    """Issue 13: perturbed results fail the claims that should catch them."""
    F = optimizers.FUNCTIONS
    i_r, i_s, i_q = F.index("rosenbrock"), F.index("saddle"), F.index("ill_quadratic")

    def scale_rate(key, factor):
        def mutate(r):
            r.rates[key] = r.rates[key] * factor
        return mutate

    def hb_as_slow_as_gd(r):
        r.rates["heavy_ball"] = r.rates["gd"] * 1.001

    def rosenbrock_off(r):  # one optimizer stops 0.15 short of (1, 1) on every start
        r.final["adam"][i_r] = r.final["adam"][i_r] - 0.15

    def rosenbrock_diverges(r):  # more than half of one optimizer's runs diverge
        r.diverged_at["lion"][i_r, : r.diverged_at["lion"].shape[1] // 2 + 1] = 7

    def one_stuck_at_saddle(r):
        r.comparison["reached"][i_s, 3] -= 1

    def one_quadratic_run_short(r):
        r.comparison["reached"][i_q, 0] -= 1

    assert_mutations_catch(report, {
        "heavy-ball rate 1% slower": (scale_rate("heavy_ball", 1.01),
                                      {"heavy_ball_optimal_rate"}),
        "GD rate off by 1e-12 relative": (scale_rate("gd", 1 + 1e-12), {"gd_optimal_rate"}),
        "heavy ball no faster than GD": (hb_as_slow_as_gd,
                                         {"heavy_ball_beats_gd", "heavy_ball_optimal_rate"}),
        "Rosenbrock minimiser missed by 0.15": (rosenbrock_off,
                                                {"rosenbrock_median_reaches_minimiser"}),
        "half the Rosenbrock runs diverge": (rosenbrock_diverges,
                                             {"rosenbrock_median_reaches_minimiser"}),
        "one start stays at the saddle": (one_stuck_at_saddle, {"all_escape_saddle"}),
        "one quadratic run short of gap_tol": (one_quadratic_run_short,
                                               {"quadratic_all_converge"}),
    })


