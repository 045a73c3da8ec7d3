"""mathml_jax.linalg.lapack: the batch-safe decompositions.

1. They agree with NumPy on every matrix of a batch, given by leading axes or by (nested) vmap.
2. Where batches are looped, every LAPACK custom call in the lowered program sees one matrix
   (``num_batch_dims = "0"``): the jaxlib 0.10 CPU deadlock needs a batched call.
3. A program with four independent batched decompositions, run many times in a fresh process,
   finishes. With ``jnp.linalg`` in place of ``lapack``, 400 repetitions of it hung in 4 of 6
   processes on a 2-core machine; with ``lapack`` each process takes about 2 s.
4. No other module calls the LAPACK-backed ``jnp.linalg`` functions directly.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathml_jax.linalg import lapack

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


def _batch(key, shape, dtype=jnp.float64):
    return jax.random.normal(jax.random.key(key), shape, dtype)


def _sym(a):
    return a @ jnp.swapaxes(a, -1, -2) + a.shape[-1] * jnp.eye(a.shape[-1], dtype=a.dtype)


def _tol(dtype, n):
    return 100 * n * float(jnp.finfo(dtype).eps)


@pytest.mark.parametrize("how", ["leading", "vmap", "nested"])
def test_decompositions_match_numpy_on_every_matrix(how):
    a = _batch(0, (3, 4, 7, 5))
    s = _sym(_batch(1, (3, 4, 5, 5)))
    b = _batch(2, (3, 4, 5))
    bm = _batch(3, (3, 4, 5, 2))
    # (name, function, its arrays, NumPy reference)
    cases = [
        ("qr", lambda x: lapack.qr(x)[1], (a,), lambda x: np.abs(np.linalg.qr(x)[1])),
        ("svd", lambda x: lapack.svd(x, compute_uv=False), (a,),
         lambda x: np.linalg.svd(x, compute_uv=False)),
        ("norm2", lapack.spectral_norm, (a,), lambda x: np.linalg.norm(x, ord=2, axis=(-2, -1))),
        ("eigvalsh", lapack.eigvalsh, (s,), np.linalg.eigvalsh),
        ("eigh_vals", lambda x: lapack.eigh(x)[0], (s,), np.linalg.eigvalsh),
        ("det", lapack.det, (s,), np.linalg.det),
        ("solve_v", lapack.solve, (s, b), lambda m, v: np.linalg.solve(m, v[..., None])[..., 0]),
        ("solve_m", lapack.solve, (s, bm), np.linalg.solve),
    ]
    for name, fn, args, reference in cases:
        if how == "leading":
            got = jax.jit(fn)(*args)
        elif how == "vmap":
            got = jax.jit(jax.vmap(fn))(*args)
        else:
            got = jax.jit(jax.vmap(jax.vmap(fn)))(*args)
        got = np.asarray(got)
        if name == "qr":
            got = np.abs(got)  # R is unique up to the signs of its rows
        ref = reference(*(np.asarray(x) for x in args))
        scale = max(1.0, float(np.max(np.abs(ref))))
        np.testing.assert_allclose(got, ref, rtol=0, atol=_tol(jnp.float64, 7) * scale,
                                   err_msg=f"{name} ({how})")


def test_eig_and_qr_modes_and_float32():
    g = _batch(4, (6, 4, 4), jnp.float32)
    lam, v = jax.vmap(lapack.eig)(g)
    # A v = lambda v for each matrix, in complex64
    res = jnp.einsum("bij,bjk->bik", g.astype(v.dtype), v) - v * lam[:, None, :]
    assert float(jnp.max(jnp.abs(res))) < _tol(jnp.float32, 4) * float(jnp.max(jnp.abs(g))) * 4
    q, r = lapack.qr(_batch(5, (6, 5, 3), jnp.float32), mode="complete")
    assert q.shape == (6, 5, 5) and r.shape == (6, 5, 3)
    eye = jnp.broadcast_to(jnp.eye(5, dtype=jnp.float32), q.shape)
    assert float(jnp.max(jnp.abs(jnp.swapaxes(q, 1, 2) @ q - eye))) < _tol(jnp.float32, 5)


def test_mismatched_batch_axes_are_refused():
    if not lapack.loops_batches():
        pytest.skip("batches go to the library kernel on this runtime")
    with pytest.raises(ValueError, match="batch axes"):
        lapack.solve(_sym(_batch(0, (3, 4, 4))), _batch(1, (2, 4)))


def _lapack_batch_dims(lowered_text: str) -> list[int]:
    calls = [line for line in lowered_text.splitlines() if "custom_call @lapack_" in line]
    return [int(m.group(1)) for line in calls
            for m in [re.search(r'num_batch_dims = "(\d+)"', line)] if m]


def test_looped_batches_reach_lapack_one_matrix_at_a_time():
    a = _batch(0, (8, 6, 4))
    plain = jax.jit(jax.vmap(lambda x: jnp.linalg.qr(x)[0])).lower(a).as_text()
    assert max(_lapack_batch_dims(plain)) >= 1  # the check below can see a batched call
    for fn in (lambda x: lapack.qr(x)[0], lapack.spectral_norm,
               lambda x: lapack.svd(x, full_matrices=False)[1],
               lambda x: lapack.eigvalsh(x.T @ x), lambda x: lapack.eigh(x.T @ x)[1],
               lambda x: lapack.eig(x.T @ x)[0], lambda x: lapack.solve(x.T @ x, x[0])):
        dims = _lapack_batch_dims(jax.jit(jax.vmap(fn)).lower(a).as_text())
        assert dims, "no LAPACK call found"
        if lapack.loops_batches():
            assert max(dims) == 0, dims
        else:
            assert max(dims) >= 1, dims


STRESS = textwrap.dedent("""
    import jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    from mathml_jax.linalg import lapack

    @jax.jit
    def f(a, b, c, d):
        qs = [jax.vmap(lambda x: lapack.qr(x)[0])(m).sum() for m in (a, b, c)]
        return sum(qs) + lapack.eigvalsh(d @ jnp.swapaxes(d, 1, 2)).sum()

    keys = jax.random.split(jax.random.key(0), 4)
    xs = [jax.random.normal(k, (64, 40, 20), jnp.float64) for k in keys]
    for _ in range(1000):
        f(*xs).block_until_ready()
    print("finished")
