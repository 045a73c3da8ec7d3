"""``extrema``: critical points of one-variable functions, and where the f'' test is silent.

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
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.calculus import (
    classify_critical_point,
    derivative_sign_change,
    newton_critical_points,
)
from mathml_jax.runtime import RunContext, in_float64
from mathml_jax.status import Kind, Status

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


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    # name -> found (k,): the merged critical points; verdict (k,): the second-derivative
    # test's Kind codes; second_derivative (k,): f''(x*); signs (k, 2): sign of f' just left
    # and right of x*; end_points, status (num_starts,): where each Newton start ended and how
    # (Status codes); xs, f, df (400,): f and f' on the interval in float64, for the figure
    functions: dict


# ------------------------------------------------------------------------------ compute

def _scales(f, lo: float, hi: float, dtype) -> tuple[float, float]:
    """max |f'| and max |f''| on 401 points of the interval: the scales of the tolerances."""
    grid = jnp.linspace(lo, hi, 401, dtype=dtype)
    d1 = float(jnp.max(jnp.abs(jax.vmap(jax.grad(f))(grid))))
    d2 = float(jnp.max(jnp.abs(jax.vmap(jax.grad(jax.grad(f)))(grid))))
    return d1, d2


def _curves(f, lo: float, hi: float) -> dict:
    """f and f' on 400 points of the interval, in float64 (the figure's curves)."""
    xs = np.linspace(lo, hi, 400)
    fx, dfx = in_float64(lambda x: (jax.vmap(f)(x), jax.vmap(jax.grad(f))(x)), xs)
    return {"xs": xs, "f": np.asarray(fx, np.float64), "df": np.asarray(dfx, np.float64)}


def _analyse(cfg: Config, ctx: RunContext, name: str) -> dict:
    """Newton on f' from the starts, merged end points, both tests at each point found."""
    f, _, (lo, hi), _ = CATALOGUE[name]
    dtype, eps, width = ctx.dtype, ctx.eps, hi - lo
    d1_scale, d2_scale = _scales(f, lo, hi, dtype)
    starts = jnp.linspace(lo, hi, cfg.num_starts, dtype=dtype)
    tol1 = tol.roundoff(100, eps, scale=max(1.0, d1_scale)).value  # |f'| at a converged point
    x, status, _ = ctx.timed(f"newton_{name}", newton_critical_points, starts,
                             jnp.asarray(lo, dtype), jnp.asarray(hi, dtype),
                             jnp.asarray(tol1, dtype), f=f, steps=cfg.newton_steps)
    x, status = np.asarray(x, np.float64), np.asarray(status, np.int32)
    found = _merge(x[status == Status.CONVERGED], gap=1e-3 * width)
    # second-derivative test; tolerance on f'' relative to its scale on the interval
    tol2 = np.sqrt(eps) * max(1.0, d2_scale)
    kinds, d2 = classify_critical_point(jnp.asarray(found, dtype), jnp.asarray(tol2, dtype),
                                        f=f)
    # first-derivative test, with a probe distance below half the gap to any neighbour
    gaps = np.diff(found) if found.size > 1 else np.array([width])
    delta = min(0.25 * gaps.min(), 1e-2 * width)
    signs = derivative_sign_change(jnp.asarray(found, dtype), jnp.asarray(delta, dtype), f=f)
    return {"found": found, "verdict": np.asarray(kinds, np.int32),
            "second_derivative": np.asarray(d2, np.float64),
            "signs": np.asarray(signs).astype(int).reshape(-1, 2), "end_points": x,
            "status": status, **_curves(f, lo, hi)}


def compute(cfg: Config, ctx: RunContext) -> Results:
    out = {}
    for i, name in enumerate(cfg.functions):
        out[name] = _analyse(cfg, ctx, name)
        ctx.progress("extrema: functions", i + 1, len(cfg.functions))
    return Results(functions=out)


# ------------------------------------------------------------------------------ claims

def _natures(r: dict) -> list[str]:
    """The first-derivative test's verdicts: minimum, maximum or neither."""
    return [NATURE_OF_SIGNS.get(tuple(int(v) for v in s), "neither") for s in r["signs"]]


def _function_claims(cfg: Config, name: str, r: dict) -> list[Claim]:
    _, label, (lo, hi), known = CATALOGUE[name]
    found, kinds, natures = r["found"], Kind.words(r["verdict"]), _natures(r)
    kx = np.array([k[0] for k in known])
    same = found.size == kx.size
    dist, where = tol.worst(np.abs(found - kx), [f"x* = {v:.4g}" for v in kx]) if same else \
        (float("inf"), f"found {found.size} points, known {kx.size}")
    verdicts_ok = same and all(k == kv[2] and n == kv[1]
                               for k, n, kv in zip(kinds, natures, known, strict=True))
    return [
        Claim.at_most(f"{label}: Newton on f' from a grid of starts finds exactly the known "
                      "critical point(s); max distance", dist,
                      tol.relative(cfg.location_tol, hi - lo), id=f"{name}_known_points",
                      reference="closed form: the roots of f'", worst=where,
                      detail=f"{cfg.num_starts} starts; found {found.size}: "
                      + ", ".join(f"{v:.4g}" for v in found)),
        Claim.holds(f"{label}: second-derivative verdicts are " + ", ".join(k[2] for k in known)
                    + "; first-derivative test gives " + ", ".join(k[1] for k in known),
                    verdicts_ok, id=f"{name}_verdicts",
                    reference="closed form: the sign of f'' and of f' on either side",
                    detail="f'' = " + ", ".join(f"{v:.3g}" for v in r["second_derivative"])),
    ]


