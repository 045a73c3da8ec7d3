"""``gradient``: partial derivatives, the tangent plane, and the direction of fastest increase.

On functions of two variables and of many variables, with gradients known in closed form
(NumPy, float64, independent of JAX), at random points:

1. partial derivatives are the slopes of the tangent lines of the slices t -> f(x + t e_i)
   (a one-variable derivative each), and equal the closed-form partials;
2. the tangent plane f(x0) + grad f(x0) . (x - x0) touches f to second order: the gap shrinks
   like r^2 (fitted slope 2) as the distance r shrinks;
3. over many unit directions u, the directional derivative D_u f = grad f . u is
   ||grad f|| cos(angle): it peaks at the normalised gradient, with value ||grad f||; in many
   dimensions no sampled direction beats the gradient direction (Cauchy-Schwarz);
4. the gradient is orthogonal to the level curve: points of the same level found on a small
   circle of radius delta around x0 (by root finding on f alone) lie along a chord whose angle
   with jax.grad tends to 90 degrees, |cos| shrinking like delta.

Every claim compares what JAX computed (jax.grad, the slice partials, D_u f) with something
independent of it: the closed-form gradient in NumPy float64, f itself in float64 (the plane
gaps, the level points), or the geometry of the angle grid. That no sampled direction beats
the gradient (Cauchy-Schwarz) is a theorem about random directions and cannot fail: it is a
metric, as is a float64 difference of f along the closed-form gradient (two references, no
JAX).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.convergence import fitted_slope
from mathml_jax.multivariable import gradient_study
from mathml_jax.runtime import RunContext

SECTION = "Multivariable calculus / Differentiation in multiple variables: the gradient"


def _bowl(x):
    return x[0] ** 2 + 3 * x[1] ** 2


def _wave(x):
    return jnp.sin(x[0]) * jnp.cos(x[1]) + 0.3 * x[0]


def _rosen(x):
    return (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2


# name -> (JAX f, NumPy f, NumPy grad, label)
TWO_D = {
    "bowl": (_bowl, lambda x: x[0] ** 2 + 3 * x[1] ** 2,
             lambda x: np.array([2 * x[0], 6 * x[1]]), r"$x^2 + 3y^2$"),
    "wave": (_wave, lambda x: np.sin(x[0]) * np.cos(x[1]) + 0.3 * x[0],
             lambda x: np.array([np.cos(x[0]) * np.cos(x[1]) + 0.3,
                                 -np.sin(x[0]) * np.sin(x[1])]), r"$\sin x \cos y + 0.3x$"),
    "rosenbrock": (_rosen, lambda x: (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2,
                   lambda x: np.array([-2 * (1 - x[0]) - 40 * x[0] * (x[1] - x[0] ** 2),
                                       20 * (x[1] - x[0] ** 2)]), r"$(1-x)^2 + 10(y-x^2)^2$"),
}


def many_variable_functions(dim: int, seed: int):
    """A quadratic 0.5 x'Qx + b'x and a log-sum-exp log sum exp(Ax), with their closed-form
    gradients Qx + b and A' softmax(Ax)."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(dim, dim))
    Q = M @ M.T / dim + np.eye(dim)
    b = rng.normal(size=dim)
    A = rng.normal(size=(2 * dim, dim)) / np.sqrt(dim)

    def softmax(z):
        e = np.exp(z - z.max())
        return e / e.sum()

    def quad_jax(x):
        return 0.5 * x @ jnp.asarray(Q, x.dtype) @ x + jnp.asarray(b, x.dtype) @ x

    def lse_jax(x):
        return jax.scipy.special.logsumexp(jnp.asarray(A, x.dtype) @ x)

    return {
        f"quadratic_{dim}d": (quad_jax, lambda x: 0.5 * x @ Q @ x + b @ x,
                              lambda x: Q @ x + b,
                              rf"$\frac{{1}}{{2}}x^\top Qx + b^\top x$, $n = {dim}$"),
        f"logsumexp_{dim}d": (lse_jax, lambda x: np.log(np.exp(A @ x).sum()),
                              lambda x: A.T @ softmax(A @ x),
                              rf"$\log \sum \exp(Ax)$, $n = {dim}$"),
    }


