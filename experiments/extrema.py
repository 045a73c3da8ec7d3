"""``extrema``: critical points of functions of one variable, and when the test is silent.

Newton's method on f' runs from a grid of starts on an interval (all starts in one ``vmap``,
the steps in ``lax.scan``); the converged end points, merged, are the critical points found.
Each is classified by the second-derivative test, and independently by the first-derivative
test (the sign of f' just left and right of it). Checked against closed-form critical points:

1. the points found are exactly the known ones, to a stated tolerance;
2. every definite second-derivative verdict (minimum / maximum) agrees with the sign change of
   f' around the point;
3. the roadmap's warning: x^3 at 0 has f'(0) = 0 and f''(0) = 0; the test is reported as
   **inconclusive** and f' does not change sign there, so 0 is neither a minimum nor a maximum
   (x^4 at 0 is inconclusive too, yet a minimum: the test cannot tell them apart).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.calculus import (
    classify_critical_point,
    derivative_sign_change,
    newton_critical_points,
)
from mathml_jax.runtime import RunContext
from mathml_jax.status import Kind, Status
from mathml_jax.timing import timed

SECTION = "Calculus / Differentiation: critical points, minima and maxima"

PI = float(np.pi)


def _cube(x):
    return x ** 3


def _quartic(x):
    return x ** 4


def _double_well(x):
    return x ** 4 - 2 * x ** 2


def _cubic_poly(x):
    return x ** 3 - 3 * x


# name -> (f, label, interval, [(critical point, true nature, second-derivative verdict)])
# True natures come from the closed form of f' and its sign on either side.
CATALOGUE = {
    "cube": (_cube, "x^3", (-1.0, 1.0), [(0.0, "neither", Kind.DEGENERATE.word)]),
    "quartic": (_quartic, "x^4", (-1.0, 1.0), [(0.0, "minimum", Kind.DEGENERATE.word)]),
    "double_well": (_double_well, "x^4 - 2x^2", (-2.0, 2.0),
                    [(-1.0, "minimum", "minimum"), (0.0, "maximum", "maximum"),
                     (1.0, "minimum", "minimum")]),
    "cubic_poly": (_cubic_poly, "x^3 - 3x", (-2.5, 2.5),
                   [(-1.0, "maximum", "maximum"), (1.0, "minimum", "minimum")]),
    "sin": (jnp.sin, "sin x", (0.5, 8.5),
            [(PI / 2, "maximum", "maximum"), (3 * PI / 2, "minimum", "minimum"),
             (5 * PI / 2, "maximum", "maximum")]),
}
NATURE_OF_SIGNS = {(-1, 1): "minimum", (1, -1): "maximum"}


@dataclass
class Config:
    functions: list[str] = param(["cube", "quartic", "double_well", "cubic_poly", "sin"],
                                 choices=tuple(CATALOGUE))
    num_starts: int = param(64, ge=2, le=1_000_000, help="Newton starts, evenly spaced")
    newton_steps: int = param(100, ge=1, le=100_000,
                              help="fixed Newton steps (degenerate points converge linearly)")
    location_tol: float = param(1e-5, gt=0, le=1,
                                help="found points within this x (interval length) of the "
                                     "known ones")

    def __post_init__(self):
        if "cube" not in self.functions:
            raise ConfigError("extrema.functions", self.functions,
                              "it must include cube: x^3 at 0 is the experiment's main point")


def _merge(points: np.ndarray, gap: float) -> np.ndarray:
    """Clusters sorted points closer than ``gap``; returns each cluster's median."""
    if points.size == 0:
        return points
    p = np.sort(points)
    groups = np.split(p, np.nonzero(np.diff(p) > gap)[0] + 1)
    return np.array([np.median(g) for g in groups])


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("extrema", section=SECTION)
    dtype = ctx.dtype
    eps = ctx.eps
    found_all, agree, definite, drawn = {}, 0, 0, {}

    for name in cfg.functions:
        f, label, (lo, hi), known = CATALOGUE[name]
        width = hi - lo
        grid = jnp.linspace(lo, hi, 401, dtype=dtype)
        d1_scale = float(jnp.max(jnp.abs(jax.vmap(jax.grad(f))(grid))))
        d2_scale = float(jnp.max(jnp.abs(jax.vmap(jax.grad(jax.grad(f)))(grid))))
        starts = jnp.linspace(lo, hi, cfg.num_starts, dtype=dtype)
        tol1 = jnp.asarray(100 * eps * max(1.0, d1_scale), dtype)
        (x, status, _), t = timed(newton_critical_points, starts, jnp.asarray(lo, dtype),
                                  jnp.asarray(hi, dtype), tol1, f=f, steps=cfg.newton_steps)
        report.add_timing(f"newton_{name}", t)
        x, status = np.asarray(x, np.float64), np.asarray(status)
        for code, word in zip(Status, Status.words(), strict=True):
            report.metric(f"starts_{word.replace(' ', '_')}_{name}", int((status == code).sum()))
        found = _merge(x[status == Status.CONVERGED], gap=1e-3 * width)

        # second-derivative test; tolerance on f'' relative to its scale on the interval
        tol2 = np.sqrt(eps) * max(1.0, d2_scale)
        kinds, d2 = classify_critical_point(jnp.asarray(found, dtype), jnp.asarray(tol2, dtype),
                                            f=f)
        kinds = Kind.words(kinds)
        # first-derivative test, with a probe distance below half the gap to any neighbour
        gaps = np.diff(found) if found.size > 1 else np.array([width])
        delta = min(0.25 * gaps.min(), 1e-2 * width)
        signs = np.asarray(derivative_sign_change(jnp.asarray(found, dtype),
                                                  jnp.asarray(delta, dtype), f=f)).astype(int)
        natures = [NATURE_OF_SIGNS.get(tuple(s), "neither") for s in signs]
        found_all[name] = (found, kinds, natures, np.asarray(d2, np.float64))

        # 1. the known critical points, and only them
        kx = np.array([k[0] for k in known])
        if found.size == kx.size:
            dist = float(np.max(np.abs(found - kx)))
        else:
            dist = float("inf")
        report.claim(Claim.at_most(
            f"{label}: Newton on f' from {cfg.num_starts} starts finds exactly the "
            f"{kx.size} known critical point(s); max distance", dist, cfg.location_tol * width,
            detail=f"found {found.size}: " + ", ".join(f"{v:.4g}" for v in found)))
        if found.size == kx.size:
            verdict_ok = [k == kv[2] for k, kv in zip(kinds, known, strict=True)]
            nature_ok = [n == kv[1] for n, kv in zip(natures, known, strict=True)]
            report.claim(Claim.holds(
                f"{label}: second-derivative verdicts are " + ", ".join(k[2] for k in known)
                + "; first-derivative test gives " + ", ".join(k[1] for k in known),
                all(verdict_ok) and all(nature_ok),
                detail="f'' = " + ", ".join(f"{v:.3g}" for v in np.asarray(d2))))
        # 2. definite verdicts agree with the sign change of f'
        for k, n in zip(kinds, natures, strict=True):
            if k != Kind.DEGENERATE.word:
                definite += 1
                agree += int(k == n)
        report.metric(f"critical_points_{name}", int(found.size))
        report.add_series(f"critical_points_{name}", x=found, second_derivative=found_all[name][3],
                          verdict=np.array(kinds), sign_test=np.array(natures),
                          end_points=x, status=status)
        drawn[name] = (f, label, lo, hi)

    report.claim(Claim.close(
        "every definite second-derivative verdict agrees with the sign change of f' "
        "(number of disagreements)", definite - agree, 0, tol=0,
        detail=f"{definite} definite verdicts over {len(cfg.functions)} functions"))
    report.metric("definite_verdicts", definite, key=True)

    found, kinds, natures, d2 = found_all["cube"]
    at0 = found.size == 1 and abs(found[0]) <= cfg.location_tol * 2
    report.claim(Claim.holds(
        "x^3 at 0: f'(0) = 0 and f''(0) = 0, so the second-derivative test is reported "
        "inconclusive (not guessed)", at0 and kinds == [Kind.DEGENERATE.word],
        measured=d2[0] if d2.size else float("nan"), detail="measured: f''(x*)"))
    report.claim(Claim.holds(
        "x^3 at 0: f' > 0 on both sides, so 0 is neither a minimum nor a maximum",
        at0 and natures == ["neither"]))
    report.metric("cube_verdict", kinds[0] if kinds else "none", key=True)

    _figure(report, drawn, found_all)
    return report


