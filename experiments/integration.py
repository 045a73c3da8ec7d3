"""``integration``: the integral as signed area, and how fast each rule finds it.

Riemann sums (left, right, midpoint), the trapezoid rule, Simpson's rule, Gauss-Legendre and
plain Monte Carlo integrate functions with known integrals, one of them with integral zero
because the area below the axis cancels the area above (signed area). Reference values are
closed forms, or SciPy's adaptive quadrature (``scipy.integrate.quad``) where none exists.
Checked:

1. fitted convergence orders in the number of panels n: 1 for left/right sums, 2 for the
   midpoint sum and the trapezoid rule, 4 for Simpson (fitted above the round-off floor);
2. Gauss-Legendre: for e^x the error obeys the closed-form error formula K_m f^(2m)(xi) with
   f^(2m)(xi) in [1, e]; for the Runge function it falls geometrically at rho^-2 per node,
   rho the Bernstein ellipse through its poles (a regression z-score); all reach round-off;
3. Monte Carlo: unbiased (z-score), RMS error slope -1/2 (bootstrap SE over paths), and error
   size sigma^2 / n (an exact chi^2 test, sigma^2 by scipy);
4. the integral F(x) = int_a^x f matches scipy's quadrature, and the fundamental theorem:
   d/dx F = f(x) (``jax.grad`` through the quadrature) at many points.

The composite rules and Gauss-Legendre run in float64 whatever the run's precision
(``runtime.in_float64``): in float32 Simpson's error reaches round-off after three doublings,
and Gauss-Legendre after five nodes, too few for a fitted order or rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
import scipy.stats
from scipy.special import gammaln

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
from mathml_jax.convergence import fitted_slope
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
    "exp": (_exp, np.exp, r"$e^x$ on $[0, 1]$", (0.0, 1.0), E - 1),
    "signed": (_signed, lambda x: np.exp(x) - (E - 1), r"$e^x - (e - 1)$ on $[0, 1]$", (0.0, 1.0),
               0.0),
    "runge": (_runge, lambda x: 1 / (1 + 25 * x * x), r"$1/(1 + 25x^2)$ on $[0.1, 1.1]$",
              (0.1, 1.1), float((np.arctan(5.5) - np.arctan(0.5)) / 5)),
    "exp_sin": (_exp_sin, lambda x: np.exp(np.sin(3 * x)), r"$e^{\sin 3x}$ on $[0, 2]$", (0.0, 2.0),
                None),
}
ORDER = {"left": 1, "right": 1, "midpoint": 2, "trapezoid": 2, "simpson": 4}


@dataclass
class Config:
    functions: list[str] = param(["exp", "signed", "runge", "exp_sin"],
                                 choices=tuple(CATALOGUE))
    max_panels_exponent: int = param(12, ge=4, le=20, help="panels n = 2, 4, ..., 2^this")
    gauss_max_nodes: int = param(40, ge=8, le=200)
    mc_max_samples_exponent: int = param(16, ge=6, le=24)
    mc_paths: int = param(64, ge=8, le=100_000, help="independent Monte Carlo paths")
    ftc_points: int = param(64, ge=1, le=100_000, help="points x of the fundamental theorem")
    ftc_nodes: int = param(64, ge=2, le=512, help="Gauss-Legendre nodes of integral_a^x f")
    fit_min_panels: int = param(16, ge=2, le=2**20, help="order fits start at this many panels")
    order_tol: float = param(0.05, gt=0, le=1,
                             tolerance=True,
                             help="|fitted order - p|: the next term of the error expansion")
    floor_ulps: float = param(1000.0, ge=1,
                              le=1e6, tolerance=True,
                              help="fits use errors above this many eps times int |f|")
    z_max: float = param(4.0, gt=0, le=20, tolerance=True,
                         help="bound on z-scores (regression, bootstrap, sampling)")
    chi2_alpha: float = param(1e-4, gt=0, lt=0.5, tolerance=True,
                              help="two-sided tail of the MSE chi^2 test")
    ftc_ulps: float = param(20.0, gt=0, le=1e4, tolerance=True,
                            help="bound on |dF/dx - f| in eps max|f|")
    antiderivative_ulps: float = param(20.0, gt=0, le=1e4, tolerance=True,
                                       help="bound on |F - quad| in eps int|f|")


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    eps: float               # round-off unit of the run (Monte Carlo, F and dF/dx)
    eps64: float             # round-off unit of the composite rules and Gauss (float64)
    panels: np.ndarray       # (k,) panel counts n of the composite rules
    nodes: np.ndarray        # (g,) Gauss-Legendre node counts
    samples: np.ndarray      # (s,) Monte Carlo sample counts where the error is measured
    per_function: dict       # name -> exact, source, scale (max(1, int|f|)), fmax
                             # (max(1, max|f|)), sigma (sd of (b - a) f(U)), composite
                             # {rule: (k,) |error|}, gauss_signed (g,) exact - estimate,
                             # mc_error (paths, s) estimate - exact, ftc {x, F, F_ref, dF, f}


def reference_integral(name: str) -> tuple[float, str]:
    _, fn, _, (a, b), closed = CATALOGUE[name]
    if closed is not None:
        return closed, "closed form"
    val, err = scipy.integrate.quad(fn, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)
    return float(val), f"scipy.integrate.quad (est. error {err:.1e})"


def _quad(fn, a, b) -> float:
    return scipy.integrate.quad(fn, a, b, epsabs=1e-13, epsrel=1e-13, limit=200)[0]


# ----------------------------------------------------------------------------------- compute

def _composite_errors(ctx: RunContext, name: str, ns: np.ndarray, exact: float) -> dict:
    """|estimate - exact| of every composite rule at every panel count, computed in float64."""
    f, _, _, (a, b), _ = CATALOGUE[name]

    def estimates(ns, a, b):
        return ctx.timed(f"composite_rules_{name}", composite_rule_estimates, ns, a, b, f=f,
                         n_max=int(ns[-1]))

    est = np.asarray(in_float64(estimates, ns, a, b), np.float64)
    return {rule: np.abs(est[:, r] - exact) for r, rule in enumerate(RULES)}


def _gauss(ctx: RunContext, name: str, counts: np.ndarray, exact: float) -> np.ndarray:
    """exact - Gauss-Legendre estimate with 1..max nodes, in float64 like the composite rules
    (so that every rule of the convergence figure meets the same round-off floor)."""
    f, _, _, (a, b), _ = CATALOGUE[name]

    def estimates(t, w, a, b):
        return ctx.timed(f"gauss_{name}", gauss_legendre_estimates, t, w, a, b, f=f)

    t, w = gauss_legendre_table(counts)
    return exact - np.asarray(in_float64(estimates, t, w, a, b), np.float64)


def _ftc(cfg: Config, ctx: RunContext, name: str, table) -> dict:
    """F(x) = int_a^x f by Gauss-Legendre and dF/dx by jax.grad at random points x, with
    scipy.integrate.quad's F as the reference."""
    f, fn, _, (a, b), _ = CATALOGUE[name]
    x = jax.random.uniform(jax.random.fold_in(ctx.key, 99), (cfg.ftc_points,), ctx.dtype, a, b)
    F, dF = ctx.timed(f"ftc_{name}", antiderivative_and_derivative, x,
                      jnp.asarray(a, ctx.dtype), *table, f=f)
    xd = np.asarray(x, np.float64)
    return {"x": xd, "F": np.asarray(F, np.float64), "dF": np.asarray(dF, np.float64),
            "f": fn(xd), "F_ref": np.array([_quad(fn, a, xi) for xi in xd])}