@dataclass
class Config:
    two_d: list[str] = param(["bowl", "wave", "rosenbrock"], choices=tuple(TWO_D))
    dims: list[int] = param([10, 100], ge=3, le=10_000, help="dimensions of the n-D functions")
    num_points: int = param(8, ge=1, le=10_000, help="random points per function")
    num_angles: int = param(360, ge=8, le=100_000, help="unit directions in 2-D")
    num_directions: int = param(2000, ge=8, le=1_000_000, help="random unit directions in n-D")
    partial_ulps: float = param(8.0, gt=0, le=1e4, tolerance=True,
                                help="bound on partials and D_u f (2-D) vs the "
                                "closed form, in eps times max(1, |grad f|)")
    ulps_nd: float = param(2.0, gt=0, le=1e4, tolerance=True,
                           help="bound on n-D D_u f vs grad . u, in sqrt(n) eps "
                           "||grad f||")
    slope_tol: float = param(0.05, gt=0, le=0.5, tolerance=True,
                             help="median tangent-plane slope vs 2: "
                             "log(1 + 1.5 r_max), the third-order term at a typical point")


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    angles: np.ndarray      # (K,) angles of the 2-D unit directions
    distances: np.ndarray   # (R,) distances r of the tangent-plane gaps
    deltas: np.ndarray      # (D,) radii of the circles the level points are found on
    functions: dict         # name -> dim, label, points, grads (jax.grad), partials (slices),
                            # dirs (D_u f), exact (closed-form grad), plane_gaps (P, R);
                            # 2-D: chord_cos (P, D) (NaN rows: gradient too small to test),
                            # chords against jax.grad; n-D: directions (K, n), and
                            # gradient_fd (P,) float64 difference along the exact direction
    showcase: dict          # the 2-D function drawn: name, label, x0, g0, f0, surface and
                            # level-set grids of f, and the closed-form gradient on a grid
    eps: float              # round-off unit of the run


DISTANCES = np.logspace(-3, -1.5, 10)
QUADRATICS = ("bowl", "quadratic_")  # f - tangent plane = v'Hv r^2 / 2 exactly
DELTAS = np.logspace(-4, -1.5, 6)
FD_STEP = 1e-5


def _level_chords(fn, x0, g, delta, n_phi=4096):
    """|cos| of the angle between the gradient and the chords from x0 to the points of the
    same level on the circle of radius delta (found from f alone: sign changes, then linear
    interpolation in the angle)."""
    phi = np.linspace(0, 2 * np.pi, n_phi, endpoint=False)
    ring = x0[:, None] + delta * np.stack([np.cos(phi), np.sin(phi)])
    h = fn(ring) - fn(x0)
    s = np.sign(h)
    idx = np.nonzero(s != np.roll(s, -1))[0]
    out = []
    for i in idx:
        j = (i + 1) % n_phi
        p = phi[i] + (phi[1] - phi[0]) * h[i] / (h[i] - h[j])
        chord = np.array([np.cos(p), np.sin(p)])
        out.append(abs(chord @ g) / np.linalg.norm(g))
    return np.array(out)


def _functions(cfg: Config, seed: int) -> dict:
    funcs = {n: (*v, 2) for n, v in TWO_D.items() if n in cfg.two_d}
    for d in cfg.dims:
        funcs.update({n: (*v, d) for n, v in many_variable_functions(d, seed).items()})
    return funcs


