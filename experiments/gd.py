"""``gd``: gradient descent, and why (and when) it converges.

Gradient descent x_{k+1} = x_k - eta grad f(x_k) as one ``lax.scan`` kernel, batched with
``vmap`` over condition numbers, starts and step sizes. On the quadratic
f(x) = 1/2 x^T A x - b^T x (Hessian eigenvalues evenly spaced in [mu, L] = [1/kappa, 1]) the
error obeys e_{k+1} = (I - eta A) e_k, so ||e_k|| <= r(eta)^k ||e_0|| with
r(eta) = max_i |1 - eta lambda_i|, with equality along the extreme eigenvectors. Checked:

1. with eta = 2/(L + mu) the measured rate is (kappa - 1)/(kappa + 1), for several kappa, and
   no random start does worse than that rate;
2. a sweep of eta across 2/L: every eta < 2/L converges at rate r(eta) < 1, every eta > 2/L
   diverges (a status from inside the kernel), and the measured threshold brackets 2/L;
3. on Rosenbrock, GD with a well-chosen step reaches (1, 1) within a tolerance; the number of
   steps it needs is reported.

The reference minimiser x* = A^{-1} b and the spectrum come from NumPy in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.convergence import fitted_rate
from mathml_jax.optimization.descent import gradient_descent_batch
from mathml_jax.optimization.test_functions import make_quadratic, quadratic, rosenbrock
from mathml_jax.runtime import RunContext
from mathml_jax.status import describe_divergence
from mathml_jax.timing import timed

SECTION = "Multivariable calculus / Differentiation in multiple variables: gradient descent"

FLOOR = 1e4  # errors below FLOOR * eps * scale are round-off, not convergence: not measured


@dataclass
class Config:
    dim: int = param(50, ge=2, le=2000, help="dimension d of the quadratic")
    kappas: list[float] = param([5.0, 10.0, 50.0, 100.0], ge=1.5, le=1e4,
                                help="condition numbers kappa = L/mu of the rate study")
    steps: int = param(600, ge=10, le=1_000_000, help="GD steps on the quadratics")
    starts: int = param(8, ge=1, le=10_000, help="random starts checked against the bound")
    lr: float = param(1.0, gt=0, le=100, help="step of the configured run on the quadratic "
                      "(L = 1, so it diverges above 2); sweep it to see the threshold")
    sweep_kappa: float = param(10.0, ge=1.5, le=1e4, help="kappa of the step-size sweep")
    sweep_min: float = param(0.05, gt=0, help="smallest step of the sweep (units of 1/L)")
    sweep_max: float = param(3.0, gt=0, le=100, help="largest step of the sweep (units of 1/L)")
    sweep_points: int = param(48, ge=4, le=10_000, help="steps in the sweep (geometric grid)")
    sweep_steps: int = param(1000, ge=10, le=1_000_000, help="GD steps per swept step size")
    rosenbrock_lr: float = param(1.5e-3, gt=0, le=1, help="step of GD on Rosenbrock")
    rosenbrock_steps: int = param(20_000, ge=10, le=10_000_000)
    rosenbrock_tol: float = param(1e-3, gt=0, help="required distance to (1, 1)")

    def __post_init__(self):
        if self.sweep_min >= self.sweep_max:
            raise ConfigError("gd.sweep_min", self.sweep_min,
                              f"it must be below gd.sweep_max={self.sweep_max}")
        if self.dim * self.dim * (len(self.kappas) + 1) > 50_000_000:
            raise ConfigError("gd.dim", self.dim, "the Hessians of all kappas must fit in memory:"
                              " keep dim^2 x (number of kappas + 1) at most 50,000,000")


def _worst_start(A, b):
    """x* and the start x* + s (u_min + u_max)/sqrt(2), whose error contracts at exactly
    max(|1 - eta mu|, |1 - eta L|) per step; from NumPy's float64 eigh, not from JAX."""
    A, b = np.asarray(A, np.float64), np.asarray(b, np.float64)
    lam, U = np.linalg.eigh(A)
    x_star = np.linalg.solve(A, b)
    s = max(1.0, np.linalg.norm(x_star))
    return lam, x_star, x_star + s * (U[:, 0] + U[:, -1]) / np.sqrt(2.0)


