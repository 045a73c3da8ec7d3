"""``kl``: cross-entropy and KL divergence; forward KL covers both bumps, reverse KL one.

Discrete distributions through ``jax.scipy.special`` (``xlogy``, ``entr``, ``rel_entr``):
KL in both directions against SciPy's ``scipy.stats.entropy`` on random pmfs, KL(P||P) = 0,
and the cross-entropy against a one-hot target is the negative log-probability of the true
class (0 only when the prediction is that one-hot vector). KL = cross-entropy - entropy and
Gibbs' KL >= 0 are drawn (``kl_identity``) and reported as metrics, not claimed: the first is
an identity of the kernels, and random pairs cannot break the second.

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
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.finite import cut_at_divergence, fails_on_divergence
from mathml_jax.information import (
    cross_entropy,
    density_kl,
    entropy,
    fit_gaussian,
    kl_divergence,
    mixture_logpdf,
)
from mathml_jax.runtime import RunContext
from mathml_jax.status import describe_divergence

SECTION = "Probability theory / Information theory: cross-entropy and KL divergence"

#: (m1, s1, m2, s2) of the Gaussian pairs whose KL is integrated by quadrature
GAUSSIAN_PAIRS = np.array([[0.0, 1.0, 1.0, 2.0], [-1.0, 0.5, 2.0, 1.5], [0.5, 2.0, 0.0, 0.7],
                           [3.0, 1.0, 3.0, 1.0]])


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


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    discrete: dict  # P, Q (pairs, n) random pmfs; kl_pq, kl_qp, cross_entropy, entropy,
    #                 self_kl per pair; labels y, ce_onehot H(onehot_y, Q), ce_perfect H(y, y)
    gaussian_kl: dict  # pairs (m1, s1, m2, s2), quadrature: KL by the trapezoid rule
    mixture: dict   # x (grid), density (float64): the two-bump mixture P
    fits: dict      # forward / reverse: mean, sd, kl (starts, steps + 1) of the Adam fits, each
    #                 run cut where it diverged (last finite iterate kept): diverged_at
    #                 (starts,), -1 for none, and the first_nonfinite quantity ("" for none)
    family: dict    # mean (m grid), forward_kl KL(P||N(m, w^2)), reverse_kl KL(N(m, w^2)||P)


def mixture_parameters(cfg: Config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights, means, sds) of the two-bump mixture (NumPy float64)."""
    return (np.array([cfg.weight, 1 - cfg.weight]),
            np.array([-cfg.separation / 2, cfg.separation / 2]), np.full(2, cfg.width))


def mixture_moments(cfg: Config) -> tuple[float, float]:
    """Mean and sd of the mixture (closed form)."""
    w, mus, sds = mixture_parameters(cfg)
    mean = float(w @ mus)
    return mean, float(np.sqrt(w @ (sds**2 + mus**2) - mean**2))


def _host(x) -> np.ndarray:
    return np.asarray(x, np.float64)


# ------------------------------------------------------------------------------ compute

def _discrete(cfg: Config, ctx: RunContext) -> dict:
    """KL, cross-entropy and entropy of random pmf pairs, and against one-hot targets."""
    n, dtype = cfg.num_outcomes, ctx.dtype
    k_p, k_q = jax.random.split(ctx.key)
    P = jax.random.dirichlet(k_p, jnp.ones(n, dtype), (cfg.num_pairs,))
    Q = jax.random.dirichlet(k_q, jnp.ones(n, dtype), (cfg.num_pairs,))
    kl_pq = ctx.timed("kl_divergence", kl_divergence, P, Q)
    y = np.arange(cfg.num_pairs) % n
    onehot = jax.nn.one_hot(jnp.asarray(y), n, dtype=dtype)
    return {"P": _host(P), "Q": _host(Q), "kl_pq": _host(kl_pq),
            "kl_qp": _host(kl_divergence(Q, P)), "cross_entropy": _host(cross_entropy(P, Q)),
            "entropy": _host(entropy(P)), "self_kl": _host(kl_divergence(P, P)), "y": y,
            "ce_onehot": _host(cross_entropy(onehot, Q)),
            "ce_perfect": _host(cross_entropy(onehot, onehot))}


