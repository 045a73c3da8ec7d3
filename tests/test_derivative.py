"""The ``derivative`` experiment and its kernels, against independent references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_all_claims_pass, assert_mutations_catch
from jax.test_util import check_grads

from experiments.derivative import REFERENCE, Results
from mathml_jax import series
from mathml_jax.calculus import ELEMENTARY, derivative_estimates


def test_quotients_of_a_cubic_match_their_closed_forms():
    """For x^3: forward = 3x^2 + 3xh + h^2 and central = 3x^2 + h^2 exactly (algebra)."""
    with jax.enable_x64(True):
        x = np.linspace(-2, 2, 7)
        h = np.array([0.5, 0.1, 1e-3])
        fwd, cen, ad = derivative_estimates(jnp.asarray(x), jnp.asarray(h),
                                            f=ELEMENTARY["cube"][0])
        X, H = np.meshgrid(x, h)
        np.testing.assert_allclose(np.asarray(fwd), 3 * X**2 + 3 * X * H + H**2, atol=1e-10)
        np.testing.assert_allclose(np.asarray(cen), 3 * X**2 + H**2, atol=1e-10)
        np.testing.assert_allclose(np.asarray(ad), 3 * x**2, rtol=4e-16)


@pytest.mark.parametrize("name", sorted(ELEMENTARY))
def test_elementary_derivative_table_matches_numpy_central_difference(name):
    """The table's f' against a float64 NumPy central difference (error ~ 1e-10)."""
    with jax.enable_x64(True):
        f, df = ELEMENTARY[name]
        x = np.linspace(-2, 2, 41)
        h = 1e-5
        fd = (np.asarray(f(jnp.asarray(x + h))) - np.asarray(f(jnp.asarray(x - h)))) / (2 * h)
        np.testing.assert_allclose(np.asarray(df(jnp.asarray(x))), fd, atol=1e-8)
        check_grads(f, (jnp.asarray(0.3),), order=2, modes=["rev"])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_numpy_reference_is_the_table(name):
    with jax.enable_x64(True):
        x = np.linspace(-2, 2, 9)
        for ref, mine in zip(REFERENCE[name], ELEMENTARY[name], strict=True):
            np.testing.assert_allclose(ref(x), np.asarray(mine(jnp.asarray(x))), rtol=1e-14,
                                       atol=1e-15)


def test_central_difference_error_order_two_in_float64():
    """Fitted order of the central quotient of exp at 0.3 (independent of the experiment)."""
    with jax.enable_x64(True):
        h = np.logspace(-3, -1, 9)
        _, cen, _ = derivative_estimates(jnp.asarray([0.3]), jnp.asarray(h),
                                         f=ELEMENTARY["exp"][0])
        err = np.abs(np.asarray(cen)[:, 0] - np.exp(0.3))
        assert abs(np.polyfit(np.log(h), np.log(err), 1)[0] - 2) < 0.05


def test_new_steps_do_not_recompile():
    x = jnp.linspace(-1, 1, 4)
    derivative_estimates(x, jnp.array([0.1, 0.01]), f=jnp.sin)
    before = derivative_estimates._cache_size()
    derivative_estimates(x, jnp.array([0.2, 0.02]), f=jnp.sin)
    assert derivative_estimates._cache_size() == before


def test_derivative_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("derivative", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("secants", "errors"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    ids = {c.id for c in report.claims}
    assert {"order_central_float32", "best_step_forward_float64", "roundoff_slope_central_float32",
            "autodiff_ulps_float64", "secants_approach_tangent"} <= ids and len(ids) == 15
    r = series.load(job / "series.npz", Results)
    assert r.errors["float32"]["sin"]["forward"].shape == r.h.shape
    assert_mutations_catch(report, MUTATIONS)


def _each_curve(method):
    """A mutation applied to the ``method`` error curve of every function, in both dtypes."""
    def outer(change):
        def mutate(r):
            for dname, per_fn in r.errors.items():
                for errs in per_fn.values():
                    errs[method] = change(r.h, r.eps[dname], errs[method])
        return mutate
    return outer


def _tilt_truncation(power):
    """Multiply the error curve by h^power: the fitted order moves by power."""
    return lambda h, eps, e: e * h**power


def _fake_minimum(method):
    """A spurious minimum two decades above the theoretical best step."""
    def change(h, eps, e):
        e = e.copy()
        floor = np.sqrt(eps) if method == "forward" else eps ** (1 / 3)
        e[np.argmin(np.abs(np.log(h / (100 * floor))))] = e.min() / 10
        return e
    return change


def _steeper_roundoff(h, eps, e):
    """Round-off that grows like 1/h^2 instead of 1/h below the floor."""
    return np.where(h < 1e-2 * eps ** (1 / 3), e * (1e-2 * eps ** (1 / 3) / h), e)


def _autodiff_off(ulps):
    def mutate(r):
        for dname, per_fn in r.errors.items():
            per_fn["sin"]["autodiff_max_rel"] += ulps * r.eps[dname]
    return mutate


def _reverse_secants(r):
    r.secant["slope"] = r.secant["slope"][::-1].copy()


def _ids(kind, methods=("forward", "central")):
    return {f"{kind}_{m}_{d}" for m in methods for d in ("float32", "float64")}


MUTATIONS = {
    "forward difference of order 1.3": (_each_curve("forward")(_tilt_truncation(0.3)),
                                        _ids("order", ["forward"])),
    "central difference of order 1.7": (_each_curve("central")(_tilt_truncation(-0.3)),
                                        _ids("order", ["central"])),
    "forward best step 100x too large": (_each_curve("forward")(_fake_minimum("forward")),
                                         _ids("best_step", ["forward"])),
    "central best step 100x too large": (_each_curve("central")(_fake_minimum("central")),
                                         _ids("best_step", ["central"])),
    "forward round-off like 1/h^2": (_each_curve("forward")(_steeper_roundoff),
                                     _ids("roundoff_slope", ["forward"])),
    "central round-off like 1/h^2": (_each_curve("central")(_steeper_roundoff),
                                     _ids("roundoff_slope", ["central"])),
    "jax.grad off by 12 ulps at one function": (_autodiff_off(12),
                                                {"autodiff_ulps_float32",
                                                 "autodiff_ulps_float64"}),
    "secants in reverse order (moving away)": (_reverse_secants, {"secants_approach_tangent"}),
}


def test_derivative_rejects_duplicate_functions(run_experiment):
    from experiments._cli import EXIT_BAD_CONFIG

    status, report, _ = run_experiment("derivative", "derivative.functions=[sin,sin]")
    assert status == EXIT_BAD_CONFIG and report is None
