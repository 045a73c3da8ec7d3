"""The ``vectors`` experiment and the norm kernels, against NumPy and closed forms."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass, assert_mutations_catch

from experiments import vectors
from mathml_jax import series
from mathml_jax.linalg import axiom_defects, p_norm, parallelogram_defect, triangle_violation


def test_p_norm_matches_numpy_and_does_not_overflow():
    with jax.enable_x64(True):
        x = np.random.default_rng(0).normal(size=(20, 6))
        for p in (0.5, 1.0, 1.5, 2.0, 3.0, np.inf):
            ref = np.sum(np.abs(x) ** p, axis=1) ** (1 / p) if np.isfinite(p) else \
                np.abs(x).max(axis=1)
            np.testing.assert_allclose(np.asarray(p_norm(jnp.asarray(x), p)), ref, rtol=1e-12)
        big = jnp.asarray([1e300, 1e300])
        np.testing.assert_allclose(float(p_norm(big, 2.0)), np.sqrt(2) * 1e300, rtol=1e-12)
        assert float(p_norm(jnp.zeros(3), 2.0)) == 0.0


def test_closed_form_counterexample_and_parallelogram():
    e1, e2 = jnp.asarray([1.0, 0.0]), jnp.asarray([0.0, 1.0])
    # ||e1 + e2||_(1/2) = (1 + 1)^2 = 4 > 1 + 1
    np.testing.assert_allclose(float(triangle_violation(e1, e2, 0.5)), 2.0, rtol=1e-6)
    # p = 1: ||e1+e2||^2 + ||e1-e2||^2 = 8, 2||e1||^2 + 2||e2||^2 = 4 -> defect 4/2 = 2
    np.testing.assert_allclose(float(parallelogram_defect(e1[None], e2[None], 1.0)), 2.0,
                               rtol=1e-6)
    assert float(parallelogram_defect(e1[None], e2[None], 2.0)) < 1e-6


def test_axiom_defects_are_zero_for_exact_arithmetic_values():
    u = jnp.asarray([[1.0, 2.0]])
    d = axiom_defects(u, u, u, jnp.asarray([2.0]), jnp.asarray([0.5]))
    assert len(d) == 8 and max(float(v) for v in d.values()) == 0.0


def test_vectors_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("vectors", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("unit_balls", "parallelogram_defect"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    ids = [c.id for c in report.claims]
    assert {"p_norm_matches_numpy", "triangle_equality_same_direction", "p_half_not_a_norm",
            "cauchy_schwarz_equality_parallel", "parallelogram_p2",
            "parallelogram_fails_other_p"} <= set(ids)
    r = series.load(job / "series.npz", vectors.Results)
    assert r.p_half["excess"].max() > 0.1 and r.ball_radii.shape == (5, 721)
    _mutations_are_caught(report)


def _mutations_are_caught(report):
    """Issue 13: every claim fails under some perturbation of the computed results."""
    def scaled(field, factor, index=None):
        def mutate(r):
            a = np.array(getattr(r, field), dtype=np.float64)
            if index is None:
                a = a * factor
            else:
                a[index] = a[index] * factor
            setattr(r, field, a)
        return mutate

    def shifted(field, delta, index):
        def mutate(r):
            a = np.array(getattr(r, field), dtype=np.float64)
            a[index] += delta
            setattr(r, field, a)
        return mutate

    def p_half_fixed(r):
        r.p_half["excess"] = np.minimum(r.p_half["excess"], 0.0)

    def parallelogram_everywhere(r):
        r.parallelogram = np.full_like(r.parallelogram, 1e-4)

    assert_mutations_catch(report, {
        "a p-norm off by 1e-5": (shifted("norm_rel_diff", 1e-5, (1, 0)),
                                 {"p_norm_matches_numpy"}),
        "||x + cx|| off by 1e-5": (shifted("triangle_tight", 1e-5, (2, 0)),
                                   {"triangle_equality_same_direction"}),
        "p = 1/2 obeys the triangle inequality": (p_half_fixed, {"p_half_not_a_norm"}),
        "||x||_128 over its bound": (scaled("sup_gap", 5.0, -1), {"sup_norm_limit"}),
        "Cauchy-Schwarz ratio 1 - 1e-5": (shifted("cauchy_schwarz_tight", -1e-5, 0),
                                          {"cauchy_schwarz_equality_parallel"}),
        "induced norm off by 1e-5": (shifted("induced_rel_diff", 1e-5, 0),
                                     {"induced_norm_is_2_norm"}),
        "projection residual not orthogonal": (shifted("orthogonality", 1e-4, 0),
                                               {"projection_residual_orthogonal"}),
        "parallelogram law fails at p = 2 too, holds elsewhere": (
            parallelogram_everywhere, {"parallelogram_p2", "parallelogram_fails_other_p"}),
    })


def test_vectors_float64_other_seed(run_experiment):
    status, report, _ = run_experiment("vectors", "precision=float64", "seed=3",
                                    figures=False)
    assert status == 0
    assert_all_claims_pass(report)
