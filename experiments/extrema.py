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
from mathml_jax.sharding import device_mesh, timed_rows
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
# closed-form f'' (NumPy, float64): the reference for f''(x*) at every point found
SECOND_DERIVATIVE = {"cube": lambda x: 6 * x, "quartic": lambda x: 12 * x ** 2,
                     "double_well": lambda x: 12 * x ** 2 - 4, "cubic_poly": lambda x: 6 * x,
                     "sin": lambda x: -np.sin(x)}
D2_K = 4  # f''(x*) round-off: D2_K eps x max |f''| on the interval
# multiplicity of 0 as a root of f' (x^3: f' = 3x^2, x^4: f' = 4x^3): such a root is
# determined only to eps^(1/m); every other known root is simple
MULTIPLICITY = {"cube": 2, "quartic": 3}
LOC_K = 2  # simple root: LOC_K eps (max(1, |x*|) + max|f'| / |f''(x*)|)
NATURE_OF_SIGNS = {(-1, 1): "minimum", (1, -1): "maximum"}


@dataclass
class Config:
    functions: list[str] = param(["cube", "quartic", "double_well", "cubic_poly", "sin"],
                                 choices=tuple(CATALOGUE))
    num_starts: int = param(64, ge=2, le=1_000_000, help="Newton starts, evenly spaced")
    newton_steps: int = param(100, ge=1, le=100_000,
                              help="fixed Newton steps (degenerate points converge linearly)")

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
    # (Status codes); xs, f, df, d2f (400,): f, f' and f'' on the interval in float64, for
    # the figures
    functions: dict


# ------------------------------------------------------------------------------ compute

def _scales(f, lo: float, hi: float, dtype) -> tuple[float, float]:
    """max |f'| and max |f''| on 401 points of the interval: the scales of the tolerances."""
    grid = jnp.linspace(lo, hi, 401, dtype=dtype)
    d1 = float(jnp.max(jnp.abs(jax.vmap(jax.grad(f))(grid))))
    d2 = float(jnp.max(jnp.abs(jax.vmap(jax.grad(jax.grad(f)))(grid))))
    return d1, d2


def _curves(f, lo: float, hi: float) -> dict:
    """f, f' and f'' on 400 points of the interval, in float64 (the figures' curves)."""
    xs = np.linspace(lo, hi, 400)
    fx, dfx, d2fx = in_float64(lambda x: (jax.vmap(f)(x), jax.vmap(jax.grad(f))(x),
                                          jax.vmap(jax.grad(jax.grad(f)))(x)), xs)
    return {"xs": xs, "f": np.asarray(fx, np.float64), "df": np.asarray(dfx, np.float64),
            "d2f": np.asarray(d2fx, np.float64)}


def _analyse(cfg: Config, ctx: RunContext, name: str) -> dict:
    """Newton on f' from the starts, merged end points, both tests at each point found."""
    f, _, (lo, hi), _ = CATALOGUE[name]
    dtype, eps, width = ctx.dtype, ctx.eps, hi - lo
    d1_scale, d2_scale = _scales(f, lo, hi, dtype)
    starts = jnp.linspace(lo, hi, cfg.num_starts, dtype=dtype)
    tol1 = tol.roundoff(100, eps, scale=max(1.0, d1_scale)).value  # |f'| at a converged point
    x, status, _ = timed_rows(ctx.timer, f"newton_{name}", newton_critical_points, starts,
                              jnp.asarray(lo, dtype), jnp.asarray(hi, dtype),
                              jnp.asarray(tol1, dtype), mesh=device_mesh(ctx.runtime.platform),
                              f=f, steps=cfg.newton_steps)
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


def _allowance(name: str, x0: float, eps: float, d1_scale: float) -> float:
    """How far from the true root of f' round-off lets a found point be."""
    if name in MULTIPLICITY:
        return float(eps) ** (1.0 / MULTIPLICITY[name])
    d2 = abs(float(SECOND_DERIVATIVE[name](x0)))
    return LOC_K * float(eps) * (max(1.0, abs(x0)) + d1_scale / d2)


