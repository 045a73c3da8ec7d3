"""Non-finite values in what a run produced: found, named and reported, never written as NaN.

A kernel that overflows or divides by zero leaves NaN or infinity in its results; plotted, a NaN
is silently skipped, and written to ``metrics.json`` it reads as the string ``"nan"``. The runner
scans every run (:func:`scan_results` on the compute phase's results, :func:`finite_metrics` on
its metrics) and turns each undeclared non-finite quantity into a :class:`Fault`: which quantity,
how many values, and the first offending index named by the experiment's axes (step, start,
seed). Each fault becomes a failed claim (``finite_<quantity>``, :meth:`Fault.claim`) and an
entry of the run's ``faults`` list.

An experiment declares the quantities that are non-finite by design in ``NONFINITE_OK``
(``{"field/key": "why"}``: e.g. +inf for "never reached"), and may name the axes of its series in
``SERIES_AXES`` (``{"field/key": ("step size", "step")}``); keys are ``fnmatch`` patterns over
the saved series' names (:mod:`mathml_jax.series`), and a pattern also covers the keys below it.

Example::

    faults = scan_results(results, allowed={"comparison/steps_all_median": "inf: never reached"},
                          axes={"sweep/errors": ("step size", "step")})
    [f.claim() for f in faults]     # failed claims, one per quantity
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from typing import Any

import numpy as np

from mathml_jax import series
from mathml_jax.report import Claim


def _kind(x) -> str:
    return "not a number" if np.isnan(x) else ("+infinity" if x > 0 else "-infinity")


@dataclass(frozen=True)
class Fault:
    """One quantity of a run that holds non-finite values it should not.

    Attributes:
      quantity: its name: a series key (``"sweep/errors"``) or ``"metric <name>"``.
      count: how many of its values are not finite.
      size: how many values it has.
      first: the index of the first non-finite value (row-major order), () for a scalar.
      kind: that value: "not a number", "+infinity" or "-infinity" (words: metrics.json never
        holds the strings "nan" or "inf").
      where: the index in words, with the experiment's axis names ("step size 24, step 113").
    """

    quantity: str
    count: int
    size: int
    first: tuple[int, ...]
    kind: str
    where: str

    @property
    def claim_id(self) -> str:
        return "finite_" + re.sub(r"\W+", "_", self.quantity).strip("_").lower()

    def message(self) -> str:
        return (f"{self.quantity}: {self.count} of {self.size} value(s) not finite, the first "
                f"({self.kind}) at {self.where}")

    def claim(self) -> Claim:
        """The failed claim that reports this fault."""
        return Claim.at_most(
            f"every value of {self.quantity} is finite (no NaN or infinity)", self.count, 0,
            id=self.claim_id, reference="numpy.isfinite over the run's saved values",
            worst=f"first {self.kind} at {self.where}",
            detail=f"{self.count} of {self.size} value(s) not finite")

    def as_dict(self) -> dict[str, Any]:
        return dict(asdict(self), first=list(self.first), message=self.message())


def _matches(key: str, patterns) -> str | None:
    """The first pattern that covers ``key`` (the key itself or a key above it)."""
    for p in patterns:
        if fnmatchcase(key, p) or fnmatchcase(key, p + series.SEP + "*"):
            return p
    return None


def _where(index: tuple[int, ...], names: tuple[str, ...] | None) -> str:
    if not index:
        return "its only value"
    if names is None or len(names) != len(index):
        return "index (" + ", ".join(map(str, index)) + ")"
    return ", ".join(f"{n} {i}" for n, i in zip(names, index, strict=True))


def find_nonfinite(name: str, value, axes: tuple[str, ...] | None = None) -> Fault | None:
    """The fault of one array (or scalar) ``value`` called ``name``, or None if all finite."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return None
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))
    return Fault(name, int(bad.sum()), int(arr.size), first, _kind(arr[first]),
                 _where(first, axes))


def scan_results(results, allowed: Mapping[str, str] | None = None,
                 axes: Mapping[str, tuple[str, ...]] | None = None) -> list[Fault]:
    """Every quantity of a results dataclass (as saved in ``series.npz``) holding non-finite
    values, except those ``allowed`` declares (patterns over the series keys; see the module
    docstring). ``axes`` names the dimensions of a quantity for the fault's ``where``."""
    allowed, axes = dict(allowed or {}), dict(axes or {})
    faults = []
    for key, arr in series.to_arrays(results).items():
        if _matches(key, allowed):
            continue
        pattern = _matches(key, axes)
        fault = find_nonfinite(key, arr, axes[pattern] if pattern else None)
        if fault is not None:
            faults.append(fault)
    return faults


