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

The composite rules run in float64 whatever the run's precision (``runtime.in_float64``): in
float32 Simpson's error reaches round-off after three doublings, too few for a fitted slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate

from experiments._schema import param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.calculus import (
    RULES,
    antiderivative_and_derivative,
    composite_rule_estimates,
    gauss_legendre_estimates,
    gauss_legendre_table,
    monte_carlo_running_estimates,
)
from mathml_jax.convergence import fitted_rate, fitted_slope
from mathml_jax.runtime import RunContext, in_float64

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


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    eps: float               # round-off unit of the run (Gauss-Legendre, Monte Carlo, FTC)
    eps64: float             # round-off unit of the composite rules (always float64)
    panels: np.ndarray       # (k,) panel counts n of the composite rules
    nodes: np.ndarray        # (g,) Gauss-Legendre node counts
    samples: np.ndarray      # (s,) Monte Carlo sample counts where the RMS error is measured
    per_function: dict       # name -> exact, source, scale (max(1, int|f|)), fmax
                             # (max(1, max|f|)), composite {rule: (k,) |error|}, gauss_error,
                             # mc_rms_error, ftc {x, F, dF, f}


def reference_integral(name: str) -> tuple[float, str]:
    _, fn, _, (a, b), closed = CATALOGUE[name]
    if closed is not None:
        return closed, "closed form"
    val, err = scipy.integrate.quad(fn, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)
    return float(val), f"scipy.integrate.quad (est. error {err:.1e})"


# ----------------------------------------------------------------------------------- compute

def _composite_errors(ctx: RunContext, name: str, ns: np.ndarray, exact: float) -> dict:
    """|estimate - exact| of every composite rule at every panel count, computed in float64."""
    f, _, _, (a, b), _ = CATALOGUE[name]

    def estimates(ns, a, b):
        return ctx.timed(f"composite_rules_{name}", composite_rule_estimates, ns, a, b, f=f,
                         n_max=int(ns[-1]))

    est = np.asarray(in_float64(estimates, ns, a, b), np.float64)
    return {rule: np.abs(est[:, r] - exact) for r, rule in enumerate(RULES)}


def _ftc(cfg: Config, ctx: RunContext, name: str, table) -> dict:
    """F(x) = int_a^x f by Gauss-Legendre and dF/dx by jax.grad at random points x."""
    f, fn, _, (a, b), _ = CATALOGUE[name]
    x = jax.random.uniform(jax.random.fold_in(ctx.key, 99), (cfg.ftc_points,), ctx.dtype, a, b)
    F, dF = ctx.timed(f"ftc_{name}", antiderivative_and_derivative, x,
                      jnp.asarray(a, ctx.dtype), *table, f=f)
    xd = np.asarray(x, np.float64)
    return {"x": xd, "F": np.asarray(F, np.float64), "dF": np.asarray(dF, np.float64),
            "f": fn(xd)}


def _study(cfg: Config, ctx: RunContext, name: str, key, grids: tuple, tables: tuple) -> dict:
    """Every rule on one function: errors against the reference, and the fundamental theorem."""
    f, fn, _, (a, b), _ = CATALOGUE[name]
    ns, m = grids
    exact, source = reference_integral(name)
    aa, bb = jnp.asarray(a, ctx.dtype), jnp.asarray(b, ctx.dtype)
    gauss = ctx.timed(f"gauss_{name}", gauss_legendre_estimates, *tables[0], aa, bb, f=f)
    run_est = ctx.timed(f"monte_carlo_{name}", monte_carlo_running_estimates, key, aa, bb, f=f,
                        num_samples=int(m[-1]), num_paths=cfg.mc_paths)
    run_est = np.asarray(run_est, np.float64)[:, m - 1]
    return {
        "exact": exact, "source": source,
        "scale": max(1.0, scipy.integrate.quad(lambda x: abs(fn(x)), a, b, limit=200)[0]),
        "fmax": max(1.0, float(np.abs(fn(np.linspace(a, b, 1001))).max())),
        "composite": _composite_errors(ctx, name, ns, exact),
        "gauss_error": np.abs(np.asarray(gauss, np.float64) - exact),
        "mc_rms_error": np.sqrt(np.mean((run_est - exact) ** 2, axis=0)),
        "ftc": _ftc(cfg, ctx, name, tables[1]),
    }


