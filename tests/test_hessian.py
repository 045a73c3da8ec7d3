"""The ``hessian`` experiment and its kernels, against independent references."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from conftest import assert_all_claims_pass, assert_mutations_catch

from experiments import hessian
from mathml_jax import series
from mathml_jax.optimization.critical_points import (
    CONVERGED,
    DEGENERATE,
    DIVERGED,
    MAXIMUM,
    MINIMUM,
    SADDLE,
    classify_hessian,
    determinant_test,
    hvp,
    lanczos_extreme_eigenvalues,
    newton_from_starts,
)
from mathml_jax.optimization.test_functions import (
    himmelblau,
    quadratic,
    quadratic_plus_cosines,
    switched,
)


def _np_himmelblau_grad(p):
    """Closed-form gradient of Himmelblau's function (no autodiff)."""
    x, y = p
    a, b = x * x + y - 11, x + y * y - 7
    return np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])


def test_newton_finds_himmelblau_critical_points_that_scipy_confirms():
    with jax.enable_x64(True):
        starts = jnp.asarray(np.random.default_rng(0).uniform(-5, 5, size=(64, 2)))
        res = newton_from_starts(starts, None, 500.0, 1e-10, f=himmelblau, steps=40)
        ok = np.asarray(res.status) == CONVERGED
        assert ok.sum() > 40
        for p in np.asarray(res.x)[ok][:10]:
            ref = scipy.optimize.root(_np_himmelblau_grad, p, tol=1e-14).x
            np.testing.assert_allclose(p, ref, atol=1e-9)
            assert np.linalg.norm(_np_himmelblau_grad(p)) < 1e-8


def test_newton_is_exact_in_one_step_on_a_quadratic():
    with jax.enable_x64(True):
        A = jnp.asarray([[3.0, 1.0], [1.0, -2.0]])  # indefinite: a saddle
        b = jnp.asarray([1.0, 2.0])
        res = newton_from_starts(jnp.asarray([[5.0, -7.0]]), (A, b), 1e3, 1e-12,
                                 f=quadratic, steps=2)
        np.testing.assert_allclose(np.asarray(res.x[0]), np.linalg.solve(np.asarray(A), b),
                                   atol=1e-14)
        assert int(res.status[0]) == CONVERGED


def _no_critical_point(x, params=None):
    """exp(x) + y^2: no critical point; Newton's x-step is x - 1, forever."""
    return jnp.exp(x[0]) + x[1] ** 2


def _cubic_valley(x, params=None):
    """x^3 + y^2: Hessian diag(6x, 2) is singular on x = 0, where grad = (0, 2y) != 0."""
    return x[0] ** 3 + x[1] ** 2


def test_newton_reports_divergence_as_a_status():
    res = newton_from_starts(jnp.asarray([[1.0, 1.0]]), None, 5.0, 1e-6,
                             f=_no_critical_point, steps=20)
    assert int(res.status[0]) == DIVERGED
    x = np.asarray(res.x[0])
    assert np.isfinite(x).all() and np.linalg.norm(x) <= 5.0  # frozen inside the radius
    # a singular Hessian away from a critical point: a status, not NaN
    res = newton_from_starts(jnp.asarray([[0.0, 1.0]]), None, 5.0, 1e-6, f=_cubic_valley,
                             steps=5)
    assert int(res.status[0]) == DIVERGED and np.isfinite(np.asarray(res.x)).all()
    # ... whereas at an exact critical point with a singular Hessian Newton just stays
    res = newton_from_starts(jnp.asarray([[0.0, 0.0]]), None, 5.0, 1e-6, f=_cubic_valley,
                             steps=5)
    assert int(res.status[0]) == CONVERGED


def test_a_new_start_or_function_index_does_not_recompile():
    f = switched(("himmelblau", "double_well"))
    newton_from_starts(jnp.zeros((4, 2)) + 0.3, jnp.int32(0), 100.0, 1e-5, f=f, steps=5)
    before = newton_from_starts._cache_size()
    newton_from_starts(jnp.ones((4, 2)), jnp.int32(1), 50.0, 1e-4, f=f, steps=5)
    assert newton_from_starts._cache_size() == before