def _references(fn, gn, pts, grads, rng, dim):
    """NumPy float64 references at each point: closed-form gradient, tangent-plane gaps along
    a random direction, and (2-D) the level-chord cosines or (n-D) a central difference of f
    along the normalised gradient."""
    exact = np.stack([gn(p) for p in pts])
    gaps = []
    for p, g in zip(pts, grads, strict=True):
        v = rng.normal(size=dim)
        v /= np.linalg.norm(v)
        gaps.append([abs(fn(p + ri * v) - (fn(p) + g @ (ri * v))) for ri in DISTANCES])
    out = {"exact": exact, "plane_gaps": np.array(gaps)}
    if dim == 2:  # the level chords against jax.grad (the thing under study)
        out["chord_cos"] = np.array([
            [_level_chords(fn, p, g, d).max() for d in DELTAS] if np.linalg.norm(e) >= 0.1
            else [np.nan] * len(DELTAS) for p, g, e in zip(pts, grads, exact, strict=True)])
    else:
        u = exact / np.linalg.norm(exact, axis=1, keepdims=True)
        out["gradient_fd"] = np.array([(fn(p + FD_STEP * e) - fn(p - FD_STEP * e)) / (2 * FD_STEP)
                                       for p, e in zip(pts, u, strict=True)])
    return out


def _study(ctx, name, fi, f, dim, U2, num_points, num_directions):
    """jax.grad, partials from slices and directional derivatives of f at random points."""
    k_pts, k_dirs = jax.random.split(ctx.key)
    pts = np.asarray(jax.random.uniform(jax.random.fold_in(k_pts, fi), (num_points, dim),
                                        ctx.dtype, -1.0, 1.0), np.float64)
    if dim == 2:
        U = U2
    else:
        U = np.array(jax.random.normal(jax.random.fold_in(k_dirs, fi), (num_directions, dim)),
                     np.float64)
        U = U / np.linalg.norm(U, axis=1, keepdims=True)
    out = ctx.timed(f"gradient_{name}", gradient_study, jnp.asarray(pts, ctx.dtype),
                    jnp.asarray(U, ctx.dtype), f=f)
    grads, parts, dirs = (np.asarray(a, np.float64) for a in out)
    res = {"points": pts, "grads": grads, "partials": parts, "dirs": dirs}
    if dim != 2:
        res["directions"] = np.asarray(jnp.asarray(U, ctx.dtype), np.float64)
    return res


def _showcase(funcs, results):
    """Grids of the drawn 2-D function (NumPy closed forms) for the figures."""
    name = "wave" if "wave" in results else next(n for n in results if results[n]["dim"] == 2)
    _, fn, gn, label, _ = funcs[name]
    x0, g0 = results[name]["points"][0], results[name]["grads"][0]
    s = np.linspace(-1.2, 1.2, 50)
    X, Y = np.meshgrid(x0[0] + s, x0[1] + s)
    grid = np.linspace(-1.5, 1.5, 300)
    GX, GY = np.meshgrid(grid, grid)
    q = np.linspace(-1.4, 1.4, 15)
    QX, QY = np.meshgrid(q, q)
    return {"name": name, "label": label, "x0": x0, "g0": g0, "f0": float(fn(x0)),
            "surface_s": s, "surface_z": fn(np.stack([X, Y])), "grid": grid,
            "grid_z": fn(np.stack([GX, GY])), "quiver": q, "quiver_grad": gn(np.stack([QX, QY]))}


def compute(cfg: Config, ctx: RunContext) -> Results:
    angles = np.linspace(0, 2 * np.pi, cfg.num_angles, endpoint=False)
    U2 = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    funcs = _functions(cfg, ctx.seed)
    results = {}
    for fi, (name, (f, fn, gn, label, dim)) in enumerate(funcs.items()):
        res = _study(ctx, name, fi, f, dim, U2, cfg.num_points, cfg.num_directions)
        res.update(_references(fn, gn, res["points"], res["grads"],
                               np.random.default_rng(ctx.seed + fi), dim))
        results[name] = dict(res, dim=dim, label=label)
        ctx.progress("gradient functions", fi + 1, len(funcs))
    return Results(angles=angles, distances=DISTANCES, deltas=DELTAS, functions=results,
                   showcase=_showcase(funcs, results), eps=float(ctx.eps))


# ------------------------------------------------------------------------------ claims

def _per_point(r: Results, fn, which=lambda v: True):
    """(values, labels): fn(v) -> (P,) per function selected by which, concatenated."""
    vals, labels = [], []
    for name, v in r.functions.items():
        if which(v):
            x = np.asarray(fn(v), np.float64)
            vals.append(x)
            labels += [f"{name}, point {i}" for i in range(len(x))]
    return np.concatenate(vals), labels


