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
   tolerance in the median over the held-out random starts (never used for tuning; a diverged
   run counts as a failure);
3. every optimiser escapes the saddle of x^2 - y^2 from every start (the unstable direction
   grows under any descent step);
4. on the convex quadratic every held-out run of every optimiser ends within the gap
   tolerance.

The learning rate is tuned on the standard start and tune_starts - 1 random starts drawn
apart from the evaluation starts (another key), so no claim checks a start used for tuning.

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
from mathml_jax.sharding import device_mesh, timed_rows

SECTION = "Optimisation: gradient descent and its modern variants (momentum, adaptive steps)"

FUNCTIONS = ("ill_quadratic", "rosenbrock", "beale", "himmelblau", "saddle")
SWITCH = switched(FUNCTIONS)
ESCAPE = -1.0  # the saddle counts as escaped once f <= ESCAPE
# the plotting box of each function (x limits, y limits) and the contour grid's resolution
BOXES = {"ill_quadratic": ((-3, 3), (-3, 3)), "rosenbrock": ((-2, 2), (-1, 3)),
         "beale": ((-1, 4.5), (-1.5, 2)), "himmelblau": ((-5, 5), (-5, 5)),
         "saddle": ((-1.5, 1.5), (-1.5, 1.5))}
GRID = 120
SUMMARY = ("lr", "reached", "diverged", "steps_median", "steps_q1", "steps_q3", "steps_all_median",
           "gap_median", "gap_q1", "gap_q3")


@dataclass
class Config:
    optimizers: list[str] = param(list(OPTIMIZERS), choices=OPTIMIZERS)
    steps: int = param(4000, ge=10, le=1_000_000, help="steps of every run")
    starts: int = param(32, ge=2, le=100_000, help="random starts per function (and seed)")
    spread: float = param(0.5, gt=0, le=10, help="starts: standard start + U(-spread, spread)")
    lr_min: float = param(1e-4, gt=0, le=100, help="smallest learning rate of every tuning grid")
    lr_max: float = param(1.0, gt=0, le=100)
    lr_points: int = param(16, ge=2, le=10_000, help="learning rates per tuning grid")
    tune_starts: int = param(3, ge=1, le=1000, help="starts every grid lr is tuned on: the "
                             "standard one and tune_starts - 1 random ones (median score)")
    momentum: float = param(0.9, ge=0, lt=1, help="beta of momentum and nesterov")
    schedule: str = param("cosine", choices=SCHEDULES,
                          help="learning-rate schedule of the comparison runs")
    gap_tol: float = param(1e-6, gt=0, le=0.1,
                           help="a run has converged once f - f* <= gap_tol")
    rosenbrock_tol: float = param(0.1, gt=0, le=1, tolerance=True,
                                  help="required median distance to (1, 1) over "
                                  "the held-out starts (the starts are about 2.2 from it)")
    rate_steps: int = param(400, ge=20, le=1_000_000, help="steps of the rate measurement")
    rate_rtol: float = param(0.002, gt=0, le=0.5, tolerance=True,
                             help="relative tolerance of the measured "
                             "heavy-ball rate (its fit bias is about 3e-4)")
    animate: bool = param(False, help="also write trajectories.gif, the paths growing")
    animation_frames: int = param(60, ge=2, le=1000, help="frames of the animation")

    def __post_init__(self):
        if self.lr_min >= self.lr_max:
            raise ConfigError("optimizers.lr_min", self.lr_min,
                              f"it must be below optimizers.lr_max={self.lr_max}")

