"""The report of one experiment run: metrics, checked claims, series, figures and timings.

Every experiment returns a :class:`Report`. A :class:`Claim` is one mathematical statement the
run demonstrates, with the measured value, what theory expects, the tolerance and whether it
held. Claims are built with the constructors below so that pass/fail is always computed the
same way (and a NaN measurement always fails).

Example::

    report = Report("sgd", section="Law of large numbers")
    report.claim(Claim.close("central differences converge at order 2",
                             measured=1.98, expected=2.0, tol=0.1))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mathml_jax.tolerance import Tol


def _as_float(x: Any) -> float:
    return float(np.asarray(x, dtype=np.float64))


#: the smallest margin (fraction of the tolerance left) a passing claim may have: closer to its
#: bound than this, it fails on the next machine or seed (``FIGURES.md``, "It has margin")
MIN_MARGIN = 0.1


def _margin(slack: float, scale: float) -> float | None:
    """slack / scale. A zero scale is an exact bound (a count that must be 0): no tolerance to
    measure a margin against, so None (a yes/no fact) when met and -inf when not."""
    if not math.isfinite(slack):
        return -math.inf if slack != slack or slack < 0 else math.inf
    if scale > 0:
        return slack / scale
    return None if slack >= 0 else -math.inf


def _fmt(x: float | None) -> str:
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if x == 0 or (1e-3 <= abs(x) < 1e5):
        return f"{x:.4g}"
    return f"{x:.3e}"


def _tol(t) -> tuple[float, str]:
    """(value, rule) of a tolerance given as a :class:`~mathml_jax.tolerance.Tol` or a number."""
    if isinstance(t, Tol):
        return float(t.value), t.rule
    return _as_float(t), ""


@dataclass(frozen=True)
class Claim:
    """One checked mathematical statement.

    Attributes:
      statement: the claim in words, the same in every run and sweep job (no run-time values:
        those are ``measured``, ``expected``, ``worst`` and ``detail``).
      measured: the value the run measured.
      expected: the value or bound theory gives, as a human-readable string.
      tolerance: the allowed deviation, or the bound of a one-sided claim (None for yes/no facts).
      passed: whether the measurement satisfies the claim.
      detail: optional extra context (sizes, units).
      margin: how far the measurement is from failing, as a fraction of the tolerance: 1 when
        it sits on the expected value (or at 0 under an upper bound), 0 on the edge, negative
        when the claim failed; None for a yes/no fact. A claim with a margin under
        :data:`MIN_MARGIN` passes on one machine and fails on the next.
      id: a stable identifier (``snake_case``), the same in every run: a sweep lines claims up
        by it.
      reference: the independent reference the measurement is checked against, in words
        ("SciPy L-BFGS in float64", "brute force over 6^5 sequences").
      rule: how the tolerance was made ("4 SE", "20 eps"), from :mod:`mathml_jax.tolerance`.
      worst: for a claim over many cases, which case is the worst ("index 3", "beale").
    """

    statement: str
    measured: float
    expected: str
    tolerance: float | None
    passed: bool
    detail: str = ""
    margin: float | None = None
    id: str = ""
    reference: str = ""
    rule: str = ""
    worst: str = ""

    @classmethod
    def close(cls, statement: str, measured, expected, tol, detail: str = "", **about) -> Claim:
        """Passes when |measured - expected| <= tol (a number or a ``Tol``)."""
        m, e = _as_float(measured), _as_float(expected)
        t, rule = _tol(tol)
        ok = math.isfinite(m) and abs(m - e) <= t
        margin = _margin(t - abs(m - e), t) if math.isfinite(m) else -math.inf
        return cls(statement, m, _fmt(e), t, bool(ok), detail, margin, rule=rule, **about)

    @classmethod
    def relative(cls, statement: str, measured, expected, rtol: float, detail: str = "",
                 **about) -> Claim:
        """Passes when |measured - expected| <= rtol * |expected|."""
        m, e = _as_float(measured), _as_float(expected)
        ok = math.isfinite(m) and abs(m - e) <= rtol * abs(e)
        tol = rtol * abs(e)
        margin = _margin(tol - abs(m - e), tol) if math.isfinite(m) else -math.inf
        about.setdefault("rule", f"{rtol:g} relative")
        return cls(statement, m, _fmt(e), float(rtol), bool(ok), detail, margin, **about)

    @classmethod
    def at_most(cls, statement: str, measured, bound, detail: str = "",
                slack: float | None = None, **about) -> Claim:
        """Passes when measured <= bound (a number or a ``Tol``).

        The margin is (bound - measured) / |bound|: an error bound is all tolerance. For a
        theorem's inequality with a round-off allowance (``bound`` = the theorem's value +
        ``slack``), give ``slack``: the margin is then measured against it."""
        m = _as_float(measured)
        b, rule = _tol(bound)
        ok = math.isfinite(m) and m <= b
        scale = abs(b) if slack is None else float(slack)
        margin = _margin(b - m, scale) if math.isfinite(m) else -math.inf
        return cls(statement, m, f"<= {_fmt(b)}", b, bool(ok), detail, margin, rule=rule,
                   **about)

    @classmethod
    def at_least(cls, statement: str, measured, bound, detail: str = "",
                 slack: float | None = None, **about) -> Claim:
        """Passes when measured >= bound; the margin is (measured - bound) / |bound|, or / slack
        for a theorem's inequality with a round-off allowance (see :meth:`at_most`)."""
        m = _as_float(measured)
        b, rule = _tol(bound)
        ok = math.isfinite(m) and m >= b
        scale = abs(b) if slack is None else float(slack)
        margin = _margin(m - b, scale) if math.isfinite(m) else -math.inf
        return cls(statement, m, f">= {_fmt(b)}", b, bool(ok), detail, margin, rule=rule,
                   **about)

    @classmethod
    def within(cls, statement: str, measured, low, high, detail: str = "", **about) -> Claim:
        """Passes when low <= measured <= high; the margin is measured against the half-width."""
        m, lo, hi = _as_float(measured), _as_float(low), _as_float(high)
        ok = math.isfinite(m) and lo <= m <= hi
        margin = _margin(min(m - lo, hi - m), 0.5 * (hi - lo)) if math.isfinite(m) else -math.inf
        return cls(statement, m, f"in [{_fmt(lo)}, {_fmt(hi)}]", 0.5 * (hi - lo), bool(ok),
                   detail, margin, **about)

    @classmethod
    def holds(cls, statement: str, ok: bool, measured=float("nan"), detail: str = "",
              **about) -> Claim:
        """A yes/no fact (e.g. "x^3 at 0 is classified as inconclusive")."""
        return cls(statement, _as_float(measured), "true", None, bool(ok), detail, **about)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "statement": self.statement,
            "measured": self.measured if math.isfinite(self.measured) else None,
            "expected": self.expected,
            "tolerance": self.tolerance if self.tolerance is None
            or math.isfinite(self.tolerance) else None,
            "rule": self.rule,
            "reference": self.reference,
            "worst": self.worst,
            "passed": self.passed,
            "detail": self.detail,
            # a failed claim's margin may be -inf (a non-finite measurement): JSON has no
            # infinity, and "passed": false already says it
            "margin": self.margin if self.margin is None or math.isfinite(self.margin)
            else None,
        }

    @property
    def fragile(self) -> bool:
        """Passed, but closer to its bound than :data:`MIN_MARGIN` of the tolerance."""
        return self.passed and self.margin is not None and self.margin < MIN_MARGIN


