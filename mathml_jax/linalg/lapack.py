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
its open-source builds, but the registry this project installs from stops at 0.10.2.
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
gradients through ``jnp.linalg`` on one matrix, not through these.

Use these, not ``jnp.linalg.{qr,eigh,eigvalsh,eig,svd,solve,det}`` or a matrix 2-norm, for
anything that may be batched; ``tests/test_lapack.py`` keeps the rest of the code base to that.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jaxlib.version import __version_info__ as _JAXLIB_VERSION

#: jaxlib releases whose CPU LAPACK kernels fan a batch out over the intra-op pool and block:
#: [first affected, first fixed)
_FIRST_AFFECTED, _FIRST_FIXED = (0, 10, 0), (0, 11, 1)
_AFFECTED_JAXLIB = _FIRST_AFFECTED <= tuple(_JAXLIB_VERSION[:3]) < _FIRST_FIXED


def loops_batches() -> bool:
    """True where batched calls are looped one matrix at a time (CPU with an affected jaxlib);
    decided when a function is traced, so a jitted kernel is specialised to its backend."""
    return _AFFECTED_JAXLIB and jax.default_backend() == "cpu"


def _batch_safe(fn):
    """Decorator: ``fn(a, *others, **static)``, written for one matrix ``a``, becomes a
    function that also accepts leading batch axes on ``a`` (which every other array argument
    shares) and ``jax.vmap``, looping over the batch where :func:`loops_batches`."""

    @functools.cache
    def sequential(static: tuple):
        def one(*arrays):
            return fn(*arrays, **dict(static))

        return jax.custom_batching.sequential_vmap(one)

    @functools.wraps(fn)
    def wrapper(*arrays, **static):
        arrays = tuple(jnp.asarray(x) for x in arrays)
        if not loops_batches():
            return fn(*arrays, **static)
        extra = arrays[0].ndim - 2
        batch_shape = arrays[0].shape[:extra]
        for x in arrays[1:]:
            if x.shape[:extra] != batch_shape:
                raise ValueError(
                    f"{fn.__name__}: batch axes {x.shape[:extra]} of an argument do not match "
                    f"the matrix's batch axes {batch_shape}")
        f = sequential(tuple(sorted(static.items())))
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
    """The matrix 2-norm ``jnp.linalg.norm(a, ord=2)``: the largest singular value."""
    return jnp.linalg.norm(a, ord=2)
