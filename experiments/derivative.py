"""``derivative``: the derivative as the limit of secant slopes, and what limits the limit.

For several functions with known derivatives, at many points, the forward quotient
(f(x+h) - f(x))/h and the central quotient (f(x+h) - f(x-h))/(2h) are evaluated on a log grid
of steps h, in float32 and in float64 (one run does both), next to ``jax.grad``. The exact
derivatives come from NumPy closed forms in float64, independent of the JAX code. Checked:

1. truncation: for h well above the round-off floor the fitted log-log slopes of error
   against h are 1 (forward) and 2 (central);
2. round-off: the step with the smallest error sits near sqrt(eps) (forward) and eps^(1/3)
   (central), within a stated factor, and below it the error grows again like 1/h;
3. autodiff: ``jax.grad`` agrees with the exact derivative to a few ulps, at every point.

Both precisions are studied in every run, whatever the job's precision (``runtime.at_precision``
for each). The points x are drawn in float32 on purpose: a float32 number is exact in float64,
so both studies see the same points, and the results do not depend on the job's precision.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.calculus import ELEMENTARY, derivative_estimates
from mathml_jax.convergence import fitted_slope
from mathml_jax.runtime import RunContext, at_precision, in_float64

SECTION = "Calculus / Differentiation: the derivative as a limit"

# Independent references: the exact derivatives in NumPy float64 closed form.
REFERENCE = {
    "sin": (np.sin, np.cos),
    "exp": (np.exp, np.exp),
    "tanh": (np.tanh, lambda x: 1 / np.cosh(x) ** 2),
    "log1p_sq": (lambda x: np.log1p(x * x), lambda x: 2 * x / (1 + x * x)),
    "atan": (np.arctan, lambda x: 1 / (1 + x * x)),
    "sqrt1p_sq": (lambda x: np.sqrt(1 + x * x), lambda x: x / np.sqrt(1 + x * x)),
}
FUNCTIONS = tuple(REFERENCE)
DTYPES = ("float32", "float64")
METHODS = {"forward": 1.0, "central": 2.0}  # method -> order of its truncation error
FLOOR_LABEL = {"forward": "sqrt(eps)", "central": "eps^(1/3)"}
FLOOR_TEX = {"forward": r"$\sqrt{\varepsilon}$", "central": r"$\varepsilon^{1/3}$"}
COLOR_NAME = {"forward": "forward difference", "central": "central difference"}
# human names of the functions, in mathtext
TEX = {"sin": r"$\sin x$", "exp": r"$e^x$", "tanh": r"$\tanh x$", "log1p_sq": r"$\log(1+x^2)$",
       "atan": r"$\arctan x$", "sqrt1p_sq": r"$\sqrt{1+x^2}$"}
# Below the floor the error is round-off, noisy from step to step: its fitted slope is only
# checked to within this of -1.
ROUNDOFF_SLOPE_TOL = 0.3
SECANT_H = (1.5, 1.0, 0.5, 0.25, 0.1)  # the secants drawn and checked for monotone approach


@dataclass
class Config:
    functions: list[str] = param(["sin", "exp", "tanh", "log1p_sq"], choices=FUNCTIONS,
                                 help="functions with known derivatives")
    num_points: int = param(64, ge=2, le=100_000, help="random points x per function")
    x_max: float = param(1.5, gt=0, le=10, help="points are uniform in [-x_max, x_max]")
    steps_per_decade: int = param(8, ge=2, le=100, help="density of the log grid of h")
    h_min_exponent: int = param(-16, ge=-20, le=-6, help="smallest step 10^this")
    fit_h_max: float = param(0.2, gt=0, le=1, help="largest step of the order fits")
    fit_margin: float = param(10.0, ge=2, le=1000,
                              tolerance=True,
                              help="fits use h >= this factor times the round-off floor")
    order_tol: float = param(0.1, gt=0, le=0.5,
                             tolerance=True,
                             help="tolerance on fitted orders 1 and 2 (the next Taylor term "
                                  "bends the log-log line at h <= fit_h_max)")
    floor_factor: float = param(10.0, gt=1, le=1000,
                                tolerance=True,
                                help="the best step must be within this factor of theory")
    autodiff_ulps: float = param(8.0, gt=0, le=1e4,
                                 tolerance=True,
                                 help="jax.grad error bound, in ulps of max(1, |f'(x)|)")
    secant_function: str = param("sin", choices=FUNCTIONS)
    secant_point: float = param(0.7, ge=-3, le=3)

    def __post_init__(self):
        if len(set(self.functions)) != len(self.functions):
            raise ConfigError("derivative.functions", self.functions,
                              "each function may appear only once")


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    h: np.ndarray            # (m,) the log grid of steps
    x: np.ndarray            # (n,) the points (float32 numbers, as float64)
    eps: dict                # dtype name -> its unit round-off (elementwise arithmetic only)
    errors: dict             # dtype name -> function -> forward (m,), central (m,) RMS errors
                             # over the points, autodiff_max_rel, autodiff_rms
    secant: dict             # h, slope (secant slopes at SECANT_H), tangent (exact f'(x0)),
                             # grid_h, grid_slope (forward quotients on a fine grid, float64)


def _theory_floor(method: str, eps: float) -> float:
    """The step where truncation and round-off balance, up to an O(1) factor."""
    return np.sqrt(eps) if method == "forward" else eps ** (1 / 3)


# ----------------------------------------------------------------------------------- compute

def _measure(ctx: RunContext, name: str, dname: str, x64, h64) -> dict:
    """RMS errors (m,) of forward and central, and the autodiff errors, in ``dname``."""
    f_jax = ELEMENTARY[name][0]

    def estimates(x, h):
        return ctx.timed(f"{name}_{dname}", derivative_estimates, x, h, f=f_jax)

    fwd, cen, ad = (np.asarray(v, np.float64) for v in at_precision(dname, estimates, x64, h64))
    # Compare at the points the kernel actually used (x rounded to dtype), in float64.
    exact = REFERENCE[name][1](x64.astype(dname).astype(np.float64))
    err = {m: np.sqrt(np.mean((v - exact) ** 2, axis=1)) for m, v in (("forward", fwd),
                                                                       ("central", cen))}
    rel = np.abs(ad - exact) / np.maximum(1.0, np.abs(exact))
    return dict(err, autodiff_max_rel=float(rel.max()),
                autodiff_rms=float(np.sqrt(np.mean((ad - exact) ** 2))))


def _secants(ctx: RunContext, cfg: Config) -> dict:
    """Forward quotients of the secant function at x0, in float64: at SECANT_H and on a grid."""
    grid_h = np.logspace(-6, 0.3, 60)
    f_jax = ELEMENTARY[cfg.secant_function][0]

    def slopes(x, h):
        return ctx.timed("secants", derivative_estimates, x, h, f=f_jax)[0][:, 0]

    out = in_float64(slopes, np.asarray([cfg.secant_point]),
                     np.concatenate([np.asarray(SECANT_H), grid_h]))
    k = len(SECANT_H)
    return {"h": np.asarray(SECANT_H), "slope": out[:k], "grid_h": grid_h,
            "grid_slope": out[k:],
            "tangent": float(REFERENCE[cfg.secant_function][1](cfg.secant_point))}


def compute(cfg: Config, ctx: RunContext) -> Results:
    x64 = np.asarray(jax.random.uniform(jax.random.fold_in(ctx.key, 0), (cfg.num_points,),
                                        jnp.float32, -cfg.x_max, cfg.x_max), np.float64)
    n_h = (0 - cfg.h_min_exponent) * cfg.steps_per_decade + 1
    h64 = np.logspace(cfg.h_min_exponent, 0, n_h)
    errors, done = {d: {} for d in DTYPES}, 0
    for dname in DTYPES:
        for fn in cfg.functions:
            errors[dname][fn] = _measure(ctx, fn, dname, x64, h64)
            done += 1
            ctx.progress("derivative", done, len(DTYPES) * len(cfg.functions))
    return Results(h=h64, x=x64, eps={d: float(np.finfo(d).eps) for d in DTYPES},
                   errors=errors, secant=_secants(ctx, cfg))


# ------------------------------------------------------------------- fits (NumPy, all phases)

def _fit_mask(cfg: Config, h: np.ndarray, floor: float) -> np.ndarray:
    return (h >= cfg.fit_margin * floor) & (h <= cfg.fit_h_max)


def _fits(cfg: Config, r: Results, dname: str, method: str) -> tuple[dict, dict, dict]:
    """function -> (fitted order, best step, fitted slope below the floor)."""
    eps, h = r.eps[dname], r.h
    floor = _theory_floor(method, eps)
    fit = _fit_mask(cfg, h, floor)
    # the round-off regime: between the point where x + h == x (h ~ eps|x|) and the floor,
    # the error grows like 1/h
    rmask = (h <= floor / 3) & (h >= 30 * eps * cfg.x_max)
    slopes, best_h, below = {}, {}, {}
    for fn, errs in r.errors[dname].items():
        e = errs[method]
        slopes[fn] = fitted_slope(h[fit], e[fit])
        best_h[fn] = float(h[np.argmin(e)])
        below[fn] = fitted_slope(h[rmask], e[rmask])
    return slopes, best_h, below


# ------------------------------------------------------------------------------------ claims

def _difference_claims(cfg: Config, r: Results, dname: str, method: str) -> list[Claim]:
    slopes, best_h, below = _fits(cfg, r, dname, method)
    names, p = list(slopes), METHODS[method]
    floor, label = _theory_floor(method, r.eps[dname]), FLOOR_LABEL[method]
    _, worst = tol.worst([abs(slopes[k] - p) for k in names], names)
    rel = {k: float(np.log10(best_h[k] / floor)) for k in names}
    _, worst_best = tol.worst([abs(v) for v in rel.values()], names)
    _, worst_below = tol.worst([abs(below[k] + 1) for k in names], names)
    ref = "NumPy float64 closed-form derivatives"
    ff = np.log10(cfg.floor_factor)
    return [
        Claim.close(f"{method} difference has order {p:g} ({dname}): worst fitted slope over "
                    "the functions", slopes[worst], p,
                    tol.absolute(cfg.order_tol, "order_tol: next Taylor term at h <= fit_h_max"),
                    id=f"order_{method}_{dname}", worst=worst, reference=ref,
                    detail=f"h in [{cfg.fit_margin:g} x {floor:.1e}, {cfg.fit_h_max:g}], "
                           f"RMS error over {cfg.num_points} points"),
        Claim.within(f"{method} difference: best step is near {label} ({dname}); worst "
                     f"log10(h_best / {label})", rel[worst_best], -ff, ff,
                     id=f"best_step_{method}_{dname}", worst=worst_best,
                     rule=f"within a factor floor_factor = {cfg.floor_factor:g}",
                     reference=f"theory: truncation = round-off at h ~ {label}",
                     detail=f"{label} = {floor:.1e}; h_best = {best_h[worst_best]:.1e}"),
        Claim.close(f"{method} difference below the floor: error grows like 1/h ({dname}), "
                    "worst fitted slope", below[worst_below], -1.0,
                    tol.absolute(ROUNDOFF_SLOPE_TOL, "ROUNDOFF_SLOPE_TOL (noisy round-off)"),
                    id=f"roundoff_slope_{method}_{dname}", worst=worst_below, reference=ref,
                    detail="h in [30 eps x_max, floor/3]"),
    ]


def _autodiff_claim(cfg: Config, r: Results, dname: str) -> Claim:
    names = list(r.errors[dname])
    err, worst = tol.worst([r.errors[dname][k]["autodiff_max_rel"] for k in names], names)
    return Claim.at_most(
        f"jax.grad equals the exact derivative to a few ulps ({dname}): worst error relative to "
        "max(1, |f'(x)|)", err, tol.roundoff(cfg.autodiff_ulps, r.eps[dname]),
        id=f"autodiff_ulps_{dname}", worst=worst,
        reference="NumPy float64 closed-form derivatives at the same points",
        detail=f"{len(names)} functions x {cfg.num_points} points")


def _secant_claim(cfg: Config, r: Results) -> Claim:
    gaps = np.abs(r.secant["slope"] - r.secant["tangent"])
    return Claim.holds(
        "secant slopes approach the tangent slope monotonically as h shrinks (h = 1.5 ... 0.1)",
        bool(np.all(np.diff(gaps) < 0)), measured=gaps[-1], id="secants_approach_tangent",
        reference="NumPy float64 closed-form f'(x0)", worst=f"h = {r.secant['h'][-1]:g}",
        detail=f"{cfg.secant_function} at x0 = {cfg.secant_point:g}; measured: "
               "|secant - f'(x0)| at h = 0.1")


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    out = []
    for dname in DTYPES:
        for method in METHODS:
            out += _difference_claims(cfg, r, dname, method)
        out.append(_autodiff_claim(cfg, r, dname))
    return out + [_secant_claim(cfg, r)]


def metrics(cfg: Config, r: Results) -> dict:
    out = {}
    for dname in DTYPES:
        for method in METHODS:
            slopes, best_h, below = _fits(cfg, r, dname, method)
            for fn in slopes:
                out[f"order_{method}_{fn}_{dname}"] = slopes[fn]
                out[f"best_h_{method}_{fn}_{dname}"] = best_h[fn]
                out[f"roundoff_slope_{method}_{fn}_{dname}"] = below[fn]
            out[f"order_{method}_{dname}"] = float(np.mean(list(slopes.values())))
        out[f"autodiff_max_ulps_{dname}"] = max(
            e["autodiff_max_rel"] for e in r.errors[dname].values()) / r.eps[dname]
    return out


KEY_METRICS = tuple(f"{k}_{d}" for d in DTYPES for k in ("order_central", "autodiff_max_ulps"))


# ----------------------------------------------------------------------------------- figures
def secants(cfg: Config, r: Results):
    """As the step h shrinks, the secants through x0 and x0 + h turn into the tangent, and their
    slopes converge to the exact derivative f'(x0)."""
    x0, s = cfg.secant_point, r.secant
    f_np, name = REFERENCE[cfg.secant_function][0], TEX[cfg.secant_function]
    fig, (ax1, ax2) = plotting.figure(
        f"Secant slopes turn into the tangent slope of {name} at $x_0 = {x0:g}$ as $h$ shrinks",
        ncols=2)
    xs = np.linspace(x0 - 1.0, x0 + 2.0, 300)
    ax1.plot(xs, f_np(xs), color=plotting.color("function"), label=f"$f(x) =$ {name}")
    for c, h, sl in zip(plotting.ordered_colors(len(s["h"])), s["h"], s["slope"], strict=True):
        ax1.plot(xs, f_np(x0) + sl * (xs - x0), color=c, linewidth=1.2,
                 label=f"secant, $h = {h:g}$")
        ax1.plot([x0 + h], [f_np(x0 + h)], "o", color=c, markersize=5)
    plotting.theory_line(ax1, xs, f_np(x0) + s["tangent"] * (xs - x0),
                         "tangent, slope $f'(x_0)$")
    ax1.plot([x0], [f_np(x0)], "ko")
    top = max(f_np(xs).max(), f_np(x0) + s["tangent"] * (xs[-1] - x0))
    ax1.set_ylim(f_np(xs).min() - 1.9, top + 0.2)
    ax1.set_xlabel("$x$")
    ax1.set_ylabel("$f(x)$")
    ax1.legend(loc="lower right", ncols=2)
    ax2.semilogx(s["grid_h"], s["grid_slope"], color=plotting.color("forward difference"),
                 label="secant slope $(f(x_0+h) - f(x_0))/h$")
    ax2.semilogx(s["h"], s["slope"], "o", color=plotting.color("forward difference"),
                 label="the secants drawn on the left")
    ax2.axhline(s["tangent"], **plotting.THEORY_STYLE,
                label=f"exact $f'(x_0) = {s['tangent']:.4f}$")
    ax2.set_xlabel("step $h$ (log scale)")
    ax2.set_ylabel("secant slope")
    ax2.legend(loc="lower left")
    return fig


