"""``gd``: gradient descent, and why (and when) it converges.

Gradient descent x_{k+1} = x_k - eta grad f(x_k) (``optax.sgd`` run by the one descent runner,
:mod:`mathml_jax.optimization.descent`) as one ``lax.scan`` kernel, batched over condition
numbers, starts and step sizes. On the quadratic f(x) = 1/2 x^T A x - b^T x (Hessian
eigenvalues evenly spaced in [mu, L] = [1/kappa, 1]) the error obeys e_{k+1} = (I - eta A) e_k,
so ||e_k|| <= r(eta)^k ||e_0|| with r(eta) = max_i |1 - eta lambda_i|, with equality along the
extreme eigenvectors. Checked:

1. with eta = 2/(L + mu) the measured rate is (kappa - 1)/(kappa + 1), for several kappa, and
   no random start does worse than that rate;
2. a sweep of eta across 2/L: every eta < 2/L converges at rate r(eta) < 1, every eta > 2/L
   diverges (a status from inside the kernel), and the measured threshold brackets 2/L;
3. on Rosenbrock, GD with a well-chosen step reaches (1, 1) within a tolerance; the number of
   steps it needs is reported.

The reference minimiser x* = A^{-1} b and the spectrum come from NumPy in float64. Every run
is in the job's dtype (``ctx.dtype``), the demonstration paths of the figures included.
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
from mathml_jax.optimization.descent import gradient_descent_batch
from mathml_jax.optimization.test_functions import make_quadratic, quadratic
from mathml_jax.optimization.test_functions import rosenbrock as rosenbrock_fn
from mathml_jax.runtime import RunContext
from mathml_jax.sharding import device_mesh, timed_rows
from mathml_jax.status import describe_divergence

SECTION = "Multivariable calculus / Differentiation in multiple variables: gradient descent"

#: Rosenbrock's Hessian at its minimiser (1, 1), by hand: [[2 + 800, -400], [-400, 200]]
ROSENBROCK_HESSIAN = np.array([[802.0, -400.0], [-400.0, 200.0]])
FLOOR = 1e4  # errors below FLOOR * eps * scale are round-off, not convergence: not measured
# the demonstration paths of the trajectories figure: a 2-D quadratic (kappa DEMO_KAPPA, 25
# steps from (-2.5, 2)) and Rosenbrock (3000 steps from (-1.2, 1)), each with three steps
DEMO_KAPPA = 8.0
DEMO_QUADRATIC = {"small step $0.3/L$": 0.3,
                  "good step $2/(L+\\mu)$": 2 / (1 + 1 / DEMO_KAPPA),
                  "too large $2.3/L$": 2.3}
DEMO_ROSENBROCK = ("good step", "small step 3e-4 (stops short)", "too large 1e-2")


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
    sweep_min: float = param(0.05, gt=0, le=100, help="smallest step of the sweep (units of 1/L)")
    sweep_max: float = param(3.0, gt=0, le=100, help="largest step of the sweep (units of 1/L)")
    sweep_points: int = param(48, ge=4, le=10_000, help="steps in the sweep (geometric grid)")
    sweep_steps: int = param(1000, ge=10, le=1_000_000, help="GD steps per swept step size")
    rosenbrock_lr: float = param(1.5e-3, gt=0, le=1, help="step of GD on Rosenbrock")
    rosenbrock_steps: int = param(20_000, ge=10, le=10_000_000)
    rosenbrock_tol: float = param(1e-3, gt=0, le=0.5,
                                  help="required distance to (1, 1)")

    def __post_init__(self):
        if self.sweep_min >= self.sweep_max:
            raise ConfigError("gd.sweep_min", self.sweep_min,
                              f"it must be below gd.sweep_max={self.sweep_max}")
        if self.dim * self.dim * (len(self.kappas) + 1) > 50_000_000:
            raise ConfigError("gd.dim", self.dim, "the Hessians of all kappas must fit in memory:"
                              " keep dim^2 x (number of kappas + 1) at most 50,000,000")

#: rates that are NaN by design where there is nothing to measure (mathml_jax.finite); the
#: claims on them fail, saying so, and the metrics are null
NONFINITE_OK = {
    "kappas/measured": "NaN when no step's error is above the round-off floor",
    "kappas/fitted": "NaN when fewer than 3 errors are above the round-off floor",
    "sweep/measured": "NaN when a run diverged before any measurable step",
    "rosenbrock/fitted_rate": "NaN when the run never entered the asymptotic window (it "
                              "diverged or stopped short of distance 1e-2): no rate to fit",
}
SERIES_AXES = {"kappas/errors": ("kappa", "step"), "sweep/errors": ("step size", "step"),
               "kappas/random_errors": ("kappa", "start", "step"), "rosenbrock/*": ("step",)}


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    kappas: dict      # rate study, per kappa (nk,): "kappa", "lam_min", "lam_max" (NumPy eigh),
                      # "x_star_norm", "measured" (e_k/e_0)^(1/k), "k" (its step), "fitted";
                      # "errors" (nk, steps + 1) worst-case start, "random_errors" (nk, S, ...)
    sweep: dict       # step sweep: "eta_L" (n,) steps x L, the last one cfg.lr; "lam" (d,);
                      # "x_star_norm"; "errors" (n, sweep_steps + 1); "diverged_at" (n,);
                      # "measured" (n,) (e_k/e_0)^(1/k) and "k" (n,) its step
    rosenbrock: dict  # "distance" (steps + 1,) to (1, 1), "loss", "diverged_at", "window"
                      # (start, end) of the asymptotic fit and its "fitted_rate"
    demos: dict       # the trajectories figure's paths: "quadratic" / "rosenbrock", each with
                      # "lr" (3,), "paths" (3, T, 2), "diverged_at" (3,)


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


# ------------------------------------------------------------------------------ compute

def _random_start_errors(cfg, ctx, key, A, b, eta, x_star, blowup):
    """||x_k - x*|| of cfg.starts Gaussian starts on every quadratic (one batch of nk x S
    runs): (nk, S, steps + 1)."""
    nk, S = len(eta), cfg.starts
    starts = jax.random.normal(key, (S, cfg.dim), ctx.dtype)
    res = timed_rows(ctx.timer, "gd_random_starts", gradient_descent_batch,
                     jnp.tile(starts, (nk, 1)), jnp.asarray(np.repeat(eta, S), ctx.dtype),
                     (jnp.repeat(A, S, axis=0), jnp.repeat(b, S, axis=0)), blowup,
                     batch_argnums=(0, 1, 2), mesh=device_mesh(ctx.runtime.platform),
                     loss_fn=quadratic, steps=cfg.steps, in_axes=(0, 0, 0))
    traj = np.asarray(res.trajectory, np.float64).reshape(nk, S, cfg.steps + 1, cfg.dim)
    return np.linalg.norm(traj - x_star[:, None, None], axis=3)


def _kappa_study(cfg: Config, ctx: RunContext, k_quad, k_starts) -> dict:
    """GD with step 2/(L+mu) on one quadratic per kappa, from its worst-case start and from
    random starts; the measured rates (e_k/e_0)^(1/k) and fitted rates."""
    dtype, d = ctx.dtype, cfg.dim
    kappas = np.asarray(cfg.kappas, np.float64)
    A, b = jax.vmap(lambda k, kap: make_quadratic(k, d, kap, dtype))(
        jax.random.split(k_quad, len(kappas)), jnp.asarray(kappas, dtype))
    refs = [_worst_start(A[i], b[i]) for i in range(len(kappas))]
    lam_min, lam_max = np.array([r[0][0] for r in refs]), np.array([r[0][-1] for r in refs])
    x_star = np.stack([r[1] for r in refs])
    norms = np.linalg.norm(x_star, axis=1)
    eta = 2.0 / (lam_max + lam_min)
    blowup = jnp.asarray(1e6 * max(1.0, norms.max()), dtype)
    res = timed_rows(ctx.timer, "gd_kappas", gradient_descent_batch,
                     jnp.asarray(np.stack([r[2] for r in refs]), dtype), jnp.asarray(eta, dtype),
                     (A, b), blowup, batch_argnums=(0, 1, 2),
                     mesh=device_mesh(ctx.runtime.platform), loss_fn=quadratic,
                     steps=cfg.steps, in_axes=(0, 0, 0))
    err = np.linalg.norm(np.asarray(res.trajectory, np.float64) - x_star[:, None], axis=2)
    measured, ks, fitted = [], [], []
    for i in range(len(kappas)):
        floor = FLOOR * ctx.eps * max(1.0, norms[i])
        rate, k = _rate_from_run(err[i], cfg.steps + 1, floor)
        window = err[i] > floor
        measured.append(rate)
        ks.append(k)
        fitted.append(fitted_rate(err[i][window]) if window.sum() > 2 else float("nan"))
    return dict(kappa=kappas, lam_min=lam_min, lam_max=lam_max, x_star_norm=norms,
                measured=np.array(measured), k=np.array(ks), fitted=np.array(fitted),
                errors=err, random_errors=_random_start_errors(cfg, ctx, k_starts, A, b, eta,
                                                               x_star, blowup))


def _sweep(cfg: Config, ctx: RunContext, key) -> dict:
    """GD on one quadratic (kappa = sweep_kappa) from its worst-case start, for a geometric
    grid of steps across 2/L and the configured step (the last one)."""
    As, bs = make_quadratic(key, cfg.dim, cfg.sweep_kappa, ctx.dtype)
    lam, x_star, x0 = _worst_start(As, bs)
    L = lam[-1]
    etas = np.concatenate([np.geomspace(cfg.sweep_min, cfg.sweep_max, cfg.sweep_points) / L,
                           [cfg.lr]])
    norm = float(np.linalg.norm(x_star))
    res = timed_rows(ctx.timer, "gd_sweep", gradient_descent_batch, jnp.asarray(x0, ctx.dtype),
                     jnp.asarray(etas, ctx.dtype), (As, bs),
                     jnp.asarray(1e6 * max(1.0, norm), ctx.dtype), batch_argnums=(1,),
                     mesh=device_mesh(ctx.runtime.platform), loss_fn=quadratic,
                     steps=cfg.sweep_steps, in_axes=(None, 0, None))
    err = np.linalg.norm(np.asarray(res.trajectory, np.float64) - x_star, axis=2)
    div = np.asarray(res.diverged_at)
    floor = FLOOR * ctx.eps * max(1.0, norm)
    measured, ks = zip(*(_rate_from_run(err[j], div[j] if div[j] >= 0 else err.shape[1], floor)
                         for j in range(len(etas))), strict=True)
    return dict(eta_L=etas * L, lam=lam, x_star_norm=norm, errors=err, diverged_at=div,
                measured=np.array(measured), k=np.array(ks))


def _rosenbrock(cfg: Config, ctx: RunContext) -> dict:
    ros = ctx.timed("gd_rosenbrock", gradient_descent_batch, jnp.asarray([-1.2, 1.0], ctx.dtype),
                    jnp.asarray([cfg.rosenbrock_lr], ctx.dtype), None,
                    jnp.asarray(1e6, ctx.dtype), loss_fn=rosenbrock_fn,
                    steps=cfg.rosenbrock_steps, in_axes=(None, 0, None))
    dist = np.linalg.norm(np.asarray(ros.trajectory[0], np.float64) - 1.0, axis=1)
    # the asymptotic window: from distance 1e-2 (the Hessian there is H* to about 1%) down to
    # the round-off floor 4 eps / (eta lambda_min), where a step no longer moves x in ctx.dtype
    lam_min = np.linalg.eigvalsh(ROSENBROCK_HESSIAN)[0]
    floor = 4 * ctx.eps / (cfg.rosenbrock_lr * lam_min)
    near = np.nonzero(dist < 1e-2)[0]
    start = int(near[0]) if near.size else dist.size
    below = np.nonzero(dist[start:] < floor)[0]
    end = start + int(below[0]) if below.size else dist.size
    fitted = fitted_rate(dist[start:end]) if end - start > 10 else float("nan")
    return dict(distance=dist, loss=np.asarray(ros.losses[0]),
                diverged_at=int(ros.diverged_at[0]), window=np.array([start, end]),
                fitted_rate=fitted)


def _rosenbrock_theory_rate(cfg: Config) -> float:
    """max_i |1 - eta lambda_i(H*)|, H* Rosenbrock's Hessian at (1, 1) (NumPy, float64)."""
    lam = np.linalg.eigvalsh(ROSENBROCK_HESSIAN)
    return float(np.max(np.abs(1.0 - cfg.rosenbrock_lr * lam)))


