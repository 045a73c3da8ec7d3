"""``optimizers``: SGD, heavy ball, Nesterov, AdaGrad, RMSProp, Adam and Lion, compared fairly.

All optimisers come from the one optax factory (:func:`mathml_jax.optimization.optimizers.
make_optimizer`). On five test functions (an ill-conditioned quadratic, Rosenbrock, Beale,
Himmelblau, and the saddle x^2 - y^2 started near its saddle point) each optimiser's learning
rate is tuned over its own grid (one ``vmap``, all functions at once), then it runs from many
random starts around the standard one; the median and inter-quartile range of the steps needed
to reach a tolerance and of the final gap are reported per function and optimiser. Checked:

1. heavy ball with its optimal (alpha, beta) contracts at (sqrt(kappa)-1)/(sqrt(kappa)+1) per
   step on the quadratic, gradient descent with 2/(L+mu) at (kappa-1)/(kappa+1): both measured
   rates match theory and heavy ball is faster (measured in float64 whatever the job's
   precision, for a long measurable window);
2. every optimiser, with its tuned rate, reaches Rosenbrock's minimiser (1, 1) within a
   tolerance from the standard start (-1.2, 1);
3. every optimiser escapes the saddle of x^2 - y^2 from every start (the unstable direction
   grows under any descent step);
4. on the convex quadratic every optimiser's median run reaches the gap tolerance.

Everything runs in the job's dtype (``ctx.dtype``), the contour grids of the figures included;
only the rate measurement of point 1 is float64 by design.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.convergence import fitted_rate
from mathml_jax.optimization.first_order import optimize_batch
from mathml_jax.optimization.optimizers import OPTIMIZERS, SCHEDULES
from mathml_jax.optimization.test_functions import (
    ILL_KAPPA,
    ILL_QUADRATIC_HESSIAN,
    TEST_FUNCTIONS,
    switched,
    values_at,
)
from mathml_jax.runtime import RunContext, in_float64
from mathml_jax.status import describe_divergence

SECTION = "Optimisation: gradient descent and its modern variants (momentum, adaptive steps)"

FUNCTIONS = ("ill_quadratic", "rosenbrock", "beale", "himmelblau", "saddle")
SWITCH = switched(FUNCTIONS)
ESCAPE = -1.0  # the saddle counts as escaped once f <= ESCAPE
# the plotting box of each function (x limits, y limits) and the contour grid's resolution
BOXES = {"ill_quadratic": ((-3, 3), (-3, 3)), "rosenbrock": ((-2, 2), (-1, 3)),
         "beale": ((-1, 4.5), (-1.5, 2)), "himmelblau": ((-5, 5), (-5, 5)),
         "saddle": ((-1.5, 1.5), (-1.5, 1.5))}
GRID = 120
SUMMARY = ("lr", "reached", "diverged", "steps_median", "steps_q1", "steps_q3", "gap_median",
           "gap_q1", "gap_q3")


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


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    functions: np.ndarray   # (nf,) the test functions' names (FUNCTIONS)
    optimizers: np.ndarray  # (no,) the optimisers compared (cfg.optimizers)
    step: np.ndarray        # (K,) the steps kept for the loss curves (0 and geometric)
    losses: dict            # optimizer -> (nf, S, K) f at the kept steps, every random start
    diverged_at: dict       # optimizer -> (nf, S) divergence step (-1: never), random starts
    comparison: dict        # SUMMARY stat -> (nf, no): tuned lr, counts, quartiles
    paths: dict             # optimizer -> (nf, steps + 1, 2) the run from the first start
    standard_start: dict    # Rosenbrock from (-1.2, 1) with the tuned lr: "final" (no, 2),
                            # "diverged_at" (no,)
    rates: dict             # float64 rate study: "heavy_ball_error", "gd_error" (steps + 1,)
                            # and the fitted rates "heavy_ball", "gd"
    contours: dict          # function -> (GRID, GRID) f on BOXES[function], in the run dtype


def _steps_to_stay(values, target):
    """The first step from which ``values`` stay <= target to the end of the run, along the
    last axis (-1: not below target at the end). An oscillating run that only passes through
    the tolerance does not count."""
    above = ~(values <= target)
    n = values.shape[-1]
    last_above = n - 1 - np.argmax(above[..., ::-1], axis=-1)
    first = np.where(above.any(axis=-1), last_above + 1, 0)
    return np.where(first < n, first, -1)


def _quartiles(x):
    x = np.asarray(x, np.float64)
    if x.size == 0:
        return (float("nan"),) * 3
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return float(med), float(q1), float(q3)


def _targets(cfg: Config):
    """Per function: f* (ESCAPE for the unbounded saddle), the gap tolerance, the standard
    start and the spread of the random starts around it."""
    fstar = np.array([0.0 if TEST_FUNCTIONS[n].min_value is not None else ESCAPE
                      for n in FUNCTIONS])
    gap = np.array([cfg.gap_tol if n != "saddle" else 0.0 for n in FUNCTIONS])
    std = np.array([TEST_FUNCTIONS[n].start for n in FUNCTIONS], np.float64)
    spread = np.array([[cfg.spread, cfg.spread] if n != "saddle" else [cfg.spread, 1e-3]
                       for n in FUNCTIONS])
    return fstar, gap, std, spread


# ------------------------------------------------------------------------------ compute

def _batches(cfg: Config, ctx: RunContext) -> dict:
    """The tuning batch (every function x every grid lr x T tuning starts: the standard start
    and the first T-1 random ones) and the evaluation batch (every function x S random
    starts), as flat NumPy arrays, and B, the size both are padded to (so each optimiser
    compiles once)."""
    nf, S, G = len(FUNCTIONS), cfg.starts, cfg.lr_points
    _, _, std, spread = _targets(cfg)
    starts = std[:, None, :] + spread[:, None, :] * np.asarray(
        jax.random.uniform(ctx.key, (nf, S, 2), ctx.dtype, minval=-1.0, maxval=1.0),
        np.float64)
    T = min(cfg.tune_starts, S + 1)
    grid = np.geomspace(cfg.lr_min, cfg.lr_max, G)
    tune_starts = np.concatenate([std[:, None], starts[:, : T - 1]], axis=1)  # (nf, T, 2)
    return dict(
        grid=grid, T=T, B=max(nf * G * T, nf * S),
        tune_x0=np.broadcast_to(tune_starts[:, None], (nf, G, T, 2)).reshape(-1, 2),
        tune_lr=np.broadcast_to(grid[None, :, None], (nf, G, T)).ravel(),
        tune_idx=np.broadcast_to(np.arange(nf)[:, None, None], (nf, G, T)).ravel(),
        eval_x0=starts.reshape(-1, 2), eval_idx=np.repeat(np.arange(nf), S))


def _run_batch(cfg: Config, ctx: RunContext, label: str, opt: str, x0, lr, idx, B: int):
    """``opt`` on the runs (x0, lr, function index), padded to B runs: the first len(lr)
    runs' OptimizeResult as host arrays."""
    n = len(lr)

    def pad(a):
        return np.concatenate([a, np.repeat(a[-1:], B - n, axis=0)])

    res = ctx.timed(label, optimize_batch, jnp.asarray(pad(x0), ctx.dtype),
                    jnp.asarray(pad(lr), ctx.dtype), jnp.asarray(cfg.momentum, ctx.dtype),
                    jnp.asarray(pad(idx), jnp.int32), jnp.asarray(1e6, ctx.dtype), f=SWITCH,
                    optimizer=opt, steps=cfg.steps, schedule=cfg.schedule)
    return jax.tree.map(lambda a: np.asarray(a[:n]), res)


