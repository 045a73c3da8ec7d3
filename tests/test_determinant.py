"""The ``determinant`` experiment and the volume kernels, against closed forms and NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass, assert_mutations_catch

from mathml_jax.linalg import (
    image_of_unit_square,
    monte_carlo_image_volume,
    monte_carlo_image_volumes,
    shoelace_signed_area,
)


def test_shoelace_closed_forms():
    tri = jnp.asarray([[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]])
    assert float(shoelace_signed_area(tri)) == 6.0
    assert float(shoelace_signed_area(tri[::-1])) == -6.0  # clockwise: negative


def test_image_of_square_area_is_det_against_numpy():
    with jax.enable_x64(True):
        for a in np.random.default_rng(0).normal(size=(20, 2, 2)):
            got = float(shoelace_signed_area(image_of_unit_square(jnp.asarray(a))))
            np.testing.assert_allclose(got, np.linalg.det(a), rtol=1e-12, atol=1e-14)


def test_monte_carlo_volume_of_a_box_and_a_shear():
    """diag(2, 3, 0.5) maps the cube onto its own bounding box: every point hits, SE = 0."""
    with jax.enable_x64(True):
        est, se = monte_carlo_image_volume(jnp.diag(jnp.asarray([2.0, 3.0, 0.5])),
                                           jax.random.key(0), num_samples=1000)
        assert float(est) == 3.0 and float(se) == 0.0
        # a shear: the image is a parallelogram of area 1 in a 2 x 1 box, p = 1/2
        est, se = monte_carlo_image_volume(jnp.asarray([[1.0, 1.0], [0.0, 1.0]]),
                                           jax.random.key(1), num_samples=40_000)
        assert abs(float(est) - 1.0) < 4 * float(se)
        np.testing.assert_allclose(float(se), 2 * np.sqrt(0.25 / 40_000), rtol=0.01)


def test_batched_monte_carlo_equals_single_calls():
    a = jax.random.normal(jax.random.key(2), (3, 2, 2))
    keys = jax.random.split(jax.random.key(3), 3)
    est, _ = monte_carlo_image_volumes(a, keys, num_samples=500)
    for i in range(3):
        e, _ = monte_carlo_image_volume(a[i], keys[i], num_samples=500)
        np.testing.assert_allclose(float(est[i]), float(e), rtol=1e-6)


def test_determinant_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("determinant", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("unit_square_images", "monte_carlo"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert {c.id for c in report.claims} == {
        "shoelace_equals_det", "monte_carlo_volume_2d", "monte_carlo_volume_3d",
        "det_multiplicative", "singular_zero_area", "singular_rank_one"}
    _mutations_are_caught(report)


def _mutations_are_caught(report):
    """Issue 13: perturbed results fail the claims that should catch them."""

    def area_scaled(r):  # shoelace 1e-5 relative off on one matrix
        r.area2 = r.area2.copy()
        r.area2[0] = r.area2[0] * (1 + 1e-5) + 1e-5 * r.scale2.max()

    def mc_biased(d):
        def mutate(r):
            m = r.monte_carlo[d]
            m["estimate"] = m["estimate"] + 6 * m["standard_error"]
        return mutate

    def product_off(r):  # det(AB) 1e-5 of the scale off on one pair
        r.det_ab = r.det_ab.copy()
        r.det_ab[1] = r.det_ab[1] + 1e-5 * r.norm_ab[1]

    def singular_not_flat(r):
        r.singular_area = 1e-4

    def corners_off_line(r):
        r.singular_image = r.singular_image.copy()
        r.singular_image[2, 1] += 1e-6

    assert_mutations_catch(report, {
        "shoelace area 1e-5 off": (area_scaled, {"shoelace_equals_det"}),
        "2x2 Monte Carlo biased by 6 SE": (mc_biased("2d"), {"monte_carlo_volume_2d"}),
        "3x3 Monte Carlo biased by 6 SE": (mc_biased("3d"), {"monte_carlo_volume_3d"}),
        "det(AB) off by 1e-5 of its scale": (product_off, {"det_multiplicative"}),
        "the singular image has area": (singular_not_flat, {"singular_zero_area"}),
        "a corner of the singular image off the line": (corners_off_line,
                                                        {"singular_rank_one"}),
    })


def test_determinant_experiment_float64_other_seed(run_experiment):
    status, report, _ = run_experiment("determinant", "precision=float64", "seed=4",
                                    figures=False)
    assert status == 0
    assert_all_claims_pass(report)
