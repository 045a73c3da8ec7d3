"""``vectors``: vector-space axioms, p-norms and inner products, checked on random batches.

1. The vector-space axioms hold on random batches in R^n and in the space of polynomials of
   degree <= k (as coefficient vectors; addition and scaling checked on the functions too).
2. p-norms: unit balls for p = 1/2, 1, 2, 4, inf; p < 1 is not a norm (a triangle-inequality
   violation found by random search); ||x||_p -> ||x||_inf as p grows, with
   ||x||_inf <= ||x||_p <= n^(1/p) ||x||_inf.
3. Inner products: Cauchy-Schwarz on random batches, the induced norm sqrt(<x, x>) = ||x||_2,
   orthogonality (x - proj_y x is orthogonal to y), and the parallelogram law, which holds only
   for p = 2 (the only p-norm that comes from an inner product).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.linalg import axiom_defects, p_norm, triangle_violation
from mathml_jax.linalg import parallelogram_defect as parallelogram_kernel
from mathml_jax.runtime import RunContext

SECTION = "Linear algebra / Vector spaces, normed spaces and inner products"


@dataclass
class Config:
    dim: int = param(8, ge=2, le=100_000, help="n of R^n")
    degree: int = param(4, ge=1, le=50, help="polynomials of degree <= k")
    batch: int = param(2000, ge=10, le=10_000_000)
    ball_ps: list[float] = param([0.5, 1.0, 2.0, 4.0, float("inf")], gt=0, finite=False, le=1000)
    defect_ps: list[float] = param([1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 8.0], ge=1, le=1000)
    large_ps: list[float] = param([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0], ge=1, le=1000)


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    eps: float                 # the run's round-off unit (the figure's floor line)
    axioms: dict               # "rn"/"polynomials": names (8,), defects (8,), scale (data scale)
    poly_eval_error: float     # max |eval(p + 2q) - (eval p + 2 eval q)| on 33 points
    norm_rel_diff: np.ndarray  # (3, B) |p_norm / NumPy norm - 1| for p = 1, 2, inf
    triangle: np.ndarray       # (3, B) ||x+y|| - ||x|| - ||y|| for TRIANGLE_PS (random pairs)
    triangle_tight: np.ndarray  # (3, B) the same / (||x|| + ||y||) for y = c x, c > 0: equality
    p_half: dict               # excess (B,) for sparse pairs at p = 1/2; x, y (n,): the worst
    sup_gap: np.ndarray        # (m,) max over the batch of ||x||_p / ||x||_inf - 1, large_ps
    cauchy_schwarz: np.ndarray  # (B,) |<x,y>| / (||x|| ||y||), random pairs
    cauchy_schwarz_tight: np.ndarray  # (B,) the same for y = c x (c of either sign): 1
    induced_rel_diff: np.ndarray  # (B,) |sqrt(<x,x>) / NumPy ||x||_2 - 1|
    orthogonality: np.ndarray  # (B,) |<x - proj_y x, y>| / (||x|| ||y||)
    parallelogram: np.ndarray  # (k,) max relative parallelogram defect for defect_ps
    ball_radii: np.ndarray     # (len(ball_ps), 721) 1 / ||direction||_p around the circle


TRIANGLE_PS = (1.0, 2.0, 3.0)
TIGHT_K = 1  # the equality cases hold to TIGHT_K n eps (a sum of n rounded terms)
NORM_PS = (1, 2, np.inf)
BALL_ANGLES = np.linspace(0, 2 * np.pi, 721)


# ------------------------------------------------------------------------------ compute

def _axioms(cfg: Config, ctx: RunContext, ks) -> dict:
    """The 8 axioms' largest violations in R^n and for polynomials of degree <= k."""
    out = {}
    for key, d in (("rn", cfg.dim), ("polynomials", cfg.degree + 1)):
        u, v, w = (jax.random.normal(k, (cfg.batch, d), ctx.dtype) for k in ks[:3])
        a, b = jax.random.normal(ks[3], (2, cfg.batch), ctx.dtype)
        defects = axiom_defects(u, v, w, a, b)
        out[key] = {"names": np.array(list(defects)),
                    "defects": np.array([float(x) for x in defects.values()]),
                    "scale": 8 * float(jnp.max(jnp.abs(u)) + jnp.max(jnp.abs(v))
                                       + jnp.max(jnp.abs(w)))}
    return out


