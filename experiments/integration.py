"""``integration``: the integral as signed area, and how fast each rule finds it.

Riemann sums (left, right, midpoint), the trapezoid rule, Simpson's rule, Gauss-Legendre and
plain Monte Carlo integrate functions with known integrals, one of them with integral zero
because the area below the axis cancels the area above (signed area). Reference values are
closed forms, or SciPy's adaptive quadrature (``scipy.integrate.quad``) where none exists.
Checked:

1. fitted convergence orders in the number of panels n: 1 for left/right sums, 2 for the
   midpoint sum and the trapezoid rule, 4 for Simpson (fitted above the round-off floor);
2. Gauss-Legendre converges exponentially: a geometric rate per node well below 1, down to
   round-off with few nodes;
3. Monte Carlo's RMS error falls like n^(-1/2) in the sample count;
4. the fundamental theorem: d/dx integral_a^x f = f(x) (``jax.grad`` through the quadrature)
   at many points.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate

from experiments._schema import param
from mathml_jax import Claim, Report, plotting
from mathml_jax.calculus import (
    RULES,
    antiderivative_and_derivative,
    composite_rule_estimates,
    gauss_legendre_estimates,
    gauss_legendre_table,
    monte_carlo_running_estimates,
)
from mathml_jax.convergence import fitted_rate, fitted_slope
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Calculus / Integration: signed area and quadrature"

E = float(np.e)


def _exp(x):
    return jnp.exp(x)


def _signed(x):
    return jnp.exp(x) - (E - 1)


def _runge(x):
    return 1 / (1 + 25 * x * x)


def _exp_sin(x):
    return jnp.exp(jnp.sin(3 * x))


# name -> (f, NumPy f, label, (a, b), closed form or None)
CATALOGUE = {
    "exp": (_exp, np.exp, "e^x on [0, 1]", (0.0, 1.0), E - 1),
    "signed": (_signed, lambda x: np.exp(x) - (E - 1), "e^x - (e - 1) on [0, 1]", (0.0, 1.0),
               0.0),
    "runge": (_runge, lambda x: 1 / (1 + 25 * x * x), "1/(1 + 25x^2) on [0.1, 1.1]", (0.1, 1.1),
              float((np.arctan(5.5) - np.arctan(0.5)) / 5)),
    "exp_sin": (_exp_sin, lambda x: np.exp(np.sin(3 * x)), "exp(sin 3x) on [0, 2]", (0.0, 2.0),
                None),
}
# Distinct colours per rule (the shared palette hashes unknown names, and these collide).
RULE_COLORS = {"left": "#1f77b4", "right": "#9467bd", "midpoint": "#e377c2",
               "trapezoid": "#17becf", "simpson": "#2ca02c", "gauss": "#d62728",
               "monte carlo": "#8c564b"}
ORDER = {"left": 1, "right": 1, "midpoint": 2, "trapezoid": 2, "simpson": 4}


@dataclass
class Config:
    functions: list[str] = param(["exp", "signed", "runge", "exp_sin"],
                                 choices=tuple(CATALOGUE))
    max_panels_exponent: int = param(12, ge=4, le=20, help="panels n = 2, 4, ..., 2^this")
    gauss_max_nodes: int = param(40, ge=4, le=200)
    mc_max_samples_exponent: int = param(16, ge=6, le=24)
    mc_paths: int = param(64, ge=4, le=100_000, help="independent Monte Carlo paths")
    ftc_points: int = param(64, ge=1, le=100_000, help="points x of the fundamental theorem")
    ftc_nodes: int = param(64, ge=2, le=512, help="Gauss-Legendre nodes of integral_a^x f")
    fit_min_panels: int = param(16, ge=2, help="order fits start at this many panels")
    order_tol: float = param(0.15, gt=0, le=2)
    mc_slope_tol: float = param(0.1, gt=0, le=1)
    floor_ulps: float = param(1000.0, ge=1,
                              help="fits use errors above this many eps times int |f|")
    gauss_rate_max: float = param(0.7, gt=0, lt=1,
                                  help="Gauss-Legendre error must shrink at least this "
                                       "factor per node")
    ftc_ulps: float = param(100.0, gt=0, help="bound on |dF/dx - f| in eps max|f|")


def reference_integral(name: str) -> tuple[float, str]:
    _, fn, _, (a, b), closed = CATALOGUE[name]
    if closed is not None:
        return closed, "closed form"
    val, err = scipy.integrate.quad(fn, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)
    return float(val), f"scipy.integrate.quad (est. error {err:.1e})"


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("integration", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    ns = 2 ** np.arange(1, cfg.max_panels_exponent + 1)
    counts = np.arange(1, cfg.gauss_max_nodes + 1)
    t_gl, w_gl = gauss_legendre_table(counts)
    t_gl, w_gl = jnp.asarray(t_gl, dtype), jnp.asarray(w_gl, dtype)
    m = 2 ** np.arange(4, cfg.mc_max_samples_exponent + 1)
    keys = jax.random.split(ctx.key, len(cfg.functions))
    slopes = {r: {} for r in RULES}
    gl_rates, gl_final, mc_slopes, curves = {}, {}, {}, {}

    for fi, name in enumerate(cfg.functions):
        f, fn, label, (a, b), _ = CATALOGUE[name]
        exact, source = reference_integral(name)
        scale = max(1.0, scipy.integrate.quad(lambda x, g=fn: abs(g(x)), a, b, limit=200)[0])
        floor = cfg.floor_ulps * eps * scale
        report.metric(f"integral_{name}", exact)
        aa, bb = jnp.asarray(a, dtype), jnp.asarray(b, dtype)
        curves[name] = {}
        # Orders are measured in float64 whatever the run's precision: in float32 Simpson's
        # error reaches round-off after three doublings, too few for a fitted slope.
        with jax.enable_x64(True):
            est, t = timed(composite_rule_estimates, jnp.asarray(ns),
                           jnp.asarray(a, jnp.float64), jnp.asarray(b, jnp.float64), f=f,
                           n_max=int(ns[-1]))
        report.add_timing(f"composite_rules_{name}", t)
        floor64 = cfg.floor_ulps * float(jnp.finfo(jnp.float64).eps) * scale
        for r, rule in enumerate(RULES):
            err = np.abs(np.asarray(est, np.float64)[:, r] - exact)
            fit = (err > floor64) & (ns >= cfg.fit_min_panels)
            slopes[rule][name] = -fitted_slope(ns[fit], err[fit]) if fit.sum() >= 3 else np.nan
            curves[name][rule] = (ns, err, fit)
            report.add_series(f"errors_{name}", n=ns, **{rule: err})
            report.metric(f"order_{rule}_{name}", slopes[rule][name])
        est, t = timed(gauss_legendre_estimates, t_gl, w_gl, aa, bb, f=f)
        report.add_timing(f"gauss_{name}", t)
        err = np.abs(np.asarray(est, np.float64) - exact)
        pre = err > floor
        gl_rates[name] = fitted_rate(err[pre]) if pre.sum() >= 3 else 0.0
        gl_final[name] = (err.min() / (eps * scale), int(counts[np.argmax(err <= 100 * eps
                                                                          * scale)])
                          if (err <= 100 * eps * scale).any() else -1)
        curves[name]["gauss"] = (counts, err, pre)
        report.add_series(f"gauss_{name}", nodes=counts, error=err)
        report.metric(f"gauss_rate_{name}", gl_rates[name])

        run_est, t = timed(monte_carlo_running_estimates, keys[fi], aa, bb, f=f,
                           num_samples=int(m[-1]), num_paths=cfg.mc_paths)
        report.add_timing(f"monte_carlo_{name}", t)
        rms = np.sqrt(np.mean((np.asarray(run_est, np.float64)[:, m - 1] - exact) ** 2, axis=0))
        mc_slopes[name] = fitted_slope(m, rms)
        curves[name]["monte carlo"] = (m, rms, np.ones_like(m, bool))
        report.add_series(f"monte_carlo_{name}", samples=m, rms_error=rms)
        report.metric(f"mc_slope_{name}", mc_slopes[name])
        report.metric(f"reference_{name}", source)

    for rule in RULES:
        p = ORDER[rule]
        s = slopes[rule]
        worst = max(s, key=lambda k: abs(s[k] - p) if np.isfinite(s[k]) else np.inf)
        report.claim(Claim.close(
            f"{rule} rule has order {p}: worst fitted slope of error vs n over "
            f"{len(s)} functions", s[worst], p, tol=cfg.order_tol,
            detail=f"worst: {worst}; float64, n = {cfg.fit_min_panels}..{ns[-1]}, errors above "
                   f"{cfg.floor_ulps:g} eps"))
        report.metric(f"order_{rule}", float(np.nanmean(list(s.values()))),
                      key=rule in ("trapezoid", "simpson"))
    worst = max(gl_rates, key=gl_rates.get)
    report.claim(Claim.at_most(
        "Gauss-Legendre converges exponentially: worst fitted error ratio per added node",
        gl_rates[worst], cfg.gauss_rate_max, detail=f"worst: {worst}; e_m ~ C r^m"))
    worst_f = max(gl_final, key=lambda k: gl_final[k][0])
    report.claim(Claim.at_most(
        f"Gauss-Legendre reaches round-off with <= {cfg.gauss_max_nodes} nodes: worst "
        "smallest error / (eps int|f|)", gl_final[worst_f][0], 100,
        detail="nodes to reach 100 eps: " + ", ".join(f"{k} {v[1]}" for k, v in
                                                        gl_final.items())))
    worst = max(mc_slopes, key=lambda k: abs(mc_slopes[k] + 0.5))
    report.claim(Claim.close(
        "Monte Carlo RMS error ~ n^(-1/2): worst fitted slope over functions",
        mc_slopes[worst], -0.5, tol=cfg.mc_slope_tol,
        detail=f"{cfg.mc_paths} paths, n = 16..{m[-1]}"))

    # -- the fundamental theorem: d/dx int_a^x f = f(x)
    t_ftc, w_ftc = (jnp.asarray(v[0], dtype) for v in gauss_legendre_table([cfg.ftc_nodes]))
    k_ftc = jax.random.fold_in(ctx.key, 99)
    worst_ftc, ftc_curves = 0.0, {}
    for name in cfg.functions:
        f, fn, _, (a, b), _ = CATALOGUE[name]
        x = jax.random.uniform(k_ftc, (cfg.ftc_points,), dtype, a, b)
        (F, dF), t = timed(antiderivative_and_derivative, x, jnp.asarray(a, dtype), t_ftc,
                           w_ftc, f=f)
        report.add_timing(f"ftc_{name}", t)
        xd = np.asarray(x, np.float64)
        fmax = np.abs(fn(np.linspace(a, b, 1001))).max()
        e = np.abs(np.asarray(dF, np.float64) - fn(xd)).max() / (eps * max(1.0, fmax))
        worst_ftc = max(worst_ftc, e)
        ftc_curves[name] = (xd, np.asarray(F, np.float64), np.asarray(dF, np.float64))
        report.add_series(f"ftc_{name}", x=xd, F=np.asarray(F), dF=np.asarray(dF), f=fn(xd))
    report.claim(Claim.at_most(
        "fundamental theorem: d/dx int_a^x f(t) dt (jax.grad) = f(x); worst |dF/dx - f| / eps",
        worst_ftc, cfg.ftc_ulps,
        detail=f"{cfg.ftc_points} points x {len(cfg.functions)} functions; F by "
               f"{cfg.ftc_nodes}-node Gauss-Legendre; relative to max(1, max|f|)"))
    report.metric("ftc_max_error_ulps", worst_ftc, key=True)

    _figures(report, cfg, curves, slopes, gl_rates, ftc_curves)
    return report


def _figures(report, cfg, curves, slopes, gl_rates, ftc_curves):
    f, fn, label, (a, b), _ = CATALOGUE["signed"]
    fig, (ax1, ax2) = plotting.figure(
        "Signed area: the integral counts area below the axis as negative", ncols=2)
    xs = np.linspace(a, b, 400)
    ys = fn(xs)
    ax1.plot(xs, ys, color="black")
    ax1.fill_between(xs, ys, 0, where=ys >= 0, color="#2ca02c", alpha=0.4,
                     label=f"+ area {np.trapezoid(np.maximum(ys, 0), xs):.4f}")
    ax1.fill_between(xs, ys, 0, where=ys < 0, color="#d62728", alpha=0.4,
                     label=f"- area {np.trapezoid(np.minimum(ys, 0), xs):.4f}")
    ax1.axhline(0, color="gray", linewidth=0.8)
    ax1.set_title(f"{label}: integral = 0")
    ax1.set_xlabel("x")
    ax1.set_ylabel("f(x)")
    ax1.legend()
    # midpoint rectangles on the same function
    n = 8
    h = (b - a) / n
    mids = a + (np.arange(n) + 0.5) * h
    ax2.bar(mids, fn(mids), width=h, color=np.where(fn(mids) >= 0, "#2ca02c", "#d62728"),
            alpha=0.4, edgecolor="black", label=f"midpoint sum, n = {n}: "
                                                f"{h * fn(mids).sum():+.2e}")
    ax2.plot(xs, ys, color="black")
    ax2.axhline(0, color="gray", linewidth=0.8)
    ax2.set_title("Riemann (midpoint) rectangles: signed heights")
    ax2.set_xlabel("x")
    ax2.set_ylabel("f(x)")
    ax2.legend()
    report.add_figure("signed_area", fig)

    names = list(curves)
    fig, axes = plotting.figure(
        "Error against number of points: orders 1, 2, 4, exponential, and 1/2 for Monte Carlo",
        ncols=len(names), width=4.4, height=4.2)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        for rule, (x, err, fit) in curves[name].items():
            e = np.maximum(err, 1e-18)
            if rule == "gauss":
                ax.loglog(x, e, "s-", color=RULE_COLORS["gauss"], markersize=3,
                          label=f"Gauss-Legendre (x{gl_rates[name]:.2f} per node)")
            else:
                plotting.loglog_fit(ax, x, e, rule, name=rule, marker=".", fit_mask=fit)
                for line in ax.lines[-2:]:  # the data and its fitted line
                    line.set_color(RULE_COLORS[rule])
        ax.set_title(CATALOGUE[name][2], fontsize=10)
        ax.set_xlabel("points n (panels, nodes or samples)")
        ax.set_ylabel("|error|")
        ax.legend(fontsize=7, loc="lower left")
    report.add_figure("convergence", fig)

    fig, ax = plotting.figure("Fundamental theorem: the derivative of x -> int_a^x f is f")
    for name, (x, _, dF) in ftc_curves.items():
        o = np.argsort(x)
        fn = CATALOGUE[name][1]
        xs = np.linspace(x.min(), x.max(), 300)
        ax.plot(xs, fn(xs), color=plotting.color(name), label=f"f: {CATALOGUE[name][2]}")
        ax.plot(x[o], dF[o], "o", color=plotting.color(name), markersize=3, alpha=0.7)
    ax.plot([], [], "ko", markersize=3, label="jax.grad of x -> int_a^x f")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x) and dF/dx")
    ax.legend(fontsize=8)
    report.add_figure("fundamental_theorem", fig)
