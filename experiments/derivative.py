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
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.calculus import ELEMENTARY, derivative_estimates, forward_difference
from mathml_jax.convergence import fitted_slope
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

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
                              help="fits use h >= this factor times the round-off floor")
    order_tol: float = param(0.15, gt=0, le=1, help="tolerance on fitted orders 1 and 2")
    floor_factor: float = param(10.0, gt=1, le=1000,
                                help="the best step must be within this factor of theory")
    autodiff_ulps: float = param(8.0, gt=0, le=1e6,
                                 help="jax.grad error bound, in ulps of max(1, |f'(x)|)")
    secant_function: str = param("sin", choices=FUNCTIONS)
    secant_point: float = param(0.7, ge=-3, le=3)

    def __post_init__(self):
        if len(set(self.functions)) != len(self.functions):
            raise ConfigError("derivative.functions", self.functions,
                              "each function may appear only once")


def _theory_floor(method: str, eps: float) -> float:
    """The step where truncation and round-off balance, up to an O(1) factor."""
    return np.sqrt(eps) if method == "forward" else eps ** (1 / 3)


def _measure(name, dtype, x64, h64):
    """RMS errors (m,) of forward and central, and max autodiff error in ulps."""
    f_jax = ELEMENTARY[name][0]
    x = jnp.asarray(x64, dtype)
    h = jnp.asarray(h64, dtype)
    (fwd, cen, ad), t = timed(derivative_estimates, x, h, f=f_jax)
    # Compare at the points the kernel actually used (x rounded to dtype), in float64.
    xd = np.asarray(x, np.float64)
    exact = REFERENCE[name][1](xd)
    err = {m: np.sqrt(np.mean((np.asarray(v, np.float64) - exact) ** 2, axis=1))
           for m, v in (("forward", fwd), ("central", cen))}
    # elementwise arithmetic only (no matrix product): the dtype's own eps is the unit in use
    eps = float(jnp.finfo(dtype).eps)
    ulps = np.abs(np.asarray(ad, np.float64) - exact) / (eps * np.maximum(1.0, np.abs(exact)))
    return err, float(ulps.max()), float(np.sqrt(np.mean((np.asarray(ad, np.float64) - exact)
                                                             ** 2))), t


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("derivative", section=SECTION)
    rng_key = jax.random.fold_in(ctx.key, 0)
    x64 = np.asarray(jax.random.uniform(rng_key, (cfg.num_points,), jnp.float32,
                                        -cfg.x_max, cfg.x_max), np.float64)
    n_h = (0 - cfg.h_min_exponent) * cfg.steps_per_decade + 1
    h64 = np.logspace(cfg.h_min_exponent, 0, n_h)

    results = {}  # (dtype, fn) -> (err dict, ulps, ad_rms)
    for dname in DTYPES:
        with jax.enable_x64(True):  # float32 arrays stay float32; float64 needs x64 on
            dtype = jnp.dtype(dname)
            for fn in cfg.functions:
                err, ulps, ad_rms, t = _measure(fn, dtype, x64, h64)
                results[dname, fn] = (err, ulps, ad_rms)
                report.add_timing(f"{fn}_{dname}", t)
                report.add_series(f"errors_{fn}_{dname}", h=h64, forward=err["forward"],
                                  central=err["central"], autodiff_rms=np.array(ad_rms))

    expected_order = {"forward": 1.0, "central": 2.0}
    for dname in DTYPES:
        eps = float(jnp.finfo(jnp.dtype(dname)).eps)
        for method in ("forward", "central"):
            floor = _theory_floor(method, eps)
            fit = (h64 >= cfg.fit_margin * floor) & (h64 <= cfg.fit_h_max)
            slopes, best_h, below = {}, {}, {}
            for fn in cfg.functions:
                e = results[dname, fn][0][method]
                slopes[fn] = fitted_slope(h64[fit], e[fit])
                best_h[fn] = h64[np.argmin(e)]
                # the round-off regime: between the point where x + h == x (h ~ eps|x|)
                # and the floor, the error grows like 1/h
                rmask = (h64 <= floor / 3) & (h64 >= 30 * eps * cfg.x_max)
                below[fn] = fitted_slope(h64[rmask], e[rmask])
                report.metric(f"order_{method}_{fn}_{dname}", slopes[fn])
                report.metric(f"best_h_{method}_{fn}_{dname}", best_h[fn])
                report.metric(f"roundoff_slope_{method}_{fn}_{dname}", below[fn])
            p = expected_order[method]
            worst = max(slopes.values(), key=lambda s: abs(s - p))
            report.claim(Claim.close(
                f"{method} difference has order {p:g} ({dname}): worst fitted slope over "
                f"{len(slopes)} functions", worst, p, tol=cfg.order_tol,
                detail=f"h in [{cfg.fit_margin:g} x {floor:.1e}, {cfg.fit_h_max:g}], "
                       f"RMS error over {cfg.num_points} points"))
            rel = {fn: np.log10(best_h[fn] / floor) for fn in cfg.functions}
            worst_fn = max(rel, key=lambda k: abs(rel[k]))
            label = "sqrt(eps)" if method == "forward" else "eps^(1/3)"
            report.claim(Claim.within(
                f"{method} difference: best step is near {label} = {floor:.1e} ({dname}); "
                f"worst log10(h_best / {label})", rel[worst_fn], -np.log10(cfg.floor_factor),
                np.log10(cfg.floor_factor),
                detail=f"{worst_fn}: h_best = {best_h[worst_fn]:.1e}"))
            worst_r = max(below.values(), key=lambda s: abs(s + 1))
            report.claim(Claim.close(
                f"{method} difference below the floor: error grows like 1/h ({dname}), "
                "worst fitted slope", worst_r, -1.0, tol=0.3,
                detail="h in [30 eps x_max, floor/3]"))
            report.metric(f"order_{method}_{dname}", float(np.mean(list(slopes.values()))),
                          key=method == "central")
        worst_ulps = max(results[dname, fn][1] for fn in cfg.functions)
        report.claim(Claim.at_most(
            f"jax.grad equals the exact derivative to a few ulps ({dname}): worst error",
            worst_ulps, cfg.autodiff_ulps,
            detail=f"ulps of max(1, |f'(x)|), {len(cfg.functions)} functions x "
                   f"{cfg.num_points} points"))
        report.metric(f"autodiff_max_ulps_{dname}", worst_ulps, key=True)

    # -- secants closing in on the tangent (float64 NumPy-free: the kernel's quotient)
    sec_h = np.array([1.5, 1.0, 0.5, 0.25, 0.1])
    x0 = cfg.secant_point
    f_np, df_np = REFERENCE[cfg.secant_function]
    slope_exact = float(df_np(x0))
    slope_h = np.logspace(-6, 0.3, 60)
    with jax.enable_x64(True):
        f_jax = ELEMENTARY[cfg.secant_function][0]
        fwd_slopes = np.asarray(jax.vmap(lambda hh: forward_difference(f_jax, jnp.float64(x0),
                                                                       hh))(jnp.asarray(slope_h)))
        sec_slopes = np.asarray(jax.vmap(lambda hh: forward_difference(f_jax, jnp.float64(x0),
                                                                       hh))(jnp.asarray(sec_h)))
    gaps = np.abs(sec_slopes - slope_exact)
    report.claim(Claim.holds(
        f"secant slopes of {cfg.secant_function} at x={x0:g} approach the tangent slope "
        "monotonically as h shrinks (h = 1.5 ... 0.1)", bool(np.all(np.diff(gaps) < 0)),
        measured=gaps[-1], detail="measured: |secant - f'(x0)| at h = 0.1"))
    report.add_series("secant", h=sec_h, slope=sec_slopes, tangent=np.array(slope_exact),
                      slope_grid_h=slope_h, slope_grid=fwd_slopes)

    _figures(report, cfg, results, h64, x0, f_np, slope_exact, sec_h, sec_slopes, slope_h,
             fwd_slopes)
    return report


