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
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.convergence import bootstrap_slope_se, fitted_slope
from mathml_jax.data import BREAST_CANCER_N, breast_cancer
from mathml_jax.finite import cut_at_divergence, fails_on_divergence
from mathml_jax.optimization import (
    OPTIMIZERS,
    SCHEDULES,
    logistic_loss,
    minibatch_gradient_sq_errors,
    per_example_gradients,
    smoothness_constant,
)
from mathml_jax.optimization.stochastic import running_mean_sq_errors_of_keys, train_seeds
from mathml_jax.runtime import RunContext
from mathml_jax.sharding import device_mesh, timed_rows
from mathml_jax.status import divergence_summary

SECTION = "Probability theory / Law of large numbers: stochastic gradient descent"

Z_BOUND = 4.0  # Monte Carlo claims: |estimate - exact| <= 4 standard errors
FULL = "full batch"

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
    gap_tol: float = param(1e-3, gt=0, le=0.1, tolerance=True,
                           help="every run must end within this loss gap")
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


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    num_examples: int        # N
    num_features: int        # d
    reference_loss: float    # L(w*) of SciPy's L-BFGS optimum (float64)
    reference_grad_norm: float  # ||grad L(w*)|| by the closed-form NumPy gradient
    jax_loss_at_reference: float  # the JAX loss at w*, in the run's dtype
    sigma2: float            # population variance of the per-example gradients at w = 0
    max_abs_gradient: float  # max |g_i| over examples and coordinates at w = 0 (NumPy)
    unbiasedness: dict       # m (batches,), sq_errors (paths, batches): ||mean - full||^2
    variance: dict           # batch_size, measured, standard_error, exact, with_replacement
    smoothness_L: float      # the bound L on the Hessian's largest eigenvalue
    hessian_min_eig: float   # smallest eigenvalue of the Hessian at w* (closed form, NumPy)
    full_batch_lr: float     # the step of full-batch gradient descent
    training: dict           # label -> batch_size, lr, schedule, optimizer, epoch,
                             # gradient_evaluations, loss (seeds, epochs+1), gap, final_gap


# ------------------------------------------------------------------ independent NumPy reference

def _np_loss(w, X, y, l2):
    return np.mean(np.logaddexp(0.0, -y * (X @ w))) + 0.5 * l2 * w @ w


def _np_per_example_grads(w, X, y, l2):
    """Closed form: grad l_i = -y_i sigmoid(-y_i x_i.w) x_i + l2 w (no autodiff)."""
    s = 0.5 * (1.0 + np.tanh(0.5 * (-y * (X @ w))))  # sigmoid, overflow-free
    return (-y * s)[:, None] * X + l2 * w[None, :]


def _np_hessian_min_eig(w, X, l2) -> float:
    """Smallest eigenvalue of the closed-form Hessian X^T diag(s(1 - s)) X / N + l2 I."""
    s = 0.5 * (1.0 + np.tanh(0.5 * (X @ w)))
    return float(np.linalg.eigvalsh((X.T * (s * (1 - s))) @ X / len(X)
                                    + l2 * np.eye(X.shape[1]))[0])


def reference_optimum(X, y, l2):
    """The minimiser by SciPy's L-BFGS-B in float64, with the closed-form gradient."""
    res = scipy.optimize.minimize(
        _np_loss, np.zeros(X.shape[1]), args=(X, y, l2),
        jac=lambda w, *a: _np_per_example_grads(w, *a).mean(axis=0), method="L-BFGS-B",
        options={"gtol": 1e-12, "ftol": 1e-16, "maxiter": 10_000})
    return res.x, float(res.fun)


def exact_variance(sigma2: float, n: int, b) -> np.ndarray:
    """E||g_B - grad L||^2 = (sigma^2/B)(N-B)/(N-1): B of N drawn without replacement."""
    b = np.asarray(b, dtype=np.float64)
    return sigma2 / b * (n - b) / (n - 1)


def _label(b: int, n: int) -> str:
    return FULL if b == n else f"B={b}"


def _tag(label: str) -> str:
    """A run's label as a name part: "B=16" -> "B16", "full batch" -> "full_batch"."""
    return label.replace(" ", "_").replace("=", "")


# ----------------------------------------------------------------------------------- compute

