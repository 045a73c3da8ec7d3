"""The ``determinant`` experiment and the volume kernels, against closed forms and NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass

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
    status, report, job = run_experiment("determinant")
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("unit_square_images", "monte_carlo"):
        assert (job / f"{name}.png").stat().st_size > 10_000


def test_determinant_experiment_float64_other_seed(run_experiment):
    status, report, _ = run_experiment("determinant", "precision=float64", "seed=4")
    assert status == 0
    assert_all_claims_pass(report)