def _demos(cfg: Config, ctx: RunContext) -> dict:
    """The trajectories figure's paths: three steps each on a 2-D quadratic and Rosenbrock."""
    A2, b2 = _demo_quadratic()
    lr_q = np.array(list(DEMO_QUADRATIC.values()))
    rq = gradient_descent_batch(jnp.asarray([-2.5, 2.0], ctx.dtype), jnp.asarray(lr_q, ctx.dtype),
                                (jnp.asarray(A2, ctx.dtype), jnp.asarray(b2, ctx.dtype)),
                                jnp.asarray(20.0, ctx.dtype), loss_fn=quadratic, steps=25,
                                in_axes=(None, 0, None))
    # the good path first, so the small step's shorter path is drawn on top of it
    lr_r = np.array([cfg.rosenbrock_lr, 3e-4, 1e-2])
    rr = gradient_descent_batch(jnp.asarray([-1.2, 1.0], ctx.dtype), jnp.asarray(lr_r, ctx.dtype),
                                None, jnp.asarray(1e6, ctx.dtype), loss_fn=rosenbrock_fn,
                                steps=3000, in_axes=(None, 0, None))
    return {name: dict(lr=lr, paths=np.asarray(res.trajectory), diverged_at=np.asarray(
        res.diverged_at)) for name, lr, res in (("quadratic", lr_q, rq), ("rosenbrock", lr_r, rr))}


