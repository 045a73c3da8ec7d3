"""Batches over every local device, in chunks that fit: multi-start descent, grid
classification and Monte Carlo.

Two ways a batch of n independent items (starts, grid points, paths, players) is spread:

- :func:`map_rows`, for kernels whose item i depends on row i of its inputs only (descent and
  Newton from many starts, Hessian classification of many points, paths with one key each):
  the rows are cut into chunks of ``rows`` rows (a multiple of the device count; the last
  chunk padded by repeating the last row, its results dropped), and every chunk is split over
  the devices with ``jax.shard_map``: each device runs the kernel, unchanged, on its own
  ``rows / D`` rows. One device and one chunk calls the kernel itself: nothing changes there.
  What a row gets is what the kernel computes for it in a smaller batch, and that is the
  single-device number, bit for bit, for every kernel whose rows share no arithmetic (the
  tests check descent, Newton, classification and the keyed Monte Carlo paths on 4 devices)
  except where XLA compiles the smaller or the partitioned batch differently, which the tests
  bound by the rounding of the operations concerned:
  - a product with a matrix all rows share (gradient descent on one quadratic, rows batched
    over the step size: the gd experiment's sweep): XLA:CPU computes it for the whole batch
    as one matrix product and blocks its sums by the batch size;
  - Adam: in the partitioned program XLA divides by the bias correction 1 - beta^k as a
    product with its rounded reciprocal (one rounding more);
  - f at the recorded iterates (the ``losses`` of a descent run), evaluated with another
    rounding for another batch shape (last bits; the iterates themselves are identical).
  XLA's own partitioning of the same kernels (``jit`` with sharded inputs) is not used: Adam
  from 1000 starts, 200 steps, moved by 1e-3 relative on 4 CPU devices.
- :func:`constrain_rows`, inside a Monte Carlo kernel that draws one array of random numbers
  from one key (``jax.random.bernoulli(key, p, (n, m))``): a sharding constraint on the
  draw's rows. JAX's random bits are "partitionable" (the default since JAX 0.5: the bits of
  element i are Threefry of the counter i), so each device draws exactly its rows of the
  single-device array: the same numbers, on D devices.

Chunk sizes. :func:`chunk_rows` is the one rule (memory estimates use it too): as many rows as
fit ``budget_bytes`` at ``bytes_per_item`` each, rounded down to a multiple of the device
count, never fewer than one per device, never more than the (padded) batch. :func:`map_rows`
measures ``bytes_per_item`` from the kernel's own shapes (:func:`row_bytes`) and takes its
budget from :func:`memory_budget` (a quarter of one device's memory) unless told. Monte Carlo
kernels that draw from one key cannot be cut by a budget without changing their numbers, so
their chunks are a fixed number of random values, :data:`MC_CHUNK_ELEMENTS` (the same on every
machine): a request that fits one chunk draws as before; a larger one draws chunk c from
``fold_in(key, c)`` (:func:`mc_chunks`), the same numbers on any machine and device count.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mathml_jax.report import Timing
from mathml_jax.timing import compile_ahead, wall

#: the name of the mesh axis the batch is split over
AXIS = "devices"
#: the share of one device's memory a chunk's working set may use (the rest: the inputs,
#: other kernels' buffers, XLA's own scratch)
MEMORY_FRACTION = 0.25
#: a chunk's working set, in multiples of its inputs' and outputs' bytes (the loop carry and
#: its next value, and the outputs written while the carry is live)
WORK_FACTOR = 3
#: random values per Monte Carlo chunk (2^25: 128 MiB of float32 per array drawn), fixed so
#: that a streamed draw is the same on every machine
MC_CHUNK_ELEMENTS = 1 << 25


def device_mesh(platform: str | None = None) -> Mesh | None:
    """A 1-D mesh (axis :data:`AXIS`) over the local devices of ``platform`` (JAX's default
    backend for ``None``), or ``None`` when there is only one device."""
    devices = jax.local_devices(backend=platform)
    return None if len(devices) == 1 else Mesh(np.array(devices), (AXIS,))


def num_devices(mesh: Mesh | None) -> int:
    return 1 if mesh is None else int(mesh.devices.size)


def chunk_rows(n_items: int, bytes_per_item: int, budget_bytes: int, *,
               multiple: int = 1) -> int:
    """Rows per chunk: ``budget_bytes // bytes_per_item``, rounded down to a multiple of
    ``multiple`` (the device count), at least ``multiple``, at most ``n_items`` rounded up to
    a multiple. The number of chunks is ``ceil(n_items / rows)``; a chunk's memory is about
    ``rows * bytes_per_item`` (over ``budget_bytes`` only when one row per device is more).

    >>> chunk_rows(10**6, 1000, 10**8, multiple=4)
    100000
    """
    if n_items < 0 or bytes_per_item < 0 or budget_bytes < 1 or multiple < 1:
        raise ValueError(f"chunk_rows({n_items}, {bytes_per_item}, {budget_bytes}, "
                         f"multiple={multiple}): counts must be >= 0, budget and multiple >= 1")
    whole = max(multiple, -(-n_items // multiple) * multiple)
    if bytes_per_item == 0:
        return int(whole)
    fit = budget_bytes // bytes_per_item
    return int(min(whole, max(multiple, fit // multiple * multiple)))


def memory_budget(device=None, fraction: float = MEMORY_FRACTION) -> int:
    """``fraction`` of ``device``'s memory in bytes (default: the job's default device): the
    allocator's limit where the backend reports one (GPU), else the host's physical memory
    shared by the host's devices (CPU)."""
    device = device or jax.config.jax_default_device or jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    total = (stats or {}).get("bytes_limit")
    if not total:
        host = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        total = host // len(jax.local_devices(backend=device.platform))
    return max(1, int(fraction * total))