def _function_claims(cfg: Config, name: str, r: dict, eps: float) -> list[Claim]:
    _, label, (lo, hi), known = CATALOGUE[name]
    found, kinds, natures = r["found"], Kind.words(r["verdict"]), _natures(r)
    kx = np.array([k[0] for k in known])
    same = found.size == kx.size
    d1_scale = float(np.max(np.abs(r["df"])))
    allow = np.array([_allowance(name, x0, eps, d1_scale) for x0 in kx])
    dist, where = tol.worst(np.abs(found - kx) / allow, [f"x* = {v:.4g}" for v in kx]) \
        if same else (float("inf"), f"found {found.size} points, known {kx.size}")
    verdicts_ok = same and all(k == kv[2] and n == kv[1]
                               for k, n, kv in zip(kinds, natures, known, strict=True))
    return [
        Claim.at_most(f"{label}: Newton on f' from a grid of starts finds exactly the known "
                      "critical point(s); max distance in units of its round-off allowance",
                      dist, tol.absolute(1.0, f"1 allowance: {LOC_K} eps (max(1, |x*|) + "
                                         "max|f'| / |f''(x*)|) for a simple root of f', "
                                         "eps^(1/m) for a root of multiplicity m"),
                      id=f"{name}_known_points",
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


def _second_derivative_claim(results: Results, eps: float) -> Claim:
    """f''(x*) from autodiff at every point found = the closed form at the same x*."""
    errs, labels, scales = [], [], []
    for name, r in results.functions.items():
        lo, hi = CATALOGUE[name][2]
        scale = max(1.0, float(np.max(np.abs(SECOND_DERIVATIVE[name](np.linspace(lo, hi, 401))))))
        for x0, d2 in zip(r["found"], r["second_derivative"], strict=True):
            errs.append(abs(d2 - SECOND_DERIVATIVE[name](x0)) / scale)
            labels.append(f"{CATALOGUE[name][1]} at {x0:.4g}")
            scales.append(scale)
    err, where = tol.worst(errs, labels) if errs else (float("inf"), "no point found")
    return Claim.at_most("f''(x*) by autodiff = closed-form f'' at every critical point found "
                         "(max error relative to max |f''| on the interval)", err,
                         tol.roundoff(D2_K, eps), id="second_derivative_closed_form",
                         reference="closed-form f'' in NumPy float64 at the same points",
                         worst=where, detail=f"{len(errs)} points")


def _cube_claims(cfg: Config, r: dict, eps: float) -> list[Claim]:
    found, kinds, d2 = r["found"], Kind.words(r["verdict"]), r["second_derivative"]
    at0 = found.size == 1 and abs(found[0]) <= np.sqrt(eps)
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
        out += _function_claims(cfg, name, fr, ctx.eps)
    return (out + [_definite_claim(cfg, r), _second_derivative_claim(r, ctx.eps)]
            + _cube_claims(cfg, r.functions["cube"], ctx.eps))


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

MARKERS = {"minimum": "v", "maximum": "^", Kind.DEGENERATE.word: "D"}
MARKER_COLORS = {"minimum": "minimum", "maximum": "maximum", Kind.DEGENERATE.word: "degenerate"}
TEX = {"cube": "$x^3$", "quartic": "$x^4$", "double_well": "$x^4 - 2x^2$",
       "cubic_poly": "$x^3 - 3x$", "sin": r"$\sin x$"}


def _draw_function(ax, name: str, r: dict) -> None:
    """f with each critical point marked by the f'' test's verdict and labelled with f''."""
    xs, fx = r["xs"], r["f"]
    ax.plot(xs, fx, color=plotting.color("function"), linewidth=1.8)
    span = float(np.ptp(fx)) or 1.0
    for x0, k, d2 in zip(r["found"], Kind.words(r["verdict"]), r["second_derivative"],
                         strict=True):
        y0 = float(np.interp(x0, xs, fx))
        ax.plot([x0], [y0], MARKERS[k], color=plotting.color(MARKER_COLORS[k]), markersize=10,
                markeredgecolor="black", linestyle="none")
        up = k != "minimum"
        ax.annotate(f"$f''={d2:.3g}$", (x0, y0), textcoords="offset points",
                    xytext=(0, 10 if up else -12), ha="center", va="bottom" if up else "top",
                    fontsize=9)
    ax.set_ylim(fx.min() - 0.3 * span, fx.max() + 0.25 * span)
    ax.set_title(f"$f(x) =$ {TEX[name]}", fontsize=11)
    ax.set_xlabel("x")


def critical_points(cfg: Config, r: Results):
    """Newton's method on f' finds each function's critical points, and the sign of f'' there
    types them as minima (f'' > 0) or maxima (f'' < 0), the test staying silent where f'' = 0."""
    n = len(r.functions)
    ncols = min(3, n)
    nrows = -(-(n + 1) // ncols)  # one panel more: the legend
    fig, axes = plotting.figure("Critical points, where $f' = 0$, typed by the sign of $f''$; "
                                "where $f'' = 0$ the test is silent", ncols=ncols, nrows=nrows,
                                width=3.6, height=3.1, squeeze=False)
    axes = axes.ravel()
    for ax, (name, fr) in zip(axes, r.functions.items(), strict=False):
        _draw_function(ax, name, fr)
    for ax in axes[n:]:
        ax.axis("off")
    handles = [plotting.plt.Line2D([], [], marker=m, color=plotting.color(MARKER_COLORS[k]),
                                   markeredgecolor="black", linestyle="none", markersize=10)
               for k, m in MARKERS.items()]
    labels = [r"minimum: $f'' > 0$", r"maximum: $f'' < 0$", r"inconclusive: $f'' = 0$"]
    axes[n].legend(handles, labels, loc="center", title="second-derivative test")
    for ax in axes[::ncols]:
        ax.set_ylabel("$f(x)$")
    return fig


def silent_test(cfg: Config, r: Results):
    """At 0, x^3 and x^4 both have f' = f'' = 0, so the second-derivative test is silent, yet f'
    keeps its sign for x^3 (no extremum) and changes it for x^4 (a minimum)."""
    show = [n for n in ("cube", "quartic") if n in r.functions]
    fig, axes = plotting.figure("$f'' = 0$ cannot tell them apart: $f'$ keeps its sign for "
                                "$x^3$ (no extremum) and changes it for $x^4$ (a minimum)",
                                ncols=len(show), width=4.8, height=3.8, squeeze=False)
    for ax, name in zip(axes.ravel(), show, strict=True):
        fr = r.functions[name]
        for key, what, lbl in (("f", "function", "$f$"), ("df", "first derivative", "$f'$"),
                               ("d2f", "second derivative", "$f''$")):
            ax.plot(fr["xs"], fr[key], color=plotting.color(what), label=lbl)
        ax.axhline(0, **plotting.THEORY_STYLE)
        nat = _natures(fr)
        ax.plot([0], [0], MARKERS[Kind.DEGENERATE.word], color=plotting.color("degenerate"),
                markeredgecolor="black", markersize=10, linestyle="none",
                label=f"$x = 0$: $f''$ test silent; $f'$ test: {nat[0] if nat else 'none'}")
        ax.set_title(f"$f(x) =$ {TEX[name]}", fontsize=11)
        ax.set_xlabel("x")
        ax.set_ylim(-6.5, 12.5)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2)
    axes[0, 0].set_ylabel("value")
    return fig


FIGURES = (critical_points, silent_test)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: Newton keeps only
    the last iterate, status and |f'| of each start (a multi-start batch that streams), and
    the grid the figures draw: small for every allowed num_starts."""
    from mathml_jax import budget as b

    return b.estimate(
        b.Part(b.streamed(cfg.num_starts * 10 * target.itemsize) + 2000 * 8 * 8,
               ("extrema.num_starts",), "num_starts Newton iterates and their verdicts"),
        seconds=len(cfg.functions) * cfg.num_starts * cfg.newton_steps * 4 * b.S_PER_ELEMENT,
        rate=f"{1 / (4 * b.S_PER_ELEMENT):.2g} Newton steps/s",
        time_keys=("extrema.newton_steps", "extrema.num_starts"), streams=True)