#: the series that are not finite by design (mathml_jax.finite): no median over no runs
NONFINITE_OK = {
    "comparison/steps_[mq]*": "NaN where no run reached the tolerance (reached = 0): the "
                              "quartiles of the steps needed are over the runs that reached it",
    "comparison/steps_all_median": "+inf where at most half of the runs reached the tolerance: "
                                   "the median run never got there",
}
SERIES_AXES = {"comparison": ("function", "optimizer"), "losses/*": ("function", "start", "step")}


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
    final: dict             # optimizer -> (nf, S, 2) final iterate of every held-out start
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
    T = cfg.tune_starts

    def draw(key, n):
        return std[:, None, :] + spread[:, None, :] * np.asarray(
            jax.random.uniform(key, (nf, n, 2), ctx.dtype, minval=-1.0, maxval=1.0),
            np.float64)

    # the evaluation starts are held out: the tuning starts come from another key
    starts = draw(ctx.key, S)
    grid = np.geomspace(cfg.lr_min, cfg.lr_max, G)
    tuning = draw(jax.random.fold_in(ctx.key, 1), T)[:, : T - 1]
    tune_starts = np.concatenate([std[:, None], tuning], axis=1)  # (nf, T, 2)
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

    res = timed_rows(ctx.timer, label, optimize_batch, jnp.asarray(pad(x0), ctx.dtype),
                     jnp.asarray(pad(lr), ctx.dtype), jnp.asarray(cfg.momentum, ctx.dtype),
                     jnp.asarray(pad(idx), jnp.int32), jnp.asarray(1e6, ctx.dtype),
                     batch_argnums=(0, 1, 3), mesh=device_mesh(ctx.runtime.platform),
                     f=SWITCH, optimizer=opt, steps=cfg.steps, schedule=cfg.schedule)
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
        # over ALL runs: one that never stays within the tolerance counts as never (inf)
        all_med = float(np.median(np.where(reached, hit, np.inf)))
        gaps = _quartiles(g[:, -1] if name != "saddle" else losses[i, :, -1])
        row = (float(lrs[i]), int(reached.sum()), int((div[i] >= 0).sum()), *steps, all_med,
               *gaps)
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
    traj = res.trajectory.reshape(nf, S, -1, 2)
    return dict(summary=_summary(losses, div, lrs, fstar, gap), std_final=std_final,
                std_div=std_div, losses=np.asarray(res.losses).reshape(nf, S, -1)[..., keep],
                diverged_at=div, path=traj[:, 0], final=np.asarray(traj[:, :, -1], np.float64))


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
        paths={o: runs[o]["path"] for o in opts}, final={o: runs[o]["final"] for o in opts},
        standard_start={"final": np.stack([runs[o]["std_final"][i_r] for o in opts]),
                        "diverged_at": np.array([runs[o]["std_div"][i_r] for o in opts])},
        rates=_rate_study(cfg), contours=_contour_grids(ctx))


# ------------------------------------------------------------------------------ claims

def _rate_claims(cfg: Config, r: Results) -> list[Claim]:
    mu, L, r_hb, r_gd, _, _ = _polyak_constants()
    about = f"kappa = {L / mu:.4g}; float64, {cfg.rate_steps} steps"
    closed = "closed form from NumPy eigvalsh of the quadratic's Hessian (float64)"
    eps64 = float(np.finfo(np.float64).eps)
    return [
        Claim.close("heavy ball with optimal alpha and beta contracts at (sqrt(kappa)-1)/"
                    "(sqrt(kappa)+1) per step on the ill-conditioned quadratic",
                    r.rates["heavy_ball"], r_hb, tol.relative(cfg.rate_rtol, r_hb),
                    id="heavy_ball_optimal_rate", reference=closed,
                    detail=about + "; e_k/(k+1) fitted over the second half of the "
                    "measurable errors (e_k = (a + b k) r^k: the fit leaves a bias of a few "
                    "1e-4 relative, hence rate_rtol)"),
        Claim.close("gradient descent with step 2/(L+mu) contracts at (kappa-1)/(kappa+1) per "
                    "step on the ill-conditioned quadratic", r.rates["gd"], r_gd,
                    tol.roundoff(50, eps64, scale=r_gd), id="gd_optimal_rate",
                    reference=closed,
                    detail=about + "; e_k = r^k e_0 exactly, so only float64 round-off of the "
                    "log-linear fit separates the two"),
        Claim.at_most("heavy ball is faster than gradient descent: measured rate ratio heavy "
                      "ball / GD", r.rates["heavy_ball"] / r.rates["gd"],
                      tol.absolute(1.0, "ratio 1 (equal rates)"), id="heavy_ball_beats_gd",
                      reference="gradient descent's measured rate on the same quadratic",
                      detail=f"theory {r_hb / r_gd:.4g}"),
    ]


