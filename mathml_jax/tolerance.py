"""The tolerance rules of every claim, each written once: pure NumPy/SciPy, no JAX.

A claim's tolerance is a :class:`Tol`: the number the measurement is compared with, and the rule
that produced it in words, so the claims table can say *why* a bound is what it is::

    roundoff(20, eps)                       # 20 eps            (one rounding chain)
    roundoff(4, eps, n=256, scale=norm)     # 4 n eps scale     (a sum or product of n terms)
    standard_errors(4, se)                  # 4 SE              (a Monte Carlo estimate)
    bootstrap(4, slope_se)                  # 4 bootstrap SE    (a fitted slope or order)
    binomial_tail(count, n, p)              # exact binomial tail P(X >= count)

Where the dtype matters, ``eps`` is the unit round-off of the arithmetic in use
(:attr:`mathml_jax.runtime.RunContext.eps`), never a literal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _g(x: float) -> str:
    return f"{x:.3g}"


@dataclass(frozen=True)
class Tol:
    """A tolerance: ``value`` (what the measurement is compared with) and ``rule`` (how the
    value was made, in words, e.g. "4 n eps scale, n=256")."""

    value: float
    rule: str

    def __float__(self) -> float:
        return float(self.value)

    def __add__(self, other: Tol) -> Tol:
        """Two allowances for independent error sources, added (e.g. round-off + truncation)."""
        return Tol(self.value + float(other), f"{self.rule} + {_rule(other)}")


def _rule(t) -> str:
    return t.rule if isinstance(t, Tol) else _g(float(t))


def roundoff(k: float, eps: float, *, n: float = 1, scale: float = 1.0, power: float = 1.0
             ) -> Tol:
    """k n^power eps scale: round-off of a computation of n terms (power 1: a worst-case
    sum; 0.5: a random-walk sum), relative to ``scale`` (a norm or magnitude of the data)."""
    value = float(k) * float(n) ** power * float(eps) * float(scale)
    parts = [f"{k:g}"]
    if n != 1:
        parts.append("n" if power == 1 else f"n^{power:g}")
    parts.append("eps")
    if scale != 1.0:
        parts.append("scale")
    extras = [f"eps={_g(eps)}"]
    if n != 1:
        extras.insert(0, f"n={n:g}")
    if scale != 1.0:
        extras.append(f"scale={_g(scale)}")
    return Tol(value, " ".join(parts) + f" ({', '.join(extras)})")


def standard_errors(k: float, se: float, *, what: str = "SE") -> Tol:
    """k standard errors of a Monte Carlo (or other sampled) estimate."""
    return Tol(float(k) * float(se), f"{k:g} {what} (SE={_g(se)})")


def sigmas(k: float) -> Tol:
    """A bound on a z-score |estimate - reference| / SE: k standard errors."""
    return Tol(float(k), f"{k:g} SE (|z| <= {k:g})")


def bootstrap(k: float, se: float) -> Tol:
    """k bootstrap standard errors of a fitted quantity (a slope, an order, a rate)."""
    return standard_errors(k, se, what="bootstrap SE")


def relative(rtol: float, scale: float) -> Tol:
    """rtol |scale|: a relative tolerance."""
    return Tol(float(rtol) * abs(float(scale)), f"{rtol:g} relative (of {_g(scale)})")


def absolute(value: float, why: str) -> Tol:
    """A fixed tolerance with its reason (a discretisation error bound, a grid spacing...)."""
    return Tol(float(value), why)


def binomial_tail(count: int, n: int, p: float) -> float:
    """P(X >= count) for X ~ Binomial(n, p), exact."""
    from scipy.stats import binom

    return float(binom.sf(count - 1, n, p))


def z_score(estimate, reference, se) -> np.ndarray:
    """(estimate - reference) / se, elementwise; a zero SE with an exact match is z = 0."""
    est, ref, s = (np.asarray(a, np.float64) for a in (estimate, reference, se))
    diff = est - ref
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, diff / np.where(s > 0, s, 1.0), np.where(diff == 0, 0.0, math.inf))
    return z


def worst(values, labels=None, *, largest: bool = True) -> tuple[float, str]:
    """The worst case of a claim over many cases: (its value, which case) where the case is
    ``labels[i]`` or "index i" (a tuple index for arrays of more than one axis)."""
    v = np.asarray(values, np.float64)
    flat = np.where(np.isnan(v), np.inf if largest else -np.inf, v).ravel()
    i = int(np.argmax(flat) if largest else np.argmin(flat))
    if labels is not None:
        return float(v.ravel()[i]), str(np.asarray(labels, dtype=object).ravel()[i])
    idx = np.unravel_index(i, v.shape) if v.ndim > 1 else (i,)
    where = ", ".join(str(int(j)) for j in idx)
    return float(v.ravel()[i]), f"index {where}"
