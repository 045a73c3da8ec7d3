"""The ``extrema`` experiment and its kernels, against independent references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from conftest import assert_all_claims_pass, assert_mutations_catch

from experiments import extrema
from experiments.extrema import CATALOGUE, _merge
from mathml_jax import series
from mathml_jax.calculus import (
    DEGENERATE,
    MAXIMUM,
    MINIMUM,
    classify_critical_point,
    derivative_sign_change,
    newton_critical_points,
)
from mathml_jax.calculus.critical_points import newton_step
from mathml_jax.status import Kind


def _poly(x):
    return x ** 4 / 4 - x ** 3 / 3 - 3 * x ** 2 + 1  # f' = x^3 - x^2 - 6x = x(x-3)(x+2)


def test_newton_finds_the_roots_of_f_prime_as_numpy_roots_does():
    with jax.enable_x64(True):
        starts = jnp.linspace(-4, 4, 41)
        x, status, _ = newton_critical_points(starts, -4.0, 4.0, 1e-10, f=_poly, steps=60)
        found = _merge(np.asarray(x)[np.asarray(status) == 0], 1e-6)
        roots = np.sort(np.roots([1, -1, -6, 0]).real)
        np.testing.assert_allclose(found, roots, atol=1e-12)


def test_newton_on_sin_matches_scipy_brentq():
    with jax.enable_x64(True):
        x, status, _ = newton_critical_points(jnp.array([1.2, 4.5]), 0.0, 7.0, 1e-12,
                                              f=jnp.sin, steps=30)
        ref = [scipy.optimize.brentq(np.cos, 1, 2, xtol=1e-15),
               scipy.optimize.brentq(np.cos, 4, 5, xtol=1e-15)]
        np.testing.assert_allclose(np.asarray(x), ref, atol=1e-14)
        assert np.all(np.asarray(status) == 0)


def test_newton_step_is_finite_where_f_second_derivative_vanishes():
    """x^3 - 3x has f'' = 0 at x = 0 (an inflection): the step is 0, not NaN."""
    f = CATALOGUE["cubic_poly"][0]
    assert float(newton_step(f, jnp.float32(0.0))) == 0.0
    assert np.isfinite(float(jax.grad(lambda x: newton_step(f, x))(jnp.float32(0.0))))


def test_second_derivative_test_against_closed_form_curvature():
    """double well x^4 - 2x^2: f'' = 12x^2 - 4 is 8, -4, 8 at -1, 0, 1; x^3 and x^4: 0."""
    kinds, d2 = classify_critical_point(jnp.array([-1.0, 0.0, 1.0]), 1e-3,
                                        f=CATALOGUE["double_well"][0])
    np.testing.assert_allclose(np.asarray(d2), [8, -4, 8], rtol=1e-6)
    assert list(np.asarray(kinds)) == [MINIMUM, MAXIMUM, MINIMUM]
    for name in ("cube", "quartic"):
        k, _ = classify_critical_point(jnp.array([0.0]), 1e-3, f=CATALOGUE[name][0])
        assert int(k[0]) == DEGENERATE


def test_sign_change_test():
    s = np.asarray(derivative_sign_change(jnp.array([0.0, 0.0]), 0.1, f=lambda x: x ** 3))
    assert s.tolist() == [[1, 1], [1, 1]]
    s = np.asarray(derivative_sign_change(jnp.array([np.pi / 2]), 0.1, f=jnp.sin))
    assert s.tolist() == [[1, -1]]


def test_extrema_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("extrema", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("critical_points", "silent_test"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert report.metrics["cube_verdict"] == Kind.DEGENERATE.word
    ids = {c.id for c in report.claims}
    assert {"cube_known_points", "cube_verdicts", "sin_known_points", "definite_verdicts_agree",
            "cube_inconclusive", "cube_no_extremum", "second_derivative_closed_form"} <= ids
    r = series.load(job / "series.npz", extrema.Results)
    np.testing.assert_allclose(r.functions["double_well"]["found"], [-1, 0, 1], atol=1e-4)
    assert r.functions["sin"]["xs"].shape == r.functions["sin"]["f"].shape == (400,)
    _mutations_are_caught(report)


def _set(name, key, j, value):
    def mutate(r):
        r.functions[name][key][j] = value
    return mutate


def _shift(name, j, delta):
    def mutate(r):
        r.functions[name]["found"][j] += delta
    return mutate


def _mutations_are_caught(report):
    """Issue 13: every claim fails under some perturbation of the computed results."""
    def scale_f2(r):
        r.functions["sin"]["second_derivative"][0] *= 1.001

    assert_mutations_catch(report, {
        "cube point moved by 1e-2": (_shift("cube", 0, 1e-2), {
            "cube_known_points", "cube_inconclusive", "cube_no_extremum"}),
        "quartic point moved by 0.05": (_shift("quartic", 0, 0.05), {"quartic_known_points"}),
        "double-well maximum moved by 1e-5": (_shift("double_well", 1, 1e-5),
                                              {"double_well_known_points"}),
        "cubic minimum moved by 1e-5": (_shift("cubic_poly", 1, 1e-5),
                                        {"cubic_poly_known_points"}),
        "sin maximum moved by 1e-5": (_shift("sin", 0, 1e-5), {"sin_known_points"}),
        "double-well minimum called a maximum": (
            _set("double_well", "verdict", 0, MAXIMUM),
            {"double_well_verdicts", "definite_verdicts_agree"}),
        "cube decided as a minimum": (_set("cube", "verdict", 0, MINIMUM),
                                      {"cube_verdicts", "cube_inconclusive"}),
        "f' changes sign at the cube": (_set("cube", "signs", 0, [-1, 1]),
                                        {"cube_verdicts", "cube_no_extremum"}),
        "f' keeps its sign at the quartic": (_set("quartic", "signs", 0, [1, 1]),
                                             {"quartic_verdicts"}),
        "cubic maximum's f' signs swapped": (_set("cubic_poly", "signs", 0, [-1, 1]),
                                             {"cubic_poly_verdicts", "definite_verdicts_agree"}),
        "sin maximum's f' signs swapped": (_set("sin", "signs", 0, [-1, 1]),
                                           {"sin_verdicts", "definite_verdicts_agree"}),
        "f'' off by 0.1%": (scale_f2, {"second_derivative_closed_form"}),
    })


def test_extrema_requires_the_cube(run_experiment):
    from experiments._cli import EXIT_BAD_CONFIG

    status, report, _ = run_experiment("extrema", "extrema.functions=[sin]")
    assert status == EXIT_BAD_CONFIG and report is None