def _figures(report, cfg, results, h64, x0, f_np, slope_exact, sec_h, sec_slopes, slope_h,
             fwd_slopes):
    fig, (ax1, ax2) = plotting.figure(
        f"Secant slopes close in on the tangent slope of {cfg.secant_function} at x = {x0:g}",
        ncols=2)
    xs = np.linspace(x0 - 1.0, x0 + 2.0, 300)
    ax1.plot(xs, f_np(xs), color="black", label=f"f = {cfg.secant_function}")
    cmap = plotting.plt.get_cmap("viridis")
    for i, (h, s) in enumerate(zip(sec_h, sec_slopes, strict=True)):
        c = cmap(i / max(1, len(sec_h) - 1))
        ax1.plot(xs, f_np(x0) + s * (xs - x0), color=c, linewidth=1.2, label=f"secant h={h:g}")
        ax1.plot([x0 + h], [f_np(x0 + h)], "o", color=c, markersize=4)
    ax1.plot(xs, f_np(x0) + slope_exact * (xs - x0), **plotting.THEORY_STYLE, label="tangent")
    ax1.plot([x0], [f_np(x0)], "ko")
    ax1.set_ylim(f_np(xs).min() - 0.5, f_np(xs).max() + 0.5)
    ax1.set_xlabel("x")
    ax1.set_ylabel("f(x)")
    ax1.legend(fontsize=8)
    ax2.semilogx(slope_h, fwd_slopes, color=plotting.color("forward"),
                 label="(f(x0+h) - f(x0)) / h")
    ax2.semilogx(sec_h, sec_slopes, "o", color=plotting.color("forward"))
    ax2.axhline(slope_exact, **plotting.THEORY_STYLE, label=f"f'(x0) = {slope_exact:.4f}")
    ax2.set_xlabel("step h (log scale)")
    ax2.set_ylabel("secant slope")
    ax2.legend()
    report.add_figure("secants", fig)

    fig, axes = plotting.figure(
        "Finite differences: order 1 and 2 until round-off takes over; autodiff has no step",
        ncols=2)
    for ax, dname in zip(axes, DTYPES, strict=True):
        eps = float(jnp.finfo(jnp.dtype(dname)).eps)
        for method in ("forward", "central"):
            floor = _theory_floor(method, eps)
            e = np.sqrt(np.mean([results[dname, fn][0][method] ** 2 for fn in cfg.functions],
                                axis=0))
            fit = (h64 >= cfg.fit_margin * floor) & (h64 <= cfg.fit_h_max)
            plotting.loglog_fit(ax, h64, e, f"{method} difference", name=method, marker=".",
                                fit_mask=fit)
            ax.axvline(floor, color=plotting.color(method), linestyle="--", linewidth=1,
                       label=("sqrt(eps)" if method == "forward" else "eps^(1/3)")
                       + f" = {floor:.0e}")
        ad = np.sqrt(np.mean([results[dname, fn][2] ** 2 for fn in cfg.functions]))
        shown = max(ad, eps / 10)
        ax.axhline(shown, color=plotting.color("autodiff"), linestyle="-.",
                   label=f"jax.grad (RMS error {ad:.1e})")
        ax.axhline(eps, color="gray", linestyle=":", linewidth=1, label=f"eps = {eps:.1e}")
        ax.set_title(f"{dname}")
        ax.set_xlabel("step h")
        ax.set_ylabel(f"RMS error of f'(x), {len(cfg.functions)} functions")
        ax.legend(fontsize=8, loc="lower left")
    report.add_figure("errors", fig)