def _tune(cfg: Config, res, b: dict, fstar, gap):
    """Per function, the grid lr with the fewest median steps to the tolerance (then the
    smallest median final gap); a divergence on any tuning start disqualifies an lr (except on
    the saddle, where escaping and blowing up is the goal). Returns (tuned lrs (nf,), final
    iterate (nf, 2) and divergence step (nf,) of the standard start with the tuned lr)."""
    nf, G, T = len(FUNCTIONS), cfg.lr_points, b["T"]
    losses = np.asarray(res.losses, np.float64).reshape(nf, G, T, -1)
    div = res.diverged_at.reshape(nf, G, T)
    final_x = np.asarray(res.trajectory[:, -1], np.float64).reshape(nf, G, T, 2)
    lrs, std_final, std_div = [], [], []
    for i, name in enumerate(FUNCTIONS):
        g = losses[i] - fstar[i]  # (G, T, steps + 1)
        hit = _steps_to_stay(g, gap[i]).astype(float)
        hit[hit < 0] = np.inf
        bad = np.any(div[i] >= 0, axis=1) & (name != "saddle")
        score = np.where(bad, np.inf, np.median(hit, axis=1))
        final = np.where(bad, np.inf, np.median(np.nan_to_num(g[..., -1], nan=np.inf), axis=1))
        best = np.lexsort((final, score))[0]
        lrs.append(b["grid"][best])
        # the tuning batch already holds the run from the standard start with the tuned lr
        std_final.append(final_x[i, best, 0])
        std_div.append(int(div[i, best, 0]))
    return np.array(lrs), np.array(std_final), np.array(std_div, np.int32)