@dataclass
class Timing:
    """Seconds spent compiling a kernel and running it (compiled), measured separately."""

    compile_s: float
    run_s: float


@dataclass
class Report:
    """Everything one experiment run produces.

    Attributes:
      experiment: the experiment's name (its module and YAML file name).
      section: the roadmap section the experiment illustrates.
      metrics: named scalars written to metrics.json.
      key_metrics: names of the metrics a sweep summary shows as columns.
      claims: the checked statements, in the order they were made.
      figures: named matplotlib figures (saved as PNG by the writer).
      animations: named matplotlib animations (saved as GIF by the writer).
      timings: compile and run seconds per kernel.
      texts: named Markdown documents (e.g. a results table), saved as ``<name>.md``.
      results: the compute phase's typed results, saved as ``series.npz``.
    """

    experiment: str
    section: str = ""
    metrics: dict[str, float | int | str] = field(default_factory=dict)
    key_metrics: list[str] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    animations: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, Timing] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    #: the typed results of the compute phase (host arrays); the writer saves them as the
    #: run's series (``series.npz``), from which every figure can be redrawn
    results: Any = None
    #: what the run was made with (config, device, precision, versions, timings in seconds)
    context: dict[str, Any] = field(default_factory=dict)
    #: the non-finite values the run produced where none may be (:mod:`mathml_jax.finite`):
    #: each a ``Fault``; written to metrics.json as its ``faults`` list
    faults: list[Any] = field(default_factory=list)
    #: the experiment's config and the run context the claims were checked with (kept, not
    #: written: a test re-checks the claims on perturbed results with them)
    config: Any = field(default=None, repr=False)
    run_context: Any = field(default=None, repr=False)

    def claim(self, *claims: Claim) -> None:
        self.claims.extend(claims)

    def metric(self, name: str, value, key: bool = False) -> None:
        """A named value for metrics.json: a scalar, or a JSON-able structure (a list or dict,
        e.g. a results table); only scalars may be ``key`` (a sweep summary column). A
        non-finite float (at any depth) is written as null and recorded as a fault: a metric
        that cannot be computed is never the string "nan" (give None, with the reason in
        another metric or a claim, when the experiment knows why)."""
        from mathml_jax.finite import finite_metrics

        if isinstance(value, dict | list):
            if key:
                raise ValueError(f"metric {name!r}: only a scalar can be a key metric")
        elif value is not None and not isinstance(value, str | bool | int):
            value = _as_float(value)
        clean, faults = finite_metrics({name: value})
        self.metrics[name] = clean[name]
        self.faults.extend(faults)
        if key and name not in self.key_metrics:
            self.key_metrics.append(name)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.claims)

    @property
    def n_failed(self) -> int:
        return sum(not c.passed for c in self.claims)

    def margins_text(self) -> str:
        """Every claim's margin (fraction of its tolerance left), smallest first."""
        rows = sorted(self.claims, key=lambda c: math.inf if c.margin is None else c.margin)
        lines = [f"{'margin':>8}  {'result':<7} claim"]
        for c in rows:
            m = "yes/no" if c.margin is None else f"{c.margin:.3f}"
            res = "FAIL" if not c.passed else ("FRAGILE" if c.fragile else "PASS")
            lines.append(f"{m:>8}  {res:<7} {self.experiment}: {c.statement}")
        return "\n".join(lines)

    def claims_table(self) -> str:
        """The claims as a Markdown table: id, statement, measured, expected, tolerance (and its
        rule), the independent reference, the worst case, and the result."""
        rows = ["| id | claim | measured | expected | tolerance | reference | worst case "
                "| result |", "|---|---|---|---|---|---|---|---|"]
        for c in self.claims:
            stmt = c.statement + (f" ({c.detail})" if c.detail else "")
            tol = "" if c.tolerance is None else _fmt(c.tolerance)
            if c.rule:
                tol = f"{tol}: {c.rule}" if tol else c.rule
            meas = "" if not math.isfinite(c.measured) else _fmt(c.measured)
            cells = [c.id, stmt, meas, c.expected, tol, c.reference, c.worst,
                     "PASS" if c.passed else "FAIL"]
            rows.append("| " + " | ".join(x.replace("|", "\\|") for x in cells) + " |")
        return "\n".join(rows)

    def _repr_markdown_(self) -> str:
        """Jupyter shows a Report as its claims table followed by its figures."""
        head = (f"### {self.experiment}: {self.n_passed} of {len(self.claims)} claims passed\n\n"
                f"*{self.section}*\n\n")
        return head + self.claims_table()

    def _ipython_display_(self) -> None:
        from IPython.display import Markdown, display

        display(Markdown(self._repr_markdown_()))
        for fig in self.figures.values():
            display(fig)

    @property
    def n_passed(self) -> int:
        return sum(c.passed for c in self.claims)

    def claims_text(self, width: int = 72) -> str:
        """The claims as a fixed-width table for the terminal."""
        header = f"{'claim':<{width}} {'measured':>11} {'expected':>16} {'tol':>9}  result"
        lines = [header, "-" * len(header)]
        for c in self.claims:
            stmt = c.statement if len(c.statement) <= width else c.statement[: width - 1] + "…"
            tol = "" if c.tolerance is None else _fmt(c.tolerance)
            meas = "n/a" if not math.isfinite(c.measured) else _fmt(c.measured)
            res = "PASS" if c.passed else "FAIL"
            lines.append(f"{stmt:<{width}} {meas:>11} {c.expected:>16} {tol:>9}  {res}")
        n = len(self.claims)
        lines.append(f"{self.n_passed} of {n} claims passed")
        return "\n".join(lines)