def _poly_eval_error(cfg: Config, ctx: RunContext, ks) -> float:
    """Polynomials are functions: adding coefficient vectors adds the functions pointwise."""
    t = jnp.linspace(-1, 1, 33, dtype=ctx.dtype)
    pu, pv = (jax.random.normal(k, (cfg.degree + 1,), ctx.dtype) for k in ks[4:6])
    ev = lambda c: jnp.polyval(c, t)  # noqa: E731
    return float(jnp.max(jnp.abs(ev(pu + 2 * pv) - (ev(pu) + 2 * ev(pv)))))


def _norms(cfg: Config, ctx: RunContext, ks, x, y) -> dict:
    """p-norm kernel against NumPy, the triangle inequality, p = 1/2, and p -> inf."""
    dtype, x64 = ctx.dtype, np.asarray(x, np.float64)
    ref = {p: np.linalg.norm(x64, ord=p, axis=1) for p in NORM_PS}
    got = {p: np.asarray(p_norm(x, jnp.asarray(p, dtype)), np.float64) for p in NORM_PS}
    tri = [np.asarray(triangle_violation(x, y, jnp.asarray(p, dtype)), np.float64)
           for p in TRIANGLE_PS]
    # search for a violation with p = 1/2: sparse random pairs (disjoint supports break it)
    xs = jnp.where(jax.random.bernoulli(ks[0], 0.3, x.shape), x, 0.0)
    ys = jnp.where(jax.random.bernoulli(ks[1], 0.3, y.shape), y, 0.0)
    viol = np.asarray(triangle_violation(xs, ys, jnp.asarray(0.5, dtype)), np.float64)
    # the equality case of Minkowski: y = c x with c > 0 (where a wrong kernel shows)
    c = jnp.exp(y[:, :1])
    tight = [np.asarray(triangle_violation(x, c * x, jnp.asarray(p, dtype)) / (
        (1 + c[:, 0]) * p_norm(x, jnp.asarray(p, dtype))), np.float64) for p in TRIANGLE_PS]
    i = int(np.argmax(viol))
    gaps = [np.max(np.asarray(p_norm(x, jnp.asarray(p, dtype)), np.float64) / ref[np.inf] - 1)
            for p in cfg.large_ps]
    return {"norm_rel_diff": np.stack([np.abs(got[p] / ref[p] - 1) for p in NORM_PS]),
            "triangle": np.stack(tri), "triangle_tight": np.stack(tight),
            "sup_gap": np.asarray(gaps, np.float64),
            "p_half": {"excess": viol, "x": np.asarray(xs[i], np.float64),
                       "y": np.asarray(ys[i], np.float64)}}


def _inner_products(cfg: Config, ctx: RunContext, x, y) -> dict:
    """Cauchy-Schwarz, the induced norm, orthogonal projection, the parallelogram law."""
    ip = jnp.sum(x * y, axis=1)
    nx, ny = jnp.linalg.norm(x, axis=1), jnp.linalg.norm(y, axis=1)
    induced = np.asarray(jnp.sqrt(jnp.sum(x * x, axis=1)), np.float64)
    ref2 = np.linalg.norm(np.asarray(x, np.float64), axis=1)
    r = x - (ip / ny**2)[:, None] * y
    yp = y[:, :1] * x  # parallel (or antiparallel) to x: Cauchy-Schwarz is an equality
    cs_tight = jnp.abs(jnp.sum(x * yp, axis=1)) / (nx * jnp.linalg.norm(yp, axis=1))
    defects = [float(parallelogram_kernel(x, y, jnp.asarray(p, ctx.dtype)))
               for p in cfg.defect_ps]
    return {"cauchy_schwarz": np.asarray(jnp.abs(ip) / (nx * ny), np.float64),
            "cauchy_schwarz_tight": np.asarray(cs_tight, np.float64),
            "induced_rel_diff": np.abs(induced / ref2 - 1),
            "orthogonality": np.asarray(jnp.abs(jnp.sum(r * y, axis=1)) / (nx * ny), np.float64),
            "parallelogram": np.asarray(defects, np.float64)}


