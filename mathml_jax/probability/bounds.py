"""Error bounds for Monte Carlo claims, with their exact failure probabilities.

A claim "the estimate is within z standard errors of the truth" fails for a correct program
with some small probability. For counts of a binary event that probability is known exactly
from the binomial distribution (no normal approximation), so a claim can state it.
These are NumPy/SciPy helpers used outside ``jit``.
"""

from __future__ import annotations

import numpy as np
import scipy.stats


def binomial_two_sided_tail(n, p, half_width) -> np.ndarray:
    """P(|X - n p| > half_width) for X ~ Binomial(n, p), exactly (elementwise).

    Args:
      n: number of trials (int or int array).
      p: success probability (array, same shape or broadcastable).
      half_width: the allowed deviation of the count from its mean n p.
    """
    n, p, h = np.broadcast_arrays(np.asarray(n, np.float64), np.asarray(p, np.float64),
                                  np.asarray(half_width, np.float64))
    mean = n * p
    hi = np.floor(mean + h + 1e-9)          # X > mean + h  <=>  X >= hi + 1
    lo = np.ceil(mean - h - 1e-9)           # X < mean - h  <=>  X <= lo - 1
    upper = scipy.stats.binom.sf(hi, n, p)
    lower = scipy.stats.binom.cdf(lo - 1, n, p)
    return np.clip(upper + lower, 0.0, 1.0)


def count_within_z(counts, n, p, z: float):
    """Whether each count is within ``z`` standard deviations sqrt(n p (1-p)) of n p, and
    the exact probability that a correct sampler fails this (union over all entries).

    Returns:
      (largest |z-score| with 0/0 = 0, all_within, failure_probability_bound)
    """
    counts = np.asarray(counts, np.float64)
    n = np.asarray(n, np.float64)
    p = np.asarray(p, np.float64)
    sd = np.sqrt(n * p * (1 - p))
    dev = np.abs(counts - n * p)
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.where(sd > 0, dev / np.where(sd > 0, sd, 1.0), np.where(dev > 0, np.inf, 0.0))
    fail = float(np.minimum(1.0, np.sum(binomial_two_sided_tail(n, p, z * sd)
                                        * np.ones_like(counts))))
    return float(zs.max()), bool(np.all(dev <= z * sd + 1e-9)), fail


def z_failure_probability(n, p, z: float) -> float:
    """The exact probability that a correct sampler puts some binomial count outside z standard
    errors of its mean: the union bound, over every count checked (``n`` and ``p`` broadcast
    together), of :func:`binomial_two_sided_tail` at half-width z sqrt(n p (1 - p)). It is what
    a claim "every count is within z SE" risks failing by chance."""
    n, p = np.broadcast_arrays(np.asarray(n, np.float64), np.asarray(p, np.float64))
    return float(min(1.0, binomial_two_sided_tail(n, p, z * np.sqrt(n * p * (1 - p))).sum()))