def _rate_from_run(err, valid_until, floor):
    """(e_k / e_0)^(1/k) at the last step k whose error is measurable (above the round-off
    floor and before any divergence); returns (rate, k)."""
    ok = np.nonzero((err > floor) & np.isfinite(err))[0]
    ok = ok[(ok >= 1) & (ok < valid_until)]
    if ok.size == 0:
        return float("nan"), 0
    k = int(ok[-1])
    return float((err[k] / err[0]) ** (1.0 / k)), k


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("gd", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    k_quad, k_starts, k_sweep = jax.random.split(ctx.key, 3)
    d = cfg.dim

    # ------------------------------------------------ 1. rate 2/(L+mu) for several kappa
    kappas = np.asarray(cfg.kappas, np.float64)
    keys = jax.random.split(k_quad, len(kappas))
    A, b = jax.vmap(lambda k, kap: make_quadratic(k, d, kap, dtype))(
        keys, jnp.asarray(kappas, dtype))
    refs = [_worst_start(A[i], b[i]) for i in range(len(kappas))]
    lam_min = np.array([r[0][0] for r in refs])
    lam_max = np.array([r[0][-1] for r in refs])
    report.claim(Claim.close("built quadratics have the requested condition number: "
                             "max |lambda_max/lambda_min - kappa| / kappa",
                             np.max(np.abs(lam_max / lam_min - kappas) / kappas), 0.0,
                             tol=100 * d * eps, detail="eigenvalues by NumPy eigh (float64)"))
    L, mu = lam_max, lam_min
    eta_opt = 2.0 / (L + mu)
    theory = (kappas - 1.0) / (kappas + 1.0)
    x0 = jnp.asarray(np.stack([r[2] for r in refs]), dtype)
    blowup = jnp.asarray(1e6 * max(1.0, max(np.linalg.norm(r[1]) for r in refs)), dtype)
    res, t = timed(gradient_descent_batch, x0, jnp.asarray(eta_opt, dtype), (A, b), blowup,
                   loss_fn=quadratic, steps=cfg.steps, in_axes=(0, 0, 0))
    report.add_timing("gd_kappas", t)
    traj = np.asarray(res.trajectory, np.float64)
    rates, fitted, curves = [], [], {}
    for i, kap in enumerate(kappas):
        x_star = refs[i][1]
        err = np.linalg.norm(traj[i] - x_star, axis=1)
        floor = FLOOR * eps * max(1.0, np.linalg.norm(x_star))
        rate, k = _rate_from_run(err, cfg.steps + 1, floor)
        rates.append(rate)
        window = (err > floor)
        fitted.append(fitted_rate(err[window]) if window.sum() > 2 else float("nan"))
        curves[kap] = err / err[0]
        tol = theory[i] * np.log(2.0) / (2 * max(k, 1)) + 10 * FLOOR * eps / max(k, 1)
        report.claim(Claim.close(
            f"kappa={kap:g}, step 2/(L+mu): error contracts at (kappa-1)/(kappa+1) per step",
            rate, theory[i], tol=tol,
            detail=f"(e_k/e_0)^(1/k) at k={k}, worst-case start; tol r ln2/(2k) + round-off"))
        report.metric(f"rate_kappa_{kap:g}", rate)
        report.metric(f"fitted_rate_kappa_{kap:g}", fitted[-1])

    # random starts never beat the bound ||e_k|| <= r^k ||e_0||
    starts = jax.random.normal(k_starts, (cfg.starts, d), dtype)
    worst_excess = 0.0
    for i, kap in enumerate(kappas):
        res_r = gradient_descent_batch(starts, jnp.asarray(eta_opt[i], dtype), (A[i], b[i]),
                                       blowup, loss_fn=quadratic, steps=cfg.steps,
                                       in_axes=(0, None, None))
        e = np.linalg.norm(np.asarray(res_r.trajectory, np.float64) - refs[i][1], axis=2)
        k = np.arange(e.shape[1])
        floor_i = FLOOR * eps * max(1.0, np.linalg.norm(refs[i][1]))
        # the bound is tight (both extreme eigen-directions contract by exactly r at this
        # step), so the excess over r^k ||e_0|| is measured in units of the round-off floor
        worst_excess = max(worst_excess, float(np.max((e - e[:, :1] * theory[i] ** k)
                                                      / floor_i)))
        curves[f"random_{kap:g}"] = e / e[:, :1]
    report.claim(Claim.at_most(
        f"{cfg.starts} random starts per kappa: ||e_k|| <= r^k ||e_0|| at every step: max "
        "excess / round-off floor", worst_excess, 1.0,
        detail=f"r = (kappa-1)/(kappa+1), a tight bound; floor {FLOOR:g} eps max(1, ||x*||)"))
    report.add_series("rates", kappa=kappas, measured=np.array(rates),
                      fitted=np.array(fitted), theory=theory)

    # ------------------------------------------------ 2. step-size sweep across 2/L
    As, bs = make_quadratic(k_sweep, d, cfg.sweep_kappa, dtype)
    lam_s, xs_star, x0_s = _worst_start(As, bs)
    Ls = lam_s[-1]
    grid = np.geomspace(cfg.sweep_min, cfg.sweep_max, cfg.sweep_points) / Ls
    etas = np.concatenate([grid, [cfg.lr]])
    blow_s = 1e6 * max(1.0, np.linalg.norm(xs_star))
    sweep, t = timed(gradient_descent_batch, jnp.asarray(x0_s, dtype), jnp.asarray(etas, dtype),
                     (As, bs), jnp.asarray(blow_s, dtype), loss_fn=quadratic,
                     steps=cfg.sweep_steps, in_axes=(None, 0, None))
    report.add_timing("gd_sweep", t)
    err_s = np.linalg.norm(np.asarray(sweep.trajectory, np.float64) - xs_star, axis=2)
    div = np.asarray(sweep.diverged_at)
    floor_s = FLOOR * eps * max(1.0, np.linalg.norm(xs_star))
    r_theory = np.max(np.abs(1.0 - np.outer(etas, lam_s)), axis=1)
    r_meas, ks = zip(*(_rate_from_run(err_s[j], div[j] if div[j] >= 0 else err_s.shape[1],
                                      floor_s) for j in range(len(etas))), strict=True)
    r_meas, ks = np.array(r_meas), np.array(ks)
    below = etas < 2.0 / Ls
    g_below, g_above = below[:-1], ~below[:-1]
    if g_below.any():
        report.claim(Claim.holds(
            f"every step in (0, 2/L) converges: {g_below.sum()} steps, none diverged, all "
            "with measured rate < 1", bool(np.all(div[:-1][g_below] < 0)
                                           and np.all(r_meas[:-1][g_below] < 1)),
            measured=float(np.max(r_meas[:-1][g_below])),
            detail=f"kappa={cfg.sweep_kappa:g}, {cfg.sweep_steps} steps"))
    if g_above.any():
        report.claim(Claim.holds(
            f"every step above 2/L diverges: {g_above.sum()} steps, all with status "
            "'diverged' from the kernel", bool(np.all(div[:-1][g_above] >= 0)),
            measured=float(g_above.sum())))
    if g_below.any() and g_above.any():
        lo, hi = grid[g_below].max() * Ls, grid[g_above].min() * Ls
        report.claim(Claim.within("measured divergence threshold (eta L between the largest "
                                  "convergent and smallest divergent step)", 0.5 * (lo + hi),
                                  lo, hi, detail=f"theory 2/L = 2 lies in [{lo:.3g}, {hi:.3g}]"))
        report.metric("threshold_bracket_low", lo)
        report.metric("threshold_bracket_high", hi)
    # The start has equal parts along u_min and u_max, so e_k / e_0 is exactly
    # sqrt((a^2k + c^2k) / 2), a = |1 - eta mu|, c = |1 - eta L|: its k-th root tends to
    # max(a, c) = max_i |1 - eta lambda_i| (as r (1/2)^(1/2k) when one direction dominates).
    kk = np.maximum(ks, 1)
    a_s, c_s = np.abs(1.0 - etas * lam_s[0]), np.abs(1.0 - etas * lam_s[-1])
    r_pred = (0.5 * (a_s ** (2 * kk) + c_s ** (2 * kk))) ** (1.0 / (2 * kk))
    rel = np.abs(r_meas - r_pred) / r_pred
    # Round-off puts about eps ||x*|| per step along the other eigen-directions, where it
    # contracts no slower than 1 - 1/kappa: at most 10 kappa eps ||x*|| in e_k, spread over k;
    # and each step's relative rounding (10 eps per step) where e_k is large.
    e_at_k = err_s[np.arange(len(etas)), np.minimum(ks, err_s.shape[1] - 1)]
    tol_rel = (10 * cfg.sweep_kappa * eps * max(1.0, np.linalg.norm(xs_star))
               / np.maximum(e_at_k, floor_s) / kk + 10 * eps)
    report.claim(Claim.at_most(
        "measured rate (e_k/e_0)^(1/k) = ((a^2k + c^2k)/2)^(1/2k) -> max_i |1 - eta lambda_i| "
        "for every swept step (max error / tol)", float(np.nanmax(rel / tol_rel)), 1.0,
        detail=f"a, c = |1 - eta mu|, |1 - eta L|; tol: round-off "
               f"10 kappa eps ||x*|| / (e_k k) + 10 eps; "
               f"max |measured - max_i|1 - eta lambda_i|| / rate "
               f"{float(np.nanmax(np.abs(r_meas - r_theory) / r_theory)):.2g}"))
    report.add_series("sweep", eta_L=etas[:-1] * Ls, measured_rate=r_meas[:-1],
                      theory_rate=r_theory[:-1], diverged_at=div[:-1],
                      final_error_ratio=err_s[:-1, -1] / err_s[:-1, 0])

    # the configured step (what a sweep over gd.lr varies)
    j = len(etas) - 1
    status = describe_divergence(div[j])
    # growth_per_step first: the sweep summary plots the first key metric by default, and it
    # crosses 1 at the divergence threshold eta = 2/L
    report.metric("growth_per_step", float(r_meas[j]), key=True)
    report.metric("lr_times_L", float(cfg.lr * Ls), key=True)
    report.metric("diverged", int(div[j] >= 0), key=True)
    report.metric("diverged_at_step", int(div[j]), key=True)
    report.metric("status", status)
    if cfg.lr * Ls < 2:
        report.claim(Claim.holds(f"step {cfg.lr:g} < 2/L = {2 / Ls:.4g}: GD converges ({status})",
                                 div[j] < 0 and r_meas[j] < 1, measured=r_meas[j]))
    else:
        report.claim(Claim.holds(f"step {cfg.lr:g} > 2/L = {2 / Ls:.4g}: GD diverges ({status})",
                                 div[j] >= 0, measured=r_meas[j]))

    # ------------------------------------------------ 3. Rosenbrock
    start = jnp.asarray([-1.2, 1.0], dtype)
    ros_etas = jnp.asarray([cfg.rosenbrock_lr], dtype)
    ros, t = timed(gradient_descent_batch, start, ros_etas, None, jnp.asarray(1e6, dtype),
                   loss_fn=rosenbrock, steps=cfg.rosenbrock_steps, in_axes=(None, 0, None))
    report.add_timing("gd_rosenbrock", t)
    dist = np.linalg.norm(np.asarray(ros.trajectory[0], np.float64) - 1.0, axis=1)
    reached = np.nonzero(dist <= cfg.rosenbrock_tol)[0]
    steps_needed = int(reached[0]) if reached.size else -1
    report.claim(Claim.at_most(
        f"Rosenbrock from (-1.2, 1), step {cfg.rosenbrock_lr:g}: final distance to (1, 1)",
        dist[-1], cfg.rosenbrock_tol,
        detail=f"{cfg.rosenbrock_steps} steps; {describe_divergence(ros.diverged_at[0])}; "
               f"first within tol at step {steps_needed}"))
    report.metric("rosenbrock_steps_to_tol", steps_needed, key=True)
    report.metric("rosenbrock_final_distance", float(dist[-1]))
    report.add_series("rosenbrock", distance=dist, loss=np.asarray(ros.losses[0]))

    _figures(report, cfg, kappas, theory, rates, curves, ctx, dtype, etas[:-1] * Ls,
             r_meas[:-1], r_theory[:-1], div[:-1], dist, steps_needed)
    return report


def _figures(report, cfg, kappas, theory, rates, curves, ctx, dtype, etaL, r_meas, r_theory,
             div, dist, steps_needed):
    # trajectories on contours: a 2-D quadratic and Rosenbrock, small / good / too-large steps
    kap2 = 8.0
    A2 = np.array([[1.0 + 1 / kap2, 1.0 - 1 / kap2], [1.0 - 1 / kap2, 1.0 + 1 / kap2]]) / 2
    b2 = A2 @ np.array([1.0, -0.5])
    q2 = (jnp.asarray(A2, dtype), jnp.asarray(b2, dtype))
    demo_q = {"small step 0.3/L": 0.3, "good step 2/(L+mu)": 2 / (1 + 1 / kap2),
              "too large 2.3/L": 2.3}
    x0 = jnp.asarray([-2.5, 2.0], dtype)
    rq = gradient_descent_batch(x0, jnp.asarray(list(demo_q.values()), dtype), q2, 20.0,
                                loss_fn=quadratic, steps=25, in_axes=(None, 0, None))
    # the good path first, so the small step's shorter path is drawn on top of it
    demo_r = {f"good step {cfg.rosenbrock_lr:g}": cfg.rosenbrock_lr,
              "small step 3e-4 (stops short)": 3e-4, "too large 1e-2": 1e-2}
    rr = gradient_descent_batch(jnp.asarray([-1.2, 1.0], dtype),
                                jnp.asarray(list(demo_r.values()), dtype), None, 1e6,
                                loss_fn=rosenbrock, steps=3000, in_axes=(None, 0, None))
    fig, (ax1, ax2) = plotting.figure(
        "Gradient descent paths: too small crawls, too large (> 2/L) diverges", ncols=2,
        height=4.6)
    qf = lambda X, Y: (0.5 * (A2[0, 0] * X**2 + 2 * A2[0, 1] * X * Y + A2[1, 1] * Y**2)  # noqa: E731
                       - b2[0] * X - b2[1] * Y)
    names = ["small", "good", "too large"]
    plotting.contour_with_trajectories(
        ax1, qf, (-3, 3), (-3, 3),
        {f"{lbl} ({describe_divergence(rq.diverged_at[i])})" if names[i] == "too large" else lbl:
         np.asarray(rq.trajectory[i])[: int(rq.diverged_at[i]) if rq.diverged_at[i] >= 0
                                      else None] for i, lbl in enumerate(demo_q)},
        marker_points={"x*": (1.0, -0.5)}, levels=20)
    ax1.set_title(f"quadratic, kappa = {kap2:g}, 25 steps")
    ros_f = lambda X, Y: (1 - X) ** 2 + 100 * (Y - X**2) ** 2  # noqa: E731
    paths = {}
    for i, lbl in enumerate(demo_r):
        p = np.asarray(rr.trajectory[i])
        k = int(rr.diverged_at[i])
        if k >= 0:
            lbl = f"{lbl} ({describe_divergence(k)})"
            p = p[: k]
        paths[lbl] = p
    plotting.contour_with_trajectories(ax2, ros_f, (-2, 2), (-1, 3), paths,
                                       marker_points={"(1, 1)": (1.0, 1.0)}, log_levels=True,
                                       levels=20)
    ax2.set_title("Rosenbrock from (-1.2, 1), 3000 steps")
    for ax in (ax1, ax2):
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="lower left", fontsize=8)
    report.add_figure("trajectories", fig)

    # error against step with the theoretical line r^k
    fig, ax = plotting.figure("Step 2/(L+mu): the error shrinks like ((kappa-1)/(kappa+1))^k",
                              width=6.5)
    for i, kap in enumerate(kappas):
        c = plotting.color(f"kappa={kap:g}")
        k = np.arange(curves[kap].size)
        rnd = curves[f"random_{kap:g}"]
        ax.semilogy(k, np.median(rnd, axis=0), color=c, alpha=0.5, linewidth=1,
                    label=f"kappa={kap:g}: random starts (median)")
        ax.semilogy(k, curves[kap], color=c, label=f"kappa={kap:g}: worst-case start")
        ax.semilogy(k, theory[i] ** k, color="black", linestyle="--", linewidth=1,
                    label="theory r^k" if i == 0 else None)
    ax.set_ylim(1e-8, 2)
    ax.set_xlabel("step k")
    ax.set_ylabel("||x_k - x*|| / ||x_0 - x*||")
    ax.legend(fontsize=7, ncols=2)
    report.add_figure("error_vs_step", fig)

    # rate against kappa, and the step-size sweep
    fig, (ax1, ax2) = plotting.figure("Measured contraction rates match theory", ncols=2)
    kk = np.geomspace(min(kappas) / 1.5, max(kappas) * 1.5, 200)
    plotting.theory_line(ax1, kk, (kk - 1) / (kk + 1), "theory (kappa-1)/(kappa+1)")
    ax1.plot(kappas, rates, "o", color=plotting.color("gd"), label="measured, step 2/(L+mu)")
    ax1.set_xscale("log")
    ax1.set_xlabel("condition number kappa = L/mu")
    ax1.set_ylabel("error contraction per step")
    ax1.set_title("rate against kappa")
    ax1.legend()
    ok = div < 0
    plotting.theory_line(ax2, etaL, r_theory, "theory max_i |1 - eta lambda_i|")
    ax2.plot(etaL[ok], r_meas[ok], "o", color=plotting.color("gd"), label="measured: converged")
    ax2.plot(etaL[~ok], r_meas[~ok], "x", color="crimson", label="measured: diverged (status)")
    ax2.axvline(2.0, color="gray", linestyle=":", label="eta = 2/L")
    ax2.axhline(1.0, color="gray", linewidth=0.8)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("step eta, in units of 1/L")
    ax2.set_ylabel("error growth per step")
    ax2.set_title(f"step sweep, kappa = {cfg.sweep_kappa:g}")
    ax2.legend()
    report.add_figure("rates", fig)

    fig, ax = plotting.figure(
        f"Rosenbrock: GD with step {cfg.rosenbrock_lr:g} reaches (1, 1) in {steps_needed} steps")
    ax.semilogy(np.arange(dist.size), dist, color=plotting.color("gd"), label="||x_k - (1,1)||")
    ax.axhline(cfg.rosenbrock_tol, color="gray", linestyle=":",
               label=f"tolerance {cfg.rosenbrock_tol:g}")
    ax.set_xlabel("step k")
    ax.set_ylabel("distance to the minimiser")
    ax.legend()
    report.add_figure("rosenbrock", fig)