def _nbytes(tree) -> int:
    # a typed PRNG key's dtype has no NumPy equivalent, but an itemsize
    return sum(math.prod(x.shape) * x.dtype.itemsize for x in jax.tree.leaves(tree))


def row_bytes(kernel: Callable, args: Sequence[Any], batch_argnums: Sequence[int],
              **static: Any) -> int:
    """Bytes one row costs in a chunk of ``kernel(*args, **static)``: :data:`WORK_FACTOR`
    times its share of the batched inputs and of the outputs (shapes from ``jax.eval_shape``
    of a one-row batch; nothing is computed)."""
    one = [_rows_of(a, 0, 1) if i in batch_argnums else a for i, a in enumerate(args)]
    out = jax.eval_shape(functools.partial(kernel, **static), *one)
    return WORK_FACTOR * (_nbytes(out) + _nbytes([one[i] for i in batch_argnums]))


def _rows_of(tree, start: int, stop: int):
    return jax.tree.map(lambda a: a[start:stop], tree)


def _padded_rows_of(tree, start: int, rows: int):
    """Rows start .. start + rows - 1 of every leaf, the last row repeated past the end (a
    valid input: no NaN or zero row that could change a kernel's branches)."""
    def one(a):
        part = a[start:start + rows]
        short = rows - part.shape[0]
        return part if short == 0 else jnp.concatenate([part, jnp.repeat(part[-1:], short, 0)])
    return jax.tree.map(one, tree)


@functools.lru_cache(maxsize=64)
def _sharded(kernel: Callable, mesh: Mesh, in_batched: tuple[bool, ...],
             static: tuple[tuple[str, Any], ...]):
    """``jit(shard_map(kernel))``: batched arguments split along their rows, the others
    replicated, every output split along its rows (cached: one program per kernel and
    statics)."""
    rows, rep = PartitionSpec(AXIS), PartitionSpec()
    f = jax.shard_map(functools.partial(kernel, **dict(static)), mesh=mesh,
                      in_specs=tuple(rows if b else rep for b in in_batched),
                      out_specs=rows, check_vma=False)
    return jax.jit(f)