def _demo_quadratic():
    """A and b of the 2-D demonstration quadratic (kappa DEMO_KAPPA, L = 1, x* = (1, -0.5))."""
    k = DEMO_KAPPA
    A2 = np.array([[1.0 + 1 / k, 1.0 - 1 / k], [1.0 - 1 / k, 1.0 + 1 / k]]) / 2
    return A2, A2 @ np.array([1.0, -0.5])


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_quad, k_starts, k_sweep = jax.random.split(ctx.key, 3)
    return Results(kappas=_kappa_study(cfg, ctx, k_quad, k_starts),
                   sweep=_sweep(cfg, ctx, k_sweep), rosenbrock=_rosenbrock(cfg, ctx),
                   demos=_demos(cfg, ctx))


# ------------------------------------------------------------------------------ claims

def _kappa_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    s = r.kappas
    kap = s["kappa"]
    labels = [f"kappa={k:g}" for k in kap]
    theory = (kap - 1.0) / (kap + 1.0)
    k = np.maximum(s["k"], 1)
    # at eta = 2/(L+mu) both extreme eigen-directions contract by exactly r, so the worst-case
    # start's e_k/e_0 is r^k: only round-off of e_k (about sqrt(d) eps max(1, ||x*||),
    # relative delta = that / e_k) separates the k-th root from r, by r delta / k
    e_k = s["errors"][np.arange(kap.size), np.minimum(s["k"], s["errors"].shape[1] - 1)]
    scale = np.maximum(1.0, s["x_star_norm"])
    tols = [tol.roundoff(5, eps, n=cfg.dim, power=0.5,
                         scale=theory[i] * scale[i] / (e_k[i] * k[i]))
            for i in range(len(kap))]
    w = int(np.argmax(np.abs(s["measured"] - theory) / [t.value for t in tols]))
    # random starts: the excess of ||e_k|| over r^k ||e_0||, in units of the round-off floor
    e = s["random_errors"]
    bound = e[:, :, :1] * theory[:, None, None] ** np.arange(e.shape[2])
    excess = np.max(e - bound, axis=2)  # (nk, S)
    ex_i, ex_j = np.unravel_index(np.argmax(excess / scale[:, None]), excess.shape)
    # the built quadratics' condition number is a check of the set-up, not of GD: a metric
    return [
        Claim.close("step 2/(L+mu): the error contracts at (kappa-1)/(kappa+1) per step, for "
                    "every kappa", s["measured"][w], theory[w], tols[w],
                    id="optimal_step_rate", worst=labels[w],
                    reference="closed form (kappa-1)/(kappa+1), kappa from NumPy eigh",
                    detail=f"(e_k/e_0)^(1/k) at k={int(s['k'][w])}, worst-case start; "
                           f"{len(kap)} kappas, the worst (measured / tolerance) shown"),
        Claim.at_most("random starts: ||e_k|| <= r^k ||e_0|| at every step, r = (kappa-1)/"
                      "(kappa+1): largest excess", excess[ex_i, ex_j],
                      tol.roundoff(4, eps, n=cfg.dim, power=0.5, scale=scale[ex_i]),
                      id="random_starts_within_bound", worst=f"{labels[ex_i]}, start {ex_j}",
                      reference="the tight bound r^k ||e_0|| (both extreme eigen-directions "
                      "contract by exactly r)",
                      detail=f"{cfg.starts} random starts per kappa; tolerance: the round-off "
                             "of ||e_k||, 4 sqrt(d) eps max(1, ||x*||)"),
    ]