def _sci(v: float) -> str:
    """``v`` as mathtext ``1.2 x 10^{-7}``."""
    m, e = f"{v:.1e}".split("e")
    return rf"{m}\times 10^{{{int(e)}}}"


def _errors_panel(ax, cfg: Config, r: Results, dname: str) -> None:
    eps, errs = r.eps[dname], r.errors[dname]
    for method in METHODS:
        floor, c = _theory_floor(method, eps), plotting.color(COLOR_NAME[method])
        e = np.sqrt(np.mean([v[method] ** 2 for v in errs.values()], axis=0))
        plotting.loglog_fit(ax, r.h, e, f"{method} difference", name=COLOR_NAME[method],
                            marker=".", fit_mask=_fit_mask(cfg, r.h, floor))
        ax.plot(r.h[np.argmin(e)], e.min(), "*", color=c, markersize=13, label="_best")
        ax.axvline(floor, color=c, linestyle="--", linewidth=1,
                   label=FLOOR_TEX[method][:-1] + f" = {_sci(floor)}$ (theory)")
    ax.plot([], [], "*", color="black", markersize=11, label="best step of each method")
    rmask = (r.h <= 1e-1 * _theory_floor("forward", eps)) & (r.h >= 10 * eps)
    plotting.theory_line(ax, r.h[rmask], eps / r.h[rmask],
                         r"round-off $\varepsilon/h$ (slope $-1$)")
    ad = np.sqrt(np.mean([v["autodiff_rms"] ** 2 for v in errs.values()]))
    ax.axhline(max(ad, eps / 10), color=plotting.color("autodiff"), linestyle="-.",
               label=f"jax.grad, no step (RMS ${_sci(ad)}$)")
    tiny = r.h < eps * cfg.x_max / 4
    if tiny.any():  # x + h == x for most points: the quotient is 0 and the error is |f'(x)|
        ax.annotate("$x + h = x$ in " + dname + ":\nquotient 0, error $|f'(x)|$",
                    (np.sqrt(r.h[tiny][0] * r.h[tiny][-1]), 0.3), ha="center", va="top",
                    fontsize=9)
    ax.set_title(rf"{dname} ($\varepsilon = {_sci(eps)}$)")
    ax.set_xlabel("step $h$ (log scale)")
    ax.set_ylabel(f"RMS error of $f'(x)$ (log scale)\nover {len(errs)} functions "
                  f"× {len(r.x)} points")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=1)


