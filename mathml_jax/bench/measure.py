"""Timing statistics for benchmarks: repeated runs, median and interquartile range, ratios
with an interval, and the machine's ceilings measured in the same process.

A benchmark compares the suite's kernel with a baseline on the same data in the same process.
Each side is run ``repeats`` times after a warm-up run (JAX kernels are compiled ahead of time
and their compile time is reported apart); every run waits for its result
(``jax.block_until_ready``), so asynchronous dispatch hides nothing.

The ratio r = (baseline time) / (our time) is reported as the ratio of the medians, with the
interval [Q1_b / Q3_o, Q3_b / Q1_o] built from the two interquartile ranges: the ratio of any
typical baseline run to any typical run of ours lies in it. A speed-up is called real only when
the whole interval clears the noise band: lower end >= 1 + band (faster), upper end
<= 1 / (1 + band) (slower); anything else is "within noise".
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mathml_jax import timing


@dataclass(frozen=True)
class Times:
    """Wall-clock seconds of repeated runs of one function (after its warm-up).

    Attributes:
      runs: the seconds of each timed run.
      compile_s: seconds spent compiling (JAX kernels; 0 for NumPy baselines).
    """

    runs: tuple[float, ...]
    compile_s: float = 0.0

    @property
    def median(self) -> float:
        return float(np.median(self.runs))

    @property
    def q1(self) -> float:
        return float(np.quantile(self.runs, 0.25))

    @property
    def q3(self) -> float:
        return float(np.quantile(self.runs, 0.75))

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Times:
        """The inverse of :meth:`as_dict` (``runs_s`` a list or an array)."""
        return cls(tuple(float(t) for t in list(d["runs_s"])), float(d["compile_s"]))

    def as_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "q1_s": self.q1, "q3_s": self.q3, "iqr_s": self.iqr,
                "runs_s": list(self.runs), "compile_s": self.compile_s}


@dataclass(frozen=True)
class Ratio:
    """Baseline time over ours: the ratio of medians and the interval from the quartiles."""

    median: float
    low: float
    high: float

    def verdict(self, band: float) -> str:
        """"faster" when low >= 1 + band, "slower" when high <= 1 / (1 + band), else
        "within noise"."""
        if self.low >= 1.0 + band:
            return "faster"
        if self.high <= 1.0 / (1.0 + band):
            return "slower"
        return "within noise"


def ratio(baseline: Times, ours: Times) -> Ratio:
    """(baseline median / our median, Q1_b / Q3_o, Q3_b / Q1_o)."""
    return Ratio(baseline.median / ours.median, baseline.q1 / ours.q3, baseline.q3 / ours.q1)


def run_times(fn: Callable[[], Any], repeats: int, *, warmup: int = 1,
              max_total_s: float = math.inf, min_repeats: int = 3) -> tuple[Any, tuple[float, ...]]:
    """Runs ``fn()`` ``warmup`` times untimed, then up to ``repeats`` times timed.

    Stops early (never below ``min_repeats`` timed runs) once the timed runs have taken
    ``max_total_s``: a 10-second baseline is not run ten times. Returns (last output, times).
    """
    out = None
    for _ in range(warmup):
        out = jax.block_until_ready(fn())
    times: list[float] = []
    spent = 0.0
    while len(times) < repeats:
        t0 = timing.clock()
        out = jax.block_until_ready(fn())
        dt = timing.clock() - t0
        times.append(dt)
        spent += dt
        if len(times) >= min_repeats and spent >= max_total_s:
            break
    return out, tuple(times)


def time_kernel(jitted, args: tuple, repeats: int, *, max_total_s: float = math.inf,
                **static: Any) -> tuple[Any, Times]:
    """Compiles ``jitted(*args, **static)`` (timed apart), warms it up once and times
    ``repeats`` runs of the compiled executable."""
    compiled, compile_s = timing.compile_ahead(jitted, *args, **static)
    out, runs = run_times(lambda: compiled(*args), repeats, max_total_s=max_total_s)
    return out, Times(runs, compile_s)


def time_baseline(fn: Callable[[], Any], repeats: int, *, max_total_s: float = math.inf
                  ) -> tuple[Any, Times]:
    """Times a baseline (NumPy, SciPy, a Python loop) the same way, without a compile step."""
    out, runs = run_times(fn, repeats, max_total_s=max_total_s)
    return out, Times(runs)


# --------------------------------------------------------------------------- ceilings

@dataclass(frozen=True)
class Ceilings:
    """What this device can do at best, measured in this process.

    Attributes:
      copy_bytes_per_s: bytes read plus written per second by the streaming kernel
        y = x + 1 updating a donated buffer in place on the device: the memory-bandwidth
        ceiling of a memory-bound kernel.
      new_buffer_bytes_per_s: the same kernel writing a new output buffer each call: on a CPU
        the operating system maps and zeroes fresh pages for it, which is what a kernel with a
        large fresh output pays.
      matmul_flops_per_s: flops per second of an n x n matrix product in the dtype (2 n^3
        flops each): the arithmetic ceiling.
      numpy_copy_bytes_per_s: ``np.copyto`` between two touched host buffers, for reference.
      dtype: the dtype measured.
      copy_bytes, matmul_n: the sizes used.
    """

    copy_bytes_per_s: float
    new_buffer_bytes_per_s: float
    matmul_flops_per_s: float
    numpy_copy_bytes_per_s: float
    dtype: str
    copy_bytes: int
    matmul_n: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _plus_one(x):
    return x + 1


_plus_one_new = jax.jit(_plus_one)
_plus_one_in_place = jax.jit(_plus_one, donate_argnums=0)


@jax.jit
def _matmul(a, b):
    return a @ b


def _best_in_place(x, repeats: int) -> float:
    """Fastest of ``repeats`` calls of the donated y = x + 1 (each call consumes its input)."""
    compiled, _ = timing.compile_ahead(_plus_one_in_place, x)
    x = jax.block_until_ready(compiled(x))  # warm-up
    best = math.inf
    for _ in range(repeats):
        t0 = timing.clock()
        x = jax.block_until_ready(compiled(x))
        best = min(best, timing.clock() - t0)
    return best


def measure_ceilings(dtype, *, copy_bytes: int, matmul_n: int, repeats: int, key
                     ) -> Ceilings:
    """Measures the copy bandwidth and the matmul rate of the default device for ``dtype``.

    Bandwidth: ``copy_bytes`` of input (ones: touched memory, not the zero page) read and as
    much written, best (not median) of ``repeats``: a ceiling is what the machine can do.
    Matmul: ``matmul_n`` square, best of ``repeats``, 2 n^3 flops per product.
    """
    dtype = jnp.dtype(dtype)
    n = max(1, copy_bytes // dtype.itemsize)
    nbytes = 2.0 * n * dtype.itemsize
    _, t = time_kernel(_plus_one_new, (jnp.ones((n,), dtype),), repeats)
    new_rate = nbytes / min(t.runs)
    copy_rate = nbytes / _best_in_place(jnp.ones((n,), dtype), repeats)
    ka, kb = jax.random.split(key)
    a = jax.random.normal(ka, (matmul_n, matmul_n), dtype)
    b = jax.random.normal(kb, (matmul_n, matmul_n), dtype)
    _, t = time_kernel(_matmul, (a, b), repeats)
    mm_rate = 2.0 * matmul_n**3 / min(t.runs)
    src = np.ones(n, dtype)
    dst = np.ones_like(src)
    _, t = time_baseline(lambda: np.copyto(dst, src), repeats)
    np_rate = nbytes / min(t.runs)
    return Ceilings(copy_rate, new_rate, mm_rate, np_rate, dtype.name, int(n * dtype.itemsize),
                    matmul_n)


# --------------------------------------------------------------------------- the process

@contextlib.contextmanager
def fresh_compiles():
    """JAX's persistent compilation cache off for the block, then back to the folder it had:
    every kernel is compiled in the block, so its compile time is a compile time (not a cache
    load) and the executable timed is the one XLA builds here."""
    from mathml_jax.runtime import configure_compilation_cache

    folder = jax.config.jax_compilation_cache_dir if jax.config.jax_enable_compilation_cache \
        else None
    configure_compilation_cache(None)
    try:
        yield
    finally:
        configure_compilation_cache(folder)


@contextlib.contextmanager
def all_cores():
    """Every BLAS library at one thread per core for the block (jaxlib's LAPACK shares SciPy's
    OpenBLAS, which :mod:`mathml_jax.linalg.lapack` holds at one thread, so a SciPy baseline
    would otherwise run on one core against our multithreaded products)."""
    try:
        import threadpoolctl
    except ImportError:  # pragma: no cover - scikit-learn brings it
        yield
        return
    with threadpoolctl.threadpool_limits(limits=os.cpu_count() or 1, user_api="blas"):
        yield


def blas_threads() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries loaded in this process and their thread counts (threadpoolctl):
    which baselines ran on how many cores. SciPy's OpenBLAS is the one jaxlib's LAPACK calls
    use, held at one thread by :mod:`mathml_jax.linalg.lapack`, so the SVD comparison is one
    thread against one; NumPy's own OpenBLAS keeps its default."""
    try:
        import threadpoolctl
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return []
    return [{"library": Path(i["filepath"]).parent.name.removesuffix(".libs"),
             "api": i["internal_api"], "threads": i["num_threads"]}
            for i in threadpoolctl.threadpool_info()]