def _study(cfg: Config, ctx: RunContext, name: str, key, grids: tuple, table) -> dict:
    """Every rule on one function: errors against the reference, and the fundamental theorem."""
    f, fn, _, (a, b), _ = CATALOGUE[name]
    ns, counts, m = grids
    exact, source = reference_integral(name)
    aa, bb = jnp.asarray(a, ctx.dtype), jnp.asarray(b, ctx.dtype)
    run_est = ctx.timed(f"monte_carlo_{name}", monte_carlo_running_estimates, key, aa, bb, f=f,
                        num_samples=int(m[-1]), num_paths=cfg.mc_paths)
    run_est = np.asarray(run_est, np.float64)[:, m - 1]
    mean_sq = _quad(lambda x: fn(x) ** 2, a, b) / (b - a)
    return {
        "exact": exact, "source": source,
        "scale": max(1.0, _quad(lambda x: abs(fn(x)), a, b)),
        "fmax": max(1.0, float(np.abs(fn(np.linspace(a, b, 1001))).max())),
        "sigma": (b - a) * np.sqrt(max(mean_sq - (exact / (b - a)) ** 2, 0.0)),
        "composite": _composite_errors(ctx, name, ns, exact),
        "gauss_signed": _gauss(ctx, name, counts, exact),
        "mc_error": run_est - exact,
        "ftc": _ftc(cfg, ctx, name, table),
    }


