"""``jnp.linalg``'s LAPACK-backed functions, made safe to batch: looped on the CPU runtime of
jaxlib 0.10, chunked everywhere else.

Why this module exists. jaxlib 0.10.x runs a *batched* LAPACK call (a decomposition whose input
has leading batch axes, which is what ``jax.vmap`` of ``jnp.linalg.qr`` and friends produces) by
splitting the batch over XLA:CPU's intra-op thread pool and blocking the calling pool thread
until the pieces are done (``jax::ParallelBatchMap``). When as many such calls are in flight as
the pool has threads, every thread waits for work no thread is free to run: the process hangs
for ever, using no CPU. On a 2-core machine two independent batched QRs in one jitted program
(or two programs in flight at once) are enough; a stress test here hung in 2 runs of 5.
``--xla_cpu_multi_thread_eigen=false`` does not help. jaxlib 0.11.1 compiles this path out of
its open-source builds, but Python 3.11 (a supported line) gets at most jaxlib 0.10.2.
Separately, a backend's batched solver may have a batch limit: cuSolver's batched syevj failed
on 4M 2 x 2 matrices in one call and worked on 2M.

What it does. Every function below is the ``jnp.linalg`` function of the same name, unchanged on
one matrix. Given a batch, by leading axes or under ``jax.vmap`` (nested or not):

- where :func:`loops_batches` (CPU with an affected jaxlib), it loops over the matrices with
  ``lax.map`` (through :func:`jax.custom_batching.sequential_vmap`), so each LAPACK call sees a
  batch of one and runs inline on its own thread;
- elsewhere the batch goes to the library's batched kernel in chunks of at most
  :data:`MAX_BATCH_ELEMENTS` matrix elements per call (:func:`map_in_chunks`), so no backend's
  batch limit is reached (2 x 2: 2^20 matrices a call).

Both are ``jax.custom_batching.custom_vmap`` rules, which have no reverse-mode derivative: take
gradients through ``jnp.linalg`` on one matrix, not through these. On CPU the first call also
sets the BLAS under jaxlib's LAPACK kernels to one thread (:func:`_one_blas_thread`): XLA runs
those kernels in parallel already, and a threaded OpenBLAS under them made jaxlib 0.12 up to
50 times slower.

Use these, not ``jnp.linalg.{qr,eigh,eigvalsh,eig,svd,solve,det}`` or a matrix 2-norm, for
anything that may be batched; ``tests/test_lapack.py`` keeps the rest of the code base to that.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Callable, Iterator, Sequence

import jax
import jax.numpy as jnp
from jax import lax
from jaxlib.version import __version_info__ as _JAXLIB_VERSION

#: jaxlib releases whose CPU LAPACK kernels fan a batch out over the intra-op pool and block:
#: [first affected, first fixed). Measured on jaxlib 0.12.0.1 (2 shared cores, the STRESS
#: program of tests/test_lapack.py with 400 repetitions, fresh processes cut at 100 s):
#: batched 7 of 10 finished (28-91 s CPU), looped 4 of 10 (47-62 s CPU); every cut process had
#: used 40-102 s of CPU, so none was deadlocked (a deadlocked jaxlib 0.10.2 one: 2.3 s in
#: 100 s). The cost was SciPy's OpenBLAS 0.3.31.dev under jaxlib's LAPACK oversubscribing the
#: cores, looped or not; at one BLAS thread (:func:`_one_blas_thread`) batched 10 of 10 took
#: 5.8-8.0 s CPU and looped 10 of 10 5.5-7.4 s. So 0.12 does not loop: its batches go to the
#: batched kernel, in chunks.
_FIRST_AFFECTED, _FIRST_FIXED = (0, 10, 0), (0, 11, 1)
_AFFECTED_JAXLIB = _FIRST_AFFECTED <= tuple(_JAXLIB_VERSION[:3]) < _FIRST_FIXED

#: at most this many matrix elements go to one batched LAPACK/cuSolver call where batches are
#: not looped (2 x 2: 2^20 matrices; cuSolver's batched syevj failed at 2^22 and worked at 2^21)
MAX_BATCH_ELEMENTS = 2**22

# set only by :func:`batch_mode`, for tests and measurements
_forced: dict = {"mode": None, "max_elements": None}


@contextlib.contextmanager
def batch_mode(mode: str, *, max_elements: int = MAX_BATCH_ELEMENTS) -> Iterator[None]:
    """Within the block, functions traced here batch by ``mode``: "loop" (one matrix per
    LAPACK call) or "chunk" (at most ``max_elements`` matrix elements per call), whatever the
    backend. Only traces made inside the block see it: jit a fresh function there.

    Example: ``with batch_mode("chunk", max_elements=64): jax.jit(jax.vmap(eigvalsh))(s)``.
    """
    if mode not in ("loop", "chunk"):
        raise ValueError(f"batch mode is 'loop' or 'chunk', got {mode!r}")
    if max_elements < 1:
        raise ValueError(f"max_elements must be positive, got {max_elements}")
    before = dict(_forced)
    _forced.update(mode=mode, max_elements=max_elements)
    try:
        yield
    finally:
        _forced.update(before)


def loops_batches() -> bool:
    """True where batched calls are looped one matrix at a time (CPU with an affected jaxlib);
    decided when a function is traced, so a jitted kernel is specialised to its backend."""
    if _forced["mode"] is not None:
        return _forced["mode"] == "loop"
    return _AFFECTED_JAXLIB and jax.default_backend() == "cpu"


_BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


@functools.cache
def _one_blas_thread() -> tuple[str, ...]:
    """Set the BLAS that jaxlib's CPU LAPACK kernels call (SciPy's, through
    ``scipy.linalg.cython_lapack``) to one thread; returns the libraries set.

    XLA:CPU already runs these kernels on its own thread pool, several independent ones at
    once; a multi-threaded BLAS under each oversubscribes the cores. With SciPy 1.18's
    OpenBLAS 0.3.31.dev (jaxlib 0.12.0.1) that made a batched ``eigvalsh`` of 64 40 x 40
    matrices take 800 ms instead of 16 ms, and the STRESS program 28-102 s of CPU instead of
    6-8 s, batched or looped.
    Done once, when the first function here is traced on CPU; left alone where the user set
    one of ``OPENBLAS_NUM_THREADS``, ``GOTO_NUM_THREADS``, ``OMP_NUM_THREADS``, or where
    threadpoolctl (a scikit-learn dependency) is missing. Only libraries shipped inside
    SciPy's wheel are touched, not NumPy's, so NumPy references keep their threads.
    """
    if any(v in os.environ for v in _BLAS_THREAD_VARIABLES):
        return ()
    try:
        import scipy
        import scipy.linalg.cython_lapack  # noqa: F401  loads the library jaxlib calls
        import threadpoolctl
    except ImportError:
        return ()
    scipy_dir = os.path.realpath(os.path.dirname(scipy.__file__))  # .../scipy, .../scipy.libs
    done = []
    for lib in threadpoolctl.ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and os.path.realpath(lib.filepath).startswith(scipy_dir):
            lib.set_num_threads(1)
            done.append(lib.filepath)
    return tuple(done)


def max_batch_elements() -> int:
    """Matrix elements one batched call may see where batches are chunked."""
    return _forced["max_elements"] or MAX_BATCH_ELEMENTS


def map_in_chunks(f: Callable, args: Sequence[jax.Array], chunk: int):
    """``f(*args)`` for a function ``f`` batched along axis 0 of every array in ``args``
    (each (n, ...)), evaluated ``chunk`` rows at a time: f only ever sees (chunk, ...) slices.

    A ``lax.fori_loop`` over ceil(n / chunk) chunks writes each chunk's results into the
    (n, ...) outputs in place. The last chunk starts at n - chunk, overlapping the one before
    it: those rows are computed again and written again, with the same values. There is no
    padded copy of the inputs and no sliced copy of the outputs, so memory is the inputs, the
    outputs and one chunk's working set, whatever n. With n <= chunk it is ``f(*args)``.

    Returns:
      f's output pytree, every leaf (n, ...).
    """
    n = args[0].shape[0]
    if any(x.shape[:1] != (n,) for x in args):
        raise ValueError(f"map_in_chunks: leading axes {[x.shape[:1] for x in args]} differ")
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    if n <= chunk:
        return f(*args)
    shapes = jax.eval_shape(f, *(jax.ShapeDtypeStruct((chunk, *x.shape[1:]), x.dtype)
                                 for x in args))
    for s in jax.tree.leaves(shapes):
        if s.shape[:1] != (chunk,):
            raise ValueError(f"map_in_chunks: an output {s.shape} is not batched along axis 0")
    outs = jax.tree.map(lambda s: jnp.zeros((n, *s.shape[1:]), s.dtype), shapes)

    def body(i, outs):
        start = jnp.minimum(i * chunk, n - chunk)
        part = f(*(lax.dynamic_slice_in_dim(x, start, chunk) for x in args))
        return jax.tree.map(lambda o, p: lax.dynamic_update_slice_in_dim(o, p, start, 0),
                            outs, part)

    return lax.fori_loop(0, -(-n // chunk), body, outs)


def _batch_safe(fn):
    """Decorator: ``fn(a, *others, **static)``, written for one matrix ``a``, becomes a
    function that also accepts leading batch axes on ``a`` (which every other array argument
    shares) and ``jax.vmap``: looped where :func:`loops_batches`, chunked elsewhere."""

    @functools.cache
    def sequential(static: tuple):
        def one(*arrays):
            return fn(*arrays, **dict(static))

        return jax.custom_batching.sequential_vmap(one)

    @functools.cache
    def chunked(static: tuple, batch_ndim: int):
        # fn on arrays with ``batch_ndim`` shared leading batch axes. Its vmap rule moves the
        # new batch axis in front and calls the function for batch_ndim + 1, itself a
        # custom_vmap: an enclosing vmap meets that rule again instead of batching the LAPACK
        # call, so nested vmaps end in one flat, chunked batch.
        def body(*arrays):
            if batch_ndim == 0:
                return fn(*arrays, **dict(static))
            batch_shape = arrays[0].shape[:batch_ndim]
            n = math.prod(batch_shape)
            flat = [x.reshape(n, *x.shape[batch_ndim:]) for x in arrays]
            chunk = max(1, max_batch_elements() // max(1, math.prod(flat[0].shape[1:])))
            out = map_in_chunks(jax.vmap(functools.partial(fn, **dict(static))), flat, chunk)
            return jax.tree.map(lambda y: y.reshape(*batch_shape, *y.shape[1:]), out)

        f = jax.custom_batching.custom_vmap(body)

        @f.def_vmap
        def rule(axis_size, in_batched, *arrays):
            arrays = [x if b else jnp.broadcast_to(x, (axis_size, *x.shape))
                      for x, b in zip(arrays, in_batched, strict=True)]
            out = chunked(static, batch_ndim + 1)(*arrays)
            return out, jax.tree.map(lambda _: True, out)

        return f

    @functools.wraps(fn)
    def wrapper(*arrays, **static):
        if jax.default_backend() == "cpu":
            _one_blas_thread()
        arrays = tuple(jnp.asarray(x) for x in arrays)
        extra = arrays[0].ndim - 2
        batch_shape = arrays[0].shape[:extra]
        for x in arrays[1:]:
            if x.shape[:extra] != batch_shape:
                raise ValueError(
                    f"{fn.__name__}: batch axes {x.shape[:extra]} of an argument do not match "
                    f"the matrix's batch axes {batch_shape}")
        key = tuple(sorted(static.items()))
        if not loops_batches():
            return chunked(key, extra)(*arrays)
        f = sequential(key)
        for _ in range(extra):
            f = jax.vmap(f)
        return f(*arrays)

    return wrapper


@_batch_safe
def qr(a, *, mode: str = "reduced"):
    """``jnp.linalg.qr``: Householder QR (LAPACK geqrf + orgqr)."""
    return jnp.linalg.qr(a, mode=mode)


@_batch_safe
def eigh(a):
    """``jnp.linalg.eigh``: eigenvalues (ascending) and eigenvectors of a symmetric matrix."""
    return jnp.linalg.eigh(a)


@_batch_safe
def eigvalsh(a):
    """``jnp.linalg.eigvalsh``: eigenvalues (ascending) of a symmetric matrix."""
    return jnp.linalg.eigvalsh(a)


@_batch_safe
def eig(a):
    """``jnp.linalg.eig``: eigenvalues and right eigenvectors of a general matrix (complex)."""
    return jnp.linalg.eig(a)


@_batch_safe
def svd(a, *, full_matrices: bool = True, compute_uv: bool = True):
    """``jnp.linalg.svd``."""
    return jnp.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)


@_batch_safe
def solve(a, b):
    """``jnp.linalg.solve`` for one right-hand side ``b`` (n,) or several (n, k), with the same
    leading batch axes as ``a``."""
    return jnp.linalg.solve(a, b)


def det(a):
    """``jnp.linalg.det``: a closed form for 2x2 and 3x3 (no LAPACK, batched natively), an LU
    factorisation above that."""
    a = jnp.asarray(a)
    return jnp.linalg.det(a) if a.shape[-1] <= 3 else _det_lu(a)


@_batch_safe
def _det_lu(a):
    return jnp.linalg.det(a)


@_batch_safe
def spectral_norm(a):
    """The matrix 2-norm ||a||_2 = max_{||x|| = 1} ||a x|| = sigma_max(a), the largest
    singular value (``jnp.linalg.norm(a, ord=2, axis=(-2, -1))``: JAX 0.11 refuses ``ord=2``
    without ``axis`` on a stack of matrices)."""
    return jnp.linalg.norm(a, ord=2, axis=(-2, -1))
