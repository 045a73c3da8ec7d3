"""``sgd``: why stochastic gradient descent works, measured on a real model.

L2-regularised logistic regression on scikit-learn's breast-cancer data (standardised). The
reference optimum comes from SciPy's L-BFGS in float64 NumPy, independent of the JAX code.
Three facts are measured and checked:

1. unbiasedness: averaging m minibatch gradients at a fixed point converges to the full
   gradient with error ~ 1/sqrt(m) (the law of large numbers);
2. variance: the minibatch gradient's variance is (sigma^2/B)(N-B)/(N-1) for sampling
   without replacement, over a range of batch sizes B;
3. training: SGD with several batch sizes and full-batch gradient descent (several seeds in one
   ``vmap``, the loop in ``lax.scan``) all reach the optimum within a stated gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import scipy.optimize

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.convergence import bootstrap_slope_se, fitted_slope
from mathml_jax.data import BREAST_CANCER_N, breast_cancer
from mathml_jax.optimization import (
    OPTIMIZERS,
    SCHEDULES,
    logistic_loss,
    minibatch_gradient_sq_errors,
    per_example_gradients,
    running_mean_sq_errors,
    smoothness_constant,
)
from mathml_jax.optimization.stochastic import train_seeds
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Probability theory / Law of large numbers: stochastic gradient descent"

Z_BOUND = 4.0  # Monte Carlo claims: |estimate - exact| <= 4 standard errors

# Called once per run outside the timed kernels: jitted, each is one compiled program (called
# op by op, each would compile, or load from the cache, one small program per primitive).
_logistic_loss = jax.jit(logistic_loss)
_per_example_gradients = jax.jit(per_example_gradients)


@dataclass
class Config:
    batch_size: int = param(16, ge=1, le=BREAST_CANCER_N,
                            help="SGD batch size of the unbiasedness study and the main run")
    batch_sizes: list[int] = param([1, 64], ge=1, le=BREAST_CANCER_N,
                                   help="further batch sizes trained for comparison")
    optimizer: str = param("sgd", choices=OPTIMIZERS)
    schedule: str = param("cosine", choices=SCHEDULES)
    lr: float = param(0.5, gt=0, le=100, help="peak learning rate of the minibatch runs")
    full_batch_lr: float | None = param(None, gt=0, le=100,
                                        help="step of full-batch GD; null means 1/L")
    l2: float = param(0.01, gt=0, le=100, help="L2 regularisation strength lambda")
    epochs: int = param(40, ge=1, le=100_000)
    full_batch_epochs: int = param(600, ge=1, le=1_000_000)
    seeds: int = param(8, ge=1, le=4096)
    gap_tol: float = param(1e-3, gt=0, help="every run must end within this loss gap")
    num_batches: int = param(512, ge=8, le=10_000_000, help="minibatches averaged per path")
    num_paths: int = param(32, ge=2, le=100_000, help="independent averaging paths")
    variance_batch_sizes: list[int] = param([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 569],
                                            ge=1, le=BREAST_CANCER_N)
    variance_draws: int = param(1500, ge=10, le=10_000_000)

    def __post_init__(self):
        # Memory of the largest kernel outputs: (paths x batches) and (sizes x draws) floats.
        for key, count in (("sgd.num_batches", self.num_batches * self.num_paths),
                           ("sgd.variance_draws", self.variance_draws
                            * len(self.variance_batch_sizes))):
            if count > 200_000_000:
                raise ConfigError(key, getattr(self, key.split(".")[1]),
                                  f"it would hold {count:,} results in memory at once; keep "
                                  "the product with num_paths (or the number of batch sizes) "
                                  "at most 200,000,000")


# ------------------------------------------------------------------ independent NumPy reference

def _np_loss(w, X, y, l2):
    return np.mean(np.logaddexp(0.0, -y * (X @ w))) + 0.5 * l2 * w @ w


def _np_per_example_grads(w, X, y, l2):
    """Closed form: grad l_i = -y_i sigmoid(-y_i x_i.w) x_i + l2 w (no autodiff)."""
    s = 0.5 * (1.0 + np.tanh(0.5 * (-y * (X @ w))))  # sigmoid, overflow-free
    return (-y * s)[:, None] * X + l2 * w[None, :]


def reference_optimum(X, y, l2):
    """The minimiser by SciPy's L-BFGS-B in float64, with the closed-form gradient."""
    res = scipy.optimize.minimize(
        _np_loss, np.zeros(X.shape[1]), args=(X, y, l2),
        jac=lambda w, *a: _np_per_example_grads(w, *a).mean(axis=0), method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 10_000})
    return res.x, float(res.fun)