def rosenbrock_distances(r: Results) -> dict:
    """optimizer -> (S,) final distance to (1, 1) of every held-out Rosenbrock start, a
    diverged run counted as infinitely far."""
    i = FUNCTIONS.index("rosenbrock")
    out = {}
    for opt in r.optimizers:
        d = np.linalg.norm(np.asarray(r.final[opt][i], np.float64) - 1.0, axis=1)
        out[str(opt)] = np.where(np.asarray(r.diverged_at[opt][i]) >= 0, np.inf, d)
    return out


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    opts = [str(o) for o in r.optimizers]
    S = cfg.starts
    dist = rosenbrock_distances(r)
    med = np.array([np.median(dist[o]) for o in opts])
    worst_med, who = tol.worst(med, opts)
    n_div = int(np.sum(np.isinf(dist[who])))
    n_all = int(sum(np.sum(np.isinf(d)) for d in dist.values()))
    escaped = r.comparison["reached"][FUNCTIONS.index("saddle")]
    fewest, least = tol.worst(escaped, opts, largest=False)
    converged = r.comparison["reached"][FUNCTIONS.index("ill_quadratic")]
    fewest_q, slowest = tol.worst(converged, opts, largest=False)
    return _rate_claims(cfg, r) + [
        Claim.at_most("Rosenbrock, held-out random starts (never used for tuning), every "
                      "optimizer with its tuned learning rate: worst median final distance to "
                      "the minimiser (1, 1), a diverged run counted as infinitely far",
                      worst_med, tol.absolute(cfg.rosenbrock_tol, "rosenbrock_tol (config)"),
                      id="rosenbrock_median_reaches_minimiser", worst=who,
                      reference="the known minimiser (1, 1)",
                      detail=f"{len(opts)} optimizers x {S} held-out starts, {cfg.steps} "
                             f"steps; {n_div} of {S} runs of {who} diverged, "
                             f"{n_all} of {S * len(opts)} runs of all optimizers"),
        Claim.holds("every optimizer escapes the saddle of x^2 - y^2 (reaches f <= -1) from "
                    "every start near it", bool(np.all(escaped == S)), measured=fewest,
                    id="all_escape_saddle", worst=least,
                    reference="the saddle value f(0, 0) = 0 (escape: f <= -1)",
                    detail=f"{S} starts (0.5, 0) + U(-spread, spread) x U(-1e-3, 1e-3); "
                           "measured: fewest starts escaped by one optimizer"),
        Claim.holds("ill-conditioned quadratic: every held-out run of every optimizer ends "
                    "within gap_tol of f* and stays there (a diverged run counts as a "
                    "failure)", bool(np.all(converged == S)), measured=fewest_q,
                    id="quadratic_all_converge", worst=slowest,
                    reference="the known minimum f* = 0 at (1, -1)",
                    detail=f"{S} held-out starts per optimizer, gap_tol {cfg.gap_tol:g}; "
                           "measured: fewest runs within the tolerance"),
    ]


def metrics(cfg: Config, r: Results) -> dict:
    opts = [str(o) for o in r.optimizers]
    out = {"heavy_ball_rate": float(r.rates["heavy_ball"]), "gd_rate": float(r.rates["gd"])}
    for i, name in enumerate(FUNCTIONS):
        for j, opt in enumerate(opts):
            for k in SUMMARY:
                v = r.comparison[k][i, j]
                # steps over no run (reached = 0), or a median run that never got there: null
                out[f"{name}.{opt}.{k}"] = (int(v) if k in ("reached", "diverged")
                                           else float(v) if np.isfinite(v) else None)
    dist = np.linalg.norm(r.standard_start["final"] - 1.0, axis=1)
    held_out = rosenbrock_distances(r)
    for j, opt in enumerate(opts):
        # the standard start is a tuning start: a metric, never a claim
        out[f"rosenbrock.{opt}.tuning_start_distance"] = float(dist[j])
        # infinite when more than half of the runs diverged (rosenbrock.<opt>.diverged): null
        med = float(np.median(held_out[opt]))
        out[f"rosenbrock.{opt}.held_out_median_distance"] = med if np.isfinite(med) else None
    for i, name in enumerate(FUNCTIONS):
        steps = r.comparison["steps_all_median"][i]  # over all runs, failures as never
        out[f"{name}.fastest"] = (opts[int(np.argmin(steps))] if np.isfinite(steps).any()
                                  else "none: no median run reached the tolerance")
    out["rosenbrock_fastest"] = out["rosenbrock.fastest"]
    return out


