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
   with the gradient tends to 90 degrees, |cos| shrinking like delta.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import param
from mathml_jax import Claim, Report, plotting
from mathml_jax.convergence import fitted_slope
from mathml_jax.multivariable import gradient_study
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

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
             lambda x: np.array([2 * x[0], 6 * x[1]]), "x^2 + 3y^2"),
    "wave": (_wave, lambda x: np.sin(x[0]) * np.cos(x[1]) + 0.3 * x[0],
             lambda x: np.array([np.cos(x[0]) * np.cos(x[1]) + 0.3,
                                 -np.sin(x[0]) * np.sin(x[1])]), "sin x cos y + 0.3x"),
    "rosenbrock": (_rosen, lambda x: (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2,
                   lambda x: np.array([-2 * (1 - x[0]) - 40 * x[0] * (x[1] - x[0] ** 2),
                                       20 * (x[1] - x[0] ** 2)]), "(1-x)^2 + 10(y-x^2)^2"),
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
                              lambda x: Q @ x + b, f"0.5 x'Qx + b'x in R^{dim}"),
        f"logsumexp_{dim}d": (lse_jax, lambda x: np.log(np.exp(A @ x).sum()),
                              lambda x: A.T @ softmax(A @ x), f"log sum exp(Ax) in R^{dim}"),
    }


