"""Reproducibility: a fresh run's ``metrics.json`` against the committed one, within the
tolerance each number declares; what differs is a :class:`Drift`.

What is compared, and how:

- never: timings (``timings``, ``wall_s``, ``compile_s``, ``run_s``), and every metric or claim
  an experiment module declares ``None`` in ``METRIC_TOLERANCES`` (rates and speed-ups measured
  with a clock): they change from run to run by nature. The margin of a claim is not compared
  either: it is a function of the measured value and the tolerance, which are.
- exactly: the run's status and claim counts, its config (``experiment_config``, seed,
  precision, matmul precision, profile), the key metrics' names, the ids of the claims and
  their order, every claim's pass/fail (a flip is always a drift, whatever the tolerances),
  ints, bools, strings and None, and the shape of lists and dicts (their lengths and keys);
  a changed type is a drift.
- floats, relatively: ``|fresh - committed| <= rtol * max(|fresh|, |committed|)``, with the
  ``rtol`` the module declares for that metric (or claim id) in ``METRIC_TOLERANCES``, else
  :data:`DEFAULT_EPS_MULTIPLE` times the run's round-off unit (``eps`` in metrics.json: float32's
  1.2e-7 in a float32 run). A declared tolerance applies to everything inside the metric (a
  list or dict of numbers). Numbers written inside a claim's texts (``expected``, ``worst``,
  ``detail``, ``rule``, ``reference``) are compared the same way, allowing in addition one unit
  in the last digit printed (integers written as such, an index or a count, exactly).

Why 16 eps. The same config, seed, platform and precision give bit-identical numbers on a CPU
(``tests/test_reproducibility.py`` checks it), so on the machine that made the gallery any
tolerance would do: a drift there is a change of code or of a library. Between machines, XLA
may split and order a reduction differently (another vector width, another number of threads),
which changes a well-conditioned result in its last bits: a sum of n same-signed terms
reassociated moves by at most about log2(n) eps relative when summed pairwise, and the suite's
reductions run over at most ~2^16 elements at a time, hence 16 eps. Anything larger is reported:
a number that is itself a round-off or sampling measurement (an error of 3 eps, a fitted
slope) can move by more than that between machines, and the report then says by how much; its
claim's pass/fail is the verdict that matters, and a flip of it is always a drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: undeclared floats: relative tolerance in units of the run's round-off unit (see above)
DEFAULT_EPS_MULTIPLE = 16
#: keys of metrics.json never compared: seconds measured with a clock
TIMING_KEYS = ("timings", "wall_s", "compile_s", "run_s")
#: keys of metrics.json compared exactly (besides metrics and claims)
EXACT_KEYS = ("status", "claims_passed", "claims_total", "key_metrics", "seed", "precision",
              "matmul_precision", "profile", "experiment_config")
#: (key, sub-key) of the run's context shown when they differ, not counted as drift: they
#: explain a drift (another commit, another JAX, another device) but are not results
CONTEXT_KEYS = (("code_version", "commit"), ("versions", "jax"), ("versions", "jaxlib"),
                ("device", "platform"), ("device", "device"), ("device", "device_count"))
_CLAIM_TEXTS = ("expected", "worst", "detail", "rule", "reference")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Drift:
    """One number (or fact) of a run that differs from the committed one beyond tolerance."""

    experiment: str
    key: str
    committed: Any
    fresh: Any
    tolerance: str

    def row(self) -> tuple[str, str, str, str, str]:
        return (self.experiment, self.key, _show(self.committed), _show(self.fresh),
                self.tolerance)


def _show(x: Any, width: int = 40) -> str:
    text = f"{x:.10g}" if isinstance(x, float) else repr(x) if isinstance(x, str) else str(x)
    return text if len(text) <= width else text[: width - 1] + "…"


def default_rtol(record: dict[str, Any]) -> float:
    """:data:`DEFAULT_EPS_MULTIPLE` times the run's round-off unit (``eps`` in metrics.json,
    else the machine epsilon of its precision)."""
    import numpy as np

    eps = record.get("eps")
    if not isinstance(eps, float):
        eps = float(np.finfo(record.get("precision", "float32")).eps)
    return DEFAULT_EPS_MULTIPLE * eps


def declared_tolerances(name: str) -> dict[str, float | None]:
    """``METRIC_TOLERANCES`` of experiment ``name`` ({} when it declares none)."""
    import experiments

    return dict(getattr(experiments.load(name), "METRIC_TOLERANCES", {}))


def _close(a: float, b: float, rtol: float, atol: float = 0.0) -> bool:
    return a == b or abs(a - b) <= max(rtol * max(abs(a), abs(b)), atol)


def compare_values(a: Any, b: Any, rtol: float | None, key: str, found: list) -> None:
    """Appends (key, committed, fresh, rule) to ``found`` for each difference between the
    committed ``a`` and the fresh ``b`` beyond the rules of the module docstring."""
    if rtol is None:
        return
    if type(a) is not type(b):
        found.append((key, a, b, "exact (type)"))
    elif isinstance(a, dict):
        if list(a) != list(b):
            found.append((key + " (keys)", sorted(a), sorted(b), "exact"))
        for k in a.keys() & b.keys():
            compare_values(a[k], b[k], rtol, f"{key}.{k}", found)
    elif isinstance(a, list):
        if len(a) != len(b):
            found.append((key + " (length)", len(a), len(b), "exact"))
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            compare_values(x, y, rtol, f"{key}[{i}]", found)
    elif isinstance(a, float):
        if not _close(a, b, rtol):
            found.append((key, a, b, f"relative {rtol:.2g}"))
    elif a != b:
        found.append((key, a, b, "exact"))


def _last_digit(text: str) -> float:
    """One unit in the last printed digit of the number ``text`` ("1.431e-05" -> 1e-08)."""
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 10.0 ** (int(exponent or 0) - decimals)


def texts_agree(a: str, b: str, rtol: float) -> bool:
    """Two texts with numbers in them are the same but for numbers within ``rtol`` (or one unit
    in their last printed digit; integers exactly)."""
    if a == b:
        return True
    if _NUMBER.split(a) != _NUMBER.split(b):
        return False
    na, nb = _NUMBER.findall(a), _NUMBER.findall(b)
    return len(na) == len(nb) and all(_numbers_agree(x, y, rtol)
                                      for x, y in zip(na, nb, strict=True))


def _numbers_agree(x: str, y: str, rtol: float) -> bool:
    """Integers written as such (an index, a count) exactly; other numbers within ``rtol`` or
    one unit in the finer of their last printed digits."""
    if x.lstrip("+-").isdigit() and y.lstrip("+-").isdigit():
        return int(x) == int(y)
    return _close(float(x), float(y), rtol, min(_last_digit(x), _last_digit(y)))


def _claims(a: list, b: list, tols: dict, rtol: float, found: list) -> None:
    ids_a, ids_b = [c.get("id") for c in a], [c.get("id") for c in b]
    if ids_a != ids_b:
        found.append(("claims (ids)", ids_a, ids_b, "exact"))
    fresh = {c.get("id"): c for c in b}
    for c in a:
        d = fresh.get(c.get("id"))
        if d is None:
            continue
        key, tol = f"claims.{c.get('id')}", tols.get(c.get("id"), rtol)
        if c.get("passed") != d.get("passed"):
            found.append((key + ".passed", c.get("passed"), d.get("passed"), "exact (a flip)"))
        for field in ("statement", "measured", "tolerance"):
            compare_values(c.get(field), d.get(field), rtol if field == "tolerance" else tol,
                           f"{key}.{field}", found)
        for field in _CLAIM_TEXTS:
            x, y = str(c.get(field, "")), str(d.get(field, ""))
            if tol is not None and not (x == y if tol == 0.0 else texts_agree(x, y, tol)):
                found.append((f"{key}.{field}", x, y, f"numbers relative {tol:.2g}"))


def compare(name: str, committed: dict[str, Any], fresh: dict[str, Any],
            tolerances: dict[str, float | None] | None = None, *,
            exact: bool = False) -> list[Drift]:
    """Every drift of the fresh run's metrics.json from the committed one (see the module
    docstring); ``tolerances`` defaults to the module's ``METRIC_TOLERANCES``. ``exact``: every
    float compared bit for bit (relative tolerance 0), timings still excluded."""
    tols = declared_tolerances(name) if tolerances is None else dict(tolerances)
    rtol = 0.0 if exact else default_rtol(committed)
    if exact:
        tols = {k: (None if v is None else 0.0) for k, v in tols.items()}
    found: list = []
    for k in EXACT_KEYS:
        compare_values(committed.get(k), fresh.get(k), rtol, k, found)
    m_a, m_b = committed.get("metrics", {}), fresh.get("metrics", {})
    if sorted(m_a) != sorted(m_b):
        found.append(("metrics (names)", sorted(m_a.keys() - m_b.keys()),
                      sorted(m_b.keys() - m_a.keys()), "exact: committed only / fresh only"))
    for k in m_a.keys() & m_b.keys():
        compare_values(m_a[k], m_b[k], tols.get(k, rtol), f"metrics.{k}", found)
    _claims(committed.get("claims", []), fresh.get("claims", []), tols, rtol, found)
    return [Drift(name, *f[:3], f[3]) for f in sorted(found, key=lambda f: f[0])]


def context_differences(committed: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    """What the two runs were made with, where it differs (commit, JAX, device): not drift,
    but the likely reason for one."""
    out = []
    for key, sub in CONTEXT_KEYS:
        a, b = (committed.get(key) or {}).get(sub), (fresh.get(key) or {}).get(sub)
        if a != b:
            a, b = (str(x)[:12] if sub == "commit" and x else x for x in (a, b))
            out.append(f"{key}.{sub} {a} -> {b}")
    return out


def drift_table(drifts: list[Drift]) -> str:
    """The drifts as a fixed-width table (or "no drift")."""
    if not drifts:
        return "no drift"
    rows = [("experiment", "key", "committed", "fresh", "tolerance"),
            *(d.row() for d in drifts)]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

