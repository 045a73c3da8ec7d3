"""``jnp.linalg``'s LAPACK-backed functions, made safe to batch on the CPU runtime of jaxlib 0.10.

Why this module exists. jaxlib 0.10.x runs a *batched* LAPACK call (a decomposition whose input
has leading batch axes, which is what ``jax.vmap`` of ``jnp.linalg.qr`` and friends produces) by
splitting the batch over XLA:CPU's intra-op thread pool and blocking the calling pool thread
until the pieces are done (``jax::ParallelBatchMap``). When as many such calls are in flight as
the pool has threads, every thread waits for work no thread is free to run: the process hangs
for ever, using no CPU. On a 2-core machine two independent batched QRs in one jitted program
(or two programs in flight at once) are enough; a stress test here hung in 2 runs of 5.
``--xla_cpu_multi_thread_eigen=false`` does not help. jaxlib 0.11.1 compiles this path out of
its open-source builds, but the registry this project installs from stops at 0.10.2.

What it does. Every function below is the ``jnp.linalg`` function of the same name, unchanged on
one matrix. Given a batch, by leading axes or under ``jax.vmap``, it loops over the matrices
with ``lax.map`` (through :func:`jax.custom_batching.sequential_vmap`) on the affected CPU
runtime, so each LAPACK call sees a batch of one and runs inline on its own thread. On any other
backend or jaxlib the batch goes to the library's batched kernel, as ``jnp.linalg`` would.

Use these, not ``jnp.linalg.{qr,eigh,eigvalsh,eig,svd,solve,det}`` or a matrix 2-norm, for
anything that may be batched; ``tests/test_lapack.py`` keeps the rest of the code base to that.
"""

from __future__ import annotations

import functools
from importlib import metadata

import jax
import jax.numpy as jnp


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


#: jaxlib releases whose CPU LAPACK kernels fan a batch out over the intra-op pool and block.
_PARALLEL_BATCH_RELEASES = ((0, 10, 0), (0, 11, 1))  # [first affected, first fixed)


def _jaxlib_blocks_on_batches() -> bool:
    try:
        version = _version_tuple(metadata.version("jaxlib"))
    except metadata.PackageNotFoundError:  # pragma: no cover - jaxlib always ships with jax
        return True
    first, fixed = _PARALLEL_BATCH_RELEASES
    return first <= version < fixed


_AFFECTED_JAXLIB = _jaxlib_blocks_on_batches()


def loops_batches() -> bool:
    """True where batched calls are looped one matrix at a time (CPU with an affected jaxlib);
    decided when a function is traced, so a jitted kernel is specialised to its backend."""
    return _AFFECTED_JAXLIB and jax.default_backend() == "cpu"


def _batch_safe(core_ndims: tuple[int, ...]):
    """Decorator: ``fn(*arrays, **static)`` on unbatched arrays of ``core_ndims`` dimensions
    becomes a function that accepts leading batch axes (shared by every array argument) and
    ``jax.vmap``, looping over the batch where :func:`loops_batches`."""

    def decorate(fn):
        @functools.cache
        def sequential(static: tuple):
            def one(*arrays):
                return fn(*arrays, **dict(static))

            return jax.custom_batching.sequential_vmap(one)

        @functools.wraps(fn)
        def wrapper(*arrays, **static):
            arrays = tuple(jnp.asarray(a) for a in arrays)
            if not loops_batches():
                return fn(*arrays, **static)
            extra = arrays[0].ndim - core_ndims[0]
            batch_shape = arrays[0].shape[:extra]
            for a, core in zip(arrays[1:], core_ndims[1:], strict=True):
                if a.shape[: a.ndim - core] != batch_shape:
                    raise ValueError(
                        f"{fn.__name__}: batch axes {a.shape[: a.ndim - core]} of an argument do "
                        f"not match the matrix's batch axes {batch_shape}")
            f = sequential(tuple(sorted(static.items())))
            for _ in range(extra):
                f = jax.vmap(f)
            return f(*arrays)

        return wrapper

    return decorate


@_batch_safe((2,))
def qr(a, *, mode: str = "reduced"):
    """``jnp.linalg.qr``: Householder QR (LAPACK geqrf + orgqr)."""
    return jnp.linalg.qr(a, mode=mode)


@_batch_safe((2,))
def eigh(a):
    """``jnp.linalg.eigh``: eigenvalues (ascending) and eigenvectors of a symmetric matrix."""
    return jnp.linalg.eigh(a)


@_batch_safe((2,))
def eigvalsh(a):
    """``jnp.linalg.eigvalsh``: eigenvalues (ascending) of a symmetric matrix."""
    return jnp.linalg.eigvalsh(a)


@_batch_safe((2,))
def eig(a):
    """``jnp.linalg.eig``: eigenvalues and right eigenvectors of a general matrix (complex)."""
    return jnp.linalg.eig(a)


@_batch_safe((2,))
def svd(a, *, full_matrices: bool = True, compute_uv: bool = True):
    """``jnp.linalg.svd``."""
    return jnp.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)


def solve(a, b):
    """``jnp.linalg.solve`` for one right-hand side ``b`` (n,) or several (n, k), with the same
    leading batch axes as ``a``."""
    a, b = jnp.asarray(a), jnp.asarray(b)
    extra = a.ndim - 2
    return (_solve_vector if b.ndim - extra == 1 else _solve_matrix)(a, b)


@_batch_safe((2, 1))
def _solve_vector(a, b):
    return jnp.linalg.solve(a, b)


@_batch_safe((2, 2))
def _solve_matrix(a, b):
    return jnp.linalg.solve(a, b)


def det(a):
    """``jnp.linalg.det``: a closed form for 2x2 and 3x3 (no LAPACK, batched natively), an LU
    factorisation above that."""
    a = jnp.asarray(a)
    return jnp.linalg.det(a) if a.shape[-1] <= 3 else _det_lu(a)


@_batch_safe((2,))
def _det_lu(a):
    return jnp.linalg.det(a)


@_batch_safe((2,))
def spectral_norm(a):
    """The matrix 2-norm ``jnp.linalg.norm(a, ord=2)``: the largest singular value."""
    return jnp.linalg.norm(a, ord=2)