def test_classification_and_determinant_test_on_known_hessians():
    cases = [(np.diag([2.0, 3.0]), MINIMUM), (np.diag([-2.0, -3.0]), MAXIMUM),
             (np.diag([2.0, -3.0]), SADDLE), (np.diag([0.0, 3.0]), DEGENERATE),
             (np.zeros((2, 2)), DEGENERATE)]
    rng = np.random.default_rng(1)
    for H, expected in cases:
        Q, _ = np.linalg.qr(rng.normal(size=(2, 2)))
        Hr = jnp.asarray(Q @ H @ Q.T, jnp.float32)  # rotation changes entries, not the type
        code, lam = classify_hessian(Hr, 1e-4)
        assert int(code) == expected
        np.testing.assert_allclose(np.sort(np.asarray(lam)), np.sort(np.diag(H)), atol=1e-5)
        assert int(determinant_test(Hr, 1e-4)) == expected
    # 3 variables: one zero eigenvalue but both signs present is still a saddle
    assert int(classify_hessian(jnp.diag(jnp.asarray([1.0, 0.0, -1.0])), 1e-6)[0]) == SADDLE


def test_hvp_matches_the_full_hessian_and_finite_differences():
    with jax.enable_x64(True):
        d = 30
        rng = np.random.default_rng(2)
        M = rng.normal(size=(d, d))
        A = jnp.asarray((M + M.T) / 2)
        x = jnp.asarray(rng.normal(size=d))
        v = jnp.asarray(rng.normal(size=d))
        Hv = hvp(quadratic_plus_cosines, x, v, A)
        H = jax.hessian(quadratic_plus_cosines)(x, A)
        np.testing.assert_allclose(np.asarray(Hv), np.asarray(H @ v), rtol=1e-12, atol=1e-12)
        # closed form: H = A - diag(cos x) + 3 diag(x^2)
        Href = np.asarray(A) + np.diag(-np.cos(np.asarray(x)) + 3 * np.asarray(x) ** 2)
        np.testing.assert_allclose(np.asarray(H), Href, atol=1e-12)
        h = 1e-5
        g = jax.grad(quadratic_plus_cosines)
        fd = (g(x + h * v, A) - g(x - h * v, A)) / (2 * h)
        np.testing.assert_allclose(np.asarray(Hv), np.asarray(fd), rtol=1e-6, atol=1e-6)


def test_lanczos_extreme_eigenvalues_match_numpy():
    with jax.enable_x64(True):
        d = 120
        rng = np.random.default_rng(3)
        Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
        lam = np.concatenate([[-3.0], np.linspace(-1, 1, d - 2), [4.0]])
        A = (Q * lam) @ Q.T
        res = lanczos_extreme_eigenvalues(jnp.zeros(d), (jnp.asarray(A), jnp.zeros(d)),
                                          jax.random.key(0), f=quadratic, num_steps=40)
        np.testing.assert_allclose(np.asarray(res.extremes), [-3.0, 4.0], atol=1e-10)
        before = lanczos_extreme_eigenvalues._cache_size()
        res2 = lanczos_extreme_eigenvalues(jnp.zeros(d), (jnp.asarray(2 * A), jnp.zeros(d)),
                                           jax.random.key(1), f=quadratic, num_steps=40)
        assert lanczos_extreme_eigenvalues._cache_size() == before
        np.testing.assert_allclose(np.asarray(res2.extremes), [-6.0, 8.0], atol=1e-9)