def _ball_radii(cfg: Config, ctx: RunContext) -> np.ndarray:
    dirs = jnp.asarray(np.stack([np.cos(BALL_ANGLES), np.sin(BALL_ANGLES)], axis=1), ctx.dtype)
    return np.stack([1.0 / np.asarray(p_norm(dirs, jnp.asarray(p, ctx.dtype)), np.float64)
                     for p in cfg.ball_ps])


def compute(cfg: Config, ctx: RunContext) -> Results:
    ks = jax.random.split(ctx.key, 8)
    x = jax.random.normal(ks[6], (cfg.batch, cfg.dim), ctx.dtype)
    y = jax.random.normal(ks[7], (cfg.batch, cfg.dim), ctx.dtype)
    return Results(eps=ctx.eps, axioms=_axioms(cfg, ctx, ks),
                   poly_eval_error=_poly_eval_error(cfg, ctx, ks),
                   **_norms(cfg, ctx, ks, x, y), **_inner_products(cfg, ctx, x, y),
                   ball_radii=_ball_radii(cfg, ctx))


# ------------------------------------------------------------------------------ claims

AXIOM_LABELS = {"rn": "R^n", "polynomials": "polynomials of degree <= k"}


def _norm_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    n, b = cfg.dim, cfg.batch
    per_p = r.norm_rel_diff.max(axis=1)
    diff, where = tol.worst(per_p, [f"p = {p:g}" for p in NORM_PS])
    where += f", vector {int(np.argmax(r.norm_rel_diff[int(np.argmax(per_p))]))}"
    out = [Claim.at_most("p-norm kernel = NumPy norm for p = 1, 2, inf: max rel. diff", diff,
                         tol.roundoff(1, eps, n=n), id="p_norm_matches_numpy", worst=where,
                         reference="NumPy linalg.norm in float64", detail=f"{b} vectors in R^{n}")]
    v, where = tol.worst(np.abs(r.triangle_tight),
                         [[f"p = {p:g}, pair {i}" for i in range(b)] for p in TRIANGLE_PS])
    out.append(Claim.at_most("the triangle inequality is an equality for y = c x, c > 0: max "
                             "| ||x+y||_p - ||x||_p - ||y||_p | / (||x||_p + ||y||_p), "
                             "p = 1, 2, 3", v, tol.roundoff(TIGHT_K, eps, n=n),
                             id="triangle_equality_same_direction", worst=where,
                             reference="closed form: ||x + c x|| = (1 + c) ||x|| = ||x|| + "
                             "||c x||", detail=f"{b} pairs in R^{n}; c = exp(N(0, 1))"))
    excess, where = tol.worst(r.p_half["excess"])
    out.append(Claim.at_least("p = 1/2 is not a norm: a pair found by random search with "
                              "||x+y|| > ||x|| + ||y|| (largest excess)", excess,
                              tol.absolute(0.1, "a clear violation, far above round-off"),
                              id="p_half_not_a_norm", worst=where,
                              reference="closed form: ||e1+e2||_1/2 = 4 > ||e1|| + ||e2|| = 2",
                              detail=f"{b} random sparse pairs"))
    return out + _sup_norm_claims(cfg, r, eps)