def _gaussian_quadrature(ctx: RunContext) -> dict:
    """KL between the Gaussian pairs by the trapezoid rule on one grid per pair."""
    m1, s1, m2, s2 = (jnp.asarray(c, ctx.dtype)[:, None] for c in GAUSSIAN_PAIRS.T)
    lo = jnp.minimum(m1 - 12 * s1, m2 - 12 * s2)
    hi = jnp.maximum(m1 + 12 * s1, m2 + 12 * s2)
    xs = lo + (hi - lo) * jnp.linspace(0, 1, 20_001, dtype=ctx.dtype)  # one grid per pair
    norm = jax.scipy.stats.norm
    quad = jax.vmap(density_kl)(norm.logpdf(xs, m1, s1), norm.logpdf(xs, m2, s2), xs)
    return {"pairs": GAUSSIAN_PAIRS, "quadrature": _host(quad)}


def _fits(cfg: Config, ctx: RunContext, x, logp) -> dict:
    """One Gaussian fitted by Adam on forward and on reverse KL, from every start."""
    starts = jnp.asarray([[m, np.log(cfg.start_sd)] for m in cfg.starts], ctx.dtype)
    lr = jnp.asarray(cfg.lr, ctx.dtype)
    fits = {}
    for direction in ("forward", "reverse"):
        traj, loss = ctx.timed(f"fit_{direction}", fit_gaussian, logp, x, starts, lr,
                               direction=direction, steps=cfg.steps)
        traj = _host(traj)
        # a too-large step overflows: each start's run is cut where it diverged (a status)
        cut, diverged_at, which = cut_at_divergence(
            {"mean": traj[..., 0], "sd": traj[..., 1], "kl": _host(loss)})
        fits[direction] = dict(cut, diverged_at=diverged_at, first_nonfinite=np.array(which))
    return fits


def _family(cfg: Config, x, logp) -> dict:
    """Forward and reverse KL between P and Q_m = N(m, width^2) over a grid of means m."""
    mus = mixture_parameters(cfg)[1]
    ms = np.linspace(mus[0] - 2, mus[1] + 2, 161)
    lqs = jax.vmap(lambda m: jax.scipy.stats.norm.logpdf(x, m, cfg.width))(
        jnp.asarray(ms, x.dtype))
    return {"mean": ms, "forward_kl": _host(jax.vmap(lambda lq: density_kl(logp, lq, x))(lqs)),
            "reverse_kl": _host(jax.vmap(lambda lq: density_kl(lq, logp, x))(lqs))}


def compute(cfg: Config, ctx: RunContext) -> Results:
    w, mus, sds = mixture_parameters(cfg)
    lo, hi = mus[0] - 10 * cfg.width - 3, mus[1] + 10 * cfg.width + 3
    x = jnp.linspace(lo, hi, cfg.grid_points, dtype=ctx.dtype)
    logp = mixture_logpdf(x, *(jnp.asarray(a, ctx.dtype) for a in (w, mus, sds)))
    return Results(discrete=_discrete(cfg, ctx), gaussian_kl=_gaussian_quadrature(ctx),
                   mixture={"x": _host(x), "density": np.exp(_host(logp))},
                   fits=_fits(cfg, ctx, x, logp), family=_family(cfg, x, logp))


# ------------------------------------------------------------------------------ claims

def _kl_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    """KL in both directions against SciPy; KL = CE - H and Gibbs' inequality on random pairs
    are identities or cannot fail there: metrics and the ``kl_identity`` figure."""
    d = r.discrete
    scale = max(1.0, float(np.abs(d["cross_entropy"]).max()))
    refs = np.stack([scipy.stats.entropy(d["P"], d["Q"], axis=1),
                     scipy.stats.entropy(d["Q"], d["P"], axis=1)])
    names = [[f"KL({a}), pair {i}" for i in range(refs.shape[1])] for a in ("P||Q", "Q||P")]
    err, w_err = tol.worst(np.abs(np.stack([d["kl_pq"], d["kl_qp"]]) - refs), names)
    self_kl, w_self = tol.worst(np.abs(d["self_kl"]))
    pairs = f"{cfg.num_pairs:,} random pairs, n = {cfg.num_outcomes}"
    return [
        Claim.at_most("KL(P||Q) and KL(Q||P) (rel_entr) = scipy.stats.entropy over random "
                      "pairs (largest difference)", err,
                      tol.roundoff(2, eps, n=cfg.num_outcomes, scale=scale),
                      id="kl_matches_scipy", worst=w_err, detail=pairs,
                      reference="scipy.stats.entropy(P, Q) in float64"),
        Claim.at_most("KL(P||P) = 0 (largest over pairs)", self_kl, tol.roundoff(10, eps),
                      id="self_kl_zero", worst=w_self, reference="closed form 0",
                      detail="round-off of p/p inside rel_entr"),
    ]


