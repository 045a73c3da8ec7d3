"""The ``svd`` experiment and its kernels, against NumPy and closed forms."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_all_claims_pass, assert_mutations_catch

from mathml_jax import timing
from mathml_jax.linalg import (
    eckart_young_errors,
    matrix_with_singular_values,
    randomized_svd,
    rank_k_approximation,
    thin_svd,
    truncation_residual_norms,
)
from mathml_jax.linalg.datasets import sample_photograph
from mathml_jax.linalg.svd import DECOMPOSITION_FLOPS, qr_flops, svd_flops


def test_sample_photograph_loads_offline():
    img = sample_photograph(4)
    assert img.shape == (150, 128) and 0.0 <= img.min() and img.max() <= 1.0
    assert img.std() > 0.1  # a picture, not a constant


def test_eckart_young_values_closed_form():
    s = jnp.asarray([3.0, 2.0, 1.0])
    frob, spec = eckart_young_errors(s)
    np.testing.assert_allclose(np.asarray(frob), [np.sqrt(14), np.sqrt(5), 1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(spec), [3, 2, 1, 0])


def test_truncation_residuals_match_numpy_brute_force():
    with jax.enable_x64(True):
        a = np.random.default_rng(0).normal(size=(9, 6))
        u, s, vt = thin_svd(jnp.asarray(a))
        # SVD as an invariant: reconstruction and orthonormality (not raw vectors)
        np.testing.assert_allclose(np.asarray((u * s) @ vt), a, atol=1e-13)
        np.testing.assert_allclose(np.asarray(u.T @ u), np.eye(6), atol=1e-13)
        got = np.asarray(truncation_residual_norms(jnp.asarray(a), u, s, vt))
        u_n, s_n, vt_n = np.linalg.svd(a, full_matrices=False)
        ref = [np.linalg.norm(a - (u_n[:, :k] * s_n[:k]) @ vt_n[:k]) for k in range(7)]
        np.testing.assert_allclose(got, ref, atol=1e-12)
        a2 = np.asarray(rank_k_approximation(u, s, vt, k=2))
        assert np.linalg.matrix_rank(a2) == 2
        np.testing.assert_allclose(np.linalg.norm(a - a2, 2), s_n[2], rtol=1e-12)


def test_randomized_svd_is_exact_for_an_exactly_low_rank_matrix():
    with jax.enable_x64(True):
        sv = jnp.asarray([5.0, 3.0, 2.0, 1.0] + [0.0] * 16)
        a = matrix_with_singular_values(jax.random.key(0), sv, rows=60)
        u, s, vt = randomized_svd(a, jax.random.key(1), rank=4, oversample=5)
        np.testing.assert_allclose(np.asarray(s), [5, 3, 2, 1], rtol=1e-12)
        np.testing.assert_allclose(np.asarray((u * s) @ vt), np.asarray(a), atol=1e-12)
        np.testing.assert_allclose(np.asarray(u.T @ u), np.eye(4), atol=1e-12)


def test_randomized_svd_with_power_iterations_approaches_the_optimum():
    """Against NumPy's exact SVD of a matrix with slowly decaying spectrum."""
    with jax.enable_x64(True):
        sv = jnp.asarray((np.arange(80) + 1.0) ** -0.5)
        a = matrix_with_singular_values(jax.random.key(2), sv, rows=300)
        a64 = np.asarray(a)
        s_exact = np.linalg.svd(a64, compute_uv=False)
        errs = []
        for q in (0, 4):
            u, s, vt = randomized_svd(a, jax.random.key(3), rank=10, oversample=5, power_iters=q)
            errs.append(np.linalg.norm(a64 - (np.asarray(u) * np.asarray(s)) @ np.asarray(vt),
                                       2) / s_exact[10])
        assert errs[1] < errs[0] and errs[1] < 1.1


def test_traced_flops_count_every_scan_iteration():
    """A product (m, k) @ (k, n) inside a scan of length L: L times 2 m k n flops (XLA's cost
    analysis counts the body once); a while_loop, whose trip count is unknown, is refused."""
    m, k, n, L = 6, 7, 8, 5

    def f(a, b):
        def step(c, _):
            return c, a @ b + c
        return jax.lax.scan(step, jnp.zeros((m, n)), None, length=L)[1]

    a, b = jnp.ones((m, k)), jnp.ones((k, n))
    assert timing.traced_flops(f, a, b) == L * 2 * m * k * n
    assert timing.traced_flops(jax.jit(f), a, b) == L * 2 * m * k * n  # through a jit
    assert timing.flops(jax.jit(f), a, b) < L * 2 * m * k * n
    with pytest.raises(ValueError, match="while"):
        timing.traced_ops(lambda x: jax.lax.while_loop(lambda v: v.sum() < 9, lambda v: v + 1,
                                                       x), jnp.zeros(3))