KEY_METRICS = ("heavy_ball_rate", "gd_rate", "rosenbrock_fastest")


# ------------------------------------------------------------------------------ figures

NAMES = {"ill_quadratic": "ill-conditioned quadratic", "rosenbrock": "Rosenbrock",
         "beale": "Beale", "himmelblau": "Himmelblau", "saddle": "saddle $x^2 - y^2$"}
OPT_NAMES = {"sgd": "SGD", "momentum": "heavy ball", "nesterov": "Nesterov",
             "adagrad": "AdaGrad", "rmsprop": "RMSProp", "adam": "Adam", "lion": "Lion"}


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


def _legend_panel(ax, handles, title: str) -> None:
    """The figure's one legend, in its otherwise unused last panel."""
    ax.axis("off")
    ax.legend(handles=handles, loc="center", title=title, fontsize=9)


def _optimizer_handles(r: Results, extra=()):
    from matplotlib.lines import Line2D

    return [Line2D([], [], color=plotting.color(str(o)), label=OPT_NAMES.get(str(o), str(o)))
            for o in r.optimizers] + list(extra)


def trajectories(cfg: Config, r: Results):
    """From one held-out start, each optimizer with its tuned learning rate takes its own path
    over the level sets of five test functions, momentum overshooting, and every path leaves
    the saddle."""
    from matplotlib.lines import Line2D

    fig, axes = plotting.figure("Each optimizer's path from one held-out start, with its tuned "
                                "learning rate", ncols=3, nrows=2, width=4.6, height=4.4,
                                squeeze=False)
    axes = axes.ravel()
    for ax, (i, name) in zip(axes, enumerate(FUNCTIONS), strict=False):
        tf = TEST_FUNCTIONS[name]
        xl, yl = BOXES[name]
        paths = _first_start_paths(r, i)
        plotting.contour_with_trajectories(
            ax, _grid(r, name), xl, yl, paths, levels=25,
            log_levels=name in ("rosenbrock", "beale", "himmelblau"),
            marker_points={f"min {j + 1}": m for j, m in enumerate(tf.minimisers)} or None,
            resolution=GRID)
        for opt, p in paths.items():
            if int(r.diverged_at[opt][i, 0]) >= 0 and name != "saddle":
                ax.plot(p[-1, 0], p[-1, 1], "X", color=plotting.color(opt), markersize=10)
        ax.set_title(NAMES[name])
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    diverged = Line2D([], [], color="black", marker="X", linestyle="none",
                      label="diverged after this point")
    _legend_panel(axes[-1], _optimizer_handles(r, [diverged]), "optimizer (dot: start)")
    return fig


def _gap_with_failures(cfg: Config, r: Results, opt, i: int, ceiling: float):
    """f - f* of every held-out run at the kept steps, a diverged run drawn at ``ceiling``
    from its divergence on (statistics keep it: it is not dropped)."""
    fstar = _targets(cfg)[0]
    g = np.maximum(np.asarray(r.losses[opt][i], np.float64) - fstar[i], 1e-14)
    div = np.asarray(r.diverged_at[opt][i])
    after = (div[:, None] >= 0) & (r.step[None, :] >= div[:, None])
    return np.where(after | ~np.isfinite(g), ceiling, np.minimum(g, ceiling))


def _loss_panel(ax, cfg: Config, r: Results, i: int, name: str) -> None:
    fstar = _targets(cfg)[0]
    start = max(float(np.nanmax(np.asarray(r.losses[o][i][:, 0], np.float64))) for o in
                r.optimizers) - fstar[i]
    ceiling = 10 ** np.ceil(np.log10(max(start, 1e-12)) + 1)
    n_div = 0
    for opt in r.optimizers:
        n_div += int(np.sum(np.asarray(r.diverged_at[opt][i]) >= 0))
        y = _gap_with_failures(cfg, r, opt, i, ceiling)
        plotting.band(ax, r.step, y, "_", color_=plotting.color(str(opt)))
    ax.set_yscale("log")
    ax.set_ylim(1e-15, ceiling * 3)
    ax.axhline(cfg.gap_tol, color="black", linestyle=":", linewidth=1)
    ax.set_ylabel("$f(x) - f^*$ (log scale)")
    _step_axis(ax, cfg)
    ax.set_title(f"{NAMES[name]}: {n_div} runs diverged" if n_div else NAMES[name])