def compute(cfg: Config, ctx: RunContext) -> Results:
    ns = 2 ** np.arange(1, cfg.max_panels_exponent + 1)
    counts = np.arange(1, cfg.gauss_max_nodes + 1)
    m = 2 ** np.arange(4, cfg.mc_max_samples_exponent + 1)
    gauss = tuple(jnp.asarray(v, ctx.dtype) for v in gauss_legendre_table(counts))
    ftc = tuple(jnp.asarray(v[0], ctx.dtype) for v in gauss_legendre_table([cfg.ftc_nodes]))
    keys = jax.random.split(ctx.key, len(cfg.functions))
    per = {}
    for fi, name in enumerate(cfg.functions):
        per[name] = _study(cfg, ctx, name, keys[fi], (ns, m), (gauss, ftc))
        ctx.progress("integration", fi + 1, len(cfg.functions))
    return Results(eps=ctx.eps, eps64=ctx.eps_for(jnp.float64), panels=ns, nodes=counts,
                   samples=m, per_function=per)


# ------------------------------------------------------------------- fits (NumPy, all phases)

def _order_fit_mask(cfg: Config, r: Results, p: dict, err: np.ndarray) -> np.ndarray:
    """The panel counts an order is fitted on: n >= fit_min_panels, error above the floor."""
    return (err > cfg.floor_ulps * r.eps64 * p["scale"]) & (r.panels >= cfg.fit_min_panels)


def _orders(cfg: Config, r: Results) -> dict:
    """rule -> function -> fitted order (minus the slope of log error against log n)."""
    out = {rule: {} for rule in RULES}
    for name, p in r.per_function.items():
        for rule in RULES:
            err = p["composite"][rule]
            fit = _order_fit_mask(cfg, r, p, err)
            out[rule][name] = (-fitted_slope(r.panels[fit], err[fit]) if fit.sum() >= 3
                               else float("nan"))
    return out


def _gauss_rate(cfg: Config, r: Results, p: dict) -> float:
    """Fitted error ratio per added node, on the errors above the round-off floor."""
    pre = p["gauss_error"] > cfg.floor_ulps * r.eps * p["scale"]
    return fitted_rate(p["gauss_error"][pre]) if pre.sum() >= 3 else 0.0


def _ftc_errors(r: Results) -> dict:
    """name -> |dF/dx - f(x)| / max(1, max|f|) at each point."""
    return {k: np.abs(p["ftc"]["dF"] - p["ftc"]["f"]) / p["fmax"]
            for k, p in r.per_function.items()}


# ------------------------------------------------------------------------------------ claims

def _order_claims(cfg: Config, r: Results) -> list[Claim]:
    out = []
    for rule, slopes in _orders(cfg, r).items():
        p = ORDER[rule]
        names = list(slopes)
        _, worst = tol.worst([abs(slopes[k] - p) for k in names], names)
        out.append(Claim.close(
            f"{rule} rule has order {p}: worst fitted slope of error vs n over the functions",
            slopes[worst], p, tol.absolute(cfg.order_tol, "order_tol"), id=f"order_{rule}",
            worst=worst, reference="closed form or scipy.integrate.quad (float64)",
            detail=f"float64, n = {cfg.fit_min_panels}..{r.panels[-1]}, errors above "
                   f"{cfg.floor_ulps:g} eps int|f|; {len(names)} functions"))
    return out