def test_decomposition_counts_are_golub_van_loan():
    """Hand values of the textbook counts, and the full SVD's program costs exactly one."""
    m, n = 40, 10
    assert qr_flops(m, n) == 2 * (2 * m * n**2 - 2 * n**3 / 3)
    assert svd_flops(m, n) == min(14 * m * n**2 + 8 * n**3, 6 * m * n**2 + 20 * n**3)
    assert svd_flops(n, m) == svd_flops(m, n)  # a wide matrix costs what its transpose does
    assert svd_flops(m, n, compute_uv=False) == min(4 * m * n**2 - 4 * n**3 / 3,
                                                    2 * m * n**2 + 2 * n**3)
    a = jnp.ones((m, n))
    assert timing.traced_flops(thin_svd, a, costs=DECOMPOSITION_FLOPS) == svd_flops(m, n)


@pytest.mark.parametrize("q", [0, 1, 3])
def test_randomized_svd_cost_is_the_hand_count(q):
    """(2q + 2)(k + p) products of A with a vector; flops: those products, one QR of the m x l
    sketch and two QRs (n x l, m x l) per power iteration, the SVD of the l x n matrix B and the
    product Q U_B (m x l x l), l = k + p."""
    m, n, k, p = 300, 60, 8, 4
    l = k + p
    a, key = jnp.ones((m, n)), jax.random.key(0)
    ops = timing.traced_ops(randomized_svd, a, key, rank=k, oversample=p, power_iters=q)
    assert timing.products_with(ops, (m, n)) == (2 * q + 2) * l
    hand = ((2 * q + 2) * l * 2 * m * n + (1 + q) * qr_flops(m, l) + q * qr_flops(n, l)
            + svd_flops(l, n) + 2 * m * l * l)
    got = timing.traced_flops(randomized_svd, a, key, costs=DECOMPOSITION_FLOPS, rank=k,
                              oversample=p, power_iters=q)
    assert got == pytest.approx(hand, rel=1e-12)


def _scale(group: str, key: str, factor: float, rows=slice(None)):
    def mutate(r):
        getattr(r, group)[key][rows] = getattr(r, group)[key][rows] * factor
    return mutate


def _errors_times(factor: float, rows=slice(None)):
    def mutate(r):
        d = r.randomized
        for key in ("spectral_errors", "spectral_error", "spectral_error_se"):
            d[key][rows] = d[key][rows] * factor
    return mutate


def _power_does_nothing(r):
    d = r.randomized
    for key in ("spectral_errors", "spectral_error", "spectral_error_se"):
        d[key][1] = d[key][0]


def _flops_as_full_svd(r):
    r.randomized["flops"][:] = 1.1 * r.randomized["full_svd_flops"]


def _one_more_product(r):
    r.randomized["matvecs"] += 1


# perturbations of the computed results, and the claims each must fail
SVD_MUTATIONS = {
    "V^T x stretched by 0.1%": (_scale("circle", "rotate", 1.001), {"rotate_keeps_length"}),
    "A x off by 1%": (_scale("circle", "image", 1.01),
                      {"ellipse_semi_axis_1", "ellipse_semi_axis_2", "rotate_scale_rotate_is_a"}),
    "U diag(s) V^T x stretched by 0.1%": (_scale("circle", "rotate_again", 1.001),
                                          {"rotate_scale_rotate_is_a"}),
    "singular values 0.1% high": (_scale("photo", "singular_values", 1.001),
                                  {"singular_values_eig_ata", "singular_values_numpy"}),
    "Frobenius residuals 0.1% high": (_scale("eckart_young", "frobenius", 1.001),
                                      {"eckart_young_frobenius"}),
    "spectral residuals 0.1% high": (_scale("eckart_young", "spectral", 1.001),
                                     {"eckart_young_spectral"}),
    "sketch errors x8": (_errors_times(8.0), {"randomized_error_q0", "randomized_error_power"}),
    "sketch errors 10% below s_(k+1)": (_errors_times(0.9), {"randomized_not_below_optimum"}),
    "power iterations change nothing": (_power_does_nothing, {"power_iterations_help"}),
    "one more product with A": (_one_more_product, {"randomized_matvecs_q0",
                                                    "randomized_matvecs_power"}),
    "flops of the full SVD": (_flops_as_full_svd, {"randomized_fewer_flops_q0",
                                                   "randomized_fewer_flops_power"}),
}