def _summary(losses, div, lrs, fstar, gap) -> dict:
    """SUMMARY stat -> (nf,): tuned lr, runs that reached (stayed within) the tolerance and
    that diverged, quartiles of the steps needed (over the runs that reached) and of the final
    gap (of the final f for the saddle)."""
    out = {k: [] for k in SUMMARY}
    for i, name in enumerate(FUNCTIONS):
        g = losses[i] - fstar[i]
        hit = _steps_to_stay(g, gap[i])
        reached = hit >= 0
        steps = _quartiles(hit[reached])
        gaps = _quartiles(g[:, -1] if name != "saddle" else losses[i, :, -1])
        row = (float(lrs[i]), int(reached.sum()), int((div[i] >= 0).sum()), *steps, *gaps)
        for k, v in zip(SUMMARY, row, strict=True):
            out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def _compare_one(cfg: Config, ctx: RunContext, opt: str, b: dict, keep) -> dict:
    """Tunes ``opt``'s learning rate per function, then runs it from every random start."""
    nf, S = len(FUNCTIONS), cfg.starts
    fstar, gap, _, _ = _targets(cfg)
    res = _run_batch(cfg, ctx, f"tune_{opt}", opt, b["tune_x0"], b["tune_lr"], b["tune_idx"],
                     b["B"])
    lrs, std_final, std_div = _tune(cfg, res, b, fstar, gap)
    res = _run_batch(cfg, ctx, f"run_{opt}", opt, b["eval_x0"], np.repeat(lrs, S),
                     b["eval_idx"], b["B"])
    losses = np.asarray(res.losses, np.float64).reshape(nf, S, -1)
    div = res.diverged_at.reshape(nf, S)
    return dict(summary=_summary(losses, div, lrs, fstar, gap), std_final=std_final,
                std_div=std_div, losses=np.asarray(res.losses).reshape(nf, S, -1)[..., keep],
                diverged_at=div, path=res.trajectory.reshape(nf, S, -1, 2)[:, 0])


def _polyak_constants():
    """mu, L (NumPy eigvalsh of the quadratic's Hessian, float64), the theoretical rates of
    heavy ball and GD, and heavy ball's optimal alpha and beta."""
    lam = np.linalg.eigvalsh(ILL_QUADRATIC_HESSIAN)
    mu, L = lam[0], lam[-1]
    sk = np.sqrt(L / mu)
    r_hb, r_gd = (sk - 1) / (sk + 1), (L / mu - 1) / (L / mu + 1)
    return mu, L, r_hb, r_gd, 4.0 / (np.sqrt(L) + np.sqrt(mu)) ** 2, r_hb ** 2


def _rate_run(x0, lr, beta, *, optimizer: str, steps: int):
    return optimize_batch(x0, lr, beta, jnp.zeros(x0.shape[0], jnp.int32),
                          jnp.asarray(1e6, x0.dtype), f=SWITCH, optimizer=optimizer,
                          steps=steps).trajectory[0]


