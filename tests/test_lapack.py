"""mathml_jax.linalg.lapack: the batch-safe decompositions.

1. They agree with NumPy on every matrix of a batch, given by leading axes or by (nested) vmap.
2. Where batches are looped, every LAPACK custom call in the lowered program sees one matrix
   (``num_batch_dims = "0"``): the jaxlib 0.10 CPU deadlock needs a batched call.
3. Where batches are chunked (forced here on CPU with a tiny chunk), they still agree with
   NumPy, and every LAPACK custom call's operand holds at most the chunk's matrix elements.
4. The installed jaxlib takes the path measured for it (looped on CPU for jaxlib 0.10.2,
   chunked batches for 0.12.0.1), and the BLAS under jaxlib's LAPACK runs one thread.
5. A program with four independent batched decompositions, run many times in a fresh process,
   finishes. With ``jnp.linalg`` in place of ``lapack``, 400 repetitions of it hung in 4 of 6
   processes on jaxlib 0.10.2 on a 2-core machine (a deadlocked one uses no CPU); with
   ``lapack`` a process takes 6-8 s of CPU, start-up included. On jaxlib 0.12.0.1 nothing
   deadlocked, but with SciPy's OpenBLAS at its default two threads a process took 28-102 s of
   CPU, looped or not; at one BLAS thread 5.5-8 s.
6. No other module calls the LAPACK-backed ``jnp.linalg`` functions directly.
"""

from __future__ import annotations

import math
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxlib.version import __version_info__ as JAXLIB_VERSION

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


def _cases(batch: tuple[int, ...]):
    """(name, function, its arrays, NumPy reference) for every function, on a batch."""
    a = _batch(0, (*batch, 7, 5))
    s = _sym(_batch(1, (*batch, 5, 5)))
    b = _batch(2, (*batch, 5))
    bm = _batch(3, (*batch, 5, 2))
    return [
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


def _batched(fn, how):
    """A fresh jitted function batching ``fn`` over two batch axes ``how``."""
    if how == "leading":
        return jax.jit(lambda *x: fn(*x))
    if how == "vmap":
        return jax.jit(jax.vmap(fn))
    return jax.jit(jax.vmap(jax.vmap(fn)))


def _assert_matches_numpy(name, got, reference, args, how):
    got = np.asarray(got)
    if name == "qr":
        got = np.abs(got)  # R is unique up to the signs of its rows
    ref = reference(*(np.asarray(x) for x in args))
    scale = max(1.0, float(np.max(np.abs(ref))))
    np.testing.assert_allclose(got, ref, rtol=0, atol=_tol(jnp.float64, 7) * scale,
                               err_msg=f"{name} ({how})")


@pytest.mark.parametrize("how", ["leading", "vmap", "nested"])
def test_decompositions_match_numpy_on_every_matrix(how):
    for name, fn, args, reference in _cases((3, 4)):
        got = _batched(fn, how)(*args)
        _assert_matches_numpy(name, got, reference, args, how)


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


@pytest.mark.parametrize("mode", ["loop", "chunk"])
def test_mismatched_batch_axes_are_refused(mode):
    with lapack.batch_mode(mode), pytest.raises(ValueError, match="batch axes"):
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


def _lapack_operand_shapes(lowered_text: str) -> list[tuple[int, ...]]:
    """The shape of each LAPACK custom call's first operand (batch axes, then the matrix)."""
    shapes = []
    for line in lowered_text.splitlines():
        if "custom_call @lapack_" in line:
            m = re.search(r":\s*\(tensor<([0-9x]+)x[a-z]", line)
            assert m, line
            shapes.append(tuple(int(d) for d in m.group(1).split("x")))
    return shapes


@pytest.mark.parametrize("how", ["leading", "vmap", "nested"])
def test_chunked_batches_match_numpy_and_reach_lapack_in_chunks(how):
    # 15 matrices; 100 elements a call: 2 of the 7 x 5, 4 of the 5 x 5 (a short last chunk)
    max_elements = 100
    with lapack.batch_mode("chunk", max_elements=max_elements):
        assert not lapack.loops_batches()
        for name, fn, args, reference in _cases((3, 5)):
            jitted = _batched(fn, how)
            shapes = _lapack_operand_shapes(jitted.lower(*args).as_text())
            if name != "det":  # 5 x 5: LU, a LAPACK call; below 4 x 4 a closed form
                assert shapes, f"{name}: no LAPACK call found"
            assert all(math.prod(sh) <= max_elements for sh in shapes), (name, shapes)
            assert all(len(sh) == 3 and sh[0] > 1 for sh in shapes), (name, shapes)  # batched
            # one chunk in flight at a time: safe to run even on the affected jaxlib
            _assert_matches_numpy(name, jax.block_until_ready(jitted(*args)), reference, args,
                                  f"{how}, chunked")


def test_chunks_cover_a_batch_smaller_equal_and_larger_than_one_chunk():
    s = _sym(_batch(5, (9, 3, 3)))
    ref = np.linalg.eigvalsh(np.asarray(s))
    for max_elements in (9 * 9, 9 * 3, 9 * 4, 9):  # one call; 3 calls; 3 with overlap; 9
        with lapack.batch_mode("chunk", max_elements=max_elements):
            got = np.asarray(jax.jit(jax.vmap(lapack.eigvalsh))(s))
        np.testing.assert_allclose(got, ref, rtol=0, atol=_tol(jnp.float64, 3) * np.abs(ref).max())


#: path measured on a 2-core CPU for each installed jaxlib (see ``lapack._FIRST_FIXED``):
#: 0.10.2 deadlocks on batched calls; 0.12.0.1 does not (and looping did not make it faster)
MEASURED_LOOPS_ON_CPU = {(0, 10, 2): True, (0, 12, 0): False}


def test_the_installed_jaxlib_takes_the_measured_path():
    version = tuple(JAXLIB_VERSION[:3])
    if jax.default_backend() != "cpu":
        assert not lapack.loops_batches()
        return
    if version not in MEASURED_LOOPS_ON_CPU:
        pytest.skip(f"no measurement for jaxlib {version}")
    assert lapack.loops_batches() == MEASURED_LOOPS_ON_CPU[version]
    with lapack.batch_mode("loop"):
        assert lapack.loops_batches()
    with lapack.batch_mode("chunk"):
        assert not lapack.loops_batches()
    assert lapack.loops_batches() == MEASURED_LOOPS_ON_CPU[version]  # restored


def test_the_blas_under_jaxlibs_lapack_runs_one_thread():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if jax.default_backend() != "cpu":
        pytest.skip("jaxlib's LAPACK kernels are the CPU backend's")
    if any(v in os.environ for v in lapack._BLAS_THREAD_VARIABLES):
        pytest.skip("the user set the BLAS threads")
    lapack.eigvalsh(jnp.eye(3))
    import scipy
    scipy_dir = os.path.realpath(os.path.dirname(scipy.__file__))
    scipy_blas = [lib for lib in threadpoolctl.threadpool_info()
                  if lib["user_api"] == "blas"
                  and os.path.realpath(lib["filepath"]).startswith(scipy_dir)]
    if not scipy_blas:
        pytest.skip("SciPy's BLAS is not inside its wheel here")
    assert [lib["num_threads"] for lib in scipy_blas] == [1] * len(scipy_blas)


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
