"""What a kernel costs: wall-clock time (compile and run, measured separately) and operations
counted in its program.

Wall-clock time depends on the machine, the device and its load: on a GPU, forward mode's n
tangents run side by side, so the time of ``jax.jacfwd`` does not grow like its work. It is
reported, never checked. Claims about cost count operations in the program instead:

- :func:`flops`: XLA's cost analysis of the program JAX hands to XLA (``jit(f).lower(...)``),
  before backend-specific rewrites. The compiled program's count is available too
  (``stage="compiled"``), but on some GPU versions it counts a matrix product that became a
  cuBLAS call as (nearly) nothing (jax-ml/jax#22249, #16008). XLA counts a loop's body once,
  whatever its trip count, and a LAPACK call as nothing.
- :func:`traced_ops` and :func:`traced_flops`: the primitives of the traced program (the
  jaxpr), every ``lax.scan`` body (and so every ``fori_loop`` with static bounds) counted once
  per iteration; matrix products counted exactly, decompositions by a cost the caller gives
  (e.g. the textbook count of a Householder QR).

All of these see the same program on every backend, so a claim built on them is device
independent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax

from mathml_jax.report import Timing

#: the clock every wall-clock measurement here reads (a test replaces it to show that no claim
#: depends on it)
clock = time.perf_counter


def compile_ahead(jitted, *args: Any, **static: Any) -> tuple[Callable[..., Any], float]:
    """Compiles ``jitted(*args, **static)`` ahead of time: (the compiled executable, seconds)."""
    t0 = clock()
    compiled = jitted.lower(*args, **static).compile()
    return compiled, clock() - t0


def timed(jitted, *args: Any, repeats: int = 1, **static: Any) -> tuple[Any, Timing]:
    """Runs ``jitted(*args, **static)`` and returns ``(output, Timing)``.

    ``jitted`` is compiled ahead of time for the given arguments (compilation timed on its
    own), then the compiled executable is run and waited for with ``block_until_ready`` (so
    asynchronous dispatch does not hide run time).

    Args:
      jitted: a ``jax.jit``-wrapped function.
      *args: its array (traced) arguments.
      repeats: how many times to run the compiled executable; the fastest run is reported.
      **static: its static keyword arguments (shapes, step counts, callables).
    """
    compiled, compile_s = compile_ahead(jitted, *args, **static)
    out, run_s = wall(compiled, *args, repeats=repeats)
    return out, Timing(compile_s=compile_s, run_s=run_s)


class Timer:
    """The timings of one run, collected by name: the runner hands one to the compute phase
    (as ``ctx.timer``), and the report gets what it collected. No experiment times by hand."""

    def __init__(self) -> None:
        self.timings: dict[str, Timing] = {}

    def timed(self, name: str, jitted, *args: Any, repeats: int = 1, **static: Any) -> Any:
        """:func:`timed` under ``name``; returns the output only."""
        out, t = timed(jitted, *args, repeats=repeats, **static)
        self.add(name, t)
        return out

    def add(self, name: str, timing: Timing) -> None:
        """Records a timing measured elsewhere (a kernel that streams, a baseline); a name
        seen before accumulates."""
        if name in self.timings:
            old = self.timings[name]
            timing = Timing(old.compile_s + timing.compile_s, old.run_s + timing.run_s)
        self.timings[name] = timing


def wall(fn, *args: Any, repeats: int = 1, **kwargs: Any) -> tuple[Any, float]:
    """Best wall-clock seconds of ``fn(*args, **kwargs)`` over ``repeats`` (for baselines)."""
    best = float("inf")
    out = None
    for _ in range(max(1, repeats)):
        t0 = clock()
        out = jax.block_until_ready(fn(*args, **kwargs))
        best = min(best, clock() - t0)
    return out, best


def _cost_flops(cost) -> float:
    # a dict on JAX 0.10 and 0.12; a list of one dict per program on some versions; None or
    # without "flops" where a backend has no cost model
    if isinstance(cost, list | tuple):
        cost = cost[0] if cost else None
    if not cost or "flops" not in cost:
        return math.nan
    f = float(cost["flops"])
    return f if f >= 0 else math.nan  # some versions answer -1 for "unknown"


def flops(jitted, *args: Any, stage: str = "lowered", **static: Any) -> float:
    """Floating-point operations XLA counts in the program of ``jitted(*args, **static)``.

    A multiply-add counts 2 (a (m, k) @ (k, n) product is 2 m k n flops), an elementwise
    arithmetic operation 1 per element; transcendental functions (tanh, exp) are counted apart
    by XLA and not included. A loop body counts once, whatever its trip count (use
    :func:`traced_flops` for programs with loops).

    Args:
      jitted: a ``jax.jit``-wrapped function.
      *args: its array arguments (arrays or ``jax.ShapeDtypeStruct``: only shapes matter).
      stage: "lowered" (the program as JAX hands it to XLA: the same on every backend) or
        "compiled" (after XLA's backend passes).
      **static: its static keyword arguments.

    Returns:
      The count, or NaN where the backend reports none.
    """
    if stage not in ("lowered", "compiled"):
        raise ValueError(f"stage must be 'lowered' or 'compiled', got {stage!r}")
    lowered = jitted.lower(*args, **static)
    program = lowered if stage == "lowered" else lowered.compile()
    return _cost_flops(program.cost_analysis())


@dataclass(frozen=True)
class TracedOp:
    """One primitive of a traced program and how many times it runs.

    Attributes:
      primitive: its name ("dot_general", "qr", "svd", ...).
      in_shapes: the shapes of its operands.
      out_shapes: the shapes of its results.
      params: its parameters (e.g. ``dimension_numbers``, ``full_matrices``).
      times: how many times it runs (the product of the lengths of the scans around it).
    """

    primitive: str
    in_shapes: tuple[tuple[int, ...], ...]
    out_shapes: tuple[tuple[int, ...], ...]
    params: dict
    times: int


def _sub_jaxprs(params: dict):
    for v in params.values():
        for item in v if isinstance(v, tuple | list) else (v,):
            if hasattr(item, "eqns"):
                yield item
            elif hasattr(item, "jaxpr") and hasattr(item.jaxpr, "eqns"):
                yield item.jaxpr


def _walk(jaxpr, times: int, out: list[TracedOp]) -> None:
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in ("while", "cond"):
            raise ValueError(f"traced_ops: a {name} has no trip count known at trace time; "
                             "count a program whose loops are lax.scan (or fori_loop with "
                             "static bounds)")
        inner = times * int(eqn.params["length"]) if name == "scan" else times
        subs = list(_sub_jaxprs(eqn.params))
        if subs:
            for sub in subs:
                _walk(sub, inner, out)
            continue
        out.append(TracedOp(
            name, tuple(tuple(getattr(v.aval, "shape", ())) for v in eqn.invars),
            tuple(tuple(getattr(v.aval, "shape", ())) for v in eqn.outvars),
            dict(eqn.params), times))


def traced_ops(fn: Callable, *args: Any, **static: Any) -> list[TracedOp]:
    """The primitives ``fn(*args, **static)`` runs, read from its jaxpr: calls (``jit``,
    custom rules) are entered, a ``lax.scan`` body counts ``length`` times.

    Raises:
      ValueError: the program has a ``while_loop`` or ``cond`` (how often it runs is not known
        before it runs).
    """
    closed = jax.make_jaxpr(partial(fn, **static))(*args)
    out: list[TracedOp] = []
    _walk(closed.jaxpr, 1, out)
    return out


def dot_flops(op: TracedOp) -> float:
    """2 x (batch size) x (contracted size) x (free sizes of both operands): the flops of one
    ``dot_general``, a (m, k) @ (k, n) product being 2 m k n."""
    (lc, rc), (lb, rb) = op.params["dimension_numbers"]
    lhs, rhs = op.in_shapes
    batch = math.prod(lhs[i] for i in lb)
    contract = math.prod(lhs[i] for i in lc)
    free_l = math.prod(d for i, d in enumerate(lhs) if i not in lc and i not in lb)
    free_r = math.prod(d for i, d in enumerate(rhs) if i not in rc and i not in rb)
    return 2.0 * batch * contract * free_l * free_r


def traced_flops(fn: Callable, *args: Any,
                 costs: dict[str, Callable[[TracedOp], float]] | None = None,
                 **static: Any) -> float:
    """Flops of ``fn(*args, **static)`` counted on its traced program: every matrix product
    (``dot_general``) exactly, each primitive named in ``costs`` by that function of it (e.g.
    a decomposition's textbook count), times how often it runs. Elementwise work is not
    counted: this is the cost of the linear algebra.
    """
    costs = {"dot_general": dot_flops, **(costs or {})}
    return float(sum(costs[op.primitive](op) * op.times for op in traced_ops(fn, *args, **static)
                     if op.primitive in costs))


def products_with(ops: list[TracedOp], shape: tuple[int, int]) -> float:
    """How many vectors are multiplied by a matrix of ``shape`` (or by its transpose) in
    ``ops``: the flops of the matrix products that have it as an operand over 2 m n. The
    matrix is recognised by its shape, so no other operand may have that shape."""
    m, n = shape
    hits = [op for op in ops if op.primitive == "dot_general"
            and any(s in ((m, n), (n, m)) for s in op.in_shapes)]
    return sum(dot_flops(op) * op.times for op in hits) / (2.0 * m * n)