def _two_d(v):
    return v["dim"] == 2


def _partial_errors(v):
    scale = np.maximum(1.0, np.abs(v["exact"]).max(axis=1))
    return np.maximum(np.abs(v["partials"] - v["exact"]).max(axis=1),
                      np.abs(v["grads"] - v["exact"]).max(axis=1)) / scale


def _plane_slopes(r: Results):
    return _per_point(r, lambda v: [fitted_slope(r.distances, g) for g in v["plane_gaps"]])


def _peak_angle_steps(r: Results, v):
    theta_g = np.arctan2(v["exact"][:, 1], v["exact"][:, 0])
    best = r.angles[np.argmax(v["dirs"], axis=1)]
    return np.abs((best - theta_g + np.pi) % (2 * np.pi) - np.pi) / (r.angles[1] - r.angles[0])


def _cos_law_errors(r: Results, v):
    norms = np.linalg.norm(v["exact"], axis=1)
    theta_g = np.arctan2(v["exact"][:, 1], v["exact"][:, 0])
    law = norms[:, None] * np.cos(r.angles[None, :] - theta_g[:, None])
    return (np.abs(v["dirs"] - law) / norms[:, None]).max(axis=1)


def _orthogonality(r: Results):
    """Fitted slopes of |cos(chord, grad)| against delta, and |cos| at the smallest delta."""
    slopes, labels = _per_point(r, lambda v: [fitted_slope(r.deltas, c) if np.all(np.isfinite(c))
                                              else np.nan for c in v["chord_cos"]], _two_d)
    first, _ = _per_point(r, lambda v: v["chord_cos"][:, 0], _two_d)
    keep = np.isfinite(slopes)  # points whose gradient is too small to test are skipped
    return slopes[keep], [lab for lab, k in zip(labels, keep, strict=True) if k], first[keep]


def _partial_and_plane_claims(cfg, r, eps):
    err, where = tol.worst(*_per_point(r, _partial_errors))
    slopes, labels = _plane_slopes(r)
    low, low_at = tol.worst(slopes, labels, largest=False)
    curved = np.array([sl for sl, lab in zip(slopes, labels, strict=True)
                       if not lab.startswith(QUADRATICS)])
    sizes = f"{len(r.functions)} functions (2-D and n = {cfg.dims}) x {cfg.num_points} points"
    # Any other plane through (x0, f(x0)) leaves a gap of order r (slope 1); the tangent plane
    # leaves r^2 (slope 2). Where the curvature v'Hv along the probe direction is nearly zero,
    # the r^2 and r^3 terms compete over the fitted range and single slopes scatter around 2,
    # so the per-point bound is "clearly above first order" and the typical point is checked
    # against 2.
    return [
        Claim.at_most("partial derivatives = slopes of the slice tangent lines = closed form: "
                      "worst error relative to max(1, max|grad|)", err,
                      tol.roundoff(cfg.partial_ulps, eps), id="partials_closed_form",
                      reference="closed-form gradient in NumPy float64", worst=where,
                      detail=sizes + "; jax.grad and the slice partials"),
        Claim.at_least("tangent plane touches f beyond first order: smallest fitted slope of "
                       "|f - plane| vs distance r (another plane would give 1)", low,
                       tol.absolute(1.5, "halfway between first order (1) and second (2)"),
                       id="tangent_plane_beyond_first_order", worst=low_at,
                       reference="f in NumPy float64 against the plane of jax.grad",
                       detail=f"r = {r.distances[0]:g}..{r.distances[-1]:.2g}, "
                              f"{len(slopes)} point/direction pairs"),
        Claim.close("tangent plane gap ~ r^2 at a typical point of a non-quadratic f: median "
                    "fitted slope", np.median(curved), 2.0,
                    tol.absolute(cfg.slope_tol, "third-order term: log(1 + 1.5 r_max), "
                                 "|f3| r / |f2| <= 1.5 at a typical point"),
                    id="tangent_plane_second_order",
                    reference="second-order Taylor remainder of f in NumPy float64 (slope 2)",
                    detail=f"{len(curved)} points of the non-quadratic functions (on a "
                           "quadratic the gap is v'Hv r^2 / 2 exactly)"),
    ]