""")


def test_independent_batched_decompositions_do_not_deadlock():
    try:
        out = subprocess.run([sys.executable, "-c", STRESS], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail("independent batched decompositions deadlocked (no output in 120 s)")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "finished" in out.stdout


LAPACK_FUNCTIONS = ("qr", "eigh", "eigvalsh", "eig", "eigvals", "svd", "solve", "det", "slogdet",
                    "inv", "pinv", "lstsq", "cholesky", "matrix_rank", "cond", "matrix_power")


def test_no_module_calls_lapack_backed_jnp_linalg_directly():
    names = "|".join(LAPACK_FUNCTIONS)
    direct = re.compile(rf"(?<!``)\b(jnp|jax\.numpy)\.linalg\.({names})\b(?!``)")
    other = re.compile(r"\bjax\.scipy\.linalg\b|\blax\.linalg\b"
                       r"|linalg\.norm\([^)]*ord=(2|-2|\"nuc\")")
    offenders = []
    sources = [p for d in ("mathml_jax", "experiments") for p in sorted((ROOT / d).rglob("*.py"))]
    for path in sources:
        if path.name == "lapack.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "np.linalg" in line and "jnp.linalg" not in line and "jax.numpy" not in line:
                continue  # NumPy references in float64 are not on the JAX runtime
            if direct.search(line) or other.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "use mathml_jax.linalg.lapack instead:\n" + "\n".join(offenders)