def _bracket(r: Results):
    """Over the swept grid (without the configured step): which steps lie below 2/L, and the
    largest convergent and smallest divergent eta L by the kernel's status (nan if none)."""
    s = r.sweep
    etaL, div = s["eta_L"][:-1], s["diverged_at"][:-1]
    below = etaL < 2.0
    conv, dive = etaL[div < 0], etaL[div >= 0]
    return below, (conv.max() if conv.size else np.nan), (dive.min() if dive.size else np.nan)


def _rate_prediction_claim(cfg: Config, r: Results, eps: float) -> Claim:
    """The start has equal parts along u_min and u_max, so e_k / e_0 is exactly
    sqrt((a^2k + c^2k) / 2), a = |1 - eta mu|, c = |1 - eta L|: its k-th root tends to
    max(a, c) = max_i |1 - eta lambda_i|. Round-off puts about eps ||x*|| per step along the
    other eigen-directions, where it contracts no slower than 1 - 1/kappa: at most 10 kappa eps
    ||x*|| in e_k, spread over k; and each step's relative rounding (10 eps)."""
    s = r.sweep
    lam, eta = s["lam"], s["eta_L"] / s["lam"][-1]
    k = np.maximum(s["k"], 1)
    a, c = np.abs(1.0 - eta * lam[0]), np.abs(1.0 - eta * lam[-1])
    pred = (0.5 * (a ** (2 * k) + c ** (2 * k))) ** (1.0 / (2 * k))
    rel = np.abs(s["measured"] - pred) / pred
    e_k = s["errors"][np.arange(eta.size), np.minimum(s["k"], s["errors"].shape[1] - 1)]
    floor = FLOOR * eps * max(1.0, s["x_star_norm"])
    tols = [tol.roundoff(10 * cfg.sweep_kappa, eps, scale=max(1.0, s["x_star_norm"])
                         / max(e_k[j], floor) / k[j]) + tol.roundoff(10, eps)
            for j in range(eta.size)]
    ratio = rel / np.array([t.value for t in tols])
    w = int(np.argmax(np.where(np.isnan(ratio), -np.inf, ratio)))
    r_theory = np.max(np.abs(1.0 - np.outer(eta, lam)), axis=1)
    return Claim.at_most(
        "measured rate (e_k/e_0)^(1/k) = ((a^2k + c^2k)/2)^(1/2k) -> max_i |1 - eta lambda_i| "
        "for every swept step: relative error", rel[w], tols[w], id="sweep_rate_prediction",
        worst=f"eta L = {s['eta_L'][w]:.4g}",
        reference="closed form ((a^2k + c^2k)/2)^(1/2k), a, c = |1 - eta mu|, |1 - eta L| from "
                  "NumPy eigh (float64)",
        detail=f"{int(np.isnan(ratio).sum())} steps without a measurable error skipped; "
               "max |measured - max_i|1 - eta lambda_i|| / rate "
               f"{float(np.nanmax(np.abs(s['measured'] - r_theory) / r_theory)):.2g}")


