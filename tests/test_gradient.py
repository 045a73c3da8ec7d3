"""The ``gradient`` experiment and its kernels, against independent references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass, assert_mutations_catch

from experiments import gradient
from experiments.gradient import TWO_D, _level_chords, many_variable_functions
from mathml_jax import series
from mathml_jax.multivariable import (
    directional_derivative,
    gradient_study,
    partials_by_slices,
    tangent_plane,
)


def _fd_gradient(fn, x, h=1e-6):
    e = np.eye(x.size)
    return np.array([(fn(x + h * ei) - fn(x - h * ei)) / (2 * h) for ei in e])


def test_closed_form_gradients_match_finite_differences():
    x = np.array([0.3, -0.7])
    for name, (_, fn, gn, _) in TWO_D.items():
        np.testing.assert_allclose(gn(x), _fd_gradient(fn, x), atol=1e-8, err_msg=name)
    xs = np.random.default_rng(0).normal(size=7)
    for name, (_, fn, gn, _) in many_variable_functions(7, 0).items():
        np.testing.assert_allclose(gn(xs), _fd_gradient(fn, xs), atol=1e-8, err_msg=name)


def test_partials_from_slices_and_jvp_match_closed_form():
    with jax.enable_x64(True):
        f, _, gn, _ = TWO_D["rosenbrock"]
        x = np.array([0.4, -0.2])
        np.testing.assert_allclose(np.asarray(partials_by_slices(f, jnp.asarray(x))), gn(x),
                                   rtol=1e-14)
        u = np.array([0.6, 0.8])
        np.testing.assert_allclose(float(directional_derivative(f, jnp.asarray(x),
                                                                jnp.asarray(u))),
                                   gn(x) @ u, rtol=1e-14)
        # the tangent plane at x0 agrees with f at x0 and has the gradient as its slope
        assert float(tangent_plane(f, jnp.asarray(x), jnp.asarray(x))) == float(f(x))


def test_gradient_study_shapes_and_cauchy_schwarz():
    with jax.enable_x64(True):
        f, _, gn, _ = many_variable_functions(5, 1)["logsumexp_5d"]
        pts = jnp.asarray(np.random.default_rng(2).normal(size=(3, 5)))
        U = np.random.default_rng(3).normal(size=(50, 5))
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        g, p, d = gradient_study(pts, jnp.asarray(U), f=f)
        assert g.shape == (3, 5) and p.shape == (3, 5) and d.shape == (3, 50)
        exact = np.stack([gn(x) for x in np.asarray(pts)])
        np.testing.assert_allclose(np.asarray(d), exact @ U.T, rtol=1e-12, atol=1e-14)
        assert np.all(np.asarray(d).max(axis=1) <= np.linalg.norm(exact, axis=1) + 1e-14)


def test_level_chords_of_a_circle_are_perpendicular_to_the_radius():
    """f = x^2 + y^2: level curves are circles, the gradient is radial."""
    def fn(x):
        return x[0] ** 2 + x[1] ** 2

    x0 = np.array([0.6, 0.8])
    c = _level_chords(fn, x0, 2 * x0, 1e-3)
    assert c.size == 2 and c.max() < 1e-3


def test_gradient_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("gradient", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("tangent_plane", "gradient_field", "directional_derivative"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert {c.id for c in report.claims} >= {"partials_closed_form", "level_chord_slope",
                                              "directional_derivative_nd"}
    saved = series.load(job / "series.npz", gradient.Results)
    assert set(saved.functions) == set(report.results.functions)
    assert_mutations_catch(report, _MUTATIONS)


def _each(which, fn):
    """Applies fn(name, v) to every function's dict selected by which(name, v)."""
    def mutate(r):
        for name, v in r.functions.items():
            if which(name, v):
                fn(name, v)
    return mutate


def _two_d(name, v):
    return v["dim"] == 2


def _bias_partial(name, v):
    v["partials"][0, 0] *= 1 + 1e-3


def _tilted_plane(name, v):
    v["plane_gaps"] = v["plane_gaps"] + 1e-2 * gradient.DISTANCES  # a plane 0.6 deg off


def _steeper_gaps(name, v):
    v["plane_gaps"] = v["plane_gaps"] * (gradient.DISTANCES / gradient.DISTANCES[0]) ** 0.1


def _dirs_one_step_late(name, v):
    v["dirs"] = np.roll(v["dirs"], 1, axis=1)


def _dirs_scaled(name, v):
    v["dirs"] = v["dirs"] * (1 + 1e-3)


def _nd_dirs_scaled(name, v):
    v["dirs"] = v["dirs"] * (1 + 1e-4)


def _chords_off(name, v):
    v["chord_cos"] = v["chord_cos"] + np.sin(np.radians(0.2))  # gradient 0.2 degrees off


_MUTATIONS = {
    "one slice partial off by 1e-3": (
        _each(lambda n, v: n == "wave", _bias_partial), {"partials_closed_form"}),
    "tangent plane tilted: a first-order gap 1e-2 r": (
        _each(lambda n, v: True, _tilted_plane),
        {"tangent_plane_beyond_first_order", "tangent_plane_second_order"}),
    "gaps grow like r^2.1": (
        _each(lambda n, v: True, _steeper_gaps), {"tangent_plane_second_order"}),
    "2-D D_u f one angle step late": (
        _each(_two_d, _dirs_one_step_late),
        {"peak_at_gradient_direction", "directional_cosine_law"}),
    "2-D D_u f 0.1% too large": (
        _each(_two_d, _dirs_scaled), {"peak_value_is_gradient_norm", "directional_cosine_law"}),
    "n-D D_u f 1e-4 too large": (
        _each(lambda n, v: not _two_d(n, v), _nd_dirs_scaled), {"directional_derivative_nd"}),
    "jax.grad 0.2 degrees off the level-curve normal": (
        _each(_two_d, _chords_off), {"level_chord_perpendicular", "level_chord_slope"}),
}