def test_hessian_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("hessian", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    rec = json.loads((job / "metrics.json").read_text())
    assert rec["claims_passed"] == rec["claims_total"] >= 15
    assert rec["metrics"]["himmelblau_critical_points"] == 9
    assert "maximum at (-0.27" in rec["metrics"]["himmelblau_point_5"] or any(
        v.startswith("maximum at") for k, v in rec["metrics"].items()
        if k.startswith("himmelblau_point_"))
    for name in ("critical_points", "hessian_test", "basins", "hvp_spectrum"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    ids = {c["id"] for c in rec["claims"]}
    assert {"himmelblau_known_critical_points", "quartic_degenerate_decided_by_values",
            "monkey_saddle_degenerate_decided_by_values", "finite_difference_types_agree",
            "hessian_equals_finite_differences", "determinant_test_on_finite_differences",
            "lanczos_smallest_equals_closed_form", "origin_is_saddle"} <= ids
    r = series.load(job / "series.npz", hessian.Results)
    assert len(r.functions["himmelblau"]["points"]) == 9
    assert r.functions["himmelblau"]["contour"].shape == (hessian.CONTOUR_RESOLUTION,) * 2
    _mutations_are_caught(report)


def _set(key, value, name="himmelblau", j=0):
    def mutate(r):
        r.functions[name][key][j] = value
    return mutate


def _scale_fd(factor):
    def mutate(r):
        r.functions["himmelblau"]["fd_hessians"][0] *= factor
    return mutate


def _shift_point(r):
    r.functions["saddle"]["points"][0] += 0.01


def _flip_hessian_sign(r):
    """jax.hessian with the wrong sign everywhere: eigenvalues and types flip."""
    for f in r.functions.values():
        f["hessians"] *= -1
        f["eigenvalues"] = -f["eigenvalues"][:, ::-1]
        f["codes"] = np.where(f["codes"] == MINIMUM, MAXIMUM,
                              np.where(f["codes"] == MAXIMUM, MINIMUM, f["codes"]))


def _mutations_are_caught(report):
    """Issue 13: every claim fails under some perturbation of the computed results."""
    def lanczos(i, delta):
        def mutate(r):
            r.lanczos_extremes = r.lanczos_extremes.copy()
            r.lanczos_extremes[i] += delta
        return mutate

    def full(i, delta):
        def mutate(r):
            r.full_eigenvalues = r.full_eigenvalues.copy()
            r.full_eigenvalues[i] += delta
        return mutate

    def degenerate_becomes(name, values):
        def mutate(r):
            r.functions[name]["circle"][:] = values
        return mutate

    def double_well_misses_a_point(r):
        f = r.functions["double_well"]
        keep = np.arange(len(f["points"])) != 0
        for k in ("points", "codes", "eigenvalues", "hessians", "fd_hessians", "det_codes_fd",
                  "curvature", "values", "circle"):
            f[k] = f[k][keep]

    def monkey_mistyped(r):
        r.functions["monkey_saddle"]["codes"][:] = SADDLE

    def quartic_mistyped(r):
        r.functions["quartic"]["codes"][:] = MINIMUM

    def himmelblau_shifted(r):
        r.functions["himmelblau"]["points"][3] += 0.01

    def wrong_curvature_sign(r):
        r.functions["double_well"]["curvature"][0] *= -1

    def lanczos_one_sign(r):
        r.lanczos_extremes = np.abs(r.lanczos_extremes)

    assert_mutations_catch(report, {
        "a Himmelblau point moved by 0.01": (himmelblau_shifted,
                                             {"himmelblau_known_critical_points"}),
        "the saddle moved by 0.01": (_shift_point, {"saddle_known_critical_points"}),
        "a double-well point lost": (double_well_misses_a_point,
                                     {"double_well_known_critical_points"}),
        "monkey saddle typed by its Hessian": (monkey_mistyped,
                                               {"monkey_saddle_known_critical_points"}),
        "quartic typed minimum by its Hessian": (quartic_mistyped,
                                                 {"quartic_known_critical_points"}),
        "f rises all round the monkey saddle": (degenerate_becomes("monkey_saddle", 1e-6),
                                                {"monkey_saddle_degenerate_decided_by_values"}),
        "f falls all round the quartic": (degenerate_becomes("quartic", -1e-6),
                                          {"quartic_degenerate_decided_by_values"}),
        "jax.hessian with the wrong sign": (_flip_hessian_sign, {
            "finite_difference_types_agree", "hessian_equals_finite_differences",
            "eigenvector_second_differences", "himmelblau_known_critical_points"}),
        "finite-difference Hessian off by 1e-3": (_scale_fd(1 + 1e-3),
                                                  {"hessian_equals_finite_differences"}),
        "a second difference with the wrong sign": (wrong_curvature_sign,
                                                    {"eigenvector_second_differences"}),
        "determinant test says saddle at a minimum": (
            _set("det_codes_fd", SADDLE, "double_well", 1),
            {"determinant_test_on_finite_differences"}),
        "determinant test decides at the quartic": (
            _set("det_codes_fd", MINIMUM, "quartic"), {"determinant_test_on_finite_differences"}),
        "Lanczos min off by 3e-5": (lanczos(0, 3e-5), {"lanczos_smallest_equals_closed_form"}),
        "Lanczos max off by 3e-5": (lanczos(1, -3e-5), {"lanczos_largest_equals_closed_form"}),
        "full min off by 3e-5": (full(0, 3e-5), {"full_smallest_equals_closed_form"}),
        "full max off by 3e-5": (full(-1, 3e-5), {"full_largest_equals_closed_form"}),
        "Lanczos sees one sign": (lanczos_one_sign, {"origin_is_saddle"}),
    })