def _sweep_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    s = r.sweep
    div, meas = s["diverged_at"][:-1], s["measured"][:-1]
    below, lo, hi = _bracket(r)
    about = f"kappa={cfg.sweep_kappa:g}, {cfg.sweep_steps} steps"
    out = []
    if below.any():
        out.append(Claim.holds(
            "every step in (0, 2/L) converges: none diverged, all with measured rate < 1",
            bool(np.all(div[below] < 0) and np.all(meas[below] < 1)),
            measured=float(np.max(meas[below])), id="steps_below_2_over_L_converge",
            reference="the kernel's divergence status and the measured rate against 1",
            detail=f"{int(below.sum())} steps; {about}; measured: the largest rate"))
    if (~below).any():
        out.append(Claim.holds(
            "every step above 2/L diverges (status 'diverged' from the kernel)",
            bool(np.all(div[~below] >= 0)), measured=float((~below).sum()),
            id="steps_above_2_over_L_diverge", reference="the kernel's divergence status",
            detail=f"{about}; measured: steps above 2/L"))
    # "2/L lies between the largest convergent and the smallest divergent step" follows from
    # the two claims above: it could not fail alone, so it is a metric (threshold_bracket_*)
    del lo, hi
    return out + [_rate_prediction_claim(cfg, r, eps)]