def compute(cfg: Config, ctx: RunContext) -> Results:
    ns = 2 ** np.arange(1, cfg.max_panels_exponent + 1)
    counts = np.arange(1, cfg.gauss_max_nodes + 1)
    m = 2 ** np.arange(4, cfg.mc_max_samples_exponent + 1)
    ftc = tuple(jnp.asarray(v[0], ctx.dtype) for v in gauss_legendre_table([cfg.ftc_nodes]))
    keys = jax.random.split(ctx.key, len(cfg.functions))
    per = {}
    for fi, name in enumerate(cfg.functions):
        per[name] = _study(cfg, ctx, name, keys[fi], (ns, counts, m), ftc)
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


def _gauss_mask(cfg: Config, r: Results, p: dict) -> np.ndarray:
    """Node counts m >= 2 whose error is above the round-off floor (fits use these)."""
    return (np.abs(p["gauss_signed"]) > cfg.floor_ulps * r.eps64 * p["scale"]) & (r.nodes >= 2)


def _gauss_rate(cfg: Config, r: Results, p: dict) -> tuple[float, float]:
    """ln of the fitted error ratio per added node and its regression SE (nan if < 4 points)."""
    ok = _gauss_mask(cfg, r, p)
    if ok.sum() < 4:
        return float("nan"), float("nan")
    c, cov = np.polyfit(r.nodes[ok], np.log(np.abs(p["gauss_signed"][ok])), 1, cov=True)
    return float(c[0]), float(np.sqrt(cov[0, 0]))


def _gauss_constant(L: float, m: np.ndarray) -> np.ndarray:
    """K_m = L^(2m+1) (m!)^4 / ((2m+1) ((2m)!)^3): exact - Gauss = K_m f^(2m)(xi)."""
    return np.exp((2 * m + 1) * np.log(L) + 4 * gammaln(m + 1) - np.log(2 * m + 1)
                  - 3 * gammaln(2 * m + 1))


def _gauss_formula_ratios(cfg: Config, r: Results) -> dict:
    """For e^x-type integrands (f^(2m) = e^x): (exact - G_m) / K_m, in [1, e] by the error
    formula, at the node counts above round-off."""
    out = {}
    for name in ("exp", "signed"):
        if name in r.per_function:
            p, (a, b) = r.per_function[name], CATALOGUE[name][3]
            K = _gauss_constant(b - a, r.nodes)  # underflows to 0 for many nodes: not used
            ok = ((np.abs(p["gauss_signed"]) > cfg.floor_ulps * r.eps64 * p["scale"])
                  & (K > np.finfo(np.float64).tiny))
            out[name] = p["gauss_signed"][ok] / K[ok]
    return out