def _unbiasedness(cfg: Config, ctx: RunContext, G, key) -> dict:
    # path i from split(key, num_paths)[i], as running_mean_sq_errors draws it: the paths are
    # chunked to fit memory and split over the devices, the numbers unchanged
    sq = timed_rows(ctx.timer, "running_mean", running_mean_sq_errors_of_keys, G,
                    jax.random.split(key, cfg.num_paths), batch_argnums=(1,),
                    mesh=device_mesh(ctx.runtime.platform), batch_size=cfg.batch_size,
                    num_batches=cfg.num_batches)
    return {"m": np.arange(1, cfg.num_batches + 1),
            "sq_errors": np.asarray(sq, np.float64)}  # (paths, batches)


def _variance(cfg: Config, ctx: RunContext, G, key, sigma2: float, n: int) -> dict:
    bs = np.asarray(cfg.variance_batch_sizes)
    sqe = ctx.timed("variance", minibatch_gradient_sq_errors, G, key, jax.device_put(bs),
                    num_draws=cfg.variance_draws)
    sqe = np.asarray(sqe, np.float64)  # (sizes, draws)
    return {"batch_size": bs, "measured": sqe.mean(axis=1),
            "standard_error": sqe.std(axis=1, ddof=1) / np.sqrt(cfg.variance_draws),
            "exact": exact_variance(sigma2, n, bs),
            "with_replacement": sigma2 / bs.astype(np.float64)}


def _training_runs(cfg: Config, n: int, full_lr: float) -> list[tuple]:
    """(batch size, lr, schedule, epochs, optimizer) of every run: the minibatch runs, then
    full-batch gradient descent."""
    runs = [(b, cfg.lr, cfg.schedule, cfg.epochs, cfg.optimizer)
            for b in sorted({*cfg.batch_sizes, cfg.batch_size}) if b < n]
    runs.append((n, full_lr, "constant", cfg.full_batch_epochs, "sgd"))
    return runs


