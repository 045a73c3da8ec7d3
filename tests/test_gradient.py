"""The ``gradient`` experiment and its kernels, against independent references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass

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
    status, report, job = run_experiment("gradient")
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("tangent_plane", "gradient_field", "directional_derivative"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert {c.id for c in report.claims} >= {"partials_closed_form", "level_chord_slope",
                                              "no_direction_beats_gradient"}
    saved = series.load(job / "series.npz", gradient.Results)
    assert set(saved.functions) == set(report.results.functions)