def _step_axis(ax, cfg: Config) -> None:
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, cfg.steps)
    ax.set_xticks([0, 10, 100, 1000, 10000][: 2 + int(np.log10(max(cfg.steps, 10)))])
    ax.set_xlabel("step (log scale past 10)")


def _escape_panel(ax, cfg: Config, r: Results) -> None:
    """Fraction of the held-out saddle starts with f <= ESCAPE at each kept step."""
    i = FUNCTIONS.index("saddle")
    for opt in r.optimizers:
        frac = np.mean(np.asarray(r.losses[opt][i], np.float64) <= ESCAPE, axis=0)
        ax.plot(r.step, frac, color=plotting.color(str(opt)), label="_")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel(f"fraction of starts with $f \\leq {ESCAPE:g}$")
    _step_axis(ax, cfg)
    ax.set_title(f"{NAMES['saddle']}: escaped")


def loss_curves(cfg: Config, r: Results):
    """Which optimizer is fastest depends on the function: the loss gap against step on each test
    function, median and 10-90% band over held-out starts with diverged runs kept, and escapes
    from the saddle."""
    from matplotlib.lines import Line2D

    fig, axes = plotting.figure(f"Loss against step, median and 10-90% of {cfg.starts} "
                                "held-out starts: diverged runs stay in the statistics, drawn "
                                "at the top", ncols=3, nrows=2, width=4.6, height=3.8,
                                squeeze=False)
    axes = axes.ravel()
    for ax, (i, name) in zip(axes, enumerate(FUNCTIONS[:-1]), strict=False):
        _loss_panel(ax, cfg, r, i, name)
    _escape_panel(axes[4], cfg, r)
    tol_line = Line2D([], [], color="black", linestyle=":", label=f"gap_tol {cfg.gap_tol:g}")
    _legend_panel(axes[-1], _optimizer_handles(r, [tol_line]),
                  "band: 10-90% of all runs;\ndiverged runs drawn at the top")
    return fig


def steps_to_tolerance(cfg: Config, r: Results):
    """No optimizer is fastest on every function: the median steps each needs to reach the
    tolerance on each test function, a run that never gets there counted as never.

    Median steps to the tolerance over ALL held-out runs, a run that never stays within it
    (diverged or too slow) counted as infinitely slow; each cell also says how many of the
    runs reached it and how many diverged."""
    opts = [str(o) for o in r.optimizers]
    S = cfg.starts
    fig, ax = plotting.figure("Median steps to the tolerance over all held-out runs, a run "
                              f"that never gets there counted as never (below: runs of {S} "
                              "that reached it, diverged)", width=9.5, height=5.0)
    M = np.full((len(FUNCTIONS), len(opts)), np.nan)
    for a in range(len(FUNCTIONS)):
        reached = r.comparison["reached"][a]
        for b in range(len(opts)):
            # the median of all S runs is finite only when more than half reached
            if reached[b] > S / 2:
                M[a, b] = r.comparison["steps_all_median"][a, b]
    im = ax.imshow(np.log10(np.maximum(M, 1)), cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(opts)), [OPT_NAMES.get(o, o) for o in opts], rotation=30,
                  ha="right")
    ax.set_yticks(range(len(FUNCTIONS)), [NAMES[n] for n in FUNCTIONS])
    for a in range(len(FUNCTIONS)):
        for b in range(len(opts)):
            med = "never" if np.isnan(M[a, b]) else f"{M[a, b]:.0f}"
            div = int(r.comparison["diverged"][a, b])
            txt = f"{med}\n{int(r.comparison['reached'][a, b])}/{S}"
            if div and FUNCTIONS[a] != "saddle":
                txt += f", {div} div."
            ax.text(b, a, txt, ha="center", va="center", fontsize=9,
                    color="white" if np.isnan(M[a, b]) or np.log10(max(M[a, b], 1)) > 1.5
                    else "black")
    ax.set_facecolor("#444444")
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="$\\log_{10}$ median steps (dark cell: never)")
    return fig