def _cross_entropy_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    d = r.discrete
    nll = -np.log(d["Q"][np.arange(d["y"].size), d["y"]])
    err, w_err = tol.worst(np.abs(d["ce_onehot"] - nll))
    return [
        Claim.at_most("cross-entropy against a one-hot target = -log q[true class] (largest "
                      "difference)", err, tol.roundoff(20, eps, scale=max(1.0, nll.max())),
                      id="one_hot_cross_entropy_is_nll", worst=w_err,
                      reference="NumPy float64 -log q[y]", detail=f"{cfg.num_pairs:,} targets"),
        Claim.close("cross-entropy is 0 when the prediction is the one-hot target (largest)",
                    np.abs(d["ce_perfect"]).max(), 0.0,
                    tol.absolute(0.0, "exact: xlogy(0, 0) = xlogy(1, 1) = 0"),
                    id="perfect_prediction_zero_cross_entropy", reference="closed form 0"),
    ]


def _gaussian_kl_claim(r: Results, eps: float) -> Claim:
    m1, s1, m2, s2 = r.gaussian_kl["pairs"].T
    closed = np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5
    err, where = tol.worst(np.abs(r.gaussian_kl["quadrature"] - closed))
    return Claim.at_most(
        "KL between two Gaussians by quadrature = log(s2/s1) + (s1^2 + (m1-m2)^2)/(2 s2^2) - 1/2 "
        "(largest difference over pairs)", err, tol.roundoff(20, eps, scale=max(1.0, closed.max())),
        id="gaussian_kl_quadrature", worst=where, reference="closed form in NumPy float64",
        detail=f"{closed.size} pairs, trapezoid rule, 20001 points on +-12 sd (spectrally "
               "accurate for a Gaussian integrand: round-off is the whole error)")


