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
    ball_ps: list[float] = param([0.5, 1.0, 2.0, 4.0, float("inf")], gt=0)
    defect_ps: list[float] = param([1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 8.0], ge=1)
    large_ps: list[float] = param([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0], ge=1)


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    eps: float                 # the run's round-off unit (the figure's floor line)
    axioms: dict               # "rn"/"polynomials": names (8,), defects (8,), scale (data scale)
    poly_eval_error: float     # max |eval(p + 2q) - (eval p + 2 eval q)| on 33 points
    norm_rel_diff: np.ndarray  # (3, B) |p_norm / NumPy norm - 1| for p = 1, 2, inf
    triangle: np.ndarray       # (3, B) ||x+y|| - ||x|| - ||y|| for TRIANGLE_PS
    p_half: dict               # excess (B,) for sparse pairs at p = 1/2; x, y (n,): the worst
    sup_gap: np.ndarray        # (m,) max over the batch of ||x||_p / ||x||_inf - 1, large_ps
    cauchy_schwarz: np.ndarray  # (B,) |<x,y>| / (||x|| ||y||)
    induced_rel_diff: np.ndarray  # (B,) |sqrt(<x,x>) / NumPy ||x||_2 - 1|
    orthogonality: np.ndarray  # (B,) |<x - proj_y x, y>| / (||x|| ||y||)
    parallelogram: np.ndarray  # (k,) max relative parallelogram defect for defect_ps
    ball_radii: np.ndarray     # (len(ball_ps), 721) 1 / ||direction||_p around the circle


TRIANGLE_PS = (1.0, 2.0, 3.0)
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
    i = int(np.argmax(viol))
    gaps = [np.max(np.asarray(p_norm(x, jnp.asarray(p, dtype)), np.float64) / ref[np.inf] - 1)
            for p in cfg.large_ps]
    return {"norm_rel_diff": np.stack([np.abs(got[p] / ref[p] - 1) for p in NORM_PS]),
            "triangle": np.stack(tri), "sup_gap": np.asarray(gaps, np.float64),
            "p_half": {"excess": viol, "x": np.asarray(xs[i], np.float64),
                       "y": np.asarray(ys[i], np.float64)}}


def _inner_products(cfg: Config, ctx: RunContext, x, y) -> dict:
    """Cauchy-Schwarz, the induced norm, orthogonal projection, the parallelogram law."""
    ip = jnp.sum(x * y, axis=1)
    nx, ny = jnp.linalg.norm(x, axis=1), jnp.linalg.norm(y, axis=1)
    induced = np.asarray(jnp.sqrt(jnp.sum(x * x, axis=1)), np.float64)
    ref2 = np.linalg.norm(np.asarray(x, np.float64), axis=1)
    r = x - (ip / ny**2)[:, None] * y
    defects = [float(parallelogram_kernel(x, y, jnp.asarray(p, ctx.dtype)))
               for p in cfg.defect_ps]
    return {"cauchy_schwarz": np.asarray(jnp.abs(ip) / (nx * ny), np.float64),
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


def _space_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    out = []
    for key, label in AXIOM_LABELS.items():
        a = r.axioms[key]
        worst, where = tol.worst(a["defects"], a["names"])
        out.append(Claim.at_most(
            f"{label}: all 8 vector-space axioms hold to round-off (largest violation)", worst,
            tol.roundoff(10, eps, scale=a["scale"]), id=f"axioms_{key}", worst=where,
            reference="exact arithmetic: every axiom's two sides are equal",
            detail=f"n = {cfg.dim}, k = {cfg.degree}; {cfg.batch} random triples; scale = 8 x "
            "the largest entry of u, v, w"))
    out.append(Claim.at_most(
        "polynomials: coefficients of p + 2q evaluate to p(t) + 2q(t)", r.poly_eval_error,
        tol.roundoff(100, eps, n=cfg.degree + 1), id="polynomial_sum_is_pointwise",
        reference="p and q evaluated separately (Horner) and added pointwise",
        detail=f"degree {cfg.degree}; 33 points on [-1, 1]"))
    return out


def _norm_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    n, b = cfg.dim, cfg.batch
    per_p = r.norm_rel_diff.max(axis=1)
    diff, where = tol.worst(per_p, [f"p = {p:g}" for p in NORM_PS])
    where += f", vector {int(np.argmax(r.norm_rel_diff[int(np.argmax(per_p))]))}"
    out = [Claim.at_most("p-norm kernel = NumPy norm for p = 1, 2, inf: max rel. diff", diff,
                         tol.roundoff(10, eps, n=n), id="p_norm_matches_numpy", worst=where,
                         reference="NumPy linalg.norm in float64", detail=f"{b} vectors in R^{n}")]
    for p, viol in zip(TRIANGLE_PS, r.triangle, strict=True):
        v, where = tol.worst(viol)
        out.append(Claim.at_most(f"triangle inequality holds for p = {p:g}: max "
                                 "||x+y|| - ||x|| - ||y||", v, tol.roundoff(100, eps, n=n),
                                 id=f"triangle_inequality_p{p:g}", worst=where,
                                 reference="Minkowski's inequality (excess <= 0 up to round-off)",
                                 detail=f"{b} random pairs in R^{n}"))
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
        Claim.holds("the gap ||x||_p / ||x||_inf - 1 shrinks as p grows and stays within "
                    "n^(1/p) - 1", bool(np.all(np.diff(gaps) <= round_off.value)
                                        and np.all(gaps <= bound + round_off.value)),
                    measured=float(gaps[-1]), id="sup_norm_gap_monotone",
                    reference="closed form: ||x||_inf <= ||x||_p <= n^(1/p) ||x||_inf",
                    detail=f"p in {[float(p) for p in ps]}; allowance {round_off.rule}"),
    ]