def _mc_rms(p: dict) -> np.ndarray:
    return np.sqrt(np.mean(p["mc_error"] ** 2, axis=0))


def _mc_slope_z(cfg: Config, r: Results, p: dict, reps: int = 200) -> tuple[float, float]:
    """Fitted slope of the RMS error against n, and its bootstrap SE over paths."""
    slope = fitted_slope(r.samples, _mc_rms(p))
    rng = np.random.default_rng(0)
    P = p["mc_error"].shape[0]
    boot = [fitted_slope(r.samples, _mc_rms({"mc_error": p["mc_error"][rng.integers(0, P, P)]}))
            for _ in range(reps)]
    return slope, float(np.std(boot, ddof=1))


def _ftc_errors(r: Results) -> dict:
    """name -> |dF/dx - f(x)| / max(1, max|f|) at each point."""
    return {k: np.abs(p["ftc"]["dF"] - p["ftc"]["f"]) / p["fmax"]
            for k, p in r.per_function.items()}


# ------------------------------------------------------------------------------------ claims

REF = "closed form or scipy.integrate.quad (float64)"


def _order_claims(cfg: Config, r: Results) -> list[Claim]:
    out = []
    for rule, slopes in _orders(cfg, r).items():
        p = ORDER[rule]
        names = list(slopes)
        _, worst = tol.worst([abs(slopes[k] - p) for k in names], names)
        out.append(Claim.close(
            f"{rule} rule has order {p}: worst fitted slope of error vs n over the functions",
            slopes[worst], p, tol.absolute(cfg.order_tol, "order_tol: the next term of the "
                                           "error expansion bends the fitted slope"),
            id=f"order_{rule}", worst=worst, reference=f"theory: order {p}; errors against {REF}",
            detail=f"float64, n = {cfg.fit_min_panels}..{r.panels[-1]}, errors above "
                   f"{cfg.floor_ulps:g} eps int|f|; {len(names)} functions"))
    return out


def _gauss_claims(cfg: Config, r: Results) -> list[Claim]:
    out = []
    ratios = _gauss_formula_ratios(cfg, r)
    if ratios:
        labels = [f"{k}, m = {j + 1}" for k, v in ratios.items() for j in range(v.size)]
        vals = np.concatenate(list(ratios.values()))
        dist = np.minimum(vals - 1, E - vals)
        i = int(np.argmin(dist))
        out.append(Claim.within(
            "Gauss-Legendre error formula: (exact - G_m) / K_m = f^(2m)(xi) lies in "
            "[min f^(2m), max f^(2m)] = [1, e] for e^x on [0, 1]", vals[i], 1.0, E,
            id="gauss_error_formula", worst=labels[i],
            reference="K_m = L^(2m+1) (m!)^4 / ((2m+1) ((2m)!)^3) (closed form); " + REF,
            detail=f"{vals.size} node counts above {cfg.floor_ulps:g} eps int|f|"))
    if "runge" in r.per_function:
        (a, b) = CATALOGUE["runge"][3]
        z = (complex(0.0, 0.2) - (a + b) / 2) / ((b - a) / 2)  # the pole x = i/5 on [-1, 1]
        rho = abs(z + np.sqrt(z * z - 1 + 0j))
        rho = max(rho, 1 / rho)
        log_rate, se = _gauss_rate(cfg, r, r.per_function["runge"])
        out.append(Claim.close(
            "Gauss-Legendre converges geometrically at rate rho^-2 per node for the Runge "
            "function (rho: the Bernstein ellipse through its poles): ln of fitted rate",
            log_rate, -2 * np.log(rho), tol.standard_errors(cfg.z_max, se, what="regression SE"),
            id="gauss_rate_runge", worst="runge",
            reference=f"theory: rho = {rho:.4f} from the poles x = +-i/5; errors against {REF}",
            detail=f"fitted on m >= 2 above {cfg.floor_ulps:g} eps int|f|"))
    names = list(r.per_function)
    last = [abs(r.per_function[k]["gauss_signed"][-1]) / r.per_function[k]["scale"]
            for k in names]
    floor, where = tol.worst(last, names)
    out.append(Claim.at_most(
        "Gauss-Legendre reaches round-off within the node budget: worst |error| / int|f| at "
        "the largest node count", floor, tol.roundoff(1, r.eps64, n=int(r.nodes[-1])),
        id="gauss_roundoff", worst=where, reference=REF,
        detail=f"float64, {r.nodes[-1]} nodes (a sum of n terms)"))
    return out