def _train(cfg: Config, ctx: RunContext, data: tuple, key, full_lr: float,
           loss_star: float) -> dict:
    """Every training run, the seeds of each in one vmap; final gaps by the NumPy loss."""
    X, y, l2, X64, y64 = data
    n, d = X64.shape
    keys = jax.random.split(key, cfg.seeds)
    w0 = jax.device_put(np.zeros(d, ctx.dtype))
    runs = _training_runs(cfg, n, full_lr)
    out = {}
    for i, (b, lr, schedule, epochs, opt) in enumerate(runs):
        label = _label(b, n)
        lr_ = jax.device_put(np.asarray(lr, ctx.dtype))
        # the seeds (one key each) split over the devices and chunked to fit memory
        losses, w_final = timed_rows(ctx.timer, f"train_{_tag(label)}", train_seeds, w0, X, y,
                                     l2, lr_, keys, batch_argnums=(5,),
                                     mesh=device_mesh(ctx.runtime.platform),
                                     loss_fn=logistic_loss, optimizer=opt, schedule=schedule,
                                     batch_size=b, epochs=epochs)
        losses = np.asarray(losses, np.float64)
        with np.errstate(invalid="ignore", over="ignore"):  # a diverged seed's weights
            gaps = np.array([_np_loss(np.asarray(wf, np.float64), X64, y64, cfg.l2) - loss_star
                             for wf in np.asarray(w_final)])
        # a too-large step overflows: each seed's run is cut at the epoch it diverged (its
        # last finite loss kept), and its final gap is the one at that epoch
        cut, diverged_at, _ = cut_at_divergence({"loss": losses})
        gaps = np.where(diverged_at >= 0, cut["loss"][:, -1] - loss_star, gaps)
        out[label] = {"batch_size": b, "lr": float(lr), "schedule": schedule,
                      "optimizer": opt, "epoch": np.arange(epochs + 1),
                      "gradient_evaluations": np.arange(epochs + 1) * (n // b) * b,
                      "loss": cut["loss"], "gap": cut["loss"] - loss_star, "final_gap": gaps,
                      "diverged_at": diverged_at}
        ctx.progress("sgd training", i + 1, len(runs))
    return out


def compute(cfg: Config, ctx: RunContext) -> Results:
    dtype = ctx.dtype
    X64, y64 = breast_cancer()
    n, d = X64.shape
    # cast by NumPy, then copied to the device (jnp.asarray compiles a small program)
    X, y = jax.device_put(X64.astype(dtype)), jax.device_put(y64.astype(dtype))
    l2 = jax.device_put(np.asarray(cfg.l2, dtype))
    k_unbiased, k_var, k_train = jax.random.split(ctx.key, 3)
    # reference optimum (float64 NumPy/SciPy); per-example gradients at w = 0 from NumPy
    w_star, loss_star = reference_optimum(X64, y64, cfg.l2)
    G64 = _np_per_example_grads(np.zeros(d), X64, y64, cfg.l2)
    sigma2 = float(np.mean(np.sum((G64 - G64.mean(axis=0)) ** 2, axis=1)))
    G = _per_example_gradients(np.zeros(d, dtype), X, y, l2)
    L = float(smoothness_constant(jax.device_put(X64.astype(dtype)), cfg.l2))
    full_lr = cfg.full_batch_lr if cfg.full_batch_lr is not None else 1.0 / L
    return Results(
        num_examples=n, num_features=d, reference_loss=loss_star,
        reference_grad_norm=float(np.linalg.norm(
            _np_per_example_grads(w_star, X64, y64, cfg.l2).mean(axis=0))),
        jax_loss_at_reference=float(_logistic_loss(w_star.astype(dtype), X, y, l2)),
        sigma2=sigma2, max_abs_gradient=float(np.abs(G64).max()),
        unbiasedness=_unbiasedness(cfg, ctx, G, k_unbiased),
        variance=_variance(cfg, ctx, G, k_var, sigma2, n),
        smoothness_L=L, full_batch_lr=float(full_lr),
        hessian_min_eig=_np_hessian_min_eig(w_star, X64, cfg.l2),
        training=_train(cfg, ctx, (X, y, l2, X64, y64), k_train, full_lr, loss_star))


# ------------------------------------------------------------------------------------ claims

def _reference_claims(r: Results, eps: float) -> list[Claim]:
    return [
        Claim.close("JAX loss at w* equals the NumPy reference loss", r.jax_loss_at_reference,
                    r.reference_loss, tol.roundoff(2, eps, scale=max(1e-300, r.reference_loss)),
                    id="jax_loss_matches_numpy",
                    reference="NumPy float64 loss (logaddexp) at SciPy's optimum",
                    detail="a mean of N terms: a few eps of the loss"),
    ]


def _unbiasedness_claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    m, sq = r.unbiasedness["m"], r.unbiasedness["sq_errors"]
    n, mse = r.num_examples, sq.mean(axis=0)
    size = f"B={cfg.batch_size}, {cfg.num_paths} paths x {cfg.num_batches} minibatches"
    if cfg.batch_size >= n:
        scale = r.max_abs_gradient * np.sqrt(r.num_features)
        return [Claim.at_most("B = N: every minibatch gradient is the full gradient (largest "
                              "RMS error)", np.sqrt(mse).max(),
                              tol.roundoff(10, ctx.eps, n=n, scale=scale),
                              id="full_minibatch_is_full_gradient", detail=size,
                              reference="the full gradient (the mean of all N per-example "
                                        "gradients)")]
    slope_se = bootstrap_slope_se(m, sq, np.random.default_rng(ctx.seed))
    theory_last = exact_variance(r.sigma2, n, cfg.batch_size) / m[-1]
    se_last = sq[:, -1].std(ddof=1) / np.sqrt(sq.shape[0])
    return [
        Claim.close("averaging m minibatch gradients: RMS error ~ m^(-1/2), fitted slope",
                    fitted_slope(m, np.sqrt(mse)), -0.5, tol.bootstrap(Z_BOUND, slope_se),
                    id="unbiased_average_slope", detail=size,
                    reference="law of large numbers: slope -1/2 (bootstrap over paths)"),
        Claim.close("mean squared error after the last minibatch = Var(g_B)/m", mse[-1],
                    theory_last, tol.standard_errors(Z_BOUND, se_last),
                    id="unbiased_average_mse", detail=size,
                    reference="closed form (sigma^2/B)(N-B)/(N-1)/m, sigma^2 from NumPy"),
    ]


def _variance_claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    v, n, out = r.variance, r.num_examples, []
    part = v["batch_size"] < n
    if part.any():
        z = np.abs(tol.z_score(v["measured"][part], v["exact"][part],
                               v["standard_error"][part]))
        zmax, where = tol.worst(z, [f"B={b}" for b in v["batch_size"][part]])
        out.append(Claim.at_most(
            "Var(g_B) = (sigma^2/B)(N-B)/(N-1) for every batch size B < N: largest |z|", zmax,
            tol.sigmas(Z_BOUND), id="minibatch_variance_formula", worst=where,
            reference="closed form for sampling without replacement, sigma^2 from NumPy",
            detail=f"{part.sum()} batch sizes x {cfg.variance_draws} draws"))
    if (~part).any():
        bound = (2 * ctx.eps) ** 2 * r.sigma2
        out.append(Claim.at_most(
            "B = N: variance is exactly 0 (finite-population correction), not sigma^2/N",
            v["measured"][~part].max(),
            tol.absolute(bound, f"(2 eps)^2 sigma^2 (eps={ctx.eps:.3g}): a mean of N terms "
                                "in another order differs by a few eps per coordinate"),
            id="full_batch_variance_zero",
            reference="closed form (N-B)/(N-1) = 0 at B = N"))
    return out


def _divergence_of(r: Results, labels) -> tuple[np.ndarray, list[str]]:
    """diverged_at of every seed of the runs ``labels`` (epochs; -1: never) and run names."""
    k = [r.training[lab]["diverged_at"] for lab in labels]
    names = [f"{lab}, seed {s}" for lab, d in zip(labels, k, strict=True) for s in range(d.size)]
    return (np.concatenate(k) if k else np.zeros(0, int)), names


def _training_claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    worst = {k: float(t["final_gap"].max()) for k, t in r.training.items()}
    mini = {k: g for k, g in worst.items() if k != FULL}
    out = []
    if mini:
        gap, where = tol.worst(list(mini.values()), list(mini))
        out.append(Claim.at_most(
            "every minibatch run reaches the optimum: worst final gap L(w) - L(w*) over batch "
            "sizes and seeds", gap, tol.absolute(cfg.gap_tol, "stated gap gap_tol"),
            id="minibatch_final_gap", worst=where,
            reference="SciPy L-BFGS optimum in float64 (gap by the NumPy loss)",
            detail=f"{cfg.optimizer}, lr {cfg.lr:g} ({cfg.schedule}), {cfg.epochs} epochs, "
                   f"{cfg.seeds} seeds; " + ", ".join(f"{k}: {g:.3g}" for k, g in mini.items())))
    if mini:  # a claim about where runs end fails, naming the epoch, if one diverged
        out[-1] = fails_on_divergence(out[-1], *_divergence_of(r, list(mini)), unit="epoch")
    out.append(fails_on_divergence(_full_batch_rate_claim(r), *_divergence_of(r, [FULL]),
                                   unit="epoch"))
    if r.full_batch_lr <= 1.0 / r.smoothness_L:
        # The descent lemma: with step <= 1/L on an L-smooth function, every step decreases
        # the loss (up to round-off in the loss evaluation).
        loss = r.training[FULL]["loss"][0]
        out.append(Claim.at_most(
            "descent lemma: GD with step <= 1/L never increases the loss (largest rise)",
            np.diff(loss).max(), tol.roundoff(10, ctx.eps, scale=loss[0]), id="descent_lemma",
            reference="descent lemma L(w - g/L) <= L(w) - ||g||^2/(2L), L = "
                      "lambda_max(X^T X)/(4N) + lambda",
            worst=f"step {int(np.argmax(np.diff(loss))) + 1}"))
    return out


def _full_batch_rate_claim(r: Results) -> Claim:
    """GD with step eta near w*: the gap contracts per step at least like the slowest mode of
    the Hessian, (1 - eta mu_min)^2; fitted on the second half of the steps."""
    gap = r.training[FULL]["gap"][0]
    k = np.arange(gap.size)
    tail = (k >= gap.size // 2) & (gap > 0)
    decay = -np.polyfit(k[tail], np.log(gap[tail]), 1)[0] if tail.sum() >= 3 else -np.inf
    # |1 - eta mu|: finite for a step past 2/mu too (the slowest mode then grows: theory < 0)
    theory = -2 * np.log(abs(1 - r.full_batch_lr * r.hessian_min_eig))
    return Claim.at_least(
        "full-batch GD converges linearly: fitted decay -ln(gap ratio) per step over the last "
        "half is at least that of the Hessian's slowest mode, -2 ln(1 - eta mu_min)",
        decay, tol.absolute(theory, "slowest mode of the closed-form Hessian at w*"),
        id="full_batch_linear_rate",
        reference="eigenvalues of the closed-form NumPy Hessian at SciPy's optimum (float64)",
        detail=f"step eta = {r.full_batch_lr:.3g}, mu_min = {r.hessian_min_eig:.4g}, steps "
               f"{gap.size // 2}..{gap.size - 1}; final gap "
               f"{r.training[FULL]['final_gap'].max():.3g}")


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    return (_reference_claims(r, ctx.eps) + _unbiasedness_claims(cfg, r, ctx)
            + _variance_claims(cfg, r, ctx) + _training_claims(cfg, r, ctx))


def metrics(cfg: Config, r: Results) -> dict:
    n, out = r.num_examples, {"reference_loss": r.reference_loss, "sigma2": r.sigma2,
                              "reference_grad_norm": r.reference_grad_norm,
                              "hessian_min_eig": r.hessian_min_eig}
    if cfg.batch_size < n:
        sq = r.unbiasedness["sq_errors"]
        out["unbiased_slope"] = fitted_slope(r.unbiasedness["m"], np.sqrt(sq.mean(axis=0)))
    v = r.variance
    part = v["batch_size"] < n
    if part.any():
        out["variance_max_z"] = float(np.abs(tol.z_score(
            v["measured"][part], v["exact"][part], v["standard_error"][part])).max())
    out["variance_at_batch_size"] = float(exact_variance(r.sigma2, n, cfg.batch_size))
    out["smoothness_L"] = r.smoothness_L
    # a run with a diverged seed has no final gap (null); its count and epochs say why
    gaps = {k: float(t["final_gap"].max()) if (t["diverged_at"] < 0).all() else None
            for k, t in r.training.items()}
    out.update({f"final_gap_{_tag(k)}": g for k, g in gaps.items()})
    out["final_gap"] = gaps[_label(cfg.batch_size, n)]
    out["worst_final_gap"] = None if None in gaps.values() else max(gaps.values())
    k, names = _divergence_of(r, list(r.training))
    out["diverged_runs"] = int((k >= 0).sum())
    out["divergence"] = divergence_summary(k, names, unit="epoch")
    return out


KEY_METRICS = ("unbiased_slope", "variance_at_batch_size", "final_gap")


# ----------------------------------------------------------------------------------- figures

def _human(label: str) -> str:
    return label if label == FULL else f"$B = {label[2:]}$"


def training(cfg: Config, r: Results):
    """Minibatch SGD reaches the logistic-regression optimum's neighbourhood in far fewer
    per-example gradient evaluations than full-batch descent: the loss gap against epochs and
    against evaluations."""
    floor = 1e-9
    fig, (ax1, ax2) = plotting.figure(
        "Loss gap to the optimum: small batches make progress per example seen", ncols=2)
    labels = sorted(r.training, key=lambda k: r.training[k]["batch_size"])  # full batch last
    colors = plotting.ordered_colors(len(labels) - 1) + [plotting.color(FULL)]
    for label, c in zip(labels, colors, strict=True):
        t = r.training[label]
        div = t["diverged_at"]
        bad = int((div >= 0).sum())
        # runs that diverged are cut at the first divergence (x), never drawn past it
        end = int(div[div >= 0].min()) if bad else t["epoch"].size
        name = _human(label) + (f", {bad} diverged (x: first, epoch {end})" if bad else "")
        g = np.maximum(t["gap"], floor)[:, 1:end]  # from the end of the first epoch (log axes)
        for ax, x in ((ax1, t["epoch"]), (ax2, t["gradient_evaluations"])):
            if g.shape[1]:
                plotting.band(ax, x[1:end], g, name, color_=c)
            if bad:
                ax.plot(x[max(end - 1, 1)], np.median(np.maximum(t["gap"], floor)[:, end - 1]),
                        "x", color=c, markersize=9, label=None if g.shape[1] else name)
    for ax in (ax1, ax2):
        ax.axhline(cfg.gap_tol, color="black", linestyle=":", linewidth=1.2,
                   label=f"stated gap {cfg.gap_tol:g}")
        ax.set_yscale("log")
        ax.set_ylabel(r"$L(w) - L(w^*)$ (log scale)")
    ax1.set_xlabel("epoch (passes over the data, log scale)")
    ax1.set_xscale("log")
    ax2.set_xscale("log")
    ax2.set_xlabel("per-example gradient evaluations (log scale)")
    h, t = ax1.get_legend_handles_labels()
    fig.legend(h, t, loc="outside lower center", ncol=3,
               title=f"over {cfg.seeds} seeds, failed runs included")
    return fig


def unbiasedness(cfg: Config, r: Results):
    """The average of m minibatch gradients converges to the full gradient: its RMS error against
    m on log axes falls like 1/sqrt(m), on the theory line sqrt(Var(g_B)/m)."""
    m, sq = r.unbiasedness["m"], r.unbiasedness["sq_errors"]
    theory_mse = exact_variance(r.sigma2, r.num_examples, cfg.batch_size) / m
    fig, ax = plotting.figure(
        f"Averaging $m$ minibatch gradients of batch size {cfg.batch_size}: the error falls "
        r"like $1/\sqrt{m}$", width=7.0)
    plotting.loglog_fit(ax, m, np.sqrt(sq.mean(axis=0)),
                        f"measured RMS error over {sq.shape[0]} paths", name="sgd", marker="")
    plotting.theory_line(ax, m, np.sqrt(theory_mse), r"theory $\sqrt{\mathrm{Var}(g_B)/m}$")
    ax.set_xlabel("number of minibatch gradients averaged, $m$ (log scale)")
    ax.set_ylabel(r"RMS of $\|\bar g_m - \nabla L\|$ (log scale)")
    ax.legend(loc="lower left")
    return fig


def variance(cfg: Config, r: Results):
    """The minibatch gradient's variance is sigma^2/B times (N - B)/(N - 1) when sampling without
    replacement, falling below the with-replacement line sigma^2/B and to zero at B = N."""
    v, n = r.variance, r.num_examples
    fig, ax = plotting.figure(
        r"Minibatch gradient variance is $\sigma^2/B \cdot (N - B)/(N - 1)$ when sampling "
        "without replacement", width=6.4)
    part = v["batch_size"] < n
    ax.errorbar(v["batch_size"][part], v["measured"][part],
                yerr=plotting.SE_BAND * v["standard_error"][part], fmt="o",
                color=plotting.color("sgd"), zorder=3,
                label=f"measured (±{plotting.SE_BAND} SE over {cfg.variance_draws} draws)")
    grid = np.unique(np.geomspace(1, n - 1, 200).round())
    plotting.theory_line(ax, grid, exact_variance(r.sigma2, n, grid),
                         "exact, without replacement")
    ax.plot(grid, r.sigma2 / grid, color="black", linestyle=":",
            label=r"$\sigma^2/B$ (with replacement)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("batch size $B$ (log scale)")
    ax.set_ylabel(r"$E\,\|g_B - \nabla L\|^2$ (log scale)")
    ax.legend(loc="lower left")
    return fig


FIGURES = (training, unbiasedness, variance)


# ------------------------------------------------------------------ memory and time guard

#: features of the breast-cancer data, with the intercept
_FEATURES = 31


def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the running means'
    squared errors, num_paths x num_batches (on the device and in float64 on the host, kept
    for the figure), with each step's minibatch gather (num_paths x batch_size x features); the
    variance study's draws, variance_draws minibatches of each size (the largest gathered at
    once: variance_draws x max size x features)."""
    from mathml_jax import budget as b

    it, d = target.itemsize, _FEATURES
    paths = cfg.num_paths * cfg.num_batches
    big = max(cfg.variance_batch_sizes)
    runs = len({*cfg.batch_sizes, cfg.batch_size})
    train = cfg.seeds * BREAST_CANCER_N * d * (runs * cfg.epochs + cfg.full_batch_epochs)
    return b.estimate(
        b.Part(paths * (it + 16) + cfg.num_paths * cfg.batch_size * d * it,
               ("sgd.num_batches", "sgd.num_paths"),
               "num_paths x num_batches running squared errors"),
        b.Part(cfg.variance_draws * (big * d * it + len(cfg.variance_batch_sizes) * (it + 8)),
               ("sgd.variance_draws",), "variance_draws minibatches of the largest size"),
        seconds=(paths * cfg.batch_size * d * 4
                 + cfg.variance_draws * sum(cfg.variance_batch_sizes) * d * 2
                 + train * 4) * b.S_PER_FLOP * 10,
        rate=f"gradient products at {0.1 / b.S_PER_FLOP:.0e} flop/s",
        time_keys=("sgd.num_batches", "sgd.num_paths", "sgd.variance_draws", "sgd.epochs"))