def _steps_to_tol(cfg: Config, r: Results) -> int:
    """The first step within rosenbrock_tol of (1, 1) (-1: never)."""
    reached = np.nonzero(r.rosenbrock["distance"] <= cfg.rosenbrock_tol)[0]
    return int(reached[0]) if reached.size else -1


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    s, eps = r.sweep, ctx.eps
    lr_L, div, rate = float(s["eta_L"][-1]), int(s["diverged_at"][-1]), float(s["measured"][-1])
    words = describe_divergence(div)
    ok = (div < 0 and rate < 1) if lr_L < 2 else div >= 0
    ros = r.rosenbrock
    r_th = _rosenbrock_theory_rate(cfg)
    w = ros["window"]
    return _kappa_claims(cfg, r, eps) + _sweep_claims(cfg, r, eps) + [
        Claim.holds("the configured step converges if it is below 2/L and diverges above it",
                    bool(ok), measured=rate, id="configured_step_outcome",
                    reference="theory's threshold 2/L; the kernel's divergence status",
                    detail=f"step {cfg.lr:g}, eta L = {lr_L:.4g} "
                           f"({'below' if lr_L < 2 else 'above'} 2): {words}; measured: the "
                           "growth per step"),
        Claim.close("GD on Rosenbrock, near (1, 1): the distance contracts at the rate "
                    "max_i |1 - eta lambda_i(H*)| of the Hessian H* at the minimiser",
                    ros["fitted_rate"], r_th,
                    tol.absolute(0.01 * (1.0 - r_th), "1% of 1 - r (the window starts at "
                                 "distance 1e-2, where H differs from H* by about 1%)"),
                    id="rosenbrock_local_rate",
                    reference="closed form from NumPy eigvalsh of Rosenbrock's Hessian at "
                              "(1, 1) (float64)",
                    detail=f"step {cfg.rosenbrock_lr:g}; log-linear fit of ||x_k - (1, 1)|| "
                           f"over steps {int(w[0])}..{int(w[1])} (distance 1e-2 down to the "
                           f"round-off floor); "
                           f"{describe_divergence(ros['diverged_at'])}"),
    ]


def metrics(cfg: Config, r: Results) -> dict:
    out = {}
    for kap, rate, fit in zip(r.kappas["kappa"], r.kappas["measured"], r.kappas["fitted"],
                              strict=True):
        out[f"rate_kappa_{kap:g}"] = float(rate) if np.isfinite(rate) else None
        out[f"fitted_rate_kappa_{kap:g}"] = float(fit) if np.isfinite(fit) else None
    below, _, _ = _bracket(r)
    if below.any() and (~below).any():
        etaL = r.sweep["eta_L"][:-1]
        out["threshold_bracket_low"] = float(etaL[below].max())
        out["threshold_bracket_high"] = float(etaL[~below].min())
    div = int(r.sweep["diverged_at"][-1])
    # growth_per_step first: the sweep summary plots the first key metric by default, and it
    # crosses 1 at the divergence threshold eta = 2/L
    out["growth_per_step"] = float(r.sweep["measured"][-1])
    out["lr_times_L"] = float(r.sweep["eta_L"][-1])
    out["diverged"] = int(div >= 0)
    out["diverged_at_step"] = div
    out["status"] = describe_divergence(div)
    out["rosenbrock_steps_to_tol"] = _steps_to_tol(cfg, r)
    out["rosenbrock_final_distance"] = float(r.rosenbrock["distance"][-1])
    rate = float(r.rosenbrock["fitted_rate"])  # NaN: no asymptotic window (see NONFINITE_OK)
    out["rosenbrock_local_rate"] = rate if np.isfinite(rate) else None
    s = r.kappas
    out["condition_error"] = float(np.max(np.abs(s["lam_max"] / s["lam_min"] - s["kappa"])
                                          / s["kappa"]))
    return out


KEY_METRICS = ("growth_per_step", "lr_times_L", "diverged", "diverged_at_step",
               "rosenbrock_steps_to_tol")


# ------------------------------------------------------------------------------ figures

def _demo_paths(demo: dict, labels) -> dict:
    """label -> path, cut at its divergence (the label then says so, in the status's words)."""
    out = {}
    for i, lbl in enumerate(labels):
        p = np.asarray(demo["paths"][i], np.float64)
        k = int(demo["diverged_at"][i])
        if k >= 0:
            lbl, p = f"{lbl} ({describe_divergence(k)})", p[:k]
        out[lbl] = p
    return out


def _draw_paths(ax, paths: dict) -> None:
    """Paths in step-size order (ordered colours: small, good, too large), start as a dot, a
    diverged path's last point as an X."""
    for (lbl, p), c in zip(paths.items(), plotting.ordered_colors(len(paths)), strict=True):
        ax.plot(p[:, 0], p[:, 1], "-", color=c, linewidth=1.5, label=lbl)
        ax.plot(p[0, 0], p[0, 1], "o", color=c, markersize=5)
        if "diverged" in lbl:
            ax.plot(p[-1, 0], p[-1, 1], "X", color=c, markersize=10)