def heavy_ball_rate(cfg: Config, r: Results):
    """Heavy ball contracts at (sqrt(kappa) - 1)/(sqrt(kappa) + 1) per step on an ill-conditioned
    quadratic, far faster than gradient descent's (kappa - 1)/(kappa + 1), both as theory
    predicts."""
    e_hb, e_gd = r.rates["heavy_ball_error"], r.rates["gd_error"]
    fig, ax = plotting.figure(f"Heavy ball beats gradient descent on a $\\kappa = {ILL_KAPPA:g}$"
                              " quadratic, at the predicted rates", width=7.5)
    k = np.arange(e_hb.size)
    _, _, r_hb, r_gd, _, _ = _polyak_constants()
    ax.semilogy(k, e_hb / e_hb[0], color=plotting.color("momentum"),
                label="heavy ball, optimal $\\alpha, \\beta$ "
                      f"(fitted rate {r.rates['heavy_ball']:.4f})")
    ax.semilogy(k, e_gd / e_gd[0], color=plotting.color("sgd"),
                label=f"gradient descent, step $2/(L+\\mu)$ (fitted rate {r.rates['gd']:.4f})")
    plotting.theory_line(ax, k, r_hb ** k,
                         f"theory $((\\sqrt{{\\kappa}}-1)/(\\sqrt{{\\kappa}}+1))^t$, {r_hb:.4f}")
    plotting.theory_line(ax, k, r_gd ** k, f"theory $((\\kappa-1)/(\\kappa+1))^t$, {r_gd:.4f}")
    ax.set_ylim(1e-8, 10)
    ax.set_xlabel("step t")
    ax.set_ylabel("$\\|x_t - x^*\\| / \\|x_0 - x^*\\|$ (log scale)")
    ax.legend(loc="lower left")
    return fig


def trajectories_animation(cfg: Config, r: Results):
    """The optimizers' paths on Rosenbrock grow step by step from a start near (-1.2, 1), showing
    which of them find the curved valley and how fast each then moves along it toward (1, 1).

    The optimizers' paths on Rosenbrock from its first random start (near (-1.2, 1)),
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
    lines = {o: ax.plot([], [], "-", color=plotting.color(o), label=OPT_NAMES[o])[0]
             for o in paths}
    heads = {o: ax.plot([], [], "o", color=plotting.color(o), markersize=5)[0] for o in paths}
    step_text = ax.text(0.02, 0.96, "", transform=ax.transAxes, va="top")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="lower right", fontsize=9)

    def draw(k):
        for opt, p in paths.items():
            q = p[: min(k, len(p))]
            lines[opt].set_data(q[:, 0], q[:, 1])
            heads[opt].set_data(q[-1:, 0], q[-1:, 1])
        step_text.set_text(f"step {k}")
        return [*lines.values(), *heads.values(), step_text]

    return FuncAnimation(fig, draw, frames=frames, blit=False)


# the animation is saved as trajectories.gif, beside the still trajectories.png
FIGURES = (trajectories, loss_curves, steps_to_tolerance, heavy_ball_rate,
           ("trajectories", trajectories_animation))


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: each optimiser's
    tuning and evaluation batches (padded to B = max(functions x lr_points x tune_starts,
    functions x starts) runs) record every step's iterate and loss, (steps + 1) x 3 per run on
    the device, and the losses again in float64 on the host for the tuning and the summary.
    The runs are a multi-start batch, but every recorded step is kept, so the whole batch
    counts."""
    from mathml_jax import budget as b

    nf = len(FUNCTIONS)
    B = max(nf * cfg.lr_points * cfg.tune_starts, nf * cfg.starts)
    steps = cfg.steps + 1
    return b.estimate(
        b.Part(B * steps * (3 * target.itemsize + 2 * 8),
               ("optimizers.steps", "optimizers.starts", "optimizers.lr_points",
                "optimizers.tune_starts"),
               "B runs' recorded iterates and losses, (steps + 1) each"),
        # results/gallery/optimizers: 7 optimisers x 2 batches x 960 runs x 20,000 steps in
        # 6.1 s: 2.3e-8 s a run-step
        seconds=len(cfg.optimizers) * 2 * B * cfg.steps * 3e-8,
        rate="3e-8 s a step of one run (measured: 7 optimisers x 2 x 960 runs x 20,000 steps "
             "in 6.1 s)")