def _direction_claims(cfg, r, eps):
    step = 2 * np.pi / cfg.num_angles
    angle, angle_at = tol.worst(*_per_point(r, lambda v: _peak_angle_steps(r, v), _two_d))
    peak, peak_at = tol.worst(*_per_point(
        r, lambda v: np.abs(v["dirs"].max(axis=1) - np.linalg.norm(v["exact"], axis=1))
        / np.linalg.norm(v["exact"], axis=1), _two_d))
    law, law_at = tol.worst(*_per_point(r, lambda v: _cos_law_errors(r, v), _two_d))
    # Both bounds are geometry: the nearest grid direction is at most half a step from the
    # gradient, and the worst point comes close to that; only round-off can cross them. Near
    # the peak two neighbours' values differ by about step * (step/2 - d), so round-off of
    # 10 eps can move the argmax by 10 eps / step^2 grid steps: the margin is measured
    # against these allowances.
    slack_angle = tol.roundoff(10, eps, scale=1 / step**2)
    slack_peak = tol.roundoff(100, eps)
    return [
        Claim.at_most("2-D: D_u f peaks at the normalised gradient: worst angle error in grid "
                      "steps", angle, tol.absolute(0.5, "half a grid step") + slack_angle,
                      slack=slack_angle.value, id="peak_at_gradient_direction",
                      worst=angle_at, reference="angle of the closed-form gradient",
                      detail=f"{cfg.num_angles} directions; round-off 10 eps / step^2"),
        Claim.at_most("2-D: the peak value of D_u f equals ||grad f||: worst relative gap",
                      peak, tol.absolute(1 - np.cos(step / 2), "1 - cos(half the angle step)")
                      + slack_peak, slack=slack_peak.value, id="peak_value_is_gradient_norm",
                      worst=peak_at, reference="norm of the closed-form gradient",
                      detail=f"{cfg.num_angles} directions"),
        Claim.at_most("2-D: D_u f = ||grad f|| cos(angle to the gradient) at every angle: "
                      "worst error relative to ||grad f||", law,
                      tol.roundoff(cfg.partial_ulps, eps), id="directional_cosine_law",
                      worst=law_at, reference="||grad f|| cos(angle) from the closed form"),
    ]


def _nd_directional_ulps(v, eps):
    """n-D: max over directions of |D_u f - grad . u| / (sqrt(n) eps ||grad||), grad the
    closed form and u the sampled directions (float64)."""
    g = v["exact"]
    err = np.abs(v["dirs"] - g @ v["directions"].T).max(axis=1)
    return err / (np.sqrt(v["dim"]) * eps * np.linalg.norm(g, axis=1))


def _many_variable_claims(cfg, r, eps):
    err, at = tol.worst(*_per_point(r, lambda v: _nd_directional_ulps(v, eps),
                                    lambda v: not _two_d(v)))
    return [
        Claim.at_most("n-D: D_u f (jax.jvp) = grad f . u for every sampled unit direction: "
                      "worst error, in sqrt(n) eps ||grad f||", err,
                      tol.roundoff(cfg.ulps_nd, 1.0), id="directional_derivative_nd",
                      worst=at, reference="closed-form gradient (NumPy float64) dotted with u",
                      detail=f"{cfg.num_directions} random directions, n = {cfg.dims}; "
                             "sqrt(n): the n-term dot products as a random walk"),
    ]


