"""Determinism, for every experiment (fast profile, float64 on this platform):

- the same config and seed, run twice, give bit-identical metrics (timings aside) and series;
- another seed changes every sampled quantity: each series array either changes, or is listed
  below as independent of the seed (a grid, a closed form, a deterministic algorithm's output),
  and every listed array stays the same (so the list is exact in both directions);
- the float64 run passes every claim (float32 is each experiment's own end-to-end test).

Two runs of the same experiment share the compiled kernels (same shapes and dtypes), so the
second and third runs cost only their run time.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import experiments
from mathml_jax import series

NAMES = experiments.available()

#: metrics that are wall-clock measurements (they differ between any two runs)
TIMING = re.compile(r"(^|_)(s|ms|us|seconds|time|times|timing|speedup|speedups|throughput|"
                    r"gflops|gbps|per_s|wall)(_|$)|_per_s$|per_second|rolls_per|flips_per")

#: series arrays that do not depend on the seed, per experiment (grids, closed forms and
#: deterministic algorithms on fixed data); every other array must change with the seed
SEED_FREE: dict[str, set[str]] = {}


def _timing_free(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not TIMING.search(k)}


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return np.array_equal(a, b, equal_nan=True)
    return np.array_equal(a, b)


def _metrics_equal(m0: dict, m1: dict) -> list[str]:
    diff = []
    for k in sorted(set(m0) | set(m1)):
        a, b = m0.get(k), m1.get(k)
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            continue
        if a != b:
            diff.append(f"{k}: {a!r} != {b!r}")
    return diff


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_is_bit_identical_and_another_seed_changes_every_sample(name,
                                                                           run_experiment):
    status, first, _ = run_experiment(name, "precision=float64", figures=False)
    assert status == 0 and first.passed, f"{name} in float64:\n{first.claims_text()}"
    _, again, _ = run_experiment(name, "precision=float64", figures=False)
    diff = _metrics_equal(_timing_free(first.metrics), _timing_free(again.metrics))
    assert not diff, f"{name}: the same seed gave other metrics:\n" + "\n".join(diff)
    a0, a1 = series.to_arrays(first.results), series.to_arrays(again.results)
    assert a0.keys() == a1.keys()
    changed = [k for k in a0 if not _same(a0[k], a1[k]) and not TIMING.search(k.split("/")[-1])]
    assert not changed, f"{name}: the same seed gave other series: {changed}"

    status, other, _ = run_experiment(name, "precision=float64", "seed=1", figures=False)
    assert status == 0 and other.passed, f"{name}, seed 1:\n{other.claims_text()}"
    b = series.to_arrays(other.results)
    unchanged = {k for k in a0 if k in b and _same(a0[k], b[k])
                 and not TIMING.search(k.split("/")[-1])}
    free = SEED_FREE.get(name, set())
    assert unchanged <= free, (f"{name}: seed 0 and seed 1 give the same {sorted(unchanged - free)}"
                               " (a sampled quantity that ignores the seed, or a deterministic "
                               "one missing from SEED_FREE)")
    assert free <= unchanged, f"{name}: {sorted(free - unchanged)} changed with the seed"
