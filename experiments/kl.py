"""``kl``: cross-entropy and Kullback-Leibler divergence.

Discrete distributions through ``jax.scipy.special`` (``xlogy``, ``entr``, ``rel_entr``):
KL = cross-entropy - entropy, KL >= 0 with equality only for equal distributions, KL is not
symmetric, and the cross-entropy against a one-hot target is the negative log-probability of
the true class (0 only when the prediction is that one-hot vector). All checked on random
pmfs against SciPy's ``scipy.stats.entropy``.

The classic picture: one Gaussian fitted to a two-bump mixture by gradient descent (optax
Adam) on forward KL(P||Q), which covers both bumps (its optimum matches the mixture's mean and
variance, a closed form), and on reverse KL(Q||P), which locks onto one bump (its value there
is about -log of that bump's weight). KL between two Gaussians by quadrature against its
closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.information import (
    cross_entropy,
    density_kl,
    entropy,
    fit_gaussian,
    gaussian_kl,
    kl_divergence,
    mixture_logpdf,
)
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Probability theory / Information theory: cross-entropy and KL divergence"


@dataclass
class Config:
    num_outcomes: int = param(10, ge=2, le=100_000, help="outcomes of the random pmfs")
    num_pairs: int = param(2000, ge=1, le=1_000_000, help="random pmf pairs (Dirichlet(1))")
    weight: float = param(0.5, gt=0, lt=1, help="weight of the left bump of the mixture")
    separation: float = param(4.0, gt=0, le=100, help="distance between the two bumps")
    width: float = param(0.6, gt=0, le=100, help="standard deviation of each bump")
    starts: list[float] = param([-1.0, 0.3, 1.5], ge=-100, le=100,
                                help="initial means of the fitted Gaussian")
    start_sd: float = param(0.5, gt=0, le=100, help="initial sd of the fitted Gaussian; a "
                            "wide start can make reverse KL stop at a wide local optimum")
    lr: float = param(0.05, gt=0, le=10, help="Adam learning rate")
    steps: int = param(1500, ge=10, le=1_000_000, help="gradient steps")
    grid_points: int = param(4001, ge=101, le=1_000_000, help="quadrature grid")

    def __post_init__(self):
        if self.separation < 4 * self.width:
            raise ConfigError("kl.separation", self.separation,
                              f"the bumps must be well separated for the mode-seeking claims: "
                              f"at least 4 x width = {4 * self.width:g}")


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("kl", section=SECTION)
    dtype = ctx.dtype
    eps = ctx.eps
    k_p, k_q = jax.random.split(ctx.key)

    # -- 1. discrete: random pmf pairs
    n = cfg.num_outcomes
    P = jax.random.dirichlet(k_p, jnp.ones(n, dtype), (cfg.num_pairs,))
    Q = jax.random.dirichlet(k_q, jnp.ones(n, dtype), (cfg.num_pairs,))
    kl_pq, t = timed(kl_divergence, P, Q)
    report.add_timing("kl_divergence", t)
    kl_pq, kl_qp = np.asarray(kl_pq, np.float64), np.asarray(kl_divergence(Q, P), np.float64)
    ce, h = np.asarray(cross_entropy(P, Q)), np.asarray(entropy(P))
    P64, Q64 = np.asarray(P, np.float64), np.asarray(Q, np.float64)
    ref = scipy.stats.entropy(P64, Q64, axis=1)  # SciPy's KL, float64
    scale = max(1.0, float(np.abs(ce).max()))
    report.claim(Claim.at_most(
        f"KL(P||Q) (rel_entr) = scipy.stats.entropy(P, Q) over {cfg.num_pairs:,} random pairs "
        "(largest difference)", np.abs(kl_pq - ref).max(), 1e3 * eps * scale))
    report.claim(Claim.at_most("KL = cross-entropy - entropy (largest difference)",
                               np.abs(kl_pq - (ce - h)).max(), 1e3 * eps * scale))
    report.claim(Claim.at_least("Gibbs' inequality: KL(P||Q) >= 0 for every pair (smallest)",
                                min(kl_pq.min(), kl_qp.min()), 0.0))
    self_kl = np.asarray(kl_divergence(P, P))
    report.claim(Claim.at_most("KL(P||P) = 0 (largest over pairs)", np.abs(self_kl).max(),
                               10 * eps, detail="round-off of p/p inside rel_entr"))
    report.claim(Claim.at_least("KL is positive between distinct distributions: smallest KL "
                                "over pairs with P != Q", kl_pq.min(), 1e2 * eps))
    asym = np.abs(kl_pq - kl_qp)
    report.claim(Claim.at_least("KL is not symmetric: largest |KL(P||Q) - KL(Q||P)|",
                                asym.max(), 0.1,
                                detail="a symmetric KL would give 0 up to round-off"))
    report.metric("kl_asymmetry_max", float(asym.max()), key=True)

    y = np.arange(cfg.num_pairs) % n
    onehot = jax.nn.one_hot(jnp.asarray(y), n, dtype=dtype)
    ce_y = np.asarray(cross_entropy(onehot, Q), np.float64)
    nll = -np.log(Q64[np.arange(cfg.num_pairs), y])
    report.claim(Claim.at_most("cross-entropy against a one-hot target = -log q[true class] "
                               "(largest difference)", np.abs(ce_y - nll).max(),
                               1e3 * eps * max(1.0, nll.max())))
    ce_perfect = np.asarray(cross_entropy(onehot, onehot))
    report.claim(Claim.close("cross-entropy is 0 when the prediction is the one-hot target "
                             "(largest)", np.abs(ce_perfect).max(), 0.0, tol=0.0))
    report.claim(Claim.at_least("... and positive for every other prediction (smallest)",
                                ce_y.min(), 0.0 + 1e2 * eps))

    # -- 2. KL between Gaussians: quadrature against the closed form
    pairs = np.array([[0.0, 1.0, 1.0, 2.0], [-1.0, 0.5, 2.0, 1.5], [0.5, 2.0, 0.0, 0.7],
                      [3.0, 1.0, 3.0, 1.0]])
    m1, s1, m2, s2 = (jnp.asarray(c, dtype)[:, None] for c in pairs.T)
    lo = jnp.minimum(m1 - 12 * s1, m2 - 12 * s2)
    hi = jnp.maximum(m1 + 12 * s1, m2 + 12 * s2)
    xs = lo + (hi - lo) * jnp.linspace(0, 1, 20_001, dtype=dtype)  # one grid per pair
    norm = jax.scipy.stats.norm
    quad = np.asarray(jax.vmap(density_kl)(norm.logpdf(xs, m1, s1), norm.logpdf(xs, m2, s2),
                                           xs), np.float64)
    closed = np.asarray(gaussian_kl(*(pairs.T)), np.float64)
    report.claim(Claim.at_most(
        "KL between two Gaussians by quadrature = log(s2/s1) + (s1^2 + (m1-m2)^2)/(2 s2^2) - 1/2 "
        f"({len(pairs)} pairs, largest difference)", np.abs(quad - closed).max(),
        1e-4 * max(1.0, closed.max())))
    report.add_series("gaussian_kl", pairs=pairs, quadrature=quad, closed_form=closed)

    # -- 3. one Gaussian fitted to a two-bump mixture: forward vs reverse KL
    w = np.array([cfg.weight, 1 - cfg.weight])
    mus = np.array([-cfg.separation / 2, cfg.separation / 2])
    sds = np.full(2, cfg.width)
    lo, hi = mus[0] - 10 * cfg.width - 3, mus[1] + 10 * cfg.width + 3
    x = jnp.linspace(lo, hi, cfg.grid_points, dtype=dtype)
    logp = mixture_logpdf(x, jnp.asarray(w, dtype), jnp.asarray(mus, dtype),
                          jnp.asarray(sds, dtype))
    mix_mean = float(w @ mus)
    mix_sd = float(np.sqrt(w @ (sds**2 + mus**2) - mix_mean**2))
    starts = jnp.asarray([[m, np.log(cfg.start_sd)] for m in cfg.starts], dtype)
    lr = jnp.asarray(cfg.lr, dtype)
    fits = {}
    for direction in ("forward", "reverse"):
        (traj, loss), t = timed(fit_gaussian, logp, x, starts, lr, direction=direction,
                                steps=cfg.steps)
        report.add_timing(f"fit_{direction}", t)
        fits[direction] = (np.asarray(traj, np.float64), np.asarray(loss, np.float64))
        report.add_series(f"fit_{direction}", mean=fits[direction][0][..., 0],
                          sd=fits[direction][0][..., 1], kl=fits[direction][1])
    fwd, rev = fits["forward"][0][:, -1], fits["reverse"][0][:, -1]
    tol_m = 1e-2 * max(1.0, cfg.separation)
    report.claim(Claim.at_most(
        f"forward KL(P||Q) covers both bumps: fitted (mean, sd) = mixture's (mean, sd) = "
        f"({mix_mean:.3g}, {mix_sd:.3g}) from every start (largest error)",
        np.abs(fwd - [mix_mean, mix_sd]).max(), tol_m,
        detail="closed-form optimum: moment matching"))
    nearest = np.abs(rev[:, :1] - mus[None, :]).argmin(axis=1)
    report.claim(Claim.at_most(
        "reverse KL(Q||P) locks onto one bump: |fitted mean - nearest bump's mean| and "
        "|fitted sd - bump sd| from every start (largest)",
        max(np.abs(rev[:, 0] - mus[nearest]).max(), np.abs(rev[:, 1] - cfg.width).max()),
        0.05 * cfg.width))
    rev_kl = fits["reverse"][1][:, -1]
    report.claim(Claim.at_most(
        "reverse KL at the locked bump = -log(weight of that bump) (largest difference)",
        np.abs(rev_kl + np.log(w[nearest])).max(), 1e-2,
        detail="the other bump is ignored: q = one bump, p = w x that bump there"))
    report.claim(Claim.holds(
        "starts on either side lock onto different bumps (mode-seeking depends on the start)",
        bool(len(set(nearest)) == 2 or len({s > 0 for s in cfg.starts}) == 1),
        measured=len(set(nearest))))
    report.metric("forward_fit_sd", float(fwd[:, 1].mean()), key=True)
    report.metric("reverse_fit_sd", float(rev[:, 1].mean()), key=True)
    report.metric("mixture_sd", mix_sd)

    # KL over the family Q_m = N(m, width^2)
    ms = np.linspace(mus[0] - 2, mus[1] + 2, 161)
    lqs = jax.vmap(lambda m: jax.scipy.stats.norm.logpdf(x, m, cfg.width))(jnp.asarray(ms, dtype))
    f_curve = np.asarray(jax.vmap(lambda lq: density_kl(logp, lq, x))(lqs))
    r_curve = np.asarray(jax.vmap(lambda lq: density_kl(lq, logp, x))(lqs))
    report.add_series("family", mean=ms, forward_kl=f_curve, reverse_kl=r_curve)

    _figures(report, cfg, np.asarray(x), np.exp(np.asarray(logp, np.float64)), fits, mix_mean,
             mix_sd, ms, f_curve, r_curve)
    return report


def _figures(report, cfg, x, p, fits, mix_mean, mix_sd, ms, f_curve, r_curve):
    fig, ax = plotting.figure("Forward KL covers both bumps; reverse KL locks onto one", width=8)
    ax.fill_between(x, p, color="lightgray", label="P: two-bump mixture")
    fwd = fits["forward"][0][0, -1]
    ax.plot(x, scipy.stats.norm.pdf(x, *fwd), color=plotting.color("forward"),
            label=f"argmin KL(P||Q): N({fwd[0]:.2f}, {fwd[1]:.2f}^2)")
    for i, (m, s) in enumerate(fits["reverse"][0][:, -1]):
        ax.plot(x, scipy.stats.norm.pdf(x, m, s), color=plotting.color("reverse"),
                linestyle="--" if i else "-",
                label=f"argmin KL(Q||P) from start {cfg.starts[i]:g}: N({m:.2f}, {s:.2f}^2)")
    ax.set_xlim(mix_mean - 3.5 * mix_sd, mix_mean + 3.5 * mix_sd)
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(loc="upper left", fontsize=8)
    report.add_figure("fits", fig)

    fig, ax = plotting.figure(f"KL is not symmetric: over Q = N(m, {cfg.width:g}^2)", width=7)
    ax.plot(ms, f_curve, color=plotting.color("forward"), label="KL(P||Q): one wide valley")
    ax.plot(ms, r_curve, color=plotting.color("reverse"), label="KL(Q||P): a valley per bump")
    ax.set_yscale("log")
    ax.set_xlabel("mean m of Q")
    ax.set_ylabel("divergence (nats, log scale)")
    ax.legend()
    report.add_figure("kl_family", fig)