@dataclass
class Config:
    two_d: list[str] = param(["bowl", "wave", "rosenbrock"], choices=tuple(TWO_D))
    dims: list[int] = param([10, 100], ge=3, le=10_000, help="dimensions of the n-D functions")
    num_points: int = param(8, ge=1, le=10_000, help="random points per function")
    num_angles: int = param(360, ge=8, le=100_000, help="unit directions in 2-D")
    num_directions: int = param(2000, ge=8, le=1_000_000, help="random unit directions in n-D")
    partial_ulps: float = param(64.0, gt=0, help="bound on partials vs closed form, in eps")
    slope_tol: float = param(0.15, gt=0, le=1)


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


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("gradient", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    k_pts, k_dirs = jax.random.split(ctx.key)
    angles = np.linspace(0, 2 * np.pi, cfg.num_angles, endpoint=False)
    U2 = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    funcs = {n: v for n, v in TWO_D.items() if n in cfg.two_d}
    for d in cfg.dims:
        funcs.update(many_variable_functions(d, ctx.seed))

    worst_partial, worst_peak_angle, worst_peak_value, worst_cos_law = 0.0, 0.0, 0.0, 0.0
    worst_cs, worst_orth, worst_ghat = -np.inf, 0.0, 0.0
    plane_slopes, orth_slopes, showcase = [], [], {}
    r = np.logspace(-3, -1.5, 10)
    deltas = np.logspace(-4, -1.5, 6)
    for fi, (name, (f, fn, gn, label)) in enumerate(funcs.items()):
        dim = 2 if name in TWO_D else int(name.split("_")[1][:-1])
        pts = np.asarray(jax.random.uniform(jax.random.fold_in(k_pts, fi), (cfg.num_points, dim),
                                            dtype, -1.0, 1.0), np.float64)
        if dim == 2:
            U = U2
        else:
            U = np.array(jax.random.normal(jax.random.fold_in(k_dirs, fi),
                                           (cfg.num_directions, dim)), np.float64)
            U = U / np.linalg.norm(U, axis=1, keepdims=True)
        (grads, parts, dirs), t = timed(gradient_study, jnp.asarray(pts, dtype),
                                        jnp.asarray(U, dtype), f=f)
        report.add_timing(f"gradient_{name}", t)
        grads, parts, dirs = (np.asarray(a, np.float64) for a in (grads, parts, dirs))
        exact = np.stack([gn(p) for p in pts])
        scale = np.maximum(1.0, np.abs(exact).max(axis=1, keepdims=True))
        worst_partial = max(worst_partial, (np.abs(parts - exact) / scale).max() / eps,
                            (np.abs(grads - exact) / scale).max() / eps)
        norms = np.linalg.norm(exact, axis=1)
        # directional derivatives: peak at the normalised gradient, value ||grad||
        worst_cs = max(worst_cs, ((dirs.max(axis=1) - norms) / (norms * eps)).max())
        if dim == 2:
            theta_g = np.arctan2(exact[:, 1], exact[:, 0])
            best = angles[np.argmax(dirs, axis=1)]
            gap = np.abs((best - theta_g + np.pi) % (2 * np.pi) - np.pi)
            worst_peak_angle = max(worst_peak_angle, gap.max() / (angles[1] - angles[0]))
            worst_peak_value = max(worst_peak_value,
                                   (np.abs(dirs.max(axis=1) - norms) / norms).max())
            law = norms[:, None] * np.cos(angles[None, :] - theta_g[:, None])
            worst_cos_law = max(worst_cos_law,
                                (np.abs(dirs - law) / norms[:, None]).max() / eps)
        else:
            # D along the normalised gradient by a float64 central difference of f alone
            for p, g in zip(pts, exact, strict=True):
                u = g / np.linalg.norm(g)
                h = 1e-5
                d_fd = (fn(p + h * u) - fn(p - h * u)) / (2 * h)
                worst_ghat = max(worst_ghat, abs(d_fd - np.linalg.norm(g)) / np.linalg.norm(g))
        # tangent plane gap against distance, along a random direction per point
        rng = np.random.default_rng(ctx.seed + fi)
        for p, g in zip(pts, grads, strict=True):
            v = rng.normal(size=dim)
            v /= np.linalg.norm(v)
            gaps = np.array([abs(fn(p + ri * v) - (fn(p) + g @ (ri * v))) for ri in r])
            plane_slopes.append(fitted_slope(r, gaps))
        # gradient orthogonal to the level curve (2-D)
        if dim == 2:
            for p, g in zip(pts, exact, strict=True):
                if np.linalg.norm(g) < 0.1:
                    continue
                c = np.array([_level_chords(fn, p, g, d).max() for d in deltas])
                orth_slopes.append(fitted_slope(deltas, c))
                worst_orth = max(worst_orth, c[0])
            showcase[name] = (f, fn, gn, label, pts[0], grads[0], dirs[0])

    report.claim(Claim.at_most(
        "partial derivatives = slopes of the slice tangent lines = closed form; "
        "worst error / eps", worst_partial, cfg.partial_ulps,
        detail=f"{len(funcs)} functions (2-D and n = {cfg.dims}) x {cfg.num_points} points; "
               "relative to max(1, max|grad|)"))
    # Any other plane through (x0, f(x0)) leaves a gap of order r (slope 1); the tangent plane
    # leaves r^2 (slope 2). Where the curvature v'Hv along the probe direction is nearly zero,
    # the r^2 and r^3 terms compete over the fitted range and single slopes scatter around 2,
    # so the per-point bound is "clearly above first order" and the typical point is checked
    # against 2.
    report.claim(Claim.at_least(
        "tangent plane touches f beyond first order: smallest fitted slope of |f - plane| vs "
        "distance r (another plane would give 1)", min(plane_slopes), 1.5,
        detail=f"r = {r[0]:g}..{r[-1]:.2g}, {len(plane_slopes)} point/direction pairs"))
    report.claim(Claim.close(
        "tangent plane gap ~ r^2 at a typical point: median fitted slope",
        np.median(plane_slopes), 2.0, tol=cfg.slope_tol))
    step = 2 * np.pi / cfg.num_angles
    # Both bounds are geometry: the nearest grid direction is at most half a step from the
    # gradient, and the worst point comes close to that; only round-off can cross them. Near
    # the peak two neighbours' values differ by about step * (step/2 - d), so round-off of
    # 10 eps can move the argmax by 10 eps / step^2 grid steps: the margin is measured
    # against these allowances.
    slack_angle = 10 * eps / step**2
    report.claim(Claim.at_most(
        f"2-D: D_u f peaks at the normalised gradient: worst angle error in grid steps "
        f"({cfg.num_angles} directions)", worst_peak_angle, 0.5 + slack_angle,
        slack=slack_angle, detail="bound: half a grid step + round-off 10 eps / step^2"))
    report.claim(Claim.at_most(
        "2-D: the peak value of D_u f equals ||grad f||: worst relative gap",
        worst_peak_value, 1 - np.cos(step / 2) + 100 * eps, slack=100 * eps,
        detail="bound: 1 - cos(half the angle step) + round-off 100 eps"))
    report.claim(Claim.at_most(
        "2-D: D_u f = ||grad f|| cos(angle to the gradient) at every angle: worst error / eps",
        worst_cos_law, cfg.partial_ulps, detail="relative to ||grad f||"))
    report.claim(Claim.at_most(
        f"n-D: no sampled direction beats the gradient (Cauchy-Schwarz), "
        f"{cfg.num_directions} directions: max (D_u f - ||grad||) / (eps ||grad||)",
        worst_cs, cfg.partial_ulps))
    report.claim(Claim.at_most(
        "n-D: D along grad/||grad|| (float64 central difference of f) = ||grad f||: worst "
        "relative gap", worst_ghat, 1e-7, detail="h = 1e-5, truncation ~1e-10"))
    worst_os = max(orth_slopes, key=lambda s: abs(s - 1))
    report.claim(Claim.close(
        "gradient is orthogonal to the level curve: |cos(chord, grad)| ~ delta, worst fitted "
        "slope", worst_os, 1.0, tol=0.2,
        detail=f"level points on circles of radius {deltas[0]:g}..{deltas[-1]:.2g}"))
    report.claim(Claim.at_most(
        f"at delta = {deltas[0]:g}, the chord to the level curve is within 0.1 degree of "
        "perpendicular: worst |cos|", worst_orth, np.sin(np.radians(0.1))))
    report.metric("worst_partial_ulps", worst_partial, key=True)
    report.metric("worst_orthogonality_cos", worst_orth, key=True)
    report.add_series("directional", angle=angles, **{n: v[6] for n, v in showcase.items()})

    _figures(report, showcase, angles)
    return report


def _figures(report, showcase, angles):
    name = "wave" if "wave" in showcase else next(iter(showcase))
    f, fn, gn, label, x0, g0, d0 = showcase[name]
    title = (f"Tangent plane of f = {label} at ({x0[0]:.2f}, {x0[1]:.2f});\n"
             "the partial derivatives are the slopes of its two slice lines")
    fig = plotting.figure(title, width=7, height=5.5)[0]
    fig.clf()
    fig.suptitle(title, fontsize=13, fontweight="bold")
    ax = fig.add_subplot(projection="3d")
    s = np.linspace(-1.2, 1.2, 50)
    X, Y = np.meshgrid(x0[0] + s, x0[1] + s)
    Z = fn(np.stack([X, Y]))
    ax.plot_surface(X, Y, Z, cmap="viridis", alpha=0.6, linewidth=0)
    P = fn(x0) + g0[0] * (X - x0[0]) + g0[1] * (Y - x0[1])
    ax.plot_surface(X, Y, P, color="orange", alpha=0.35, linewidth=0)
    ax.plot(x0[0] + s, np.full_like(s, x0[1]), fn(x0) + g0[0] * s, color="red",
            label=f"slope in x: df/dx = {g0[0]:.3f}")
    ax.plot(np.full_like(s, x0[0]), x0[1] + s, fn(x0) + g0[1] * s, color="blue",
            label=f"slope in y: df/dy = {g0[1]:.3f}")
    ax.scatter([x0[0]], [x0[1]], [fn(x0)], color="black", s=30)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("f(x, y)")
    ax.legend(loc="upper left")
    report.add_figure("tangent_plane", fig)

    fig, ax = plotting.figure(f"grad f is perpendicular to the level curves\nf = {label}",
                              width=6, height=5.5)
    plotting.contour_with_trajectories(ax, lambda X, Y: fn(np.stack([X, Y])), (-1.5, 1.5),
                                       (-1.5, 1.5), levels=20)
    q = np.linspace(-1.4, 1.4, 15)
    QX, QY = np.meshgrid(q, q)
    G = gn(np.stack([QX, QY]))
    ax.quiver(QX, QY, G[0], G[1], color=plotting.color("autodiff"), alpha=0.7,
              label="grad f (closed form)")
    xs = np.linspace(-1.5, 1.5, 300)
    XX, YY = np.meshgrid(xs, xs)
    ax.contour(XX, YY, fn(np.stack([XX, YY])), levels=[fn(x0)], colors="red", linewidths=2)
    ax.annotate("", x0 + 0.4 * g0 / np.linalg.norm(g0), x0,
                arrowprops=dict(color="red", width=2, headwidth=8))
    ax.plot([], [], color="red", label="level curve through x0, and grad f(x0)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="lower left", fontsize=8)
    report.add_figure("gradient_field", fig)

    fig, ax = plotting.figure("D_u f peaks at the angle of grad f, with height ||grad f||",
                              width=7.5, height=4.5)
    for n, v in showcase.items():
        g = v[5]
        th = np.degrees(angles)
        ax.plot(th, v[6], color=plotting.color(n), label=f"D_u f, f = {v[3]}")
        ax.axvline(np.degrees(np.arctan2(g[1], g[0])) % 360, color=plotting.color(n),
                   linestyle=":", linewidth=1)
        ax.axhline(np.linalg.norm(g), color=plotting.color(n), linestyle="--", linewidth=1)
    ax.plot([], [], "k:", label="angle of grad f")
    ax.plot([], [], "k--", label="||grad f||")
    ax.set_xlabel("angle of the unit direction u (degrees)")
    ax.set_ylabel("D_u f = grad f . u")
    ax.legend(fontsize=8)
    report.add_figure("directional_derivative", fig)