def _mc_claims(cfg: Config, r: Results) -> list[Claim]:
    names = list(r.per_function)
    P = next(iter(r.per_function.values()))["mc_error"].shape[0]
    final = [r.per_function[k]["mc_error"][:, -1] for k in names]
    z = [abs(e.mean()) / (e.std(ddof=1) / np.sqrt(P)) for e in final]
    zb, zw = tol.worst(z, names)
    fits = [_mc_slope_z(cfg, r, r.per_function[k]) for k in names]
    zs, sw = tol.worst([abs(s + 0.5) / se for s, se in fits], names)
    lo, hi = scipy.stats.chi2.ppf([cfg.chi2_alpha / 2, 1 - cfg.chi2_alpha / 2], P)
    stat = [P * np.mean(e ** 2) / (r.per_function[k]["sigma"] ** 2 / r.samples[-1])
            for k, e in zip(names, final, strict=True)]
    i = int(np.argmin([min(s - lo, hi - s) for s in stat]))
    return [
        Claim.at_most("Monte Carlo is unbiased: worst |z| of the mean final estimate over "
                      "paths", zb, tol.sigmas(cfg.z_max), id="monte_carlo_unbiased", worst=zw,
                      reference=REF, detail=f"{P} paths of n = {r.samples[-1]} samples"),
        Claim.at_most("Monte Carlo RMS error ~ n^(-1/2): worst |fitted slope + 1/2| in "
                      "bootstrap SE (paths resampled)", zs, tol.sigmas(cfg.z_max),
                      id="monte_carlo_rate", worst=sw,
                      reference="central limit theorem: slope -1/2",
                      detail=f"{P} paths, n = {r.samples[0]}..{r.samples[-1]}; slope "
                             f"{fits[names.index(sw)][0]:.3f}"),
        Claim.within("Monte Carlo error size: P MSE / (sigma^2 / n) ~ chi^2_P at the largest n "
                     "(sigma^2 = Var (b - a) f(U) by quad)", stat[i], lo, hi,
                     id="monte_carlo_error_size", worst=names[i],
                     reference="scipy.integrate.quad variance; chi^2_P exact quantiles",
                     detail=f"two-sided tail {cfg.chi2_alpha:g}, P = {P}"),
    ]