MARKERS = {"minimum": ("v", "#2ca02c"), "maximum": ("^", "#d62728"),
           Kind.DEGENERATE.word: ("D", "#7f7f7f")}


def _figure(report, drawn, found_all):
    n = len(drawn)
    fig, axes = plotting.figure(
        "Critical points (f' = 0) classified by f''; x^3 at 0 is inconclusive and no extremum",
        ncols=n, nrows=2, width=3.6, height=3.0, sharex="col")
    axes = np.asarray(axes).reshape(2, n)
    for j, (name, (f, label, lo, hi)) in enumerate(drawn.items()):
        xs = np.linspace(lo, hi, 400)
        with jax.enable_x64(True):
            fx = np.asarray(jax.vmap(f)(jnp.asarray(xs)))
            dfx = np.asarray(jax.vmap(jax.grad(f))(jnp.asarray(xs)))
        top, bottom = axes[0, j], axes[1, j]
        top.plot(xs, fx, color="black", linewidth=1.5)
        bottom.plot(xs, dfx, color=plotting.color("autodiff"), linewidth=1.5)
        bottom.axhline(0, color="gray", linewidth=0.8)
        found, kinds, natures, _ = found_all[name]
        for x0, k, nat in zip(found, kinds, natures, strict=True):
            m, c = MARKERS[k]
            fv = float(np.interp(x0, xs, fx))
            top.plot([x0], [fv], m, color=c, markersize=9, label=f"{k} ({nat})")
            bottom.plot([x0], [0], "o", color=c, markersize=6)
        top.set_title(f"f(x) = {label}", fontsize=10)
        handles, labels = top.get_legend_handles_labels()
        uniq = dict(zip(labels, handles, strict=True))
        top.legend(uniq.values(), uniq.keys(), fontsize=7, title="f'' test (f' sign test)",
                   title_fontsize=7)
        bottom.set_xlabel("x")
        if j == 0:
            top.set_ylabel("f(x)")
            bottom.set_ylabel("f'(x)")
    report.add_figure("critical_points", fig)
