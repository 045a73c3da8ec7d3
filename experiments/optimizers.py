"""``optimizers``: SGD, heavy ball, Nesterov, AdaGrad, RMSProp, Adam and Lion, compared fairly.

All optimisers come from optax. On five test functions (an ill-conditioned quadratic,
Rosenbrock, Beale, Himmelblau, and the saddle x^2 - y^2 started near its saddle point) each
optimiser's learning rate is tuned over its own grid (one ``vmap``, all functions at once),
then it runs from many random starts around the standard one; the median and inter-quartile
range of the steps needed to reach a tolerance and of the final gap are reported per function
and optimiser. Checked:

1. heavy ball with its optimal (alpha, beta) contracts at (sqrt(kappa)-1)/(sqrt(kappa)+1) per
   step on the quadratic, gradient descent with 2/(L+mu) at (kappa-1)/(kappa+1): both measured
   rates match theory and heavy ball is faster;
2. every optimiser, with its tuned rate, reaches Rosenbrock's minimiser (1, 1) within a
   tolerance from the standard start (-1.2, 1);
3. every optimiser escapes the saddle of x^2 - y^2 from every start (the unstable direction
   grows under any descent step).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.convergence import fitted_rate
from mathml_jax.optimization.first_order import OPTIMIZERS, SCHEDULES, optimize_batch
from mathml_jax.optimization.test_functions import (
    ILL_KAPPA,
    ILL_QUADRATIC_HESSIAN,
    TEST_FUNCTIONS,
    switched,
    values_at,
)
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Optimisation: gradient descent and its modern variants (momentum, adaptive steps)"

FUNCTIONS = ("ill_quadratic", "rosenbrock", "beale", "himmelblau", "saddle")
SWITCH = switched(FUNCTIONS)
ESCAPE = -1.0  # the saddle counts as escaped once f <= ESCAPE


@dataclass
class Config:
    optimizers: list[str] = param(list(OPTIMIZERS), choices=OPTIMIZERS)
    steps: int = param(4000, ge=10, le=1_000_000, help="steps of every run")
    starts: int = param(32, ge=2, le=100_000, help="random starts per function (and seed)")
    spread: float = param(0.5, gt=0, le=10, help="starts: standard start + U(-spread, spread)")
    lr_min: float = param(1e-4, gt=0, help="smallest learning rate of every tuning grid")
    lr_max: float = param(1.0, gt=0, le=100)
    lr_points: int = param(16, ge=2, le=10_000, help="learning rates per tuning grid")
    tune_starts: int = param(3, ge=1, le=1000, help="starts every grid lr is tuned on: the "
                             "standard one and tune_starts - 1 random ones (median score)")
    momentum: float = param(0.9, ge=0, lt=1, help="beta of momentum and nesterov")
    schedule: str = param("cosine", choices=SCHEDULES,
                          help="learning-rate schedule of the comparison runs")
    gap_tol: float = param(1e-6, gt=0, help="a run has converged once f - f* <= gap_tol")
    rosenbrock_tol: float = param(2e-2, gt=0, help="required distance to (1, 1)")
    rate_steps: int = param(400, ge=20, le=1_000_000, help="steps of the rate measurement")
    rate_rtol: float = param(0.01, gt=0, le=1, help="relative tolerance of the measured rates")
    animate: bool = param(False, help="also write trajectories.gif, the paths growing")
    animation_frames: int = param(60, ge=2, le=1000, help="frames of the animation")

    def __post_init__(self):
        if self.lr_min >= self.lr_max:
            raise ConfigError("optimizers.lr_min", self.lr_min,
                              f"it must be below optimizers.lr_max={self.lr_max}")


def _steps_to_stay(values, target):
    """The first step from which ``values`` stay <= target to the end of the run, along the
    last axis (-1: not below target at the end). An oscillating run that only passes through
    the tolerance does not count."""
    above = ~(values <= target)
    n = values.shape[-1]
    last_above = n - 1 - np.argmax(above[..., ::-1], axis=-1)
    first = np.where(above.any(axis=-1), last_above + 1, 0)
    return np.where(first < n, first, -1)


def _grid_function(i):
    """f_i(X, Y) on a mesh grid for the contour plots: one compiled kernel for every function."""
    def values(X, Y):
        pts = jnp.asarray(np.stack([np.ravel(X), np.ravel(Y)], axis=1), jnp.float32)
        out = values_at(pts, jnp.asarray(i, jnp.int32), f=SWITCH)
        return np.asarray(out, np.float64).reshape(np.shape(X))

    return values


def _quartiles(x):
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return (float("nan"),) * 3
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return float(med), float(q1), float(q3)


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("optimizers", section=SECTION)
    dtype = ctx.dtype
    nf, S, G = len(FUNCTIONS), cfg.starts, cfg.lr_points
    fstar = np.array([0.0 if TEST_FUNCTIONS[n].min_value is not None else ESCAPE
                      for n in FUNCTIONS])
    tol = np.array([cfg.gap_tol if n != "saddle" else 0.0 for n in FUNCTIONS])
    std = np.array([TEST_FUNCTIONS[n].start for n in FUNCTIONS])
    spread = np.array([[cfg.spread, cfg.spread] if n != "saddle" else [cfg.spread, 1e-3]
                       for n in FUNCTIONS])
    starts = std[:, None, :] + spread[:, None, :] * np.asarray(
        jax.random.uniform(ctx.key, (nf, S, 2), minval=-1.0, maxval=1.0), np.float64)
    T = min(cfg.tune_starts, S + 1)
    grid = np.geomspace(cfg.lr_min, cfg.lr_max, G)
    blowup = jnp.asarray(1e6, dtype)
    mom = jnp.asarray(cfg.momentum, dtype)

    # tuning batch: every function x every grid lr x T tuning starts (the standard start and
    # the first T-1 random ones); the evaluation batch: every function x S random starts. Both
    # are padded to one size B, so each optimizer compiles once.
    tune_starts = np.concatenate([std[:, None], starts[:, : T - 1]], axis=1)  # (nf, T, 2)
    tune_x0 = np.broadcast_to(tune_starts[:, None], (nf, G, T, 2)).reshape(-1, 2)
    tune_lr = np.broadcast_to(grid[None, :, None], (nf, G, T)).ravel()
    tune_idx = np.broadcast_to(np.arange(nf)[:, None, None], (nf, G, T)).ravel()
    eval_x0 = starts.reshape(-1, 2)
    eval_idx = np.repeat(np.arange(nf), S)
    B = max(tune_lr.size, eval_idx.size)

    def padded(*arrays):
        return [jnp.asarray(np.concatenate([a, np.repeat(a[-1:], B - len(a), axis=0)]),
                            jnp.int32 if a.dtype.kind == "i" else dtype) for a in arrays]

    tuned, results, summary, std_final = {}, {}, {}, {}
    for opt in cfg.optimizers:
        x0_b, lr_b, idx_b = padded(tune_x0, tune_lr, tune_idx)
        res, t = timed(optimize_batch, x0_b, lr_b, mom, idx_b, blowup, f=SWITCH, optimizer=opt,
                       steps=cfg.steps, schedule=cfg.schedule)
        report.add_timing(f"tune_{opt}", t)
        n_t = nf * G * T
        losses = np.asarray(res.losses[:n_t], np.float64).reshape(nf, G, T, -1)
        div = np.asarray(res.diverged_at[:n_t]).reshape(nf, G, T)
        final_x = np.asarray(res.trajectory[:n_t, -1], np.float64).reshape(nf, G, T, 2)
        lrs = []
        for i, name in enumerate(FUNCTIONS):
            gap = losses[i] - fstar[i]  # (G, T, steps + 1)
            hit = _steps_to_stay(gap, tol[i]).astype(float)
            hit[hit < 0] = np.inf
            # saddle: escaping then blowing up is the goal; elsewhere any divergence on a
            # tuning start disqualifies the learning rate
            bad = np.any(div[i] >= 0, axis=1) & (name != "saddle")
            score = np.where(bad, np.inf, np.median(hit, axis=1))
            final = np.where(bad, np.inf, np.median(np.nan_to_num(gap[..., -1], nan=np.inf),
                                                    axis=1))
            best = np.lexsort((final, score))[0]  # fewest median steps, then smallest gap
            lrs.append(grid[best])
            # the tuning batch already holds the run from the standard start with the tuned lr
            std_final[(name, opt)] = final_x[i, best, 0]
        tuned[opt] = np.array(lrs)
        x0_b, lr_b, idx_b = padded(eval_x0, np.repeat(tuned[opt], S), eval_idx)
        res, t = timed(optimize_batch, x0_b, lr_b, mom, idx_b, blowup, f=SWITCH,
                       optimizer=opt, steps=cfg.steps, schedule=cfg.schedule)
        report.add_timing(f"run_{opt}", t)
        res = jax.tree.map(lambda a: a[: nf * S], res)
        results[opt] = res
        losses = np.asarray(res.losses, np.float64).reshape(nf, S, -1)
        div = np.asarray(res.diverged_at).reshape(nf, S)
        for i, name in enumerate(FUNCTIONS):
            gap = losses[i] - fstar[i]
            hit = _steps_to_stay(gap, tol[i])
            reached = hit >= 0
            med_steps, q1s, q3s = _quartiles(hit[reached])
            final = gap[:, -1]
            med_gap, q1g, q3g = _quartiles(final if name != "saddle" else losses[i, :, -1])
            summary[(name, opt)] = dict(lr=float(tuned[opt][i]), reached=int(reached.sum()),
                                        diverged=int((div[i] >= 0).sum()),
                                        steps_median=med_steps, steps_q1=q1s, steps_q3=q3s,
                                        gap_median=med_gap, gap_q1=q1g, gap_q3=q3g)
            for k, v in summary[(name, opt)].items():
                report.metric(f"{name}.{opt}.{k}", v)
        keep = np.unique(np.concatenate([[0], np.geomspace(1, cfg.steps, 300).astype(int)]))
        report.add_series(f"losses_{opt}", step=keep, losses=losses[..., keep].astype(np.float32),
                          diverged_at=div, tuned_lr=tuned[opt], functions=np.array(FUNCTIONS))

    # ---------- claims
    # 1. heavy ball vs gradient descent rates on the quadratic (its Hessian is known exactly)
    lam = np.linalg.eigvalsh(ILL_QUADRATIC_HESSIAN)
    mu, L = lam[0], lam[-1]
    kappa = L / mu
    sk = np.sqrt(kappa)
    r_hb, r_gd = (sk - 1) / (sk + 1), (kappa - 1) / (kappa + 1)
    alpha, beta = 4.0 / (np.sqrt(L) + np.sqrt(mu)) ** 2, r_hb ** 2
    m_star = np.array([1.0, -1.0])
    rate_meas = {}
    # float64 for a long measurable window; at the optimal parameters the heavy-ball iteration
    # matrix has a double eigenvalue r on each eigenvector of A, so e_k = (a + b k) r^k: the
    # rate is fitted to e_k / (k + 1) (for GD, e_k = r^k e_0 exactly, fitted as it is)
    with jax.enable_x64(True):
        x0 = jnp.asarray(np.array([TEST_FUNCTIONS["ill_quadratic"].start] * 2))
        for opt, lr, b, poly in (("momentum", alpha, beta, True),
                                 ("sgd", 2.0 / (L + mu), 0.0, False)):
            r = optimize_batch(x0, jnp.asarray([lr, lr]), jnp.asarray(b), jnp.zeros(2, jnp.int32),
                               jnp.asarray(1e6), f=SWITCH, optimizer=opt, steps=cfg.rate_steps)
            err = np.linalg.norm(np.asarray(r.trajectory[0], np.float64) - m_star, axis=1)
            ok = np.nonzero(err > 1e4 * np.finfo(np.float64).eps * np.linalg.norm(m_star))[0]
            window = np.zeros(err.size, bool)
            window[ok[ok.size // 2:]] = True
            y = err / (np.arange(err.size) + 1) if poly else err
            rate_meas[opt] = (fitted_rate(np.where(window, y, np.nan)), err)
    report.claim(Claim.relative(
        f"heavy ball, optimal alpha and beta, kappa={kappa:.4g}: rate (sqrt(kappa)-1)/"
        "(sqrt(kappa)+1)", rate_meas["momentum"][0], r_hb, rtol=cfg.rate_rtol,
        detail="float64; e_k/(k+1) fitted over the second half of the measurable errors"))
    report.claim(Claim.relative(
        f"gradient descent, step 2/(L+mu), kappa={kappa:.4g}: rate (kappa-1)/(kappa+1)",
        rate_meas["sgd"][0], r_gd, rtol=cfg.rate_rtol,
        detail="fitted over the second half of the measurable errors"))
    report.claim(Claim.at_most("heavy ball is faster than gradient descent: measured rate "
                               "ratio heavy ball / GD", rate_meas["momentum"][0]
                               / rate_meas["sgd"][0], 1.0,
                               detail=f"theory {r_hb / r_gd:.4g}"))
    report.metric("heavy_ball_rate", rate_meas["momentum"][0], key=True)
    report.metric("gd_rate", rate_meas["sgd"][0], key=True)
    report.add_series("rates", heavy_ball_error=rate_meas["momentum"][1],
                      gd_error=rate_meas["sgd"][1])

    # 2. Rosenbrock from the standard start with each tuned rate
    worst = 0.0
    for opt in cfg.optimizers:
        dist = float(np.linalg.norm(std_final[("rosenbrock", opt)] - 1.0))
        worst = max(worst, dist)
        report.metric(f"rosenbrock.{opt}.standard_start_distance", dist)
    report.claim(Claim.at_most(
        f"every optimizer ({len(cfg.optimizers)}) reaches Rosenbrock's (1, 1) from (-1.2, 1) "
        "with its tuned rate: worst final distance", worst, cfg.rosenbrock_tol,
        detail=f"{cfg.steps} steps"))

    # 3. everyone escapes the saddle
    i_s = FUNCTIONS.index("saddle")
    escaped = {opt: summary[("saddle", opt)]["reached"] for opt in cfg.optimizers}
    report.claim(Claim.holds(
        f"every optimizer escapes the saddle of x^2 - y^2 from all {S} starts near it "
        f"(f <= {ESCAPE:g})", all(v == S for v in escaped.values()),
        measured=min(escaped.values()),
        detail="starts (0.5, 0) + U(-spread, spread) x U(-1e-3, 1e-3)"))

    # 4. on the convex quadratic every optimizer's median run reaches the gap tolerance
    i_q = FUNCTIONS.index("ill_quadratic")
    worst_q = max(summary[("ill_quadratic", o)]["gap_median"] for o in cfg.optimizers)
    report.claim(Claim.at_most("ill-conditioned quadratic: every optimizer's median final gap",
                               worst_q, cfg.gap_tol, detail=f"{S} random starts"))
    # the comparison table as arrays (function x optimizer), for re-plotting or a paper table
    table = {k: np.array([[summary[(n, o)][k] for o in cfg.optimizers] for n in FUNCTIONS])
             for k in next(iter(summary.values()))}
    report.add_series("comparison", functions=np.array(FUNCTIONS),
                      optimizers=np.array(cfg.optimizers), **table)
    for name in FUNCTIONS:
        best = min(cfg.optimizers, key=lambda o: (summary[(name, o)]["steps_median"]
                                                  if summary[(name, o)]["reached"] else np.inf))
        report.metric(f"{name}.fastest", best)
    report.metric("rosenbrock_fastest", report.metrics["rosenbrock.fastest"], key=True)

    _figures(report, cfg, results, summary, tuned, fstar, starts, i_q, i_s, nf, S)
    return report


def _figures(report, cfg, results, summary, tuned, fstar, starts, i_q, i_s, nf, S):
    opts = cfg.optimizers
    fig, axes = plotting.figure("Optimizer paths from the first start, each with its tuned "
                                "learning rate", ncols=3, nrows=2, width=4.6, height=4.4,
                                squeeze=False)
    axes = axes.ravel()
    boxes = {"ill_quadratic": ((-3, 3), (-3, 3)), "rosenbrock": ((-2, 2), (-1, 3)),
             "beale": ((-1, 4.5), (-1.5, 2)), "himmelblau": ((-5, 5), (-5, 5)),
             "saddle": ((-1.5, 1.5), (-1.5, 1.5))}
    for ax, (i, name) in zip(axes, enumerate(FUNCTIONS), strict=False):
        tf = TEST_FUNCTIONS[name]
        paths = {}
        for opt in opts:
            p = np.asarray(results[opt].trajectory[i * S], np.float64)
            k = int(results[opt].diverged_at[i * S])
            paths[opt] = p[: k if k >= 0 else None]
        xl, yl = boxes[name]
        plotting.contour_with_trajectories(
            ax, _grid_function(i), xl, yl, paths, levels=25,
            log_levels=name in ("rosenbrock", "beale", "himmelblau"),
            marker_points={f"min {j + 1}": m for j, m in enumerate(tf.minimisers)} or None,
            resolution=120)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    axes[0].legend(loc="lower left", fontsize=7)
    axes[-1].axis("off")
    report.add_figure("trajectories", fig)
    if cfg.animate:
        report.add_animation("trajectories", _animation(cfg, results, S))

    fig, axes = plotting.figure(f"Loss against step: median and 10-90% band over {S} starts",
                                ncols=3, nrows=2, width=4.6, height=3.8, squeeze=False)
    axes = axes.ravel()
    for ax, (i, name) in zip(axes, enumerate(FUNCTIONS), strict=False):
        for opt in opts:
            losses = np.asarray(results[opt].losses, np.float64).reshape(nf, S, -1)[i]
            k = np.arange(losses.shape[1])
            if name == "saddle":
                plotting.band(ax, k, losses, opt, name=opt)
            else:
                plotting.band(ax, k, np.maximum(losses - fstar[i], 1e-14), opt, name=opt)
        if name == "saddle":
            ax.set_yscale("symlog", linthresh=1e-3)
            ax.set_ylabel("f(x)  (unbounded below)")
        else:
            ax.set_yscale("log")
            ax.axhline(cfg.gap_tol, color="gray", linestyle=":", linewidth=1)
            ax.set_ylabel("f(x) - f*")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(0, cfg.steps)
        ax.set_xlabel("step")
        ax.set_title(name.replace("_", " "))
    axes[0].legend(fontsize=7)
    # the last panel: median steps to tolerance, function x optimizer
    ax = axes[-1]
    M = np.array([[summary[(n, o)]["steps_median"] if summary[(n, o)]["reached"] else np.nan
                   for o in opts] for n in FUNCTIONS])
    im = ax.imshow(np.log10(M), cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(opts)), opts, rotation=45, fontsize=8)
    ax.set_yticks(range(nf), [n.replace("_", " ") for n in FUNCTIONS], fontsize=8)
    for a in range(nf):
        for b in range(len(opts)):
            txt = "never" if np.isnan(M[a, b]) else f"{M[a, b]:.0f}"
            ax.text(b, a, txt, ha="center", va="center", fontsize=7, color="white")
    ax.set_title("median steps to tolerance")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="log10 steps")
    report.add_figure("loss_curves", fig)

    r_hb, r_gd = report.series["rates"]["heavy_ball_error"], report.series["rates"]["gd_error"]
    fig, ax = plotting.figure(f"Heavy ball beats GD on a kappa={ILL_KAPPA:g} quadratic, "
                              "at the predicted rates", width=7.5)
    k = np.arange(r_hb.size)
    sk = np.sqrt(ILL_KAPPA)
    ax.semilogy(k, r_hb / r_hb[0], color=plotting.color("momentum"), label="heavy ball (optimal)")
    ax.semilogy(k, r_gd / r_gd[0], color=plotting.color("sgd"), label="gradient descent 2/(L+mu)")
    plotting.theory_line(ax, k, ((sk - 1) / (sk + 1)) ** k,
                         "theory ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^t")
    ax.semilogy(k, ((ILL_KAPPA - 1) / (ILL_KAPPA + 1)) ** k, color="gray", linestyle="--",
                label="theory ((kappa - 1)/(kappa + 1))^t")
    ax.set_ylim(1e-8, 10)
    ax.set_xlabel("step t")
    ax.set_ylabel("||x_t - x*|| / ||x_0 - x*||")
    ax.legend()
    report.add_figure("heavy_ball_rate", fig)


def _animation(cfg, results, S):
    """The optimizers' paths on Rosenbrock from the standard start, growing step by step.

    Frames sit at geometrically spaced steps, because the interesting motion is early."""
    from matplotlib.animation import FuncAnimation

    i = FUNCTIONS.index("rosenbrock")
    tf = TEST_FUNCTIONS["rosenbrock"]
    paths = {}
    for opt in cfg.optimizers:
        p = np.asarray(results[opt].trajectory[i * S], np.float64)
        k = int(results[opt].diverged_at[i * S])
        paths[opt] = p[: k if k >= 0 else None]
    n_steps = max(len(p) for p in paths.values())
    frames = np.unique(np.geomspace(1, n_steps, cfg.animation_frames).astype(int))
    fig, ax = plotting.figure("Optimizers on Rosenbrock from (-1.2, 1), tuned learning rates",
                              width=6.4, height=5.0)
    plotting.contour_with_trajectories(ax, _grid_function(i), (-2, 2), (-1, 3), None, levels=25,
                                       log_levels=True,
                                       marker_points={"min (1, 1)": tf.minimisers[0]},
                                       resolution=120)
    lines = {opt: ax.plot([], [], "-", color=plotting.color(opt), label=opt)[0]
             for opt in paths}
    heads = {opt: ax.plot([], [], "o", color=plotting.color(opt), markersize=5)[0]
             for opt in paths}
    step_text = ax.text(0.02, 0.96, "", transform=ax.transAxes, va="top")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="lower right", fontsize=8)

    def draw(k):
        for opt, p in paths.items():
            q = p[: min(k, len(p))]
            lines[opt].set_data(q[:, 0], q[:, 1])
            heads[opt].set_data(q[-1:, 0], q[-1:, 1])
        step_text.set_text(f"step {k}")
        return [*lines.values(), *heads.values(), step_text]

    return FuncAnimation(fig, draw, frames=frames, blit=False)