def _ftc_claims(cfg: Config, r: Results) -> list[Claim]:
    names = list(r.per_function)
    where = [f"{k}, x = {x:.4g}" for k, p in r.per_function.items() for x in p["ftc"]["x"]]
    ftc_err, ftc_where = tol.worst(np.concatenate(list(_ftc_errors(r).values())), where)
    F_err, F_where = tol.worst(np.concatenate(
        [np.abs(p["ftc"]["F"] - p["ftc"]["F_ref"]) / p["scale"] for p in r.per_function.values()]),
        where)
    return [
        Claim.at_most("the antiderivative: F(x) = int_a^x f by Gauss-Legendre matches "
                      "quadrature; worst |F - F_ref| / max(1, int|f|)", F_err,
                      tol.roundoff(cfg.antiderivative_ulps, r.eps), id="antiderivative",
                      worst=F_where, reference="scipy.integrate.quad of int_a^x f (float64)",
                      detail=f"{cfg.ftc_points} points x {len(names)} functions, "
                             f"{cfg.ftc_nodes} nodes"),
        Claim.at_most("fundamental theorem: d/dx int_a^x f(t) dt (jax.grad) = f(x); worst "
                      "|dF/dx - f| / max(1, max|f|)", ftc_err, tol.roundoff(cfg.ftc_ulps, r.eps),
                      id="fundamental_theorem", worst=ftc_where,
                      reference="the integrand f(x) in NumPy float64",
                      detail=f"{cfg.ftc_points} points x {len(names)} functions; F by "
                             f"{cfg.ftc_nodes}-node Gauss-Legendre"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    return (_order_claims(cfg, r) + _gauss_claims(cfg, r) + _mc_claims(cfg, r)
            + _ftc_claims(cfg, r))


def metrics(cfg: Config, r: Results) -> dict:
    orders, out = _orders(cfg, r), {}
    for name, p in r.per_function.items():
        out[f"integral_{name}"] = p["exact"]
        out.update({f"order_{rule}_{name}": orders[rule][name] for rule in RULES})
        out[f"gauss_rate_{name}"] = float(np.exp(_gauss_rate(cfg, r, p)[0]))
        out[f"mc_slope_{name}"] = fitted_slope(r.samples, _mc_rms(p))
        out[f"reference_{name}"] = p["source"]
    out.update({f"order_{rule}": float(np.nanmean(list(orders[rule].values())))
                for rule in RULES})
    out["ftc_max_error_ulps"] = max(float(e.max()) for e in _ftc_errors(r).values()) / r.eps
    return out


KEY_METRICS = ("order_trapezoid", "order_simpson", "ftc_max_error_ulps")


# ----------------------------------------------------------------------------------- figures
def signed_area(cfg: Config, r: Results):
    """The integral is a signed area: area below the axis counts as negative, so a function whose
    areas above and below cancel integrates to zero, rectangle by rectangle in the midpoint
    sum."""
    _, fn, label, (a, b), _ = CATALOGUE["signed"]
    fig, (ax1, ax2) = plotting.figure(
        "Signed area: the integral counts area below the axis as negative", ncols=2)
    xs = np.linspace(a, b, 400)
    ys = fn(xs)
    ax1.plot(xs, ys, color="black")
    ax1.fill_between(xs, ys, 0, where=ys >= 0, color="#2ca02c", alpha=0.4,
                     label=f"area above the axis: {np.trapezoid(np.maximum(ys, 0), xs):+.4f}")
    ax1.fill_between(xs, ys, 0, where=ys < 0, color="#d62728", alpha=0.4,
                     label=f"area below the axis: {np.trapezoid(np.minimum(ys, 0), xs):+.4f}")
    ax1.axhline(0, color="black", linewidth=0.8)
    ax1.set_title(f"{label}: integral = 0")
    ax1.set_xlabel("$x$")
    ax1.set_ylabel("$f(x)$")
    ax1.legend(loc="upper left")
    n = 8
    h = (b - a) / n
    mids = a + (np.arange(n) + 0.5) * h
    ax2.bar(mids, fn(mids), width=h, color=np.where(fn(mids) >= 0, "#2ca02c", "#d62728"),
            alpha=0.4, edgecolor="black", label=f"midpoint sum, $n = {n}$: "
                                                f"{h * fn(mids).sum():+.2e}")
    ax2.plot(xs, ys, color="black")
    ax2.axhline(0, color="black", linewidth=0.8)
    ax2.set_title("midpoint rectangles: signed heights")
    ax2.set_xlabel("$x$")
    ax2.set_ylabel("$f(x)$")
    ax2.legend(loc="upper left")
    return fig


def _range(values) -> str:
    v = np.asarray([x for x in values if np.isfinite(x)])
    return "n/a" if v.size == 0 else (f"{v.min():.2f}" if np.ptp(v) < 0.005
                                      else f"{v.min():.2f} to {v.max():.2f}")


HUMAN = {"left": "left sum", "right": "right sum", "midpoint": "midpoint sum",
         "trapezoid": "trapezoid", "simpson": "Simpson"}


def _legend_labels(cfg: Config, r: Results) -> dict:
    orders = _orders(cfg, r)
    out = {rule: f"{HUMAN[rule]}, panels (order {ORDER[rule]}; fitted "
                 f"{_range(orders[rule].values())})" for rule in RULES}
    out["gauss"] = "Gauss-Legendre, nodes (faster than any power of $n$)"
    if "runge" in r.per_function:
        rate = np.exp(_gauss_rate(cfg, r, r.per_function["runge"])[0])
        out["gauss"] += f"; Runge: ×{rate:.2f} per node"
    slopes = [fitted_slope(r.samples, _mc_rms(p)) for p in r.per_function.values()]
    P = next(iter(r.per_function.values()))["mc_error"].shape[0]
    out["monte carlo"] = f"Monte Carlo RMS over {P} paths, samples (slope {_range(slopes)})"
    return out


STYLE = {"left": ("o", "-"), "right": ("x", "--"), "midpoint": ("^", "-"),
         "trapezoid": ("v", "--"), "simpson": ("D", "-")}


def _convergence_panel(ax, cfg: Config, r: Results, name: str, labels: dict) -> None:
    p = r.per_function[name]
    floor = 1e-17
    for rule in RULES:
        marker, ls = STYLE[rule]
        ax.loglog(r.panels, np.maximum(p["composite"][rule], floor), marker=marker,
                  linestyle=ls, color=plotting.color(rule), markersize=5, mfc="none",
                  label=labels[rule])
    # an exact 0 is drawn at the floor, as for the panel rules (never a NaN skipped silently)
    ax.loglog(r.nodes, np.maximum(np.abs(p["gauss_signed"]), floor), "s-",
              color=plotting.color("gauss"), markersize=3, label=labels["gauss"])
    ax.loglog(r.samples, _mc_rms(p), ".-", color=plotting.color("monte carlo"),
              label=labels["monte carlo"])
    if name == "runge":
        ok = _gauss_mask(cfg, r, p)
        m0 = r.nodes[ok][0]
        theory = np.abs(p["gauss_signed"][ok][0]) * 0.2 ** (r.nodes - m0)
        keep = theory > floor
        plotting.theory_line(ax, r.nodes[keep], theory[keep],
                             r"theory: Gauss on Runge, $\times\rho^{-2} = 0.2$ per node")
    ax.axhline(r.eps64 * p["scale"], color="black", linestyle=":", linewidth=1,
               label=r"round-off: $\epsilon \int|f|$ in float64")
    ax.set_ylim(floor / 2, None)
    ax.set_title(CATALOGUE[name][2])
    ax.set_xlabel("$n$: panels, nodes or samples (log scale)")
    ax.set_ylabel("|error| (log scale)")


def convergence(cfg: Config, r: Results):
    """Error against the number of points on log axes: orders 1, 2 and 4 for the Riemann sums,
    trapezoid and Simpson, faster than any power for Gauss-Legendre, and n^(-1/2) for Monte
    Carlo."""
    names = list(r.per_function)
    ncols, nrows = (len(names), 1) if len(names) <= 3 else (2, (len(names) + 1) // 2)
    fig, axes = plotting.figure(
        "Error against the number of points: orders 1, 2 and 4 for the panel rules, faster "
        r"than any power for Gauss-Legendre, $n^{-1/2}$ for Monte Carlo",
        ncols=ncols, nrows=nrows, width=3.3, height=5.4)
    axes = np.atleast_1d(axes).ravel()
    labels = _legend_labels(cfg, r)
    for ax, name in zip(axes, names, strict=False):
        _convergence_panel(ax, cfg, r, name, labels)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    handles, texts = [], []
    for ax in axes[:len(names)]:
        for h, t in zip(*ax.get_legend_handles_labels(), strict=True):
            if t not in texts:
                handles.append(h)
                texts.append(t)
    fig.legend(handles, texts, loc="outside lower center", ncol=2)
    return fig


def fundamental_theorem(cfg: Config, r: Results):
    """The integral F(x) of f from a to x has derivative f: jax.grad through the quadrature lands
    on f at every point, and F itself on SciPy's quadrature."""
    fig, (ax1, ax2) = plotting.figure(
        r"Fundamental theorem: the integral $F(x) = \int_a^x f$ has derivative $f$; "
        "jax.grad through the quadrature (dots) lands on $f$ (lines)", ncols=2, width=4.8,
        height=4.0)
    for name, p in r.per_function.items():
        x, o = p["ftc"]["x"], np.argsort(p["ftc"]["x"])
        fn, c = CATALOGUE[name][1], plotting.color(name)
        a = CATALOGUE[name][3][0]
        ax1.plot(np.r_[a, x[o]], np.r_[0.0, p["ftc"]["F"][o]], color=c,
                 label=CATALOGUE[name][2])
        ax1.plot(x, p["ftc"]["F_ref"], "o", color=c, markersize=3, mfc="none")
        xs = np.linspace(a, x.max(), 300)
        ax2.plot(xs, fn(xs), color=c)
        ax2.plot(x, p["ftc"]["dF"], "o", color=c, markersize=3)
    ax1.plot([], [], "o", color="black", mfc="none", markersize=3,
             label=r"scipy quad of $\int_a^x f$")
    ax2.plot([], [], "-", color="black", label="$f(x)$")
    ax2.plot([], [], "o", color="black", markersize=3, label="$F'(x)$ by jax.grad")
    ax1.set_title(r"the integral $F(x)$ (Gauss-Legendre)")
    ax2.set_title(r"its derivative $F'(x)$ and $f(x)$")
    for ax, ylab in ((ax1, "$F(x)$"), (ax2, "$f(x)$ and $F'(x)$")):
        ax.set_xlabel("$x$")
        ax.set_ylabel(ylab)
    handles, texts = [], []
    for ax in (ax1, ax2):
        h, t = ax.get_legend_handles_labels()
        handles += h
        texts += t
    fig.legend(handles, texts, loc="outside lower center", ncol=3)
    return fig


FIGURES = (signed_area, convergence, fundamental_theorem)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the Monte Carlo
    running estimates of one function, mc_paths x 2^mc_max_samples_exponent (draws, values and
    running means on the device, then all of them in float64 on the host before the
    checkpoints are read); the composite rules' samples at up to 2^max_panels_exponent panels
    for every panel count (float64)."""
    from mathml_jax import budget as b

    M = 2**cfg.mc_max_samples_exponent
    mc = cfg.mc_paths * M
    n_max = 2**cfg.max_panels_exponent
    k = len(cfg.functions)
    return b.estimate(
        b.Part(mc * (3 * target.itemsize + 8),
               ("integration.mc_max_samples_exponent", "integration.mc_paths"),
               "mc_paths x 2^mc_max_samples_exponent Monte Carlo samples and running means"),
        b.Part(2 * 8 * cfg.max_panels_exponent * (n_max + 1),
               ("integration.max_panels_exponent",), "the composite rules' samples"),
        seconds=k * (mc * (b.S_PER_DRAW + b.S_PER_ELEMENT) + cfg.ftc_points * 1e-4
                     + cfg.max_panels_exponent * n_max * 6 * b.S_PER_ELEMENT),
        rate=f"{1 / (b.S_PER_DRAW + b.S_PER_ELEMENT):.2g} Monte Carlo samples/s, 0.1 ms a "
             "scipy.integrate.quad reference",
        time_keys=("integration.mc_max_samples_exponent", "integration.mc_paths",
                   "integration.ftc_points"))