# ----------------------------------------------------------------------------------- the run

def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("sgd", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    X64, y64 = breast_cancer()
    n, d = X64.shape
    # cast by NumPy, then copied to the device (jnp.asarray compiles a small program)
    X, y = jax.device_put(X64.astype(dtype)), jax.device_put(y64.astype(dtype))
    l2 = jax.device_put(np.asarray(cfg.l2, dtype))
    k_unbiased, k_var, k_train = jax.random.split(ctx.key, 3)

    # -- reference optimum (float64 NumPy/SciPy) and a check of the JAX model against it
    w_star, loss_star = reference_optimum(X64, y64, cfg.l2)
    grad_star = _np_per_example_grads(w_star, X64, y64, cfg.l2).mean(axis=0)
    report.metric("reference_loss", loss_star)
    report.claim(Claim.at_most(
        "reference optimum (SciPy L-BFGS, float64) is stationary: ||grad L(w*)||",
        np.linalg.norm(grad_star), 1e-6))
    jax_loss = float(_logistic_loss(w_star.astype(dtype), X, y, l2))
    report.claim(Claim.close("JAX loss at w* equals the NumPy reference loss", jax_loss,
                             loss_star, tol=100 * eps * max(1.0, loss_star),
                             detail="tolerance 100 eps"))

    # -- per-example gradients at a fixed point; population variance sigma^2 from NumPy
    w_fixed = np.zeros(d)
    G64 = _np_per_example_grads(w_fixed, X64, y64, cfg.l2)
    g_full = G64.mean(axis=0)
    sigma2 = float(np.mean(np.sum((G64 - g_full) ** 2, axis=1)))

    def exact_variance(b):
        b = np.asarray(b, dtype=np.float64)
        return sigma2 / b * (n - b) / (n - 1)

    G = _per_example_gradients(w_fixed.astype(dtype), X, y, l2)
    report.metric("sigma2", sigma2)

    # -- 1. unbiasedness: running average of m minibatch gradients -> full gradient
    B = cfg.batch_size
    sq, t = timed(running_mean_sq_errors, G, k_unbiased, batch_size=B,
                  num_batches=cfg.num_batches, num_paths=cfg.num_paths)
    report.add_timing("running_mean", t)
    sq = np.asarray(sq, np.float64)  # (paths, batches)
    m = np.arange(1, cfg.num_batches + 1)
    mse = sq.mean(axis=0)
    rms = np.sqrt(mse)
    theory_mse = exact_variance(B) / m
    if B < n:
        slope = fitted_slope(m, rms)
        slope_se = bootstrap_slope_se(m, sq, np.random.default_rng(ctx.seed))
        report.claim(Claim.close(
            f"averaging m minibatch gradients (B={B}): error ~ m^(-1/2), fitted slope",
            slope, -0.5, tol=Z_BOUND * slope_se,
            detail=f"RMS over {cfg.num_paths} paths; tol {Z_BOUND:g} bootstrap SE"))
        se_last = sq[:, -1].std(ddof=1) / np.sqrt(cfg.num_paths)
        report.claim(Claim.close(
            f"mean squared error after m={cfg.num_batches} minibatches = Var(g_B)/m",
            mse[-1], theory_mse[-1], tol=Z_BOUND * se_last,
            detail=f"{Z_BOUND:g} standard errors"))
        report.metric("unbiased_slope", slope, key=True)
    else:
        report.claim(Claim.at_most("B = N: every minibatch gradient is the full gradient",
                                   rms.max(), 10 * n * eps * np.abs(G64).max() * np.sqrt(d)))
    report.add_series("unbiasedness", m=m, mse=mse, theory_mse=theory_mse)

    # -- 2. variance against batch size, exact formula for sampling without replacement
    bs = np.asarray(cfg.variance_batch_sizes)
    sqe, t = timed(minibatch_gradient_sq_errors, G, k_var, jax.device_put(bs),
                   num_draws=cfg.variance_draws)
    report.add_timing("variance", t)
    sqe = np.asarray(sqe, np.float64)  # (sizes, draws)
    var_meas = sqe.mean(axis=1)
    var_se = sqe.std(axis=1, ddof=1) / np.sqrt(cfg.variance_draws)
    var_exact = exact_variance(bs)
    partial_ = bs < n
    if partial_.any():
        z = np.abs(var_meas[partial_] - var_exact[partial_]) / var_se[partial_]
        report.claim(Claim.at_most(
            f"Var(g_B) = (sigma^2/B)(N-B)/(N-1) for B in {bs[partial_].min()}..."
            f"{bs[partial_].max()}: largest |z|", z.max(), Z_BOUND,
            detail=f"{partial_.sum()} batch sizes x {cfg.variance_draws} draws; "
                   "z = (measured - exact)/SE"))
        report.metric("variance_max_z", float(z.max()))
    if (~partial_).any():
        bound = d * (n * eps * np.abs(G64).max()) ** 2
        report.claim(Claim.at_most("B = N: variance is exactly 0 (finite-population correction)",
                                   var_meas[~partial_].max(), bound,
                                   detail="round-off bound d (N eps max|g_i|)^2"))
    report.metric("variance_at_batch_size", float(exact_variance(B)), key=True)
    report.add_series("variance", batch_size=bs, measured=var_meas, standard_error=var_se,
                      exact=var_exact, with_replacement=sigma2 / bs.astype(np.float64))

    # -- 3. training: SGD with several batch sizes and full-batch GD, seeds in one vmap
    L = float(smoothness_constant(jax.device_put(X64), cfg.l2))
    report.metric("smoothness_L", L)
    full_lr = cfg.full_batch_lr if cfg.full_batch_lr is not None else 1.0 / L
    runs = [(b, cfg.lr, cfg.schedule, cfg.epochs, cfg.optimizer)
            for b in sorted({*cfg.batch_sizes, B}) if b < n]
    runs.append((n, full_lr, "constant", cfg.full_batch_epochs, "sgd"))
    keys = jax.random.split(k_train, cfg.seeds)
    w0 = jax.device_put(np.zeros(d, dtype))
    curves, worst_gap = {}, 0.0
    for b, lr, schedule, epochs, opt in runs:
        label = "full batch" if b == n else f"B={b}"
        lr_ = jax.device_put(np.asarray(lr, dtype))
        (losses, w_final), t = timed(train_seeds, w0, X, y, l2, lr_, keys,
                                     loss_fn=logistic_loss, optimizer=opt, schedule=schedule,
                                     batch_size=b, epochs=epochs)
        report.add_timing(f"train_{label.replace(' ', '_').replace('=', '')}", t)
        losses = np.asarray(losses, np.float64)
        gaps = np.array([_np_loss(np.asarray(wf, np.float64), X64, y64, cfg.l2) - loss_star
                         for wf in np.asarray(w_final)])
        finite = np.isfinite(losses).all()
        worst = float(gaps.max()) if finite else float("inf")
        worst_gap = max(worst_gap, worst)
        what = (f"full-batch GD, step {lr:.3g}, {epochs} steps" if b == n else
                f"{opt} B={b}, lr {lr:g} ({schedule}), {epochs} epochs")
        report.claim(Claim.at_most(f"{what}: worst final gap over {cfg.seeds} seeds", worst,
                                   cfg.gap_tol, detail="gap L(w) - L(w*) in float64"))
        if b == n:
            # The descent lemma: with step <= 1/L on an L-smooth function, every step decreases
            # the loss (up to round-off in the loss evaluation).
            rises = np.diff(losses[0])
            if full_lr <= 1.0 / L:
                report.claim(Claim.at_most(
                    "descent lemma: GD with step <= 1/L never increases the loss (largest rise)",
                    rises.max(), 10 * eps * losses[0, 0]))
        report.metric(f"final_gap_{label.replace(' ', '_').replace('=', '')}", worst)
        evals = np.arange(epochs + 1) * (n // b) * b
        curves[label] = (np.arange(epochs + 1), evals, losses - loss_star)
        report.add_series(f"train_{label.replace(' ', '_').replace('=', '')}",
                          epoch=np.arange(epochs + 1), gradient_evaluations=evals,
                          loss=losses, gap=losses - loss_star, final_gap=gaps)
    report.metric("final_gap", report.metrics[f"final_gap_B{B}"] if B < n else
                  report.metrics["final_gap_full_batch"], key=True)
    report.metric("worst_final_gap", worst_gap)

    _figures(report, cfg, curves, m, rms, theory_mse, bs, var_meas, var_se, var_exact,
             sigma2, n)
    return report


def _figures(report, cfg, curves, m, rms, theory_mse, bs, var_meas, var_se, var_exact,
             sigma2, n):
    floor = 1e-9
    fig, (ax1, ax2) = plotting.figure(
        "Loss gap to the optimum: small batches make progress per example seen", ncols=2)
    colors = plotting.ordered_colors(len(curves) - 1) + ["black"]
    for (label, (ep, evals, gaps)), c in zip(curves.items(), colors, strict=True):
        g = np.maximum(gaps, floor)[:, 1:]  # from the end of the first epoch (log axes)
        plotting.band(ax1, ep[1:], g, label, color_=c)
        plotting.band(ax2, evals[1:], g, label, color_=c)
    for ax in (ax1, ax2):
        ax.axhline(cfg.gap_tol, color="gray", linestyle=":", linewidth=1.2,
                   label=f"stated gap {cfg.gap_tol:g}")
        ax.set_yscale("log")
        ax.set_ylabel("L(w) - L(w*)")
    ax1.set_xlabel("epoch (passes over the data)")
    ax1.set_xscale("log")
    ax2.set_xscale("log")
    ax2.set_xlabel("per-example gradient evaluations")
    ax1.legend(title=f"median, 10-90% over {cfg.seeds} seeds")
    report.add_figure("training", fig)

    fig, ax = plotting.figure(
        f"Averaging m minibatch gradients (B={cfg.batch_size}): error falls like 1/√m",
        width=7.0)
    plotting.loglog_fit(ax, m, rms, "measured RMS error", name="sgd", marker="")
    plotting.theory_line(ax, m, np.sqrt(theory_mse), "theory √(Var(g_B)/m)")
    ax.set_xlabel("number of minibatch gradients averaged, m")
    ax.set_ylabel("RMS of ||average - full gradient||")
    ax.legend()
    report.add_figure("unbiasedness", fig)

    fig, ax = plotting.figure("Minibatch gradient variance is σ²/B · (N−B)/(N−1)", width=6.4)
    part = bs < n
    ax.errorbar(bs[part], var_meas[part], yerr=2 * var_se[part], fmt="o",
                color=plotting.color("sgd"), label="measured (±2 SE)", zorder=3)
    grid = np.unique(np.geomspace(1, n - 1, 200).round())
    plotting.theory_line(ax, grid, sigma2 / grid * (n - grid) / (n - 1),
                         "exact, without replacement")
    ax.plot(grid, sigma2 / grid, color="gray", linestyle=":", label="σ²/B (with replacement)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("E ||g_B - grad L||^2")
    ax.legend()
    report.add_figure("variance", fig)
