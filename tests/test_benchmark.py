"""The ``benchmark`` experiment: its statistics, its baselines and a fast run end to end.

Timings are never compared with a threshold here (they depend on the machine and its load);
the tests check that the statistics are computed right, that every baseline computes what the
kernel computes (against autodiff, optax, SciPy or a closed form), and that a fast run writes a
sane table.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import assert_all_claims_pass, assert_mutations_catch

from mathml_jax import timing
from mathml_jax.bench import baselines as base
from mathml_jax.bench import measure
from mathml_jax.optimization.test_functions import himmelblau, rosenbrock
from mathml_jax.status import Kind

# ------------------------------------------------------------------------ statistics


def test_times_quartiles_match_numpy():
    runs = (0.5, 0.1, 0.3, 0.2, 0.4)
    t = measure.Times(runs, compile_s=2.0)
    assert t.median == pytest.approx(0.3)
    assert t.q1 == pytest.approx(np.quantile(runs, 0.25))
    assert t.q3 == pytest.approx(np.quantile(runs, 0.75))
    assert t.iqr == pytest.approx(0.2)
    d = t.as_dict()
    assert d["compile_s"] == 2.0 and d["runs_s"] == list(runs)


def test_ratio_interval_and_verdicts():
    ours = measure.Times((1.0, 1.0, 2.0, 3.0, 3.0))  # q1 1, median 2, q3 3
    slow = measure.Times((4.0, 6.0, 8.0, 10.0, 12.0))  # q1 6, median 8, q3 10
    r = measure.ratio(slow, ours)
    assert (r.median, r.low, r.high) == pytest.approx((4.0, 2.0, 10.0))
    assert r.verdict(0.1) == "faster"
    assert measure.ratio(ours, slow).verdict(0.1) == "slower"
    # an interval straddling the band is noise, whatever the median says
    assert measure.Ratio(1.5, 1.05, 2.0).verdict(0.1) == "within noise"
    assert measure.Ratio(1.5, 1.10, 2.0).verdict(0.1) == "faster"


def test_run_times_stops_after_budget_but_not_below_minimum(monkeypatch):
    ticks = iter(np.arange(0.0, 1000.0, 1.0))  # every clock read advances 1 s
    monkeypatch.setattr(timing, "clock", lambda: next(ticks))
    calls = []
    _, times = measure.run_times(lambda: calls.append(1), 50, max_total_s=2.5, min_repeats=3)
    assert times == (1.0, 1.0, 1.0)  # 3 >= min_repeats and 3 s >= 2.5 s: stop
    assert len(calls) == 4  # one warm-up, three timed
    _, times = measure.run_times(lambda: None, 5)
    assert len(times) == 5


def test_time_kernel_reports_compile_apart():
    f = jax.jit(lambda x: jnp.sin(x) @ x.T)
    x = jnp.ones((64, 64))
    out, t = measure.time_kernel(f, (x,), 3)
    np.testing.assert_allclose(np.asarray(out), np.sin(np.ones((64, 64))) @ np.ones((64, 64)),
                               rtol=1e-5)
    assert t.compile_s > 0 and len(t.runs) == 3 and min(t.runs) > 0


def test_ceilings_are_rates_of_the_right_size():
    c = measure.measure_ceilings(jnp.float32, copy_bytes=1 << 20, matmul_n=64, repeats=3,
                                 key=jax.random.key(0))
    assert c.copy_bytes == 1 << 20 and c.matmul_n == 64 and c.dtype == "float32"
    for v in (c.copy_bytes_per_s, c.new_buffer_bytes_per_s, c.matmul_flops_per_s,
              c.numpy_copy_bytes_per_s):
        assert np.isfinite(v) and v > 0


# ------------------------------------------------------------------------ baselines


def test_hand_derived_derivatives_match_autodiff():
    rng = np.random.default_rng(0)
    P = rng.uniform(-4, 4, (50, 2))
    with jax.enable_x64(True):
        g = np.asarray(jax.vmap(jax.grad(rosenbrock))(jnp.asarray(P)))
        np.testing.assert_allclose(base.rosenbrock_grad(P), g, rtol=1e-13, atol=1e-10)
        gh = np.asarray(jax.vmap(jax.grad(himmelblau))(jnp.asarray(P)))
        np.testing.assert_allclose(np.stack(base.himmelblau_grad(P[:, 0], P[:, 1]), 1), gh,
                                   rtol=1e-13, atol=1e-10)
        H = np.asarray(jax.vmap(jax.hessian(himmelblau))(jnp.asarray(P)))
    a, b, c = base.himmelblau_hessian(P[:, 0], P[:, 1])
    np.testing.assert_allclose(np.stack([a, b, b, c], 1).reshape(-1, 2, 2), H, rtol=1e-13,
                               atol=1e-10)
    lam = base.eigvalsh_2x2(a, b, c)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(H), rtol=1e-12, atol=1e-10)


def test_numpy_adam_is_optax_adam():
    X0 = np.random.default_rng(1).uniform(-2, 2, (7, 2))
    with jax.enable_x64(True):
        opt = optax.adam(1e-2)
        x = jnp.asarray(X0)
        state = opt.init(x)
        grad = jax.vmap(jax.grad(rosenbrock))
        for _ in range(25):
            upd, state = opt.update(grad(x), state, x)
            x = optax.apply_updates(x, upd)
    np.testing.assert_allclose(base.adam_numpy(X0, 1e-2, 25), np.asarray(x), rtol=1e-12)


def test_numpy_gd_is_the_recurrence():
    X0 = np.array([[-1.2, 1.0], [0.5, 0.5]])
    x = X0.copy()
    for _ in range(3):
        x = x - 1e-3 * base.rosenbrock_grad(x)
    np.testing.assert_array_equal(base.gd_numpy(X0, 1e-3, 3), x)


def test_numpy_newton_finds_himmelblau_minima():
    starts = np.array([[3.2, 1.8], [-2.9, 3.2], [-3.7, -3.2], [3.5, -1.9]])
    ref = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186],
                    [3.584428, -1.848126]])  # the four minima (closed form / literature)
    np.testing.assert_allclose(base.newton_numpy(starts, 20), ref, atol=1e-6)


def test_numpy_finite_differences_classify_himmelblau_critical_points():
    pts = np.array([[3.0, 2.0], [-0.270845, -0.923039], [0.086678, 2.884255]])
    codes, lam = base.classify_fd_numpy(pts, 1e-3, 1e-2)
    assert codes.tolist() == [Kind.MINIMUM, Kind.MAXIMUM, Kind.SADDLE]
    a, b, c = base.himmelblau_hessian(pts[:, 0], pts[:, 1])
    # second differences are exact for quartics up to h^2/12 f'''' = 2 h^2 (plus round-off)
    np.testing.assert_allclose(lam, base.eigvalsh_2x2(a, b, c), atol=1e-4)


def test_coin_baselines_count_bits():
    rng = np.random.default_rng(3)
    raw = np.random.default_rng(3).bit_generator.random_raw(4)
    expect = sum(bin(int(w)).count("1") for w in raw)
    assert base.coin_bits_numpy(rng, 256) == expect
    assert base._POPCOUNT8[raw.view(np.uint8)].sum() == expect  # the NumPy < 2 fallback
    heads = base.coin_uniform_numpy(np.random.default_rng(4), 100_000, p=0.25, chunk=30_000)
    assert abs(heads - 25_000) <= 5 * np.sqrt(100_000 * 0.25 * 0.75)


def test_numpy_randomized_svd_is_exact_on_a_low_rank_matrix():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((200, 4)) @ rng.standard_normal((4, 60))
    u, s, vt = base.randomized_svd_numpy(A, 4, 6, 1, rng)
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False)[:4], rtol=1e-10)
    np.testing.assert_allclose((u * s) @ vt, A, atol=1e-9)


# ------------------------------------------------------------------------ end to end

CLAIM_IDS = ("gd_end_points_match_float64", "gd_divergence_status_matches",
             "adam_end_points_match_float64", "adam_divergence_status_matches",
             "classify_eigenvalues_exact", "classify_codes_exact",
             "newton_converged_at_critical_points", "coin_heads_within_z_se",
             "svd_singular_values_match_gesvd", "rsvd_excess_error_as_float64_reference")


def test_benchmark_fast_profile_writes_a_sane_table(run_experiment):
    # the accelerator sizes too (ours only, rate targets), as a GPU run would time them
    status, report, job = run_experiment("benchmark", "benchmark.accelerator_sizes=on",
                                         determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    record = json.loads((job / "metrics.json").read_text())
    table = record["metrics"]["table"]
    kernels = {r["kernel"] for r in table}
    assert kernels == {"gd", "adam", "classify", "newton", "coin", "svd", "rsvd"}
    for r in table:
        for side in ("ours", "baseline_times"):
            t = r[side]
            if t is None:  # an accelerator size: no baseline
                assert side == "baseline_times" and r["baseline"] == "" and r["ratio"] is None
                continue
            assert 0 < t["q1_s"] <= t["median_s"] <= t["q3_s"] and len(t["runs_s"]) >= 3
        if r["ratio"] is not None:
            assert r["ratio_low"] <= r["ratio"] <= r["ratio_high"]
            assert r["verdict"] in ("faster", "slower", "within noise")
            # the ratio is the ratio of the medians
            assert r["ratio"] == pytest.approx(r["baseline_times"]["median_s"]
                                               / r["ours"]["median_s"])
        assert r["rate"] > 0
        # the coin's random bits never reach memory: no ceiling; every other kernel has one
        assert (r["ceiling_fraction"] is None) == (r["kernel"] == "coin")
        assert r["ceiling_fraction"] is None or r["ceiling_fraction"] > 0
        assert r["ours"]["compile_s"] > 0  # compile reported apart, for every kernel of ours
    accel = {(r["kernel"], r["size"]) for r in table if r["baseline"] == ""}
    assert accel == {("gd", "20000"), ("adam", "20000"), ("classify", "1999396"),
                     ("coin", "100000000")}
    ceilings = record["metrics"]["ceilings"]
    assert ceilings["matmul_flops_per_s"] > 0 and ceilings["copy_bytes_per_s"] > 0
    md = (job / "benchmark.md").read_text()
    assert md.count("\n| kernel | ours |") == 1
    assert md.count("\n| ") == len(table) + 1  # header and one line per comparison
    assert "## Targets" not in md  # the fast sizes carry none of the targets
    for name in ("times_optimization", "times_sampling_linalg", "speedups"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    # the saved series rebuild the same table (what a redraw draws from)
    from experiments import benchmark
    from mathml_jax import series

    saved = series.load(job / "series.npz", benchmark.Results)
    again = benchmark.records(saved.table, saved.ceilings, 0.1)
    assert json.loads(json.dumps(again)) == table
    assert benchmark.metrics(benchmark.Config(), saved)["blas_threads"] == \
        record["metrics"]["blas_threads"]
    ids = [c["id"] for c in record["claims"]]
    assert ids == list(CLAIM_IDS) and all(c["reference"] for c in record["claims"])
    assert_mutations_catch(report, _mutations(report.run_context.eps))


def _first(checks: dict) -> dict:
    return next(iter(checks.values()))


def _set(d: dict, key: str, i: int, value) -> None:
    a = np.array(d[key], copy=True)
    a.flat[i] = value
    d[key] = a


def _mutations(eps: float) -> dict:
    """Perturbations of a fast run's Results, each a bug a claim must catch."""
    def descent(name, key, value):
        return lambda r: _set(_first(r.descent[name]), key, 0, value)

    def coin_bias(r):  # one count biased by 6 SE
        d = _first(r.coin)
        _set(d, "heads", 0, d["heads"][0] + 6 * np.sqrt(d["flips"][0] / 4))

    def svd_shift(r):  # one singular value off by 1e3 eps of s_1
        c = _first(r.svd)
        _set(c, "s", -1, c["s"][-1] + 1e3 * eps * c["s"][0])

    def rsvd_no_power_iterations(r):  # q = 0: the excess of a plain sketch, about 10-30%
        c = _first(r.rsvd)
        c["error"] = 1.1 * c["optimal"]

    def rsvd_below_optimum(r):  # beating Eckart-Young: the factors are not rank k
        c = _first(r.rsvd)
        c["error"] = 0.999 * c["optimal"]

    return {
        "gd end point off by 100 steps of round-off": (
            descent("gd", "error", 100 * 100 * eps), {"gd_end_points_match_float64"}),
        "gd start reported diverged": (
            descent("gd", "diverged", True), {"gd_divergence_status_matches"}),
        "adam end point off by 5 steps (5 lr)": (
            descent("adam", "error", 0.05), {"adam_end_points_match_float64"}),
        "adam start reported diverged": (
            descent("adam", "diverged", True), {"adam_divergence_status_matches"}),
        "Hessian eigenvalue off by 100 eps of its scale": (
            lambda r: _first(r.classify).update(error_over_scale=100 * eps),
            {"classify_eigenvalues_exact"}),
        "a code wrong far from the tolerance": (
            lambda r: _first(r.classify).update(disagree_clearance=np.array([0.5])),
            {"classify_codes_exact"}),
        "Newton stops a step short of the critical point": (
            lambda r: _first(r.newton).update(grad_over_scale=1e3 * eps),
            {"newton_converged_at_critical_points"}),
        "coin count biased by 6 SE": (coin_bias, {"coin_heads_within_z_se"}),
        "singular value shifted": (svd_shift, {"svd_singular_values_match_gesvd"}),
        "rsvd without its power iterations": (rsvd_no_power_iterations,
                                              {"rsvd_excess_error_as_float64_reference"}),
        "rsvd error below the Eckart-Young optimum": (rsvd_below_optimum,
                                                      {"rsvd_excess_error_as_float64_reference"}),
    }


