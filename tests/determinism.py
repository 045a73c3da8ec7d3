"""Determinism checks of an experiment's end-to-end run (``run_experiment(..., determinism=True)``
in tests/conftest.py), on this platform and precision:

- the same config and seed, run again, give bit-identical metrics (timings aside) and series;
- seed 1 changes every sampled quantity: each series array either changes, or is listed in
  ``tests/seed_free/<name>.json`` as independent of the seed (a grid, a closed form, a
  deterministic algorithm on fixed data, or a status array that coincides, e.g. no run diverged
  under either seed), and every listed array stays the same: the list is exact both ways.

The reruns draw no figures and reuse the first run's compiled kernels (same shapes and dtypes),
so they cost only run time. ``MATHML_UPDATE_SEED_FREE=1`` rewrites a list from a run instead of
checking it: review the diff, an array of samples must never appear there.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np

#: metric and series names that are wall-clock measurements (they differ between any two runs)
TIMING = re.compile(r"(^|_)(s|ms|us|seconds|time|times|timing|speedup|speedups|throughput|"
                    r"gflops|gbps|per_s|wall)(_|$)|_per_s$|per_second|rolls_per|flips_per")
#: metrics and series that hold wall-clock measurements inside a structure
TIMED = {"benchmark": ("table", "ceilings", "largest_copy_ceiling_fraction"),
         "lln": ("benchmark_coin_vs_raw_bits",)}
SEED_FREE_DIR = Path(__file__).with_name("seed_free")
#: arrays that may or may not coincide across seeds depending on the JAX release: round-off
#: results that are exactly zero where an operation is exact (JAX 0.12 computes KL(P, P) and
#: the R^n axiom defects as exact zeros, 0.10 as a few ulps that depend on the draw), and the
#: fit window chosen from them. Neither list's check applies to them.
MAY_COINCIDE = {"kl": {"discrete/self_kl"}, "vectors": {"axioms/rn/defects"},
                "orthonormal_basis": {"studies/float32/window_sizes",
                                      "studies/float64/window_sizes"}}


def seed_free(name: str) -> set[str]:
    path = SEED_FREE_DIR / f"{name}.json"
    return set(json.loads(path.read_text())) if path.exists() else set()


def _timed(name: str, key: str) -> bool:
    """A wall-clock measurement, or a series' marker of a scalar (an empty array)."""
    if key.endswith("__scalar__"):
        return True
    leaf = key.split("/")[-1]
    return bool(TIMING.search(leaf)) or key.split("/")[0] in TIMED.get(name, ())


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")


def metric_differences(name: str, m0: dict, m1: dict) -> list[str]:
    diff = []
    for k in sorted(set(m0) | set(m1)):
        if _timed(name, k):
            continue
        a, b = m0.get(k), m1.get(k)
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            continue
        if a != b:
            diff.append(f"{k}: {a!r} != {b!r}")
    return diff


def assert_deterministic(name: str, first, overrides: tuple, run) -> None:
    from mathml_jax import series

    status, again, _ = run(name, *overrides, figures=False, job=f"{name}-again")
    assert status == 0, f"{name}: the rerun failed"
    diff = metric_differences(name, first.metrics, again.metrics)
    assert not diff, f"{name}: the same seed gave other metrics:\n" + "\n".join(diff)
    a0, a1 = series.to_arrays(first.results), series.to_arrays(again.results)
    assert a0.keys() == a1.keys()
    changed = [k for k in a0 if not _timed(name, k) and not _same(a0[k], a1[k])]
    assert not changed, f"{name}: the same seed gave other series: {changed}"

    # seed 1's claims are not the point here (the fast profile's sizes are small): its arrays are
    _, other, _ = run(name, *overrides, "seed=1", figures=False, job=f"{name}-seed1")
    assert other is not None and other.results is not None, f"{name}, seed 1: no results"
    b = series.to_arrays(other.results)
    either = MAY_COINCIDE.get(name, set())
    unchanged = {k for k in a0 if k in b and not _timed(name, k) and k not in either
                 and _same(a0[k], b[k])}
    if os.environ.get("MATHML_UPDATE_SEED_FREE") == "1":
        SEED_FREE_DIR.mkdir(exist_ok=True)
        (SEED_FREE_DIR / f"{name}.json").write_text(json.dumps(sorted(unchanged), indent=0)
                                                     + "\n")
        return
    free = seed_free(name) - either
    assert unchanged <= free, (f"{name}: seed 0 and seed 1 give the same {sorted(unchanged - free)}"
                               " (a sampled quantity that ignores the seed, or a deterministic "
                               "one missing from tests/seed_free)")
    assert free <= unchanged, f"{name}: {sorted(free - unchanged)} changed with the seed"