def _definite_claim(cfg: Config, results: Results) -> Claim:
    definite, bad = 0, []
    for name, r in results.functions.items():
        for x0, k, n in zip(r["found"], Kind.words(r["verdict"]), _natures(r), strict=True):
            if k != Kind.DEGENERATE.word:
                definite += 1
                if k != n:
                    bad.append(f"{name} at {x0:.4g}: {k} vs {n}")
    return Claim.close("every definite second-derivative verdict agrees with the sign change "
                       "of f' (number of disagreements)", len(bad), 0,
                       tol.absolute(0, "exact: a count"), id="definite_verdicts_agree",
                       reference="first-derivative test: the sign of f' on either side",
                       worst=bad[0] if bad else "",
                       detail=f"{definite} definite verdicts over {len(cfg.functions)} "
                       "functions")


def _cube_claims(cfg: Config, r: dict) -> list[Claim]:
    found, kinds, d2 = r["found"], Kind.words(r["verdict"]), r["second_derivative"]
    at0 = found.size == 1 and abs(found[0]) <= cfg.location_tol * 2
    return [
        Claim.holds("x^3 at 0: f'(0) = 0 and f''(0) = 0, so the second-derivative test is "
                    "reported inconclusive (not guessed)",
                    at0 and kinds == [Kind.DEGENERATE.word],
                    measured=d2[0] if d2.size else float("nan"), id="cube_inconclusive",
                    reference="closed form: f''(0) = 0 for x^3", detail="measured: f''(x*)"),
        Claim.holds("x^3 at 0: f' > 0 on both sides, so 0 is neither a minimum nor a maximum",
                    at0 and _natures(r) == ["neither"], id="cube_no_extremum",
                    reference="closed form: f'(x) = 3x^2 > 0 for x != 0"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    out = []
    for name, fr in r.functions.items():
        out += _function_claims(cfg, name, fr)
    return out + [_definite_claim(cfg, r)] + _cube_claims(cfg, r.functions["cube"])


def metrics(cfg: Config, r: Results) -> dict:
    out = {}
    for name, fr in r.functions.items():
        for code, word in zip(Status, Status.words(), strict=True):
            out[f"starts_{word.replace(' ', '_')}_{name}"] = int((fr["status"] == code).sum())
        out[f"critical_points_{name}"] = int(fr["found"].size)
    out["definite_verdicts"] = sum(int((fr["verdict"] != Kind.DEGENERATE).sum())
                                   for fr in r.functions.values())
    cube = Kind.words(r.functions["cube"]["verdict"])
    out["cube_verdict"] = cube[0] if cube else "none"
    return out


KEY_METRICS = ("definite_verdicts", "cube_verdict")


# ------------------------------------------------------------------------------ figures

MARKERS = {"minimum": ("v", "#2ca02c"), "maximum": ("^", "#d62728"),
           Kind.DEGENERATE.word: ("D", "#7f7f7f")}


def _draw_function(top, bottom, name: str, r: dict) -> None:
    xs, fx = r["xs"], r["f"]
    top.plot(xs, fx, color="black", linewidth=1.5)
    bottom.plot(xs, r["df"], color=plotting.color("autodiff"), linewidth=1.5)
    bottom.axhline(0, color="gray", linewidth=0.8)
    for x0, k, nat in zip(r["found"], Kind.words(r["verdict"]), _natures(r), strict=True):
        m, c = MARKERS[k]
        top.plot([x0], [float(np.interp(x0, xs, fx))], m, color=c, markersize=9,
                 label=f"{k} ({nat})")
        bottom.plot([x0], [0], "o", color=c, markersize=6)
    top.set_title(f"f(x) = {CATALOGUE[name][1]}", fontsize=10)
    handles, labels = top.get_legend_handles_labels()
    uniq = dict(zip(labels, handles, strict=True))
    top.legend(uniq.values(), uniq.keys(), fontsize=7, title="f'' test (f' sign test)",
               title_fontsize=7)
    bottom.set_xlabel("x")


def critical_points(cfg: Config, r: Results):
    n = len(r.functions)
    fig, axes = plotting.figure(
        "Critical points (f' = 0) classified by f''; x^3 at 0 is inconclusive and no extremum",
        ncols=n, nrows=2, width=3.6, height=3.0, sharex="col")
    axes = np.asarray(axes).reshape(2, n)
    for j, (name, fr) in enumerate(r.functions.items()):
        _draw_function(axes[0, j], axes[1, j], name, fr)
    axes[0, 0].set_ylabel("f(x)")
    axes[1, 0].set_ylabel("f'(x)")
    return fig


FIGURES = (critical_points,)
