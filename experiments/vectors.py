"""``vectors``: vector spaces, norms and inner products.

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
from mathml_jax import Claim, Report, plotting
from mathml_jax.linalg import axiom_defects, p_norm, parallelogram_defect, triangle_violation
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


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("vectors", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    ks = jax.random.split(ctx.key, 8)
    B, n = cfg.batch, cfg.dim

    # -- 1. axioms in R^n and for polynomials of degree <= k
    for label, d in ((f"R^{n}", n), (f"polynomials of degree <= {cfg.degree}", cfg.degree + 1)):
        u, v, w = (jax.random.normal(k, (B, d), dtype) for k in ks[:3])
        a, b = jax.random.normal(ks[3], (2, B), dtype)
        defects = {k: float(x) for k, x in axiom_defects(u, v, w, a, b).items()}
        scale = 8 * float(jnp.max(jnp.abs(u)) + jnp.max(jnp.abs(v)) + jnp.max(jnp.abs(w)))
        report.claim(Claim.at_most(f"{label}: all 8 vector-space axioms hold to round-off "
                                   "(largest violation)", max(defects.values()), 10 * eps * scale,
                                   detail=f"{B} random triples; bound 10 eps x data scale"))
    # polynomials are functions: adding coefficient vectors adds the functions pointwise
    t = jnp.linspace(-1, 1, 33, dtype=dtype)
    pu, pv = (jax.random.normal(k, (cfg.degree + 1,), dtype) for k in ks[4:6])
    ev = lambda c: jnp.polyval(c, t)  # noqa: E731
    report.claim(Claim.at_most("polynomials: coefficients of p + 2q evaluate to p(t) + 2q(t)",
                               float(jnp.max(jnp.abs(ev(pu + 2 * pv) - (ev(pu) + 2 * ev(pv))))),
                               100 * eps * (cfg.degree + 1)))

    # -- 2. norms
    x = jax.random.normal(ks[6], (B, n), dtype)
    y = jax.random.normal(ks[7], (B, n), dtype)
    ref = {p: np.linalg.norm(np.asarray(x, np.float64), ord=p, axis=1) for p in (1, 2, np.inf)}
    got = {p: np.asarray(p_norm(x, jnp.asarray(p, dtype)), np.float64) for p in (1, 2, np.inf)}
    report.claim(Claim.at_most("p-norm kernel = NumPy norm for p = 1, 2, inf: max rel. diff",
                               max(np.abs(got[p] / ref[p] - 1).max() for p in ref), 10 * n * eps))
    for p in (1.0, 2.0, 3.0):
        viol = float(jnp.max(triangle_violation(x, y, jnp.asarray(p, dtype))))
        report.claim(Claim.at_most(f"triangle inequality holds for p = {p:g}: max "
                                   "||x+y|| - ||x|| - ||y||", viol, 10 * n * eps * 10))
    # search for a violation with p = 1/2: sparse random pairs (disjoint supports break it)
    xs = jnp.where(jax.random.bernoulli(ks[0], 0.3, (B, n)), x, 0.0)
    ys = jnp.where(jax.random.bernoulli(ks[1], 0.3, (B, n)), y, 0.0)
    viol = np.asarray(triangle_violation(xs, ys, jnp.asarray(0.5, dtype)), np.float64)
    i = int(np.argmax(viol))
    report.claim(Claim.at_least("p = 1/2 is not a norm: a pair found by random search with "
                                "||x+y|| > ||x|| + ||y|| (largest excess)", viol[i], 0.1,
                                detail=f"{B} random sparse pairs; e.g. e1, e2: "
                                       "||e1+e2||_1/2 = 4 > 2"))
    report.add_series("p_half_violation", x=np.asarray(xs[i]), y=np.asarray(ys[i]),
                      excess=viol[i])
    ps = np.asarray(cfg.large_ps)
    gaps = np.array([np.max(np.asarray(p_norm(x, jnp.asarray(p, dtype)), np.float64)
                            / ref[np.inf] - 1) for p in ps])
    bound = n ** (1 / ps) - 1
    report.claim(Claim.at_most(f"||x||_p -> ||x||_inf: relative gap at p = {ps[-1]:g}",
                               gaps[-1], bound[-1] + 10 * eps,
                               detail=f"bound n^(1/p) - 1 = {bound[-1]:.3g}"))
    report.claim(Claim.holds("the gap ||x||_p / ||x||_inf - 1 shrinks as p grows and stays "
                             "within n^(1/p) - 1", bool(np.all(np.diff(gaps) <= 10 * eps)
                                                        and np.all(gaps <= bound + 10 * eps)),
                             measured=float(gaps[-1])))
    report.metric("sup_norm_gap_at_largest_p", float(gaps[-1]), key=True)
    report.add_series("p_to_sup", p=ps, gap=gaps, bound=bound)

    # -- 3. inner products
    ip = jnp.sum(x * y, axis=1)
    nx, ny = jnp.linalg.norm(x, axis=1), jnp.linalg.norm(y, axis=1)
    report.claim(Claim.at_most("Cauchy-Schwarz: max |<x,y>| / (||x|| ||y||)",
                               float(jnp.max(jnp.abs(ip) / (nx * ny))), 1 + 10 * eps,
                               detail=f"{B} random pairs in R^{n}; round-off allowance 10 eps",
                               slack=10 * eps))
    induced = jnp.sqrt(jnp.sum(x * x, axis=1))
    report.claim(Claim.at_most("the induced norm sqrt(<x,x>) = ||x||_2 (NumPy): max rel. diff",
                               float(np.max(np.abs(np.asarray(induced) / ref[2] - 1))),
                               10 * eps))
    r = x - (ip / ny**2)[:, None] * y
    report.claim(Claim.at_most("x - proj_y(x) is orthogonal to y: max |<r, y>| / (||x|| ||y||)",
                               float(jnp.max(jnp.abs(jnp.sum(r * y, axis=1)) / (nx * ny))),
                               10 * n * eps))
    dps = np.asarray(cfg.defect_ps)
    defects = np.array([float(parallelogram_defect(x, y, jnp.asarray(p, dtype))) for p in dps])
    at2 = defects[dps == 2.0]
    if at2.size:
        report.claim(Claim.at_most("parallelogram law holds for p = 2: max relative defect",
                                   at2[0], 100 * n * eps))
    others = defects[dps != 2.0]
    if others.size:
        report.claim(Claim.at_least("parallelogram law fails for every other p: smallest "
                                    "max-defect over p != 2", others.min(), 1e-3,
                                    detail=f"p in {[float(p) for p in dps[dps != 2.0]]}"))
    report.add_series("parallelogram", p=dps, defect=defects)

    fig, ax = plotting.figure("Unit balls {x : ||x||_p <= 1}: p < 1 is not convex",
                              width=5.5, height=5.5)
    th = np.linspace(0, 2 * np.pi, 721)
    dirs = np.stack([np.cos(th), np.sin(th)], axis=1)
    for p in cfg.ball_ps:
        r_ = 1.0 / np.asarray(p_norm(jnp.asarray(dirs, dtype), jnp.asarray(p, dtype)))
        ax.plot(dirs[:, 0] * r_, dirs[:, 1] * r_, label=f"p = {p:g}",
                color=plotting.color(f"p={p:g}"))
    ax.set_aspect("equal")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend()
    report.add_figure("unit_balls", fig)

    fig, ax = plotting.figure("Parallelogram law: only p = 2 comes from an inner product")
    ax.semilogy(dps, np.maximum(defects, eps), "o-", color=plotting.color("vectors"),
                label="max relative defect over random pairs")
    ax.axvline(2.0, color="gray", linestyle=":", label="p = 2")
    ax.axhline(eps, **plotting.THEORY_STYLE, label="machine eps")
    ax.set_xlabel("p")
    ax.set_ylabel("| ||x+y||^2 + ||x-y||^2 - 2||x||^2 - 2||y||^2 | / (||x||^2+||y||^2)")
    ax.legend()
    report.add_figure("parallelogram_defect", fig)
    return report
