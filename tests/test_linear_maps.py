"""The ``linear_maps`` experiment and its kernels, against closed forms and NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass, assert_mutations_catch

from mathml_jax.linalg import (
    apply_matrix,
    linearity_defects,
    plane_maps,
    product_by_inner_products,
    translate,
)


def test_plane_maps_closed_form_properties():
    m = plane_maps(np.pi / 5)
    r, f, p = m["rotation"], m["reflection"], m["projection"]
    np.testing.assert_allclose(r.T @ r, np.eye(2), atol=1e-15)
    np.testing.assert_allclose(np.linalg.det(r), 1.0)
    np.testing.assert_allclose(f @ f, np.eye(2), atol=1e-15)
    np.testing.assert_allclose(np.linalg.det(f), -1.0)
    np.testing.assert_allclose(p @ p, p, atol=1e-15)
    np.testing.assert_allclose(np.linalg.matrix_rank(p), 1)


def test_linearity_defect_is_zero_for_matrices_and_exact_for_translations():
    with jax.enable_x64(True):
        d = linearity_defects(apply_matrix, jnp.asarray([[1.0, 2.0], [3.0, 4.0]]),
                              jax.random.key(0), num_pairs=100)
        assert float(d.max()) < 1e-14
        # f(ax+by) - af(x) - bf(y) = (1 - a - b) t for a translation by t
        t = jnp.asarray([0.3, 0.4])
        key = jax.random.key(1)
        d = np.asarray(linearity_defects(translate, t, key, num_pairs=50))
        kx, ky, ka = jax.random.split(key, 3)
        x = np.asarray(jax.random.normal(kx, (50, 2), jnp.float64))
        y = np.asarray(jax.random.normal(ky, (50, 2), jnp.float64))
        a, b = np.asarray(jax.random.normal(ka, (2, 50, 1), jnp.float64))
        scale = np.abs(a[:, 0]) * np.linalg.norm(x, axis=1) + np.abs(b[:, 0]) * np.linalg.norm(
            y, axis=1)
        np.testing.assert_allclose(d, np.abs(1 - a[:, 0] - b[:, 0]) * 0.5 / scale, rtol=1e-10)


def test_product_by_inner_products_matches_numpy():
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        a, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
        np.testing.assert_allclose(np.asarray(product_by_inner_products(jnp.asarray(a),
                                                                        jnp.asarray(b))),
                                   a @ b, atol=1e-14)


def _shift_points(name: str, delta: float):
    def mutate(r):
        r.point_images[name] = r.point_images[name] + delta
    return mutate


def _stretch_shape(name: str, factor: float):
    def mutate(r):
        r.shape_images[name] = r.shape_images[name] * factor
    return mutate


def _swap_sign(r):
    r.point_images["reflection"] = -r.point_images["reflection"]
    r.shape_images["reflection"] = r.shape_images["reflection"][:, ::-1]


def _perturb_element(r):
    r.product["inner_products"][1, 2] += 1e-3


def _angle_off(r):
    a = r.product["alpha"] + r.product["beta"] + 1e-3
    r.product["rotation_products"][0] = [[np.cos(a[0]), -np.sin(a[0])],
                                         [np.sin(a[0]), np.cos(a[0])]]


def _transpose_rotations(r):
    r.product["rotation_products"] = np.swapaxes(r.product["rotation_products"], 1, 2)


# perturbations of the computed results, and the claims each must fail
LINEAR_MAPS_MUTATIONS = {
    "shear images shifted by 1e-3": (_shift_points("shear", 1e-3), {"maps_match_geometry"}),
    "reflection images negated (a rotation by pi)": (_swap_sign, {"maps_match_geometry",
                                                                  "area_scale_closed_form"}),
    "scaled F 0.1% larger": (_stretch_shape("scaling", 1.001), {"area_scale_closed_form"}),
    "one product element off by 1e-3": (_perturb_element, {"product_element_is_inner_product"}),
    "one composed rotation 1e-3 rad off": (_angle_off, {"rotation_composition_adds_angles"}),
    "rotations composed as R(-alpha - beta)": (_transpose_rotations,
                                               {"rotation_composition_adds_angles"}),
}


def test_linear_maps_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("linear_maps", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("maps_on_grid", "product_element"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert {c.id for c in report.claims} == {
        "maps_match_geometry", "area_scale_closed_form", "product_element_is_inner_product",
        "rotation_composition_adds_angles"}
    # the identities stay visible as metrics
    m = report.metrics
    assert m["columns_minus_basis_images"] < 1e-6 and m["matrix_map_max_linearity_defect"] < 1e-5
    assert m["translation_median_defect"] > 0.01 and m["noncommutativity"] > 0.1
    assert_mutations_catch(report, LINEAR_MAPS_MUTATIONS)
    from experiments import linear_maps
    from mathml_jax import series

    saved = series.load(job / "series.npz", linear_maps.Results)
    assert set(saved.maps) == {"rotation", "reflection", "shear", "scaling", "projection"}
    np.testing.assert_array_equal(saved.product["A"], report.results.product["A"])


def test_linear_maps_without_translation_has_no_defect(run_experiment):
    status, report, _ = run_experiment("linear_maps", "linear_maps.translation=[0.0,0.0]")
    assert status == 0
    assert report.metrics["translation_median_defect"] < 1e-6  # round-off of a x + b y only


def test_linear_maps_float64_other_seed(run_experiment):
    status, report, _ = run_experiment("linear_maps", "precision=float64", "seed=9",
                                    figures=False)
    assert status == 0
    assert_all_claims_pass(report)
