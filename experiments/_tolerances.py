"""Tolerances the user changed: said beside every claim they change, with the suite's verdict.

A key declared ``param(..., tolerance=True)`` is a bound claims are checked against
(``gd.rosenbrock_tol``, ``coin.z``). A run given another value than the default must never be
mistaken for the suite's own check, so after the claims are made this re-makes them with every
changed tolerance put back to its default (claims are NumPy-only functions of the results, so
this costs no kernel), and compares claim by claim. Every claim whose bound, verdict or margin
differs gets a note in its ``detail`` (the claims table and metrics.json show it): the key, the
given and the default value, and the verdict under the default. The run's context records
``tolerances_changed``: the changed keys (given and default values) and, for each claim they
moved, its verdict under the defaults.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

log = logging.getLogger("mathml_jax")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


def changed_tolerances(cfg: Any) -> dict[str, tuple[Any, Any]]:
    """{field name: (given, default)} of the tolerance fields of ``cfg`` not at their default."""
    out = {}
    for f in dataclasses.fields(cfg):
        if f.metadata.get("tolerance") and getattr(cfg, f.name) != _default(f):
            out[f.name] = (getattr(cfg, f.name), _default(f))
    return out


def _signature(c) -> tuple:
    """What a bound changes in a claim: its verdict, bound, margin, or the words that state
    the bound (a yes/no claim "each point matched within 0.001")."""
    return (c.passed, c.expected, c.tolerance, c.margin, c.detail)


def mark_changed_tolerances(name: str, module: Any, cfg: Any, results: Any, ctx: Any,
                            claims: list) -> tuple[list, dict | None]:
    """(claims with notes, ``tolerances_changed`` records) for a run of experiment ``name``."""
    changed = changed_tolerances(cfg)
    if not changed:
        return claims, None
    given = ", ".join(f"{name}.{k} = {g!r} (default {d!r})" for k, (g, d) in changed.items())
    try:
        default_cfg = dataclasses.replace(cfg, **{k: d for k, (_, d) in changed.items()})
        under_default = {c.id: c for c in module.claims(default_cfg, results, ctx)}
    except Exception as e:  # noqa: BLE001 - the claims cannot be re-made: say so on every claim
        log.warning("could not re-check the claims under the default tolerances: %s", e)
        under_default = None
    out, moved = [], []
    for c in claims:
        ref = None if under_default is None else under_default.get(c.id)
        if ref is not None and _signature(ref) == _signature(c):
            out.append(c)
            continue
        verdict = ("unknown" if ref is None else "PASS" if ref.passed else "FAIL")
        note = (f"tolerance changed by the user: {given}; under the default this claim: "
                f"{verdict}")
        out.append(dataclasses.replace(c, detail=f"{c.detail}; {note}" if c.detail else note))
        moved.append((c.id, verdict))
    record = {"keys": [{"key": f"{name}.{k}", "given": g, "default": d}
                       for k, (g, d) in changed.items()],
              "claims_under_default": dict(moved)}
    log.warning("tolerance(s) changed from the suite's defaults: %s; %d claim(s) checked "
                "against the given bound%s", given, len(moved),
                "" if not moved else " (see their notes in claims.md)")
    return out, record