def _rate_study(cfg: Config) -> dict:
    """Heavy ball (optimal alpha, beta) and GD (2/(L+mu)) on the quadratic, in float64 (a long
    measurable window whatever the job's precision): the error curves and fitted rates.

    At the optimal parameters the heavy-ball iteration matrix has a double eigenvalue r on
    each eigenvector of A, so e_k = (a + b k) r^k: its rate is fitted to e_k / (k + 1) (for
    GD, e_k = r^k e_0 exactly, fitted as it is), over the second half of the errors above the
    float64 round-off floor."""
    mu, L, _, _, alpha, beta = _polyak_constants()
    m_star = np.array([1.0, -1.0])
    x0 = np.array([TEST_FUNCTIONS["ill_quadratic"].start] * 2, np.float64)
    floor = 1e4 * np.finfo(np.float64).eps * np.linalg.norm(m_star)
    out = {}
    for key, opt, lr, b, poly in (("heavy_ball", "momentum", alpha, beta, True),
                                  ("gd", "sgd", 2.0 / (L + mu), 0.0, False)):
        traj = in_float64(_rate_run, x0, np.full(2, lr), float(b), optimizer=opt,
                          steps=cfg.rate_steps)
        err = np.linalg.norm(np.asarray(traj, np.float64) - m_star, axis=1)
        ok = np.nonzero(err > floor)[0]
        window = np.zeros(err.size, bool)
        window[ok[ok.size // 2:]] = True
        y = err / (np.arange(err.size) + 1) if poly else err
        out[key] = fitted_rate(np.where(window, y, np.nan))
        out[f"{key}_error"] = err
    return out


def _contour_grids(ctx: RunContext) -> dict:
    """f on a GRID x GRID mesh of each function's plotting box, in the job's dtype (one
    compiled kernel for all five functions)."""
    out = {}
    for i, name in enumerate(FUNCTIONS):
        X, Y = np.meshgrid(np.linspace(*BOXES[name][0], GRID), np.linspace(*BOXES[name][1], GRID))
        pts = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1), ctx.dtype)
        z = values_at(pts, jnp.asarray(i, jnp.int32), f=SWITCH)
        out[name] = np.asarray(z).reshape(GRID, GRID)
    return out


def compute(cfg: Config, ctx: RunContext) -> Results:
    b = _batches(cfg, ctx)
    keep = np.unique(np.concatenate([[0], np.geomspace(1, cfg.steps, 300).astype(int)]))
    runs = {}
    for j, opt in enumerate(cfg.optimizers):
        runs[opt] = _compare_one(cfg, ctx, opt, b, keep)
        ctx.progress("optimizers", j + 1, len(cfg.optimizers))
    opts = list(cfg.optimizers)
    i_r = FUNCTIONS.index("rosenbrock")
    return Results(
        functions=np.array(FUNCTIONS), optimizers=np.array(opts), step=keep,
        losses={o: runs[o]["losses"] for o in opts},
        diverged_at={o: runs[o]["diverged_at"] for o in opts},
        comparison={k: np.stack([runs[o]["summary"][k] for o in opts], axis=1)
                    for k in SUMMARY},
        paths={o: runs[o]["path"] for o in opts},
        standard_start={"final": np.stack([runs[o]["std_final"][i_r] for o in opts]),
                        "diverged_at": np.array([runs[o]["std_div"][i_r] for o in opts])},
        rates=_rate_study(cfg), contours=_contour_grids(ctx))


# ------------------------------------------------------------------------------ claims

