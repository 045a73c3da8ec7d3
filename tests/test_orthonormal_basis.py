"""The ``orthonormal_basis`` experiment and the Gram-Schmidt kernels, against NumPy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass, assert_mutations_catch

import experiments.orthonormal_basis as ob_experiment
from mathml_jax import series
from mathml_jax.linalg import (
    classical_gram_schmidt,
    householder_qr,
    modified_gram_schmidt,
    orthogonality_loss,
)


def _positive_diag(q, r):
    """QR is unique once diag(R) > 0: flip signs so two factorisations compare."""
    d = np.sign(np.diag(r))
    return q * d[None, :], r * d[:, None]


def test_gram_schmidt_matches_numpy_qr_on_a_well_conditioned_matrix():
    with jax.enable_x64(True):
        a = np.random.default_rng(0).normal(size=(12, 5))
        q_np, r_np = _positive_diag(*np.linalg.qr(a))
        for fn in (classical_gram_schmidt, modified_gram_schmidt, householder_qr):
            q, r = (np.asarray(x) for x in fn(jnp.asarray(a)))
            q, r = _positive_diag(q, r)
            np.testing.assert_allclose(q @ r, a, atol=1e-13)
            np.testing.assert_allclose(q.T @ q, np.eye(5), atol=1e-13)
            np.testing.assert_allclose(np.triu(r), r, atol=0)
            np.testing.assert_allclose(q, q_np, atol=1e-12)
            np.testing.assert_allclose(r, r_np, atol=1e-12)


def test_leading_columns_span_the_leading_columns_of_a():
    with jax.enable_x64(True):
        a = np.random.default_rng(1).normal(size=(8, 4))
        q, _ = modified_gram_schmidt(jnp.asarray(a))
        for k in range(1, 5):
            p = np.asarray(q[:, :k] @ q[:, :k].T)
            np.testing.assert_allclose(p @ a[:, :k], a[:, :k], atol=1e-13)


def test_classical_loses_orthogonality_on_the_lauchli_example():
    """Lauchli's matrix [[1,1,1],[e,0,0],[0,e,0],[0,0,e]] with e = 1e-8 (closed form: CGS gives
    q2.q3 = 1/2 exactly in exact arithmetic on the rounded data, MGS stays ~e)."""
    with jax.enable_x64(True):
        e = 1e-8
        a = jnp.asarray([[1, 1, 1], [e, 0, 0], [0, e, 0], [0, 0, e]])
        q_c, _ = classical_gram_schmidt(a)
        q_m, _ = modified_gram_schmidt(a)
        assert abs(float(q_c[:, 1] @ q_c[:, 2]) - 0.5) < 1e-6
        assert float(orthogonality_loss(q_m)) < 1e-7
        assert float(orthogonality_loss(householder_qr(a)[0])) < 1e-14


def test_orthonormal_basis_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("orthonormal_basis", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    assert (job / "loss_of_orthogonality.png").stat().st_size > 10_000
    ids = {c.id for c in report.claims}
    for p in ("float32", "float64"):
        assert {f"{p}_a_equals_qr", f"{p}_exponent_classical", f"{p}_exponent_modified",
                f"{p}_exponent_householder", f"{p}_parseval"} <= ids
    saved = series.load(job / "series.npz", ob_experiment.Results)
    np.testing.assert_array_equal(saved.studies["float32"]["loss"],
                                  report.results.studies["float32"]["loss"])
    _assert_mutations(report)


def _both(key, f):
    """A mutation of results.studies[p][key] for both precisions p."""
    def mutate(r):
        for s in r.studies.values():
            s[key] = f(np.array(s[key]))
    return mutate


def _ids(*names):
    return {f"{p}_{n}" for p in ("float32", "float64") for n in names}


def _assert_mutations(report):
    def gram_schmidt_only(factor):
        def f(x):
            x[:, :2] *= factor
            return x
        return f

    def householder_loss(x):
        x[:, 2] *= 1e3
        return x

    def exponent(m, shift):
        def f(x):
            x[m] += shift
            return x
        return f
    assert_mutations_catch(report, {
        "A - QR residuals 100x": (_both("resid", lambda x: x * 100), _ids("a_equals_qr")),
        "Gram-Schmidt Q leaves the span (1000x)": (_both("span_gap", gram_schmidt_only(1e3)),
                                                   _ids("gram_schmidt_span")),
        "Householder loses orthogonality (1000x)": (_both("loss_all", householder_loss),
                                                    _ids("householder_near_eps")),
        "classical GS exponent - 0.6": (_both("exponents", exponent(0, -0.6)),
                                        _ids("exponent_classical")),
        "modified GS exponent + 0.3": (_both("exponents", exponent(1, 0.3)),
                                       _ids("exponent_modified")),
        "Householder exponent + 0.15": (_both("exponents", exponent(2, 0.15)),
                                        _ids("exponent_householder")),
        "coordinates 0.1% long": (_both("coords", lambda c: c * 1.001),
                                  _ids("coordinates_inner_products", "parseval")),
    })


def test_orthonormal_basis_float32_study_inside_a_float64_run(run_experiment):
    """Each study runs at its own precision whatever the job's: in a float64 job the float32
    study still factorises float32 matrices (its coordinates are float32 numbers)."""
    status, report, _ = run_experiment("orthonormal_basis", "precision=float64", "seed=2",
                                    figures=False)
    assert status == 0
    assert_all_claims_pass(report)
    s32, s64 = report.results.studies["float32"], report.results.studies["float64"]
    assert s32["eps"] == 2.0**-23 and s64["eps"] == 2.0**-52
    c = s32["coords"]
    np.testing.assert_array_equal(c.astype(np.float32).astype(np.float64), c)
    assert not np.array_equal(s64["coords"].astype(np.float32).astype(np.float64),
                              s64["coords"])