def errors(cfg: Config, r: Results):
    """Forward differences converge at order 1 and central ones at order 2 until round-off takes
    over below h near sqrt(eps) and eps^(1/3), while jax.grad, with no step, errs by round-off
    only."""
    fig, axes = plotting.figure(
        "Finite differences converge at order 1 and 2 until round-off takes over near "
        r"$\sqrt{\varepsilon}$ and $\varepsilon^{1/3}$; jax.grad has no step", ncols=2,
        height=5.4)
    for ax, dname in zip(axes, DTYPES, strict=True):
        _errors_panel(ax, cfg, r, dname)
    return fig


FIGURES = (secants, errors)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: for one function
    at a time, the forward and central estimates at every (step, point), float64 on the device
    and on the host, and the squared errors: 6 arrays of steps x num_points float64."""
    from mathml_jax import budget as b

    n_h = -cfg.h_min_exponent * cfg.steps_per_decade + 1
    grid = n_h * cfg.num_points
    return b.estimate(
        b.Part(6 * 8 * grid, ("derivative.num_points", "derivative.steps_per_decade"),
               f"forward and central estimates at {n_h} steps h x num_points points, float64"),
        seconds=len(cfg.functions) * len(DTYPES) * 4 * grid * b.S_PER_ELEMENT,
        rate=f"{1 / b.S_PER_ELEMENT:.2g} function evaluations/s")