def _gauss_claims(cfg: Config, r: Results) -> list[Claim]:
    names = list(r.per_function)
    rate, worst = tol.worst([_gauss_rate(cfg, r, r.per_function[k]) for k in names], names)
    best = {k: p["gauss_error"].min() / p["scale"] for k, p in r.per_function.items()}
    floor, where = tol.worst(list(best.values()), names)
    reached = {k: (int(r.nodes[np.argmax(ok)]) if ok.any() else -1) for k, ok in (
        (k, p["gauss_error"] <= 100 * r.eps * p["scale"]) for k, p in r.per_function.items())}
    return [
        Claim.at_most("Gauss-Legendre converges exponentially: worst fitted error ratio per "
                      "added node", rate, tol.absolute(cfg.gauss_rate_max, "gauss_rate_max"),
                      id="gauss_exponential", worst=worst, detail="e_m ~ C r^m",
                      reference="closed form or scipy.integrate.quad (float64)"),
        Claim.at_most("Gauss-Legendre reaches round-off within the node budget: worst smallest "
                      "error / int|f|", floor, tol.roundoff(100, r.eps), id="gauss_roundoff",
                      worst=where, reference="closed form or scipy.integrate.quad (float64)",
                      detail=f"<= {cfg.gauss_max_nodes} nodes; nodes to reach 100 eps: "
                             + ", ".join(f"{k} {v}" for k, v in reached.items())),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    names = list(r.per_function)
    mc = [fitted_slope(r.samples, r.per_function[k]["mc_rms_error"]) for k in names]
    _, worst_mc = tol.worst([abs(s + 0.5) for s in mc], names)
    ftc = _ftc_errors(r)
    ftc_err, ftc_where = tol.worst(np.concatenate(list(ftc.values())),
                                   [f"{k}, x = {x:.4g}" for k, p in r.per_function.items()
                                    for x in p["ftc"]["x"]])
    return _order_claims(cfg, r) + _gauss_claims(cfg, r) + [
        Claim.close("Monte Carlo RMS error ~ n^(-1/2): worst fitted slope over functions",
                    mc[names.index(worst_mc)], -0.5,
                    tol.absolute(cfg.mc_slope_tol, "mc_slope_tol"), id="monte_carlo_rate",
                    worst=worst_mc, reference="central limit theorem: slope -1/2",
                    detail=f"{cfg.mc_paths} paths, n = {r.samples[0]}..{r.samples[-1]}"),
        Claim.at_most("fundamental theorem: d/dx int_a^x f(t) dt (jax.grad) = f(x); worst "
                      "|dF/dx - f| / max(1, max|f|)", ftc_err, tol.roundoff(cfg.ftc_ulps, r.eps),
                      id="fundamental_theorem", worst=ftc_where,
                      reference="the integrand f(x) in NumPy float64",
                      detail=f"{cfg.ftc_points} points x {len(names)} functions; F by "
                             f"{cfg.ftc_nodes}-node Gauss-Legendre"),
    ]


def metrics(cfg: Config, r: Results) -> dict:
    orders, out = _orders(cfg, r), {}
    for name, p in r.per_function.items():
        out[f"integral_{name}"] = p["exact"]
        out.update({f"order_{rule}_{name}": orders[rule][name] for rule in RULES})
        out[f"gauss_rate_{name}"] = _gauss_rate(cfg, r, p)
        out[f"mc_slope_{name}"] = fitted_slope(r.samples, p["mc_rms_error"])
        out[f"reference_{name}"] = p["source"]
    out.update({f"order_{rule}": float(np.nanmean(list(orders[rule].values())))
                for rule in RULES})
    out["ftc_max_error_ulps"] = max(float(e.max()) for e in _ftc_errors(r).values()) / r.eps
    return out


KEY_METRICS = ("order_trapezoid", "order_simpson", "ftc_max_error_ulps")


# ----------------------------------------------------------------------------------- figures
def signed_area(cfg: Config, r: Results):
    _, fn, label, (a, b), _ = CATALOGUE["signed"]
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
    return fig


def _convergence_panel(ax, cfg: Config, r: Results, name: str) -> None:
    p = r.per_function[name]
    for rule in RULES:
        err = p["composite"][rule]
        plotting.loglog_fit(ax, r.panels, np.maximum(err, 1e-18), rule, name=rule, marker=".",
                            fit_mask=_order_fit_mask(cfg, r, p, err))
        for line in ax.lines[-2:]:  # the data and its fitted line
            line.set_color(RULE_COLORS[rule])
    ax.loglog(r.nodes, np.maximum(p["gauss_error"], 1e-18), "s-", color=RULE_COLORS["gauss"],
              markersize=3, label=f"Gauss-Legendre (x{_gauss_rate(cfg, r, p):.2f} per node)")
    plotting.loglog_fit(ax, r.samples, np.maximum(p["mc_rms_error"], 1e-18), "monte carlo",
                        name="monte carlo", marker=".")
    for line in ax.lines[-2:]:
        line.set_color(RULE_COLORS["monte carlo"])
    ax.set_title(CATALOGUE[name][2], fontsize=10)
    ax.set_xlabel("points n (panels, nodes or samples)")
    ax.set_ylabel("|error|")
    ax.legend(fontsize=7, loc="lower left")


def convergence(cfg: Config, r: Results):
    names = list(r.per_function)
    fig, axes = plotting.figure(
        "Error against number of points: orders 1, 2, 4, exponential, and 1/2 for Monte Carlo",
        ncols=len(names), width=4.4, height=4.2)
    for ax, name in zip(np.atleast_1d(axes), names, strict=True):
        _convergence_panel(ax, cfg, r, name)
    return fig


def fundamental_theorem(cfg: Config, r: Results):
    fig, ax = plotting.figure("Fundamental theorem: the derivative of x -> int_a^x f is f")
    for name, p in r.per_function.items():
        x, dF = p["ftc"]["x"], p["ftc"]["dF"]
        o = np.argsort(x)
        fn = CATALOGUE[name][1]
        xs = np.linspace(x.min(), x.max(), 300)
        ax.plot(xs, fn(xs), color=plotting.color(name), label=f"f: {CATALOGUE[name][2]}")
        ax.plot(x[o], dF[o], "o", color=plotting.color(name), markersize=3, alpha=0.7)
    ax.plot([], [], "ko", markersize=3, label="jax.grad of x -> int_a^x f")
    ax.set_xlabel("x")
    ax.set_ylabel("f(x) and dF/dx")
    ax.legend(fontsize=8)
    return fig


FIGURES = (signed_area, convergence, fundamental_theorem)