def _inner_product_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    n = cfg.dim
    cs, cs_at = tol.worst(r.cauchy_schwarz)
    ind, ind_at = tol.worst(r.induced_rel_diff)
    orth, orth_at = tol.worst(r.orthogonality)
    return [
        Claim.at_most("Cauchy-Schwarz: max |<x,y>| / (||x|| ||y||)", cs,
                      tol.absolute(1.0, "|<x,y>| <= ||x|| ||y||") + tol.roundoff(10, eps),
                      slack=10 * eps, id="cauchy_schwarz", worst=cs_at,
                      reference="the Cauchy-Schwarz inequality (ratio <= 1)",
                      detail=f"{cfg.batch} random pairs in R^{n}"),
        Claim.at_most("the induced norm sqrt(<x,x>) = ||x||_2 (NumPy): max rel. diff", ind,
                      tol.roundoff(10, eps), id="induced_norm_is_2_norm", worst=ind_at,
                      reference="NumPy linalg.norm in float64"),
        Claim.at_most("x - proj_y(x) is orthogonal to y: max |<r, y>| / (||x|| ||y||)", orth,
                      tol.roundoff(10, eps, n=n), id="projection_residual_orthogonal",
                      worst=orth_at, reference="closed form: <x - (<x,y>/<y,y>) y, y> = 0"),
    ] + _parallelogram_claims(cfg, r, eps)


def _parallelogram_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    dps, defects = np.asarray(cfg.defect_ps), r.parallelogram
    out = []
    at2 = defects[dps == 2.0]
    if at2.size:
        out.append(Claim.at_most("parallelogram law holds for p = 2: max relative defect",
                                 at2[0], tol.roundoff(100, eps, n=cfg.dim), id="parallelogram_p2",
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
    return (_space_claims(cfg, r, eps) + _norm_claims(cfg, r, eps)
            + _inner_product_claims(cfg, r, eps))


def metrics(cfg: Config, r: Results) -> dict:
    return {"sup_norm_gap_at_largest_p": float(r.sup_gap[-1])}


KEY_METRICS = ("sup_norm_gap_at_largest_p",)


# ------------------------------------------------------------------------------ figures

def unit_balls(cfg: Config, r: Results):
    fig, ax = plotting.figure("Unit balls {x : ||x||_p <= 1}: p < 1 is not convex",
                              width=5.5, height=5.5)
    dirs = np.stack([np.cos(BALL_ANGLES), np.sin(BALL_ANGLES)], axis=1)
    for p, radius in zip(cfg.ball_ps, r.ball_radii, strict=True):
        ax.plot(dirs[:, 0] * radius, dirs[:, 1] * radius, label=f"p = {p:g}",
                color=plotting.color(f"p={p:g}"))
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend()
    return fig


def parallelogram_defect(cfg: Config, r: Results):
    fig, ax = plotting.figure("Parallelogram law: only p = 2 comes from an inner product")
    dps = np.asarray(cfg.defect_ps)
    ax.semilogy(dps, np.maximum(r.parallelogram, r.eps), "o-", color=plotting.color("vectors"),
                label="max relative defect over random pairs")
    ax.axvline(2.0, color="gray", linestyle=":", label="p = 2")
    ax.axhline(r.eps, **plotting.THEORY_STYLE, label="machine eps")
    ax.set_xlabel("p")
    ax.set_ylabel("| ||x+y||^2 + ||x-y||^2 - 2||x||^2 - 2||y||^2 | / (||x||^2+||y||^2)")
    ax.legend()
    return fig


FIGURES = (unit_balls, parallelogram_defect)