def _sup_norm_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    ps, gaps = np.asarray(cfg.large_ps), r.sup_gap
    bound = cfg.dim ** (1 / ps) - 1
    round_off = tol.roundoff(10, eps)
    return [
        Claim.at_most("||x||_p -> ||x||_inf: relative gap at the largest p", gaps[-1],
                      tol.absolute(bound[-1], "n^(1/p) - 1") + round_off, id="sup_norm_limit",
                      reference="closed form: ||x||_inf <= ||x||_p <= n^(1/p) ||x||_inf",
                      detail=f"p = {ps[-1]:g}, n = {cfg.dim}; bound n^(1/p) - 1 = "
                      f"{bound[-1]:.3g}"),
    ]


def _inner_product_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    n = cfg.dim
    cs_dev, cs_at = tol.worst(np.abs(r.cauchy_schwarz_tight - 1))
    cs = 1.0 + cs_dev if r.cauchy_schwarz_tight[int(np.argmax(np.abs(
        r.cauchy_schwarz_tight - 1)))] >= 1 else 1.0 - cs_dev
    ind, ind_at = tol.worst(r.induced_rel_diff)
    orth, orth_at = tol.worst(r.orthogonality)
    return [
        Claim.close("Cauchy-Schwarz is an equality for parallel pairs y = c x: max "
                    "| |<x,y>| / (||x|| ||y||) - 1 |", cs, 1.0, tol.roundoff(TIGHT_K, eps, n=n),
                    id="cauchy_schwarz_equality_parallel", worst=cs_at,
                    reference="closed form: |<x, c x>| = |c| ||x||^2 = ||x|| ||c x||",
                    detail=f"{cfg.batch} pairs in R^{n}, c ~ N(0, 1)"),
        Claim.at_most("the induced norm sqrt(<x,x>) = ||x||_2 (NumPy): max rel. diff", ind,
                      tol.roundoff(10, eps), id="induced_norm_is_2_norm", worst=ind_at,
                      reference="NumPy linalg.norm in float64"),
        Claim.at_most("x - proj_y(x) is orthogonal to y: max |<r, y>| / (||x|| ||y||)", orth,
                      tol.roundoff(2, eps, n=n), id="projection_residual_orthogonal",
                      worst=orth_at, reference="closed form: <x - (<x,y>/<y,y>) y, y> = 0"),
    ] + _parallelogram_claims(cfg, r, eps)


def _parallelogram_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    dps, defects = np.asarray(cfg.defect_ps), r.parallelogram
    out = []
    at2 = defects[dps == 2.0]
    if at2.size:
        out.append(Claim.at_most("parallelogram law holds for p = 2: max relative defect",
                                 at2[0], tol.roundoff(10, eps, n=cfg.dim), id="parallelogram_p2",
                                 reference="the 2-norm comes from the inner product <x, y>",
                                 detail=f"{cfg.batch} random pairs in R^{cfg.dim}"))
    others = dps != 2.0
    if others.any():
        low, where = tol.worst(defects[others], [f"p = {p:g}" for p in dps[others]],
                               largest=False)
        out.append(Claim.at_least("parallelogram law fails for every other p: smallest "
                                  "max-defect over p != 2", low,
                                  tol.absolute(1e-3, "far above round-off"),
                                  id="parallelogram_fails_other_p", worst=where,
                                  reference="closed form: e1, e2 give defect 2 for p = 1; only "
                                  "p = 2 comes from an inner product",
                                  detail=f"p in {[float(p) for p in dps[others]]}"))
    return out


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    eps = ctx.eps
    return (_norm_claims(cfg, r, eps)
            + _inner_product_claims(cfg, r, eps))


def metrics(cfg: Config, r: Results) -> dict:
    """What a learner should see but no claim can fail on random data (issue 13): the axioms
    in floating point, Minkowski and Cauchy-Schwarz far from equality, the gap's monotonicity."""
    out = {"sup_norm_gap_at_largest_p": float(r.sup_gap[-1]),
           "sup_norm_gap_monotone": bool(np.all(np.diff(r.sup_gap) <= 10 * r.eps)),
           "polynomial_eval_linearity_error": float(r.poly_eval_error),
           "cauchy_schwarz_ratio_max_random_pairs": float(np.max(r.cauchy_schwarz))}
    for key in AXIOM_LABELS:
        out[f"axiom_defect_max_{key}"] = float(np.max(r.axioms[key]["defects"]))
    for p, viol in zip(TRIANGLE_PS, r.triangle, strict=True):
        out[f"triangle_excess_max_random_pairs_p{p:g}"] = float(np.max(viol))
    return out