def trajectories(cfg: Config, r: Results):
    """On a quadratic and on Rosenbrock, gradient descent with too small a step crawls, a
    well-chosen step reaches the minimiser, and too large a step overshoots further each time
    and diverges."""
    A2, b2 = _demo_quadratic()
    fig, axes = plotting.figure(
        "Gradient descent paths: too small a step crawls, one above $2/L$ diverges",
        ncols=2, height=5.6)
    ax1, ax2 = axes

    def qf(X, Y):
        return (0.5 * (A2[0, 0] * X**2 + 2 * A2[0, 1] * X * Y + A2[1, 1] * Y**2)
                - b2[0] * X - b2[1] * Y)

    def ros_f(X, Y):
        return (1 - X) ** 2 + 100 * (Y - X**2) ** 2

    plotting.contour_with_trajectories(ax1, qf, (-3, 3), (-3, 3), None,
                                       marker_points={"$x^*$": (1.0, -0.5)}, levels=20)
    _draw_paths(ax1, _demo_paths(r.demos["quadratic"], DEMO_QUADRATIC))
    ax1.set_title(f"quadratic, $\\kappa = {DEMO_KAPPA:g}$, 25 steps")
    labels = [f"{DEMO_ROSENBROCK[0]} {cfg.rosenbrock_lr:g}", *DEMO_ROSENBROCK[1:]]
    plotting.contour_with_trajectories(ax2, ros_f, (-2, 2), (-1, 3), None,
                                       marker_points={"(1, 1)": (1.0, 1.0)}, log_levels=True,
                                       levels=20)
    _draw_paths(ax2, _demo_paths(r.demos["rosenbrock"], labels))
    ax2.set_title("Rosenbrock from (-1.2, 1), 3000 steps")
    for ax in (ax1, ax2):
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=9)
    return fig


def error_vs_step(cfg: Config, r: Results):
    """With step 2/(L + mu), gradient descent's error on a quadratic falls like
    ((kappa - 1)/(kappa + 1))^k from the worst-case start, random starts doing no worse, ever
    slower as kappa grows."""
    s = r.kappas
    fig, ax = plotting.figure("Step $2/(L+\\mu)$: the error shrinks like "
                              "$((\\kappa-1)/(\\kappa+1))^k$", width=7.5, height=4.6)
    for i, (kap, c) in enumerate(zip(s["kappa"], plotting.ordered_colors(len(s["kappa"])),
                                     strict=True)):
        worst = s["errors"][i] / s["errors"][i, 0]
        rnd = s["random_errors"][i] / s["random_errors"][i, :, :1]
        k = np.arange(worst.size)
        ax.semilogy(k, np.median(rnd, axis=0), color=c, linestyle="-.", linewidth=1.2,
                    label=f"$\\kappa={kap:g}$: random starts (median of {rnd.shape[0]})")
        ax.semilogy(k, worst, color=c, label=f"$\\kappa={kap:g}$: worst-case start")
        ax.semilogy(k, ((kap - 1) / (kap + 1)) ** k,
                    **{**plotting.THEORY_STYLE, "linewidth": 1},
                    label="theory $r^k$" if i == 0 else None)
    ax.set_ylim(1e-8, 2)
    ax.set_xlabel("step k")
    ax.set_ylabel("$\\|x_k - x^*\\| / \\|x_0 - x^*\\|$ (log scale)")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9)
    return fig


def _sweep_panel(ax, cfg: Config, r: Results) -> None:
    s = r.sweep
    etaL, meas, ok = s["eta_L"][:-1], s["measured"][:-1], s["diverged_at"][:-1] < 0
    r_theory = np.max(np.abs(1.0 - np.outer(etaL / s["lam"][-1], s["lam"])), axis=1)
    plotting.theory_line(ax, etaL, r_theory, "theory $\\max_i |1 - \\eta\\lambda_i|$")
    ax.plot(etaL[ok], meas[ok], "o", color=plotting.color("gd"),
            label=f"measured: converged ({int(ok.sum())})")
    ax.plot(etaL[~ok], meas[~ok], "X", color="black", markersize=8,
            linestyle="none", label=f"measured: diverged, status ({int((~ok).sum())})")
    ax.axvline(2.0, color="black", linestyle=":", label="$\\eta = 2/L$")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("step $\\eta$, in units of $1/L$ (log scale)")
    ax.set_ylabel("error growth per step (log scale)")
    ax.set_title(f"step sweep, $\\kappa = {cfg.sweep_kappa:g}$")
    ax.legend(loc="upper left")