def _level_claims(cfg, r):
    slopes, labels, first = _orthogonality(r)
    dev, where = tol.worst(np.abs(slopes - 1), labels)
    worst_slope = slopes[labels.index(where)]
    cos0, cos0_at = tol.worst(first, labels)
    return [
        Claim.close("gradient is orthogonal to the level curve: |cos(chord, grad)| ~ delta, "
                    "worst fitted slope", worst_slope, 1.0,
                    tol.absolute(0.2, "0.2 in the exponent (fixed)"), id="level_chord_slope",
                    worst=where, reference="level points found by root finding on f alone "
                    "(NumPy float64)", detail=f"level points on circles of radius "
                    f"{r.deltas[0]:g}..{r.deltas[-1]:.2g}; {dev:.3g} from 1"),
        Claim.at_most("at the smallest delta, the chord to the level curve is within 0.1 "
                      "degree of perpendicular: worst |cos|", cos0,
                      tol.absolute(np.sin(np.radians(0.1)), "sin 0.1 degree"),
                      id="level_chord_perpendicular", worst=cos0_at,
                      reference="level points found by root finding on f alone",
                      detail=f"delta = {r.deltas[0]:g}"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    eps = ctx.eps
    return (_partial_and_plane_claims(cfg, r, eps) + _direction_claims(cfg, r, eps)
            + _many_variable_claims(cfg, r, eps) + _level_claims(cfg, r))


def metrics(cfg: Config, r: Results) -> dict:
    err, _ = _per_point(r, _partial_errors)
    slopes, _, first = _orthogonality(r)
    law, _ = _per_point(r, lambda v: _cos_law_errors(r, v), _two_d)
    nd, _ = _per_point(r, lambda v: _nd_directional_ulps(v, r.eps), lambda v: not _two_d(v))
    cs, _ = _per_point(r, lambda v: (v["dirs"].max(axis=1) - np.linalg.norm(v["exact"], axis=1))
                       / np.linalg.norm(v["exact"], axis=1))
    fd, _ = _per_point(r, lambda v: np.abs(v["gradient_fd"] - np.linalg.norm(v["exact"], axis=1))
                       / np.linalg.norm(v["exact"], axis=1), lambda v: not _two_d(v))
    plane, _ = _plane_slopes(r)
    return {"worst_partial_ulps": float(err.max() / r.eps),
            "worst_cosine_law_ulps": float(law.max() / r.eps),
            "worst_nd_directional_ulps": float(nd.max()),
            "worst_orthogonality_cos": float(first.max()),
            "worst_level_chord_slope_deviation": float(np.abs(slopes - 1).max()),
            "median_plane_slope_deviation": float(abs(np.median(plane) - 2)),
            # theorems the sampled data cannot break (Cauchy-Schwarz; two float64 references)
            "cauchy_schwarz_max_excess": float(cs.max()),
            "float64_fd_along_exact_gradient_gap": float(fd.max())}


KEY_METRICS = ("worst_partial_ulps", "worst_orthogonality_cos")


# ------------------------------------------------------------------------------ figures

def tangent_plane(cfg: Config, r: Results):
    """The tangent plane touches the surface f(x, y) at a point, and its slopes along the x and y
    slices through that point are the partial derivatives there."""
    sc = r.showcase
    x0, g0, f0, s = sc["x0"], sc["g0"], sc["f0"], sc["surface_s"]
    title = (f"The partial derivatives of f = {sc['label']} at the black dot are the slopes "
             "of the tangent plane's two slice lines")
    fig = plotting.figure(title, width=7, height=5.5)[0]
    fig.axes[0].remove()
    ax = fig.add_subplot(projection="3d")
    X, Y = np.meshgrid(x0[0] + s, x0[1] + s)
    ax.plot_surface(X, Y, sc["surface_z"], cmap="viridis", alpha=0.6, linewidth=0)
    P = f0 + g0[0] * (X - x0[0]) + g0[1] * (Y - x0[1])
    ax.plot_surface(X, Y, P, color="orange", alpha=0.35, linewidth=0)
    ax.plot(x0[0] + s, np.full_like(s, x0[1]), f0 + g0[0] * s, color="#d62728",
            label=rf"slice in x: $\partial f / \partial x$ = {g0[0]:.3f}")
    ax.plot(np.full_like(s, x0[0]), x0[1] + s, f0 + g0[1] * s, color="#1f77b4",
            label=rf"slice in y: $\partial f / \partial y$ = {g0[1]:.3f}")
    ax.scatter([x0[0]], [x0[1]], [f0], color="black", s=30)
    ax.plot([], [], color="orange", linewidth=6, alpha=0.5, label="tangent plane (jax.grad)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("f(x, y)")
    ax.legend(loc="upper left", frameon=False)
    return fig


def gradient_field(cfg: Config, r: Results):
    """The gradient field of f(x, y) crosses every level curve at right angles: the arrows over
    the contours, and jax.grad at one point against the level curve through it."""
    sc = r.showcase
    x0, g0 = sc["x0"], sc["g0"]
    fig, ax = plotting.figure(rf"$\nabla f$ is perpendicular to the level curves of "
                              f"f = {sc['label']}", width=6, height=6.2)
    XX, YY = np.meshgrid(sc["grid"], sc["grid"])
    ax.contour(XX, YY, sc["grid_z"], levels=20, cmap="viridis", linewidths=0.8, alpha=0.8)
    QX, QY = np.meshgrid(sc["quiver"], sc["quiver"])
    G = sc["quiver_grad"]
    ax.quiver(QX, QY, G[0], G[1], color=plotting.color("autodiff"), alpha=0.7,
              label=r"$\nabla f$ (closed form)")
    ax.contour(XX, YY, sc["grid_z"], levels=[sc["f0"]], colors="#d62728", linewidths=2)
    ax.annotate("", x0 + 0.4 * g0 / np.linalg.norm(g0), x0,
                arrowprops=dict(color="#d62728", width=2, headwidth=8))
    ax.plot([], [], color="#d62728", label=r"level curve through $x_0$, and $\nabla f(x_0)$ "
            "(jax.grad)")
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=1)
    return fig


def directional_derivative(cfg: Config, r: Results):
    """The directional derivative along a unit direction u, the dot product of the gradient with
    u, is a cosine in the angle of u, peaking where u points along the gradient, at the
    gradient's norm."""
    fig, ax = plotting.figure(r"$D_u f$ peaks where $u$ points along $\nabla f$ and the "
                              r"peak height is $\|\nabla f\|$", width=9, height=4.5)
    th = np.degrees(r.angles)
    for n, v in r.functions.items():
        if v["dim"] != 2:
            continue
        g = v["grads"][0]
        ax.plot(th, v["dirs"][0], color=plotting.color(n), label=f"f = {v['label']}")
        ax.axvline(np.degrees(np.arctan2(g[1], g[0])) % 360, color=plotting.color(n),
                   linestyle=":", linewidth=1)
        ax.axhline(np.linalg.norm(g), color=plotting.color(n), linestyle="--", linewidth=1)
    ax.plot([], [], "k:", label=r"angle of $\nabla f$ (jax.grad)")
    ax.plot([], [], "k--", label=r"$\|\nabla f\|$")
    ax.set_xlabel("angle of the unit direction u (degrees)")
    ax.set_ylabel(r"$D_u f = \nabla f \cdot u$ (jax.jvp)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


FIGURES = (tangent_plane, gradient_field, directional_derivative)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: for the largest of
    dims, n, the num_directions random unit directions (num_directions x n: drawn, normalised
    in float64, on the device and kept), the directional derivatives at every point along every
    direction, whose vmapped tangents are num_points x num_directions x n, and the partials
    from slices (num_points x n x n)."""
    from mathml_jax import budget as b

    n, P, K, it = max(cfg.dims), cfg.num_points, cfg.num_directions, target.itemsize
    return b.estimate(
        b.Part(K * n * (3 * 8 + 2 * it) + 2 * P * K * n * it + P * n * n * it,
               ("gradient.num_directions", "gradient.dims", "gradient.num_points"),
               "num_directions unit directions of the largest dimension and the tangents of "
               "num_points x num_directions directional derivatives"),
        seconds=sum(P * (K * d * 4 + d * d * 4) + K * d for d in cfg.dims) * b.S_PER_ELEMENT,
        rate=f"{1 / b.S_PER_ELEMENT:.2g} elementwise operations/s")