def map_rows(kernel: Callable, *args: Any, batch_argnums: Sequence[int] = (0,),
             mesh: Mesh | None = None, rows: int | None = None,
             budget_bytes: int | None = None, keep: Callable | None = None,
             **static: Any) -> tuple[Any, Timing]:
    """``kernel(*args, **static)`` for a kernel batched along axis 0 of the arguments
    ``batch_argnums`` (all with the same n rows; the others shared), in chunks of ``rows``
    rows, each chunk split over ``mesh``'s devices. Module docstring: results are those of
    one call, bit for bit.

    Args:
      kernel: a function (usually ``jax.jit``-wrapped) whose every output has n rows.
      mesh: a 1-D mesh (:func:`device_mesh`), ``None`` for one device.
      rows: rows per chunk; ``None``: :func:`chunk_rows` of :func:`row_bytes` within
        ``budget_bytes`` (``None``: :func:`memory_budget`).
      keep: applied to each chunk's outputs on the host (NumPy arrays, padding removed);
        what it returns (rows along axis 0) is concatenated instead of the outputs: a column
        selection, so a streamed result never holds the full outputs.
      **static: the kernel's static keyword arguments.

    Returns:
      (host NumPy outputs with n rows, :class:`~mathml_jax.report.Timing`: the compilation
      and the run of all chunks).
    """
    batch_argnums = tuple(batch_argnums)
    n = jax.tree.leaves(args[batch_argnums[0]])[0].shape[0]
    D = num_devices(mesh)
    if rows is None:
        device = None if mesh is None else mesh.devices.flat[0]
        budget = memory_budget(device) if budget_bytes is None else budget_bytes
        rows = chunk_rows(n, row_bytes(kernel, args, batch_argnums, **static), budget,
                          multiple=D)
    elif rows < 1 or rows % D:
        raise ValueError(f"rows={rows} must be a positive multiple of the {D} devices")
    keep = keep or (lambda out: out)
    if n == 0 or (mesh is None and n <= rows):  # one device, one chunk: the kernel itself
        out, t = _timed_once(kernel, args, static)
        return keep(jax.tree.map(np.asarray, out)), t
    chunks = -(-n // rows)

    def chunk_args(c):
        return [_padded_rows_of(a, c * rows, rows) if i in batch_argnums else a
                for i, a in enumerate(args)]

    if mesh is None:
        fn, compile_s = compile_ahead(kernel, *chunk_args(0), **static)
    else:
        fn = _sharded(kernel, mesh, tuple(i in batch_argnums for i in range(len(args))),
                      tuple(sorted(static.items())))
        fn, compile_s = compile_ahead(fn, *chunk_args(0))
    parts, run_s = [], 0.0
    for c in range(chunks):
        out, s = wall(fn, *chunk_args(c))
        run_s += s
        valid = min(rows, n - c * rows)
        parts.append(keep(jax.tree.map(lambda a, v=valid: np.asarray(a)[:v], out)))
    joined = jax.tree.map(lambda *p: np.concatenate(p), *parts)
    return joined, Timing(compile_s=compile_s, run_s=run_s)


def _timed_once(kernel, args, static):
    from mathml_jax.timing import timed

    if hasattr(kernel, "lower"):
        return timed(kernel, *args, **static)
    out, s = wall(functools.partial(kernel, **static), *args)
    return out, Timing(compile_s=0.0, run_s=s)


def timed_rows(timer, name: str, kernel: Callable, *args: Any, **kwargs: Any) -> Any:
    """:func:`map_rows` with its timing added to ``timer`` (a run's
    :class:`~mathml_jax.timing.Timer`) under ``name``; returns the outputs only."""
    out, t = map_rows(kernel, *args, **kwargs)
    timer.add(name, t)
    return out


def padded_rows(n: int, mesh: Mesh | None) -> int:
    """``n`` rounded up to a multiple of ``mesh``'s device count (``n`` for ``None``)."""
    D = num_devices(mesh)
    return -(-n // D) * D


def constrain_rows(x: jax.Array, mesh: Mesh | None) -> jax.Array:
    """Inside ``jit``: ``x`` with its rows split over ``mesh`` (``x`` itself for ``None``).
    The rows must be a multiple of the device count: a Monte Carlo kernel draws
    :func:`padded_rows` rows and drops the extra ones at the end. Partitionable random bits
    depend on an element's flat index only, so the first n rows of a draw of more rows are
    the draw of n rows: padding changes no number."""
    if mesh is None:
        return x
    if x.shape[0] % num_devices(mesh):
        raise ValueError(f"constrain_rows: {x.shape[0]} rows do not divide over "
                         f"{num_devices(mesh)} devices; draw padded_rows(n, mesh) rows")
    spec = PartitionSpec(AXIS, *([None] * (x.ndim - 1)))
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))


def mc_chunks(n_items: int, elements_per_item: int) -> tuple[int, int]:
    """(items per chunk, number of chunks) of a Monte Carlo draw of ``n_items`` items of
    ``elements_per_item`` random values: :data:`MC_CHUNK_ELEMENTS` values per chunk (at least
    one item), the same on every machine, so a streamed result does not depend on it."""
    per = max(1, MC_CHUNK_ELEMENTS // max(1, elements_per_item))
    per = min(per, max(1, n_items))
    return per, -(-n_items // per)


def mc_chunk_key(key: jax.Array, chunk: int, num_chunks: int) -> jax.Array:
    """The key of chunk ``chunk`` of a Monte Carlo draw: ``key`` itself when there is one
    chunk (a draw that fits is drawn exactly as without chunks), else ``fold_in(key, chunk)``."""
    return key if num_chunks == 1 else jax.random.fold_in(key, chunk)


def stream_chunks(timer, name: str, kernel: Callable, key: jax.Array, *args: Any,
                  num_chunks: int, progress: Callable | None = None, **static: Any):
    """Yields ``kernel(mc_chunk_key(key, c, num_chunks), *args, **static)`` as host arrays for
    c = 0 .. num_chunks - 1: one compilation, every chunk's run timed, the total added to
    ``timer`` under ``name`` when the last chunk is done; ``progress(label, done, total)``
    after each chunk when there is more than one."""
    compiled, compile_s = compile_ahead(kernel, key, *args, **static)
    run_s = 0.0
    for c in range(num_chunks):
        out, s = wall(compiled, mc_chunk_key(key, c, num_chunks), *args)
        run_s += s
        yield jax.tree.map(np.asarray, out)
        if progress is not None and num_chunks > 1:
            progress(name, c + 1, num_chunks)
    timer.add(name, Timing(compile_s=compile_s, run_s=run_s))
