"""Counting coin flips and die rolls at scale: fixed-size chunks, sharded over devices.

A fair coin flip needs one random bit, so one 32-bit word from ``jax.random.bits`` is 32 flips
and the number of heads in it is its population count. A fair die needs log2 6 ~ 2.6 bits: a word
holds ten 3-bit fields (bits 0..29), each uniform on 0..7; a field is a roll when it is below 6
(probability 3/4), and then it is exactly uniform on faces 1..6 (rejection sampling; fields 6
and 7 are simply not counted): ten candidates, 7.5 rolls on average, per word. Both are exactly
unbiased. The faces are counted without unpacking the fields (SIMD within a register): for
face value c, ``x = word ^ (c * 0o1111111111)`` has a zero field exactly where the field
equals c, ``~(x | x >> 1 | x >> 2) & 0o1111111111`` marks those fields with one bit each, and
its population count is the number of rolls of face c + 1 in the word.

The stream of words is cut into chunks of ``chunk_words`` words; chunk c is generated from
``fold_in(key, c)``, so the result depends only on (key, count), never on how chunks are
spread over devices or calls: one device and two devices give identical counts. Each device
loops over its chunks with ``fori_loop`` (traced bounds: one compilation for every count), so
peak memory is a few chunks whatever the count. Counts are carried as exact 64-bit integers
split into two uint32 words (hi, lo), so nothing overflows even without ``jax_enable_x64``.

Where the words come from (:func:`chunk_bits`; the key's PRNG implementation chooses, see
:data:`PRNG_IMPLS` and :func:`stream_key`):

- ``threefry2x32`` (JAX's default): Threefry-2x32 (20 rounds; Salmon et al., "Parallel random
  numbers: as easy as 1, 2, 3", 2011), a counter-based generator that passes BigCrush; split
  and fold_in are Threefry hashes of the key, so chunk keys are as independent as the
  generator is good. The words of a chunk are Threefry of the counters 0 .. chunk_words - 1
  taken whole, 64 bits per block (``jax.extend.random.threefry_2x32``, JAX's original
  layout): ``jax.random.bits`` in its default "partitionable" layout computes one block per
  word and XORs the block's two halves, twice the work for the same bits (partitionable only
  matters for an array sharded over devices; a chunk lives on one). CPU, 2 cores, 1e9 flips:
  about 1.7x the flips per second of ``jax.random.bits``.
- ``rbg``: the bits from XLA's RngBitGenerator (Philox-4x32-10 on CPU and GPU), split and
  fold_in still by Threefry on the key: the same guarantees for chunk keys as threefry2x32,
  and a generator (Philox) that also passes BigCrush. Its bits depend on the backend's XLA
  implementation: the same key may give other counts on another backend or XLA version.
- ``unsafe_rbg``: RngBitGenerator for the bits *and* for split and fold_in
  (fold_in(key, c) = key XOR the last of ten RngBitGenerator outputs seeded by c): cheap,
  but nothing guarantees that streams of keys so derived are independent (JAX's warning).
  Distinct chunks do get distinct keys (tests check that chunk words differ and do not
  correlate); the statistical claims of ``lln`` are the only evidence beyond that.

On XLA:CPU RngBitGenerator is not cheaper. Measured with :func:`stream` (1e9 flips, 1 MiB
chunks, one device; jaxlib 0.10.2, 2 shared cores, median of 3): threefry2x32 10.1 G flips/s
(6.3 with ``jax.random.bits``' partitionable layout), rbg 1.4, unsafe_rbg 1.4; NumPy's PCG64
raw bits with ``np.bitwise_count`` (one core) 8.4, ``rng.random(n) < 0.5`` 0.2. Other runs on
the same shared machine gave threefry2x32 7.7-10.1 and the raw NumPy bits 8.4-13.7: against
them the stream is at 0.6-1.2, bounded by Threefry's 20 rounds per 64 bits. Outside a loop
(one 2^22-word array) rbg reached 3.3 and unsafe_rbg 3.7 G flips/s, still below threefry2x32.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import threefry_2x32
from jax.sharding import Mesh, PartitionSpec

from mathml_jax import distributed
from mathml_jax.distributed import chunk_range
from mathml_jax.report import Timing
from mathml_jax.timing import compile_ahead

log = logging.getLogger(__name__)

DIE_FIELD_BITS = 3
DIE_CANDIDATES_PER_WORD = 10  # 3-bit fields per 32-bit word (bits 30, 31 unused)
_FIELD_LOW_BITS = 0o1111111111  # bit 0 of each of the ten 3-bit fields


def _add64(acc, x):
    """(hi, lo) + x for uint32 arrays, with the carry."""
    hi, lo = acc
    new_lo = lo + x
    return hi + (new_lo < lo).astype(jnp.uint32), new_lo


#: the PRNG implementations a stream may use (``jax.random.key(seed, impl=...)``)
PRNG_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")


def stream_key(key, impl: str):
    """A key of PRNG implementation ``impl`` (one of :data:`PRNG_IMPLS`) derived from ``key``:
    ``key`` itself when it already is one (so threefry2x32 streams keep their counts), else
    a key whose data are ``jax.random.bits`` of ``key``."""
    if impl not in PRNG_IMPLS:
        raise ValueError(f"prng impl must be one of {PRNG_IMPLS}, got {impl!r}")
    if str(jax.random.key_impl(key)) == impl:
        return key
    shape = jax.eval_shape(lambda: jax.random.key_data(jax.random.key(0, impl=impl))).shape
    return jax.random.wrap_key_data(jax.random.bits(key, shape, jnp.uint32), impl=impl)


def chunk_bits(key, chunk, *, chunk_words: int) -> jax.Array:
    """The ``chunk_words`` uint32 words of chunk ``chunk`` of the stream of ``key``, from
    ``fold_in(key, chunk)``: Threefry of the counters 0 .. chunk_words - 1 in JAX's original
    whole-block layout for a threefry2x32 key (equal to ``jax.random.bits`` under
    ``jax.threefry_partitionable(False)``), ``jax.random.bits`` for any other key."""
    k = jax.random.fold_in(key, chunk)
    if str(jax.random.key_impl(key)) == "threefry2x32":
        return threefry_2x32(jax.random.key_data(k), jax.lax.iota(jnp.uint32, chunk_words))
    return jax.random.bits(k, (chunk_words,), jnp.uint32)


def _chunk_counts(key, chunk, valid_words, *, kind: str, chunk_words: int):
    """Counts of one chunk: (1,) heads for a coin, (6,) per-face counts for a die."""
    words = chunk_bits(key, chunk, chunk_words=chunk_words)
    valid = jnp.arange(chunk_words) < valid_words
    if kind == "coin":
        heads = jnp.where(valid, jax.lax.population_count(words), 0)
        return jnp.sum(heads, dtype=jnp.uint32)[None]
    low = jnp.uint32(_FIELD_LOW_BITS)
    counts = []
    for c in range(6):
        x = words ^ jnp.uint32(c * _FIELD_LOW_BITS)
        hits = ~(x | (x >> 1) | (x >> 2)) & low
        counts.append(jnp.sum(jnp.where(valid, jax.lax.population_count(hits), 0),
                              dtype=jnp.uint32))
    return jnp.stack(counts)


def _device_counts(key, first, num_chunks, total_chunks, last_valid, *, kind, chunk_words,
                   num_devices, axis):
    """Counts of chunks first + d, first + d + D, ... (< first + num_chunks) on device d."""
    d = jax.lax.axis_index(axis) if axis else 0
    width = 1 if kind == "coin" else 6
    per_device = (num_chunks + num_devices - 1) // num_devices

    def body(i, acc):
        c = first + d + i * num_devices
        inside = c < first + num_chunks
        valid = jnp.where(c == total_chunks - 1, last_valid, chunk_words)
        counts = _chunk_counts(key, c, jnp.where(inside, valid, 0), kind=kind,
                               chunk_words=chunk_words)
        return _add64(acc, counts)

    zero = jnp.zeros(width, jnp.uint32)
    hi, lo = jax.lax.fori_loop(0, per_device, body, (zero, zero))
    return jnp.stack([hi, lo])[None]  # (1, 2, width)


@partial(jax.jit, static_argnames=("kind", "chunk_words", "mesh"))
def stream_counts(key: jax.Array, first, num_chunks, total_chunks, last_valid, *, kind: str,
                  chunk_words: int, mesh: Mesh | None = None) -> jax.Array:
    """Counts over chunks ``first .. first + num_chunks - 1`` of the word stream of ``key``.

    Args:
      key: PRNG key of the whole stream.
      first, num_chunks: the chunks this call covers (traced int32: no recompilation).
      total_chunks, last_valid: the stream has ``total_chunks`` chunks; the last one uses only
        its first ``last_valid`` words.
      kind: "coin" (heads: population counts) or "die" (counts of faces 1..6).
      mesh: a 1-D device mesh to shard chunks over (``None``: one device).
    Returns:
      uint32 array (devices, 2, width): per device, the (hi, lo) words of each count; width 1
      (heads) or 6 (faces). Combine with :func:`combine_counts`.
    """
    if kind not in ("coin", "die"):
        raise ValueError(f"kind must be 'coin' or 'die', got {kind!r}")
    args = (key, first, num_chunks, total_chunks, last_valid)
    if mesh is None:
        return _device_counts(*args, kind=kind, chunk_words=chunk_words, num_devices=1,
                              axis=None)
    axis = mesh.axis_names[0]
    f = partial(_device_counts, kind=kind, chunk_words=chunk_words,
                num_devices=mesh.devices.size, axis=axis)
    return jax.shard_map(f, mesh=mesh, in_specs=PartitionSpec(),
                         out_specs=PartitionSpec(axis), check_vma=False)(*args)


def combine_counts(parts) -> np.ndarray:
    """Exact Python-integer totals (object array of width 1 or 6) of ``stream_counts`` parts."""
    parts = np.asarray(parts).astype(np.uint64)
    hi, lo = parts[:, 0].astype(object), parts[:, 1].astype(object)
    return (hi * (1 << 32) + lo).sum(axis=0)


def device_mesh() -> Mesh | None:
    """A 1-D mesh over all local devices (``None`` when there is only one)."""
    devices = jax.local_devices()
    return None if len(devices) == 1 else Mesh(np.array(devices), ("devices",))


#: 32-bit words per chunk that count flips fastest, measured per backend (coin flips, one
#: device): CPU, 2 cores, jaxlib 0.10.2, 1e9 flips: 1 MiB chunks 5.7 G flips/s, 64 KiB 2.8,
#: 4 MiB 5.0, 16 MiB 2.3, 64 MiB 1.7 (a chunk that fits in cache wins); NVIDIA H200, 1e11
#: flips: 1 MiB 0.44 T flips/s, 16 MiB 3.2, 64 MiB 4.8 (a big chunk fills the device).
MEASURED_CHUNK_WORDS = {"cpu": 1 << 18, "gpu": 1 << 24}


def default_chunk_words(platform: str) -> int:
    """The measured fastest chunk size (in 32-bit words) for ``platform``; other backends
    (TPU) get the accelerator value."""
    return MEASURED_CHUNK_WORDS.get(platform, MEASURED_CHUNK_WORDS["gpu"])


# ---------------------------------------------------------------- host-side driver

def stream(key, num_words: int, *, kind: str, chunk_words: int, block_chunks: int, mesh,
           label: str, progress: Callable[[str, int, int], None] | None = None,
           share: tuple[int, int] = (0, 1)):
    """Counts over ``num_words`` random words in blocks of chunks.

    ``progress(label, chunks_done, total_chunks)`` is called after every block (the runner's
    callback draws a bar); the kernel is compiled once per (kind, chunk size, mesh, PRNG) and
    JAX's own cache serves later calls. Ctrl-C stops after the current block and keeps the
    partial count.

    ``share=(i, n)``: this is process i of n counting the same stream
    (:mod:`mathml_jax.distributed`); it counts only its contiguous chunks
    (:func:`mathml_jax.distributed.chunk_range`), and the counts and words returned are its
    own (:func:`stream_all` adds all processes' exactly).

    Returns:
      (counts: object array of exact ints, words_done, Timing, interrupted)
    """
    total_chunks = -(-num_words // chunk_words)
    last_valid = num_words - (total_chunks - 1) * chunk_words
    first, end = chunk_range(total_chunks, *share)
    i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
    # counts and chunk indices are traced: one compile per kind, whatever num_words is
    compiled, compile_s = compile_ahead(
        stream_counts, key, i32(0), i32(1), i32(total_chunks), i32(last_valid), kind=kind,
        chunk_words=chunk_words, mesh=mesh)
    counts = np.zeros(1 if kind == "coin" else 6, dtype=object)
    mine, done, interrupted = end - first, 0, False
    t0 = time.perf_counter()
    try:
        while done < mine:
            n = min(block_chunks, mine - done)
            parts = compiled(key, i32(first + done), i32(n), i32(total_chunks), i32(last_valid))
            counts = counts + combine_counts(jax.device_get(parts))
            done += n
            if progress is not None and mine > block_chunks:
                progress(label, done, mine)
    except KeyboardInterrupt:
        interrupted = True
        log.warning("%s interrupted after %d of %d chunks: keeping the partial count", label,
                    done, mine)
    run_s = time.perf_counter() - t0
    # the last chunk of the stream holds only last_valid words
    short = chunk_words - last_valid if done and first + done == total_chunks else 0
    return counts, done * chunk_words - short, Timing(compile_s=compile_s, run_s=run_s), \
        interrupted


def stream_all(key, num_words: int, **kwargs):
    """:func:`stream` over all processes of a ``jax.distributed`` run (alone: ``stream``).

    Each process counts its share of the chunks on its own devices; the counts, the words
    counted and the interrupted flags of all processes are then combined exactly
    (:func:`mathml_jax.distributed.gather_exact`: integers, never floats), so every process
    returns the totals, equal to what one process counting every chunk returns. The run time
    is the slowest process's; the compile time this process's own. A collective: every process
    calls it with the same arguments, in the same order.
    """
    share = distributed.share()
    counts, words, timing, stopped = stream(key, num_words, share=share, **kwargs)
    if share[1] == 1:
        return counts, words, timing, stopped
    width = len(counts)
    parts = distributed.gather_exact([*counts, words, int(stopped),
                                      round(timing.run_s * 1e9)])
    totals = [sum(column) for column in zip(*parts, strict=True)]
    total = np.array(totals[:width], dtype=object)
    run_s = max(p[width + 2] for p in parts) / 1e9
    return (total, totals[width], Timing(compile_s=timing.compile_s, run_s=run_s),
            any(p[width + 1] for p in parts))