def rates(cfg: Config, r: Results):
    """The measured contraction per step follows (kappa - 1)/(kappa + 1) against the condition
    number, and a sweep of steps eta follows max |1 - eta lambda_i|, diverging once eta passes
    2/L."""
    kappas = r.kappas["kappa"]
    fig, (ax1, ax2) = plotting.figure("Measured contraction rates match theory, and steps "
                                      "above $2/L$ diverge", ncols=2, height=4.6)
    kk = np.geomspace(min(kappas) / 1.5, max(kappas) * 1.5, 200)
    plotting.theory_line(ax1, kk, (kk - 1) / (kk + 1), "theory $(\\kappa-1)/(\\kappa+1)$")
    ax1.plot(kappas, r.kappas["measured"], "o", color=plotting.color("gd"),
             label="measured, step $2/(L+\\mu)$")
    ax1.set_xscale("log")
    ax1.set_xlabel("condition number $\\kappa = L/\\mu$ (log scale)")
    ax1.set_ylabel("error contraction per step")
    ax1.set_title("rate against $\\kappa$")
    ax1.legend(loc="lower right")
    _sweep_panel(ax2, cfg, r)
    return fig


def rosenbrock(cfg: Config, r: Results):
    """Near Rosenbrock's minimiser (1, 1), gradient descent's distance to it falls geometrically,
    at the rate max |1 - eta lambda_i| set by the eigenvalues of the Hessian there."""
    dist = r.rosenbrock["distance"]
    k = np.arange(dist.size)
    fig, ax = plotting.figure(f"Rosenbrock: near (1, 1) GD with step {cfg.rosenbrock_lr:g} "
                              "contracts at the rate the Hessian there predicts", width=7.0)
    ax.semilogy(k, dist, color=plotting.color("gd"), label="$\\|x_k - (1, 1)\\|$")
    w = r.rosenbrock["window"]
    if w[1] > w[0]:
        r_th = _rosenbrock_theory_rate(cfg)
        kw = k[w[0]:w[1]]
        plotting.theory_line(ax, kw, dist[w[0]] * r_th ** (kw - w[0]),
                             f"theory $\\max_i|1-\\eta\\lambda_i(H^*)|^k$ = {r_th:.6f}$^k$")
    ax.axhline(cfg.rosenbrock_tol, color="black", linestyle=":",
               label=f"tolerance {cfg.rosenbrock_tol:g} (first at step {_steps_to_tol(cfg, r)})")
    ax.set_xlabel("step k")
    ax.set_ylabel("distance to the minimiser (log scale)")
    ax.legend(loc="upper right")
    return fig


FIGURES = (trajectories, error_vs_step, rates, rosenbrock)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: every run keeps its
    whole trajectory (the figures and rate fits read every step), on the device and in
    float64 on the host with its errors: the random starts hold len(kappas) x starts
    trajectories of (steps + 1) x dim and a copy of their quadratic's dim x dim matrix each;
    the sweep (sweep_points + 1) trajectories of (sweep_steps + 1) x dim."""
    from mathml_jax import budget as b

    # per trajectory entry: the device array, its host copy, the float64 copy and the error
    # temporaries (measured 799 MB for 3 x 20 runs of 20,001 steps x 20 in float32)
    nk, d, per_entry = len(cfg.kappas), cfg.dim, 2 * target.itemsize + 24
    runs = nk * cfg.starts
    return b.estimate(
        b.Part(runs * ((cfg.steps + 1) * d * per_entry + d * d * target.itemsize),
               ("gd.steps", "gd.starts", "gd.dim"),
               "len(kappas) x starts trajectories of (steps + 1) x dim, and their matrices"),
        b.Part((cfg.sweep_points + 1) * (cfg.sweep_steps + 1) * d * per_entry,
               ("gd.sweep_steps", "gd.sweep_points", "gd.dim"),
               "(sweep_points + 1) trajectories of (sweep_steps + 1) x dim"),
        b.Part((cfg.rosenbrock_steps + 1) * 3 * (target.itemsize + 16),
               ("gd.rosenbrock_steps",), "the Rosenbrock trajectory and losses"),
        seconds=((runs + nk) * cfg.steps + (cfg.sweep_points + 1) * cfg.sweep_steps)
        * 2 * d * d * b.S_PER_FLOP + cfg.rosenbrock_steps * 2e-6 + (nk + 1) * d**3
        * b.S_PER_EIGH_N3,
        rate=f"products at {1 / b.S_PER_FLOP:.0e} flop/s, 2 us a Rosenbrock step",
        time_keys=("gd.steps", "gd.starts", "gd.sweep_steps", "gd.rosenbrock_steps"))