def test_rate_targets_and_ratio_targets_are_judged_from_the_records():
    from experiments.benchmark import Row, records, table_of, targets_markdown

    ceil = measure.Ceilings(1e10, 1e9, 1e11, 1e10, "float32", 1 << 20, 64)
    fast = measure.Times((0.1, 0.1, 0.1))  # 1e12 flips in 0.1 s: 1e13 flips/s
    slow = measure.Times((0.4, 0.4, 0.4))  # 2.5e12 flips/s
    rows = [Row("coin", "threefry2x32", "1000000000000", 1e12, "", t, None, 1e12, "flips",
                "none", 0.0) for t in (fast, slow)]
    rows.append(Row("gd", "ours", "1000", 1000, "NumPy loop", fast, measure.Times((0.9,) * 3),
                    1e6, "point-steps", "matmul", 1e7, "1000 steps"))
    recs = records(table_of(rows), ceil.as_dict(), 0.1)
    assert [r["rate_target_met"] for r in recs] == [True, False, None]
    assert recs[2]["ratio"] == pytest.approx(9.0) and recs[2]["target_met"] is False  # >= 10
    md = targets_markdown(recs)
    assert "| gd | 1000 | 1000 steps | NumPy loop | ours | 9 [9, 9] | >= 10 | NOT met: " in md
    assert md.rstrip().endswith(">= 5e+12 flips/s | NOT met | - |")
    assert "| 9 [9, 9] | >= 10 | NOT met: " in md and "| no |" in md  # interval below target
    assert md.count("(rate)") == 2 and ">= 5e+12 flips/s | met |" in md