KEY_METRICS = ("sup_norm_gap_at_largest_p",)


# ------------------------------------------------------------------------------ figures

def _p_label(p: float) -> str:
    return r"$p = \infty$" if np.isinf(p) else (r"$p = 1/2$" if p == 0.5 else f"$p = {p:g}$")


def unit_balls(cfg: Config, r: Results):
    """The unit ball of the p-norm grows from a diamond at p = 1 through a disc at p = 2 to a
    square at p = infinity, and is not convex for p < 1, which is therefore no norm."""
    fig, ax = plotting.figure(r"Unit balls $\{x : \|x\|_p \leq 1\}$: not convex for $p < 1$, "
                              "so that is no norm", width=6.6, height=5.5)
    dirs = np.stack([np.cos(BALL_ANGLES), np.sin(BALL_ANGLES)], axis=1)
    colors = plotting.ordered_colors(len(cfg.ball_ps))
    for p, radius, c in zip(cfg.ball_ps, r.ball_radii, colors, strict=True):
        ax.plot(dirs[:, 0] * radius, dirs[:, 1] * radius, label=_p_label(p), color=c)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def parallelogram_defect(cfg: Config, r: Results):
    """Only the 2-norm satisfies the parallelogram law, so only it comes from an inner product:
    the largest relative defect over random pairs drops to round-off at p = 2 alone."""
    fig, ax = plotting.figure("Parallelogram law: only $p = 2$ comes from an inner product",
                              width=6.0, height=4.2)
    dps = np.asarray(cfg.defect_ps)
    ax.semilogy(dps, np.maximum(r.parallelogram, r.eps), "o-", color=plotting.color("vectors"),
                label=f"largest relative defect over {cfg.batch} random pairs")
    ax.axhline(r.eps, **plotting.THEORY_STYLE, label=r"machine $\varepsilon$ (floor)")
    i2 = np.nonzero(dps == 2.0)[0]
    if i2.size:
        ax.annotate("$p = 2$: round-off only", (2.0, max(r.parallelogram[i2[0]], r.eps)),
                    textcoords="offset points", xytext=(12, 20), fontsize=9,
                    arrowprops={"arrowstyle": "->", "color": "black"})
    ax.set_xlabel("$p$")
    ax.set_ylabel("relative defect (log scale)")
    ax.text(0.98, 0.62, r"defect $= \dfrac{|\,\|x+y\|^2 + \|x-y\|^2 - 2\|x\|^2 - 2\|y\|^2|}"
            r"{\|x\|^2 + \|y\|^2}$", transform=ax.transAxes, ha="right", va="center",
            fontsize=10)
    ax.legend(loc="center right", bbox_to_anchor=(1.0, 0.4))
    return fig


FIGURES = (unit_balls, parallelogram_defect)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: batch pairs of
    vectors of R^dim and their derived vectors (sparse copies, scaled copies, projections:
    about 10 of batch x dim in the run's dtype, and x and its NumPy reference norms in
    float64), and the axioms' batch x dim triples."""
    from mathml_jax import budget as b

    entries = cfg.batch * max(cfg.dim, cfg.degree + 1)
    ps = len(cfg.ball_ps) + len(cfg.defect_ps) + len(cfg.large_ps) + 12
    return b.estimate(
        b.Part(entries * (10 * target.itemsize + 4 * 8), ("vectors.batch", "vectors.dim"),
               "batch pairs of vectors in R^dim and the vectors derived from them"),
        seconds=entries * ps * 3 * b.S_PER_ELEMENT,
        rate=f"{1 / b.S_PER_ELEMENT:.2g} elementwise powers/s")
