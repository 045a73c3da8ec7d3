"""Compile time and run time, measured separately.

``timed`` compiles a jitted function ahead of time for the given arguments (so compilation is
timed on its own), then runs the compiled executable and waits for the result with
``block_until_ready`` (so asynchronous dispatch does not hide run time).
"""

from __future__ import annotations

import time
from typing import Any

import jax

from mathml_jax.report import Timing


def timed(jitted, *args: Any, repeats: int = 1, **static: Any) -> tuple[Any, Timing]:
    """Runs ``jitted(*args, **static)`` and returns ``(output, Timing)``.

    Args:
      jitted: a ``jax.jit``-wrapped function.
      *args: its array (traced) arguments.
      repeats: how many times to run the compiled executable; the fastest run is reported.
      **static: its static keyword arguments (shapes, step counts, callables).
    """
    t0 = time.perf_counter()
    compiled = jitted.lower(*args, **static).compile()
    compile_s = time.perf_counter() - t0
    best = float("inf")
    out = None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        best = min(best, time.perf_counter() - t0)
    return out, Timing(compile_s=compile_s, run_s=best)


def wall(fn, *args: Any, repeats: int = 1, **kwargs: Any) -> tuple[Any, float]:
    """Best wall-clock seconds of ``fn(*args, **kwargs)`` over ``repeats`` (for baselines)."""
    best = float("inf")
    out = None
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args, **kwargs))
        best = min(best, time.perf_counter() - t0)
    return out, best