def _rate_claims(cfg: Config, r: Results) -> list[Claim]:
    mu, L, r_hb, r_gd, _, _ = _polyak_constants()
    about = f"kappa = {L / mu:.4g}; float64, {cfg.rate_steps} steps"
    closed = "closed form from NumPy eigvalsh of the quadratic's Hessian (float64)"
    return [
        Claim.close("heavy ball with optimal alpha and beta contracts at (sqrt(kappa)-1)/"
                    "(sqrt(kappa)+1) per step on the ill-conditioned quadratic",
                    r.rates["heavy_ball"], r_hb, tol.relative(cfg.rate_rtol, r_hb),
                    id="heavy_ball_optimal_rate", reference=closed,
                    detail=about + "; e_k/(k+1) fitted over the second half of the "
                    "measurable errors"),
        Claim.close("gradient descent with step 2/(L+mu) contracts at (kappa-1)/(kappa+1) per "
                    "step on the ill-conditioned quadratic", r.rates["gd"], r_gd,
                    tol.relative(cfg.rate_rtol, r_gd), id="gd_optimal_rate", reference=closed,
                    detail=about + "; fitted over the second half of the measurable errors"),
        Claim.at_most("heavy ball is faster than gradient descent: measured rate ratio heavy "
                      "ball / GD", r.rates["heavy_ball"] / r.rates["gd"],
                      tol.absolute(1.0, "ratio 1 (equal rates)"), id="heavy_ball_beats_gd",
                      reference="gradient descent's measured rate on the same quadratic",
                      detail=f"theory {r_hb / r_gd:.4g}"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    opts = [str(o) for o in r.optimizers]
    S = cfg.starts
    dist = np.linalg.norm(r.standard_start["final"] - 1.0, axis=1)
    worst_dist, who = tol.worst(dist, opts)
    div_words = describe_divergence(r.standard_start["diverged_at"][opts.index(who)])
    escaped = r.comparison["reached"][FUNCTIONS.index("saddle")]
    fewest, least = tol.worst(escaped, opts, largest=False)
    worst_gap, slowest = tol.worst(r.comparison["gap_median"][FUNCTIONS.index("ill_quadratic")],
                                   opts)
    return _rate_claims(cfg, r) + [
        Claim.at_most("every optimizer reaches Rosenbrock's minimiser (1, 1) from the standard "
                      "start (-1.2, 1) with its tuned learning rate: worst final distance",
                      worst_dist, tol.absolute(cfg.rosenbrock_tol, "rosenbrock_tol (config)"),
                      id="rosenbrock_all_reach_minimiser", worst=who,
                      reference="the known minimiser (1, 1)",
                      detail=f"{len(opts)} optimizers, {cfg.steps} steps; worst run "
                             f"{div_words}"),
        Claim.holds("every optimizer escapes the saddle of x^2 - y^2 (reaches f <= -1) from "
                    "every start near it", bool(np.all(escaped == S)), measured=fewest,
                    id="all_escape_saddle", worst=least,
                    reference="the saddle value f(0, 0) = 0 (escape: f <= -1)",
                    detail=f"{S} starts (0.5, 0) + U(-spread, spread) x U(-1e-3, 1e-3); "
                           "measured: fewest starts escaped by one optimizer"),
        Claim.at_most("ill-conditioned quadratic: every optimizer's median final gap f - f*",
                      worst_gap, tol.absolute(cfg.gap_tol, "gap_tol (config)"),
                      id="quadratic_median_gap", worst=slowest,
                      reference="the known minimum f* = 0 at (1, -1)",
                      detail=f"{S} random starts per optimizer"),
    ]


def metrics(cfg: Config, r: Results) -> dict:
    opts = [str(o) for o in r.optimizers]
    out = {"heavy_ball_rate": float(r.rates["heavy_ball"]), "gd_rate": float(r.rates["gd"])}
    for i, name in enumerate(FUNCTIONS):
        for j, opt in enumerate(opts):
            for k in SUMMARY:
                v = r.comparison[k][i, j]
                out[f"{name}.{opt}.{k}"] = int(v) if k in ("reached", "diverged") else float(v)
    dist = np.linalg.norm(r.standard_start["final"] - 1.0, axis=1)
    for j, opt in enumerate(opts):
        out[f"rosenbrock.{opt}.standard_start_distance"] = float(dist[j])
    for i, name in enumerate(FUNCTIONS):
        steps = np.where(r.comparison["reached"][i] > 0, r.comparison["steps_median"][i],
                         np.inf)
        out[f"{name}.fastest"] = opts[int(np.argmin(steps))]
    out["rosenbrock_fastest"] = out["rosenbrock.fastest"]
    return out


KEY_METRICS = ("heavy_ball_rate", "gd_rate", "rosenbrock_fastest")


# ------------------------------------------------------------------------------ figures

def _first_start_paths(r: Results, i: int) -> dict:
    """optimizer -> the path from function i's first random start, cut at its divergence."""
    out = {}
    for opt in r.optimizers:
        p = np.asarray(r.paths[opt][i], np.float64)
        k = int(r.diverged_at[opt][i, 0])
        out[str(opt)] = p[: k if k >= 0 else None]
    return out


def _grid(r: Results, name: str):
    """The saved contour grid of ``name`` as the f(X, Y) contour_with_trajectories asks for
    (it evaluates on the same GRID x GRID mesh of BOXES[name])."""
    return lambda X, Y: r.contours[name]


def trajectories(cfg: Config, r: Results):
    fig, axes = plotting.figure("Optimizer paths from the first start, each with its tuned "
                                "learning rate", ncols=3, nrows=2, width=4.6, height=4.4,
                                squeeze=False)
    axes = axes.ravel()
    for ax, (i, name) in zip(axes, enumerate(FUNCTIONS), strict=False):
        tf = TEST_FUNCTIONS[name]
        xl, yl = BOXES[name]
        plotting.contour_with_trajectories(
            ax, _grid(r, name), xl, yl, _first_start_paths(r, i), levels=25,
            log_levels=name in ("rosenbrock", "beale", "himmelblau"),
            marker_points={f"min {j + 1}": m for j, m in enumerate(tf.minimisers)} or None,
            resolution=GRID)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    axes[0].legend(loc="lower left", fontsize=7)
    axes[-1].axis("off")
    return fig


def _loss_panel(ax, cfg: Config, r: Results, i: int, name: str) -> None:
    fstar = _targets(cfg)[0]
    for opt in r.optimizers:
        losses = np.asarray(r.losses[opt][i], np.float64)
        y = losses if name == "saddle" else np.maximum(losses - fstar[i], 1e-14)
        plotting.band(ax, r.step, y, str(opt), name=str(opt))
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


def _steps_heatmap(fig, ax, r: Results) -> None:
    """Median steps to the tolerance, function x optimizer ("never": no run stayed within)."""
    opts = [str(o) for o in r.optimizers]
    M = np.where(r.comparison["reached"] > 0, r.comparison["steps_median"], np.nan)
    im = ax.imshow(np.log10(M), cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(opts)), opts, rotation=45, fontsize=8)
    ax.set_yticks(range(len(FUNCTIONS)), [n.replace("_", " ") for n in FUNCTIONS], fontsize=8)
    for a in range(len(FUNCTIONS)):
        for b in range(len(opts)):
            txt = "never" if np.isnan(M[a, b]) else f"{M[a, b]:.0f}"
            ax.text(b, a, txt, ha="center", va="center", fontsize=7, color="white")
    ax.set_title("median steps to tolerance")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="log10 steps")


