"""Fitted convergence orders and rates: the slope of log error against log step (or count)."""

from __future__ import annotations

import numpy as np


def fitted_slope(x, y) -> float:
    """Least-squares slope of log10(y) against log10(x).

    A method whose error behaves like C * x**p gives slope p: a central difference gives 2
    against the step h; a Monte Carlo mean gives -1/2 against the sample count.

    Args:
      x, y: positive arrays of the same shape (non-positive or non-finite pairs are dropped).
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan")
    slope, _ = np.polyfit(np.log10(x[ok]), np.log10(y[ok]), 1)
    return float(slope)


def fitted_line(x, y) -> tuple[float, float]:
    """(slope, intercept) of log10(y) = slope * log10(x) + intercept, for drawing the fit."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    slope, intercept = np.polyfit(np.log10(x[ok]), np.log10(y[ok]), 1)
    return float(slope), float(intercept)


def fitted_rate(errors) -> float:
    """Geometric contraction rate r of errors e_k ~ C r**k (least squares on log e_k)."""
    e = np.asarray(errors, dtype=np.float64).ravel()
    k = np.arange(e.size, dtype=np.float64)
    ok = np.isfinite(e) & (e > 0)
    if ok.sum() < 2:
        return float("nan")
    slope, _ = np.polyfit(k[ok], np.log(e[ok]), 1)
    return float(np.exp(slope))


def log_spaced_counts(max_n: int, per_decade: int) -> np.ndarray:
    """Unique integers 1..max_n, about ``per_decade`` per decade: where running estimates are
    checked and drawn against the sample count."""
    num = int(np.ceil(np.log10(max_n) * per_decade)) + 1
    return np.unique(np.geomspace(1, max_n, num).round().astype(np.int64))


def bootstrap_slope_se(x, sq, rng: np.random.Generator, resamples: int = 200) -> float:
    """Standard error of :func:`fitted_slope` of the RMS error against ``x``, by resampling the
    independent paths (rows of the squared errors ``sq``, shape (paths, len(x))) with
    replacement."""
    p = sq.shape[0]
    slopes = [fitted_slope(x, np.sqrt(sq[rng.integers(0, p, p)].mean(axis=0)))
              for _ in range(resamples)]
    return float(np.std(slopes, ddof=1))