def _fit_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    w, mus, _ = mixture_parameters(cfg)
    mix_mean, mix_sd = mixture_moments(cfg)
    f, rv = r.fits["forward"], r.fits["reverse"]
    labels = [f"start {s:g}" for s in cfg.starts]
    fwd_err, w_fwd = tol.worst(np.maximum(np.abs(f["mean"][:, -1] - mix_mean),
                                          np.abs(f["sd"][:, -1] - mix_sd)), labels)
    rev_m, rev_s = rv["mean"][:, -1], rv["sd"][:, -1]
    nearest = np.abs(rev_m[:, None] - mus[None, :]).argmin(axis=1)
    lock, w_lock = tol.worst(np.maximum(np.abs(rev_m - mus[nearest]),
                                        np.abs(rev_s - cfg.width)), labels)
    val, w_val = tol.worst(np.abs(rv["kl"][:, -1] + np.log(w[nearest])), labels)
    return [
        Claim.at_most("forward KL(P||Q) covers both bumps: fitted (mean, sd) = the mixture's "
                      "(mean, sd) from every start (largest error)", fwd_err,
                      tol.absolute(np.sqrt(eps) * max(1.0, cfg.separation),
                                   "sqrt(eps) max(1, separation): an optimum of a smooth loss "
                                   "is located to sqrt(eps)"),
                      id="forward_kl_moment_matching", worst=w_fwd,
                      reference="closed-form optimum: moment matching",
                      detail=f"mixture (mean, sd) = ({mix_mean:.3g}, {mix_sd:.3g})"),
        Claim.at_most("reverse KL(Q||P) locks onto one bump: |fitted mean - nearest bump's mean| "
                      "and |fitted sd - bump sd| from every start (largest)", lock,
                      tol.absolute(0.05 * cfg.width, "5% of the bump width"),
                      id="reverse_kl_locks_onto_bump", worst=w_lock,
                      reference="the bumps' means and width (config)"),
        Claim.at_most("reverse KL at the locked bump = -log(weight of that bump) (largest "
                      "difference)", val, tol.absolute(1e-2, "overlap of the bumps, nats"),
                      id="reverse_kl_value", worst=w_val, reference="closed form -log w",
                      detail="the other bump is ignored: q = one bump, p = w x that bump there"),
        Claim.holds("starts on either side lock onto different bumps (mode-seeking depends on "
                    "the start)", bool(len(set(nearest)) == 2
                                       or len({s > 0 for s in cfg.starts}) == 1),
                    measured=len(set(nearest)), id="starts_pick_different_bumps",
                    reference="the sign of each start (which side it begins on)",
                    detail="measured: number of distinct bumps reached"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    labels = [f"start {s:g}" for s in cfg.starts]
    # a fit claim is about where Adam ends: it fails, naming the start, if that fit diverged
    fit = [fails_on_divergence(c, r.fits["forward" if c.id.startswith("forward") else "reverse"]
                               ["diverged_at"], labels) for c in _fit_claims(cfg, r, ctx.eps)]
    return (_kl_claims(cfg, r, ctx.eps) + _cross_entropy_claims(cfg, r, ctx.eps)
            + [_gaussian_kl_claim(r, ctx.eps)] + fit)


def metrics(cfg: Config, r: Results) -> dict:
    d = r.discrete
    return {"kl_asymmetry_max": float(np.abs(d["kl_pq"] - d["kl_qp"]).max()),
            # identities shown rather than claimed: KL = CE - H (the kernel computes them from
            # the same logs) and Gibbs' KL >= 0 (random pairs are far from equal)
            "kl_minus_cross_entropy_plus_entropy_max": float(
                np.abs(d["kl_pq"] - (d["cross_entropy"] - d["entropy"])).max()),
            "kl_min_over_random_pairs": float(min(d["kl_pq"].min(), d["kl_qp"].min())),
            **_fit_metrics(cfg, r), "mixture_sd": mixture_moments(cfg)[1]}


def _fit_metrics(cfg: Config, r: Results) -> dict:
    """Per direction: the final sd averaged over the starts that did not diverge (None when
    every start diverged), how many diverged, and each start's status in words."""
    out = {}
    for d in ("forward", "reverse"):
        f = r.fits[d]
        ok = f["diverged_at"] < 0
        out[f"{d}_fit_sd"] = float(f["sd"][ok, -1].mean()) if ok.any() else None
        out[f"{d}_fit_diverged"] = int((~ok).sum())
        out[f"{d}_fit_status"] = [
            f"start {s:g}: " + describe_divergence(k, str(q) or None)
            for s, k, q in zip(cfg.starts, f["diverged_at"], f["first_nonfinite"], strict=True)]
    return out


KEY_METRICS = ("kl_asymmetry_max", "forward_fit_sd", "reverse_fit_sd")


# ------------------------------------------------------------------------------ figures

_LINESTYLES = ("-", "--", ":", "-.")


def fits(cfg: Config, r: Results):
    """One Gaussian fitted to a two-bump mixture by minimising forward KL(P||Q) spreads to cover
    both bumps, while minimising reverse KL(Q||P) locks onto one bump, chosen by the start."""
    x, p = r.mixture["x"], r.mixture["density"]
    mix_mean, mix_sd = mixture_moments(cfg)
    fig, ax = plotting.figure("Forward KL covers both bumps; reverse KL locks onto one", width=9,
                              height=4.5)
    ax.fill_between(x, p, color="lightgray", label="$P$: two-bump mixture")
    f, rv = r.fits["forward"], r.fits["reverse"]
    fwd = (f["mean"][0, -1], f["sd"][0, -1])
    if f["diverged_at"][0] >= 0:
        ax.plot([], [], "x", color=plotting.color("forward kl"), label=r"argmin "
                rf"$\mathrm{{KL}}(P\|Q)$: diverged at step {f['diverged_at'][0]}, not drawn")
    else:
        ax.plot(x, scipy.stats.norm.pdf(x, *fwd), color=plotting.color("forward kl"),
                label=rf"argmin $\mathrm{{KL}}(P\|Q)$: $\mathcal{{N}}({fwd[0]:.2f}, "
                      rf"{fwd[1]:.2f}^2)$")
    for i, (m, s) in enumerate(zip(rv["mean"][:, -1], rv["sd"][:, -1], strict=True)):
        if rv["diverged_at"][i] < 0:
            ax.plot(x, scipy.stats.norm.pdf(x, m, s), color=plotting.color("reverse kl"),
                    linestyle=_LINESTYLES[i % len(_LINESTYLES)],
                    label=rf"argmin $\mathrm{{KL}}(Q\|P)$ from start {cfg.starts[i]:g}: "
                          rf"$\mathcal{{N}}({m:.2f}, {s:.2f}^2)$")
    bad = np.nonzero(rv["diverged_at"] >= 0)[0]
    if bad.size:  # no fitted Gaussian to draw: said in the legend
        ax.plot([], [], "x", color=plotting.color("reverse kl"),
                label=r"$\mathrm{KL}(Q\|P)$ not drawn: starts "
                + ", ".join(f"{cfg.starts[i]:g}" for i in bad) + " diverged (steps "
                + ", ".join(str(rv["diverged_at"][i]) for i in bad) + ")")
    ax.set_xlim(mix_mean - 3.5 * mix_sd, mix_mean + 3.5 * mix_sd)
    ax.set_ylim(0, 1.6 * max(p.max(), scipy.stats.norm.pdf(0, 0, rv["sd"][:, -1].min())))
    ax.set_xlabel("$x$")
    ax.set_ylabel("density")
    ax.legend(loc="upper center", ncols=2)
    return fig


def kl_family(cfg: Config, r: Results):
    """KL is not symmetric: over Gaussians Q of fixed width and moving mean, forward KL(P||Q) has
    one wide valley while reverse KL(Q||P) has a valley at each bump of the mixture P."""
    fam = r.family
    fig, ax = plotting.figure(rf"KL is not symmetric: over $Q = \mathcal{{N}}(m, {cfg.width:g}^2)$"
                              ", forward KL has one valley, reverse KL one per bump", width=7)
    ax.plot(fam["mean"], fam["forward_kl"], color=plotting.color("forward kl"),
            label=r"$\mathrm{KL}(P\|Q)$: one wide valley")
    ax.plot(fam["mean"], fam["reverse_kl"], color=plotting.color("reverse kl"),
            label=r"$\mathrm{KL}(Q\|P)$: a valley per bump")
    ax.set_yscale("log")
    ax.set_xlabel("mean $m$ of $Q$")
    ax.set_ylabel("divergence (nats, log scale)")
    ax.legend(loc="upper center")
    return fig


def kl_identity(cfg: Config, r: Results):
    """KL(P||Q) equals the cross-entropy minus the entropy, on the identity line for random pairs
    of pmfs, and is never negative in either direction (Gibbs' inequality)."""
    d = r.discrete
    gap = d["cross_entropy"] - d["entropy"]
    fig, (a1, a2) = plotting.figure(r"$\mathrm{KL}(P\|Q) = H(P, Q) - H(P) \geq 0$: the "
                                    "cross-entropy pays the entropy plus the KL", ncols=2,
                                    height=4.2)
    a1.plot(gap, d["kl_pq"], "o", color=plotting.color("forward kl"), markersize=3, alpha=0.5,
            label=f"{gap.size:,} random pairs")
    lim = np.array([0, max(gap.max(), d["kl_pq"].max()) * 1.05])
    plotting.theory_line(a1, lim, lim, "identity line")
    a1.set_xlabel("cross-entropy $-$ entropy, $H(P, Q) - H(P)$ (nats)")
    a1.set_ylabel(r"$\mathrm{KL}(P\|Q)$ by rel_entr (nats)")
    res = np.abs(d["kl_pq"] - gap).max()
    a1.set_title(f"largest difference {res:.1e}", fontsize=10)
    a1.legend(loc="upper left")
    a2.hist([d["kl_pq"], d["kl_qp"]], bins=40, color=[plotting.color("forward kl"),
                                                      plotting.color("reverse kl")],
            alpha=0.7, label=[r"$\mathrm{KL}(P\|Q)$", r"$\mathrm{KL}(Q\|P)$"])
    a2.axvline(0.0, label="Gibbs: KL $\\geq$ 0", **plotting.THEORY_STYLE)
    a2.set_xlabel("divergence (nats)")
    a2.set_ylabel("number of pairs")
    a2.set_title(f"smallest KL {min(d['kl_pq'].min(), d['kl_qp'].min()):.3f}", fontsize=10)
    a2.legend(loc="upper right")
    return fig


FIGURES = (fits, kl_family, kl_identity)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the random pmf
    pairs, num_pairs x num_outcomes (P, Q, one-hot targets and their products on the device,
    the pmfs in float64 on the host); the claims' label of each pair (Python strings); the
    family of 161 Gaussians on the grid (161 x grid_points log-densities)."""
    from mathml_jax import budget as b

    it = target.itemsize
    pairs = cfg.num_pairs * cfg.num_outcomes
    return b.estimate(
        b.Part(pairs * (6 * it + 3 * 8) + cfg.num_pairs * 200,
               ("kl.num_pairs", "kl.num_outcomes"),
               "num_pairs random pmf pairs of num_outcomes outcomes and their labels"),
        b.Part(3 * 161 * cfg.grid_points * it, ("kl.grid_points",),
               "161 Gaussian log-densities on the quadrature grid"),
        # results/gallery/kl: the two fits, 3 starts x 1500 steps x 4001 points, 85 ms
        seconds=2 * len(cfg.starts) * cfg.steps * cfg.grid_points * 3e-9
        + 2 * 161 * cfg.grid_points * 5 * b.S_PER_ELEMENT + pairs * 2 * b.S_PER_DRAW,
        rate="3 ns a grid point of a fit step (measured: 1500 steps x 4001 points x 3 starts x "
             "2 fits in 85 ms)",
        time_keys=("kl.steps", "kl.grid_points", "kl.num_pairs"))