def loss_curves(cfg: Config, r: Results):
    fig, axes = plotting.figure("Loss against step: median and 10-90% band over "
                                f"{cfg.starts} starts", ncols=3, nrows=2, width=4.6,
                                height=3.8, squeeze=False)
    axes = axes.ravel()
    for ax, (i, name) in zip(axes, enumerate(FUNCTIONS), strict=False):
        _loss_panel(ax, cfg, r, i, name)
    axes[0].legend(fontsize=7)
    _steps_heatmap(fig, axes[-1], r)
    return fig


def heavy_ball_rate(cfg: Config, r: Results):
    e_hb, e_gd = r.rates["heavy_ball_error"], r.rates["gd_error"]
    fig, ax = plotting.figure(f"Heavy ball beats GD on a kappa={ILL_KAPPA:g} quadratic, "
                              "at the predicted rates", width=7.5)
    k = np.arange(e_hb.size)
    _, _, r_hb, r_gd, _, _ = _polyak_constants()
    ax.semilogy(k, e_hb / e_hb[0], color=plotting.color("momentum"),
                label="heavy ball (optimal)")
    ax.semilogy(k, e_gd / e_gd[0], color=plotting.color("sgd"),
                label="gradient descent 2/(L+mu)")
    plotting.theory_line(ax, k, r_hb ** k, "theory ((sqrt(kappa) - 1)/(sqrt(kappa) + 1))^t")
    ax.semilogy(k, r_gd ** k, color="gray", linestyle="--",
                label="theory ((kappa - 1)/(kappa + 1))^t")
    ax.set_ylim(1e-8, 10)
    ax.set_xlabel("step t")
    ax.set_ylabel("||x_t - x*|| / ||x_0 - x*||")
    ax.legend()
    return fig


def trajectories_animation(cfg: Config, r: Results):
    """The optimizers' paths on Rosenbrock from its first random start (near (-1.2, 1)),
    growing step by step: saved as trajectories.gif beside trajectories.png, only with
    ``optimizers.animate=true``. Frames sit at geometrically spaced steps, because the
    interesting motion is early.

    Returns None (nothing to draw) without ``animate``."""
    if not cfg.animate:
        return None
    from matplotlib.animation import FuncAnimation

    paths = _first_start_paths(r, FUNCTIONS.index("rosenbrock"))
    n_steps = max(len(p) for p in paths.values())
    frames = np.unique(np.geomspace(1, n_steps, cfg.animation_frames).astype(int))
    fig, ax = plotting.figure("Optimizers on Rosenbrock from a start near (-1.2, 1), tuned "
                              "learning rates", width=6.4, height=5.0)
    plotting.contour_with_trajectories(
        ax, _grid(r, "rosenbrock"), *BOXES["rosenbrock"], None, levels=25, log_levels=True,
        marker_points={"min (1, 1)": TEST_FUNCTIONS["rosenbrock"].minimisers[0]},
        resolution=GRID)
    lines = {o: ax.plot([], [], "-", color=plotting.color(o), label=o)[0] for o in paths}
    heads = {o: ax.plot([], [], "o", color=plotting.color(o), markersize=5)[0] for o in paths}
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


# the animation is saved as trajectories.gif, beside the still trajectories.png
FIGURES = (trajectories, loss_curves, heavy_ball_rate, ("trajectories", trajectories_animation))