def finite_metrics(metrics: Mapping[str, Any]) -> tuple[dict[str, Any], list[Fault]]:
    """``metrics`` with every non-finite float (at any depth of a list or dict) replaced by
    None, and one fault per metric that had any: a metric that cannot be computed is null in
    ``metrics.json``, with the reason in the run's faults, never the string ``"nan"``."""
    clean, faults = {}, []
    for name, value in metrics.items():
        bad: list[tuple[tuple[int | str, ...], float]] = []
        clean[name] = _nulled(value, (), bad)
        if bad:
            path, x = bad[0]
            where = "its value" if not path else "entry " + "/".join(map(str, path))
            faults.append(Fault(f"metric {name}", len(bad), _count(value), tuple(
                p for p in path if isinstance(p, int)), _kind(x), where))
    return clean, faults


def _nulled(value, path, bad):
    if isinstance(value, Mapping):
        return {k: _nulled(v, (*path, k), bad) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nulled(v, (*path, i), bad) for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _nulled(value.tolist(), path, bad)
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        bad.append((path, float(value)))
        return None
    return value


def _count(value) -> int:
    if isinstance(value, Mapping):
        return sum(_count(v) for v in value.values())
    if isinstance(value, list | tuple | np.ndarray):
        return sum(_count(v) for v in value)
    return 1


def explain_unmeasured(claims: list[Claim]) -> list[Claim]:
    """``claims`` where each claim with a tolerance whose measurement is not finite (it fails:
    :class:`~mathml_jax.report.Claim`) says so in its detail: every claim in a run shows a
    measured value or why it has none (a yes/no fact has no measurement)."""
    out = []
    for c in claims:
        if c.tolerance is not None and not math.isfinite(c.measured):
            why = f"no measured value: the measurement is not finite ({_kind(c.measured)})"
            c = dataclasses.replace(c, detail=f"{c.detail}; {why}" if c.detail else why)
        out.append(c)
    return out


def cut_at_divergence(arrays: Mapping[str, np.ndarray], axis: int = 1
                      ) -> tuple[dict[str, np.ndarray], np.ndarray, list[str]]:
    """Trajectories of a batch of runs cut where each run diverged, host side.

    ``arrays`` are the quantities of the runs (e.g. ``{"mean": (runs, steps + 1), "kl": ...}``,
    runs on axis 0, steps on ``axis``). A run diverged at the first step where any quantity is
    not finite; from that step on each of its quantities keeps its last finite value (the
    convention of :class:`~mathml_jax.status.Status`: "the last good iterate is kept"), so the
    saved series are finite and the cut is recorded as a status.

    Returns:
      (the cut arrays, diverged_at (runs,) int with -1 for a run that did not diverge, and the
      name of the quantity that became non-finite first in each run, "" for none).
    """
    names = list(arrays)
    first = []
    for name in names:
        a = np.asarray(arrays[name])
        bad = ~np.isfinite(np.moveaxis(a, axis, 1).reshape(a.shape[0], a.shape[axis], -1))
        bad = bad.any(axis=2)
        first.append(np.where(bad.any(axis=1), bad.argmax(axis=1), np.iinfo(np.int64).max))
    first = np.stack(first)                      # (quantities, runs)
    k = first.min(axis=0)
    diverged_at = np.where(k == np.iinfo(np.int64).max, -1, k).astype(np.int64)
    which = [names[int(first[:, r].argmin())] if diverged_at[r] >= 0 else ""
             for r in range(k.size)]
    out = {}
    for name in names:
        a = np.array(arrays[name], copy=True)
        moved = np.moveaxis(a, axis, 1)          # a view: writes go to ``a``
        for r in np.nonzero(diverged_at >= 0)[0]:
            step = int(diverged_at[r])
            moved[r, step:] = moved[r, step - 1] if step > 0 else np.nan
        out[name] = a
    return out, diverged_at, which


def fails_on_divergence(claim: Claim, diverged_at, labels, unit: str = "step") -> Claim:
    """``claim`` (about runs labelled ``labels``) failed, naming the divergence, when any of
    the runs diverged (``diverged_at`` >= 0): a statement about where runs converge is not
    shown by runs that overflowed. Unchanged when none diverged."""
    from mathml_jax.status import divergence_summary

    k = np.asarray(diverged_at).ravel()
    if not (k >= 0).any():
        return claim
    summary = divergence_summary(k, labels, unit)
    first = next(lab for lab, i in zip(labels, k, strict=True) if i >= 0)
    return dataclasses.replace(
        claim, passed=False, margin=-math.inf, worst=f"{first}: diverged at {unit} {k[k >= 0][0]}",
        detail=f"{claim.detail}; {summary}" if claim.detail else summary)