def test_svd_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("svd", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("rotate_scale_rotate", "image_ranks", "singular_values", "eckart_young",
                 "randomized_svd"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    ids = {c.id for c in report.claims}
    assert {"eckart_young_frobenius", "eckart_young_spectral", "randomized_error_power",
            "randomized_matvecs_q0", "power_iterations_help",
            "randomized_not_below_optimum"} <= ids
    assert_mutations_catch(report, SVD_MUTATIONS)
    from experiments import svd
    from mathml_jax import series

    saved = series.load(job / "series.npz", svd.Results)
    np.testing.assert_array_equal(saved.eckart_young["frobenius"],
                                  report.results.eckart_young["frobenius"])
    assert list(saved.randomized["power_iters"]) == [0, 2]


def test_svd_experiment_other_seed_and_float64(run_experiment, monkeypatch):
    """Also with a clock that makes every timed interval 1 second: no claim reads wall time."""
    ticks = itertools.count()
    monkeypatch.setattr(timing, "clock", lambda: float(next(ticks)))
    status, report, _ = run_experiment("svd", "seed=5", "precision=float64", "svd.power_iters=1",
                                    figures=False)
    assert status == 0
    assert_all_claims_pass(report)
    assert report.metrics["full_svd_run_s"] == 1.0
    assert report.metrics["flops_ratio_vs_full_svd_q1"] < 1


def test_matrix_with_decaying_spectrum_has_exactly_that_spectrum():
    from mathml_jax.linalg.random_matrices import decaying_spectrum, matrix_with_decaying_spectrum

    with jax.enable_x64(True):
        for kind, decay in (("polynomial", 1.0), ("exponential", 0.1)):
            a, s = matrix_with_decaying_spectrum(jax.random.key(0), rows=300, cols=40,
                                                 decay=decay, kind=kind, dtype=jnp.float64)
            assert a.shape == (300, 40) and s.shape == (40,)
            i = np.arange(1, 41.0)
            ref = i ** -decay if kind == "polynomial" else 10.0 ** (-decay * (i - 1))
            np.testing.assert_allclose(np.asarray(s), ref, rtol=1e-15)
            np.testing.assert_allclose(np.linalg.svd(np.asarray(a), compute_uv=False), ref,
                                       rtol=0, atol=1e-13)
        with pytest.raises(ValueError, match="kind"):
            decaying_spectrum(4, kind="linear")


def test_randomized_svd_near_eckart_young_on_a_slowly_decaying_spectrum():
    """s_i = 1/i (the hard case): with q = 2 power iterations the rank-10 Frobenius error is
    within 0.1% of the optimum sqrt(sum_{i>10} s_i^2); without them it is visibly worse."""
    from mathml_jax.linalg.random_matrices import matrix_with_decaying_spectrum

    with jax.enable_x64(True):
        a, s = matrix_with_decaying_spectrum(jax.random.key(0), rows=3000, cols=300,
                                             dtype=jnp.float64)
        a_np, s_np = np.asarray(a), np.asarray(s)
        optimal = np.sqrt(np.sum(s_np[10:] ** 2))
        excess = {}
        for q in (0, 2):
            u, sv, vt = randomized_svd(a, jax.random.key(1), rank=10, oversample=10,
                                       power_iters=q)
            np.testing.assert_allclose(np.asarray(u.T @ u), np.eye(10), atol=1e-12)
            err = np.linalg.norm(a_np - (np.asarray(u) * np.asarray(sv)) @ np.asarray(vt))
            excess[q] = err / optimal - 1
        assert 0 <= excess[2] < 1e-3 < excess[0]


def test_left_product_is_q_transpose_a():
    from mathml_jax.linalg.svd import _left_product

    rng = np.random.default_rng(0)
    q, a = rng.normal(size=(50, 4)), rng.normal(size=(50, 7))
    with jax.enable_x64(True):
        got = jax.jit(lambda q, a: _left_product(q, a).T)(jnp.asarray(q), jnp.asarray(a))
        np.testing.assert_allclose(np.asarray(got), a.T @ q, rtol=1e-13)
