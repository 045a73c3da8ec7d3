"""``coin``: what "probability 1/2" means: heads follow the binomial pmf, frequencies settle.

1. Ten tosses of a coin, repeated many times: the number of heads follows the binomial pmf,
   and with a fair coin exactly five heads happens only C(10,5)/2^10 = 24.6% of the time.
2. The relative frequency of heads along several independent paths settles at p, within
   z * sqrt(p (1 - p) / n) at every checkpoint n.

Every Monte Carlo claim states the exact probability (from the binomial distribution, a union
bound over all comparisons) that a correct sampler would fail it. Tosses are booleans and
counts integers, so nothing depends on the job's precision (p is given in ``ctx.dtype``).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from experiments._schema import param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.convergence import log_spaced_counts
from mathml_jax.probability import heads_counts, z_failure_probability
from mathml_jax.probability.coin import running_heads_of_keys
from mathml_jax.runtime import RunContext
from mathml_jax.sharding import device_mesh, mc_chunks, stream_chunks, timed_rows

SECTION = "Probability theory / Probability: what a probability of 1/2 means"
#: probability that a correct sampler fails the chi-square claim (its exact tail, asymptotic)
CHI2_ALPHA = 1e-6


@dataclass
class Config:
    p: float = param(0.5, ge=0, le=1, help="probability of heads (a biased coin if not 0.5)")
    num_tosses: int = param(10, ge=1, le=10_000, help="tosses per experiment")
    repetitions: int = param(100_000, ge=10, le=100_000_000,
                             help="how many times the num_tosses experiment is repeated")
    num_paths: int = param(8, ge=1, le=1000, help="independent running-frequency paths")
    max_n: int = param(100_000, ge=10, le=100_000_000, help="tosses per path")
    z: float = param(5.0, gt=0, le=20, tolerance=True,
                     help="error bound of every claim, in standard errors")


@dataclass
class Results:
    """Everything the claims, metrics and figures need, as host arrays."""

    hist: np.ndarray         # (num_tosses + 1,) how many repetitions gave k heads
    checkpoints: np.ndarray  # (c,) counts n where the frequencies are checked
    checkpoint_heads: np.ndarray  # (paths, c) heads after n tosses
    plot_n: np.ndarray       # (m,) log-spaced n the frequency figure draws
    plot_heads: np.ndarray   # (paths, m) heads after those n tosses


def pooled_cells(hist, pmf, repetitions: int, z: float):
    """Cells of the count histogram for a z-SE check: counts k whose expected number of
    occurrences is too small (R pmf (1-pmf) < z^2) are pooled into one tail cell (dropped if
    even the pool is too small, e.g. p = 1/2 exactly never needs it).

    Returns:
      (labels, counts, pmf) of the cells.
    """
    var = repetitions * pmf * (1 - pmf)
    big = (var >= z**2) | (pmf == 1)
    labels = [str(k) for k in np.flatnonzero(big)]
    counts, probs = list(hist[big]), list(pmf[big])
    rest = pmf[~big].sum()
    if (~big).any() and repetitions * rest * (1 - rest) >= z**2:
        labels.append("rare")
        counts.append(hist[~big].sum())
        probs.append(rest)
    return labels, np.asarray(counts), np.asarray(probs)


def _heads_histogram(cfg: Config, ctx: RunContext, key, p, mesh) -> np.ndarray:
    """Histogram of heads per repetition. The repetitions are split over the devices; a draw
    of more than MC_CHUNK_ELEMENTS tosses streams in fixed chunks of repetitions (chunk c
    from fold_in(key, c)), each adding its histogram: memory stays one chunk's."""
    per, chunks = mc_chunks(cfg.repetitions, cfg.num_tosses)
    hist = np.zeros(cfg.num_tosses + 1, np.int64)
    parts = stream_chunks(ctx.timer, "heads_counts", heads_counts, key, p, num_chunks=chunks,
                          progress=ctx.progress, num_tosses=cfg.num_tosses,
                          num_repetitions=per, mesh=mesh)
    for c, counts in enumerate(parts):
        valid = min(per, cfg.repetitions - c * per)
        hist += np.bincount(counts[:valid], minlength=cfg.num_tosses + 1)
    return hist


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_counts, k_paths = jax.random.split(ctx.key)
    p = jnp.asarray(cfg.p, ctx.dtype)
    mesh = device_mesh(ctx.runtime.platform)
    cps = log_spaced_counts(cfg.max_n, per_decade=6)
    idx = np.unique(np.geomspace(1, cfg.max_n, 2000).round().astype(np.int64))
    # path i from split(k_paths, num_paths)[i] (as running_heads draws it): paths chunked to
    # fit memory and split over the devices; only the plotted and checked columns are kept
    at_cps, at_idx = timed_rows(ctx.timer, "running_heads", running_heads_of_keys,
                                jax.random.split(k_paths, cfg.num_paths), p, mesh=mesh,
                                keep=lambda r: (r[:, cps - 1], r[:, idx - 1]),
                                num_tosses=cfg.max_n)
    return Results(hist=_heads_histogram(cfg, ctx, k_counts, p, mesh), checkpoints=cps,
                   checkpoint_heads=np.asarray(at_cps, np.int64), plot_n=idx,
                   plot_heads=np.asarray(at_idx, np.int64))


# -------------------------------------------------------------------------------- claims

def binomial_z(counts, n, p) -> np.ndarray:
    """|z| of binomial counts against n p, with SE sqrt(n p (1 - p)) (0/0 = 0)."""
    n, p = np.asarray(n, np.float64), np.asarray(p, np.float64)
    return np.abs(tol.z_score(counts, n * p, np.sqrt(n * p * (1 - p))))


def _pmf(cfg: Config) -> np.ndarray:
    return scipy.stats.binom.pmf(np.arange(cfg.num_tosses + 1), cfg.num_tosses, cfg.p)


def _pmf_check(cfg: Config, r: Results):
    """(largest |z| over the pooled cells, its cell, failure probability)."""
    labels, counts, probs = pooled_cells(r.hist, _pmf(cfg), cfg.repetitions, cfg.z)
    if not labels:
        return 0.0, "no cell", 0.0
    zmax, where = tol.worst(binomial_z(counts, cfg.repetitions, probs),
                            [f"{c} heads" if c != "rare" else "rare counts" for c in labels])
    return zmax, where, z_failure_probability(cfg.repetitions, probs, cfg.z)


def _chi_square(cfg: Config, r: Results):
    """(Pearson's statistic over the pooled cells, its 1 - 1e-6 quantile, degrees of freedom);
    None with fewer than two cells (p = 0 or 1: one count is certain)."""
    labels, counts, probs = pooled_cells(r.hist, _pmf(cfg), cfg.repetitions, cfg.z)
    if len(labels) < 2:
        return None
    expected = cfg.repetitions * probs
    df = len(labels) - 1
    return (float(np.sum((counts - expected) ** 2 / expected)),
            float(scipy.stats.chi2.ppf(1 - CHI2_ALPHA, df)), df)


def _checked(cfg: Config, r: Results) -> np.ndarray:
    """Checkpoints where n p (1-p) >= z^2 (or the count is exact): for smaller n a single
    toss is a z-SE event and the bound means nothing (drawn but not checked)."""
    var = r.checkpoints * cfg.p * (1 - cfg.p)
    return (var >= cfg.z**2) | (var == 0)


def _frequency_check(cfg: Config, r: Results):
    chk = _checked(cfg, r)
    n = r.checkpoints[chk]
    if not chk.any():
        return 0.0, "no checkpoint", 0.0, n
    labels = [[f"path {i}, n={k}" for k in n] for i in range(cfg.num_paths)]
    zmax, where = tol.worst(binomial_z(r.checkpoint_heads[:, chk], n[None, :], cfg.p), labels)
    fail = z_failure_probability(np.broadcast_to(n, (cfg.num_paths, n.size)), cfg.p, cfg.z)
    return zmax, where, fail, n


def _chi_square_claim(cfg: Config, r: Results) -> list[Claim]:
    chi = _chi_square(cfg, r)
    if chi is None:
        return []
    stat, bound, df = chi
    return [Claim.at_most(
        "empirical pmf = Binomial(n, p) jointly: Pearson's chi-square over the cells (catches "
        "a small bias spread over many cells that no single cell shows)", stat,
        tol.absolute(bound, f"chi-square({df}) quantile 1 - {CHI2_ALPHA:g}"),
        id="pmf_chi_square", reference="SciPy Binomial(n, p) pmf (exact), chi-square quantile",
        detail=f"{df + 1} cells (rare counts pooled), {cfg.repetitions:,} repetitions; a "
               f"correct sampler fails with probability about {CHI2_ALPHA:g}")]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    R, pmf = cfg.repetitions, _pmf(cfg)
    zmax, cell, fail = _pmf_check(cfg, r)
    mode = int(np.argmax(pmf))
    zf, where_f, fail_f, n = _frequency_check(cfg, r)
    span = f"{int(n[0]):,}..{cfg.max_n:,}" if n.size else "none"
    return _chi_square_claim(cfg, r) + [
        Claim.at_most("empirical pmf of the number of heads = Binomial(n, p), every cell "
                      "(largest |z|)", zmax, tol.sigmas(cfg.z), id="pmf_is_binomial",
                      worst=cell, reference="SciPy Binomial(n, p) pmf (exact)",
                      detail=f"n = {cfg.num_tosses}, p = {cfg.p:g}, {R:,} repetitions; SE "
                             f"sqrt(pmf(1-pmf)/R); exact failure probability of a correct "
                             f"sampler <= {fail:.1e}"),
        Claim.close("the most likely count of heads happens with probability "
                    "C(n,k) p^k (1-p)^(n-k) only", r.hist[mode] / R, pmf[mode],
                    tol.standard_errors(cfg.z, np.sqrt(pmf[mode] * (1 - pmf[mode]) / R)),
                    id="mode_probability", reference="SciPy Binomial(n, p) pmf at the mode",
                    detail=f"k = {mode} of n = {cfg.num_tosses}, {R:,} repetitions"),
        Claim.at_most("relative frequency within z sqrt(p(1-p)/n) of p at every checkpoint n "
                      "of every path (largest |z|)", zf, tol.sigmas(cfg.z),
                      id="frequency_settles_at_p", worst=where_f,
                      reference="exact: heads after n tosses ~ Binomial(n, p)",
                      detail=f"{int(n.size)} checkpoints {span}, {cfg.num_paths} paths; "
                             "checked where n p(1-p) >= z^2; exact failure probability of a "
                             f"correct sampler <= {fail_f:.1e} (union bound)"),
    ]


def metrics(cfg: Config, r: Results) -> dict:
    pmf = _pmf(cfg)
    mode = int(np.argmax(pmf))
    zmax, _, fail = _pmf_check(cfg, r)
    zf, _, fail_f, _ = _frequency_check(cfg, r)
    return {"p_mode": float(pmf[mode]), "empirical_p_mode": float(r.hist[mode] / cfg.repetitions),
            "pmf_max_abs_z": zmax,
            "final_frequency_mean": float((r.checkpoint_heads[:, -1] / cfg.max_n).mean()),
            "frequency_max_abs_z": zf, "claims_failure_probability_bound": fail + fail_f}


KEY_METRICS = ("p_mode", "final_frequency_mean")


# ------------------------------------------------------------------------------- figures

def pmf(cfg: Config, r: Results):
    """The number of heads in n tosses follows the binomial pmf: the empirical frequencies of
    many repetitions match the exact probabilities within their error bars."""
    p, n, R = cfg.p, cfg.num_tosses, cfg.repetitions
    exact = _pmf(cfg)
    mode = int(np.argmax(exact))
    fig, ax = plotting.figure(
        f"{n} tosses of a coin with heads probability $p = {p:g}$ give exactly {mode} heads "
        f"only {100 * exact[mode]:.1f}% of the time", width=7.5, height=4.4)
    ks = np.arange(n + 1)
    freq = r.hist / R
    se = np.sqrt(exact * (1 - exact) / R)
    ax.bar(ks, freq, color=plotting.color("coin"), alpha=0.7,
           label=f"empirical frequency, {R:,} repetitions")
    ax.errorbar(ks, freq, yerr=plotting.SE_BAND * se, fmt="none", ecolor="black", capsize=3,
                elinewidth=1, label=f"±{plotting.SE_BAND} SE of the frequency")
    ax.plot(ks, exact, "o", color="black", label=f"exact Binomial({n}, {p:g}) pmf")
    ax.annotate(f"{100 * exact[mode]:.1f}%", (mode, exact[mode]), textcoords="offset points",
                xytext=(0, 8), ha="center", fontsize=10)
    ax.set_xlabel(f"number of heads in {n} tosses")
    ax.set_ylabel("probability")
    ax.set_ylim(0, max(exact.max(), freq.max()) * 1.3)
    ax.legend(loc="upper left")
    return fig


def frequency(cfg: Config, r: Results):
    """The relative frequency of heads settles at p along every path, its spread shrinking like
    the standard error sqrt(p(1-p)/n) as the number of tosses n grows."""
    p = cfg.p
    fig, ax = plotting.figure(f"The frequency of heads settles at $p = {p:g}$ with a spread "
                              r"shrinking like $\sqrt{p(1-p)/n}$", width=7.5, height=4.6)
    idx = r.plot_n
    cols = plotting.ordered_colors(len(r.plot_heads))
    for i, path in enumerate(r.plot_heads):
        ax.plot(idx, path / idx, linewidth=1.0, alpha=0.9, color=cols[i],
                label=f"{len(r.plot_heads)} independent paths" if i == 0 else None)
    plotting.se_envelope(ax, idx, p, np.sqrt(p * (1 - p) / idx),
                         rf"$p \pm {plotting.SE_BAND}\sqrt{{p(1-p)/n}}$", clip=(0, 1))
    ax.axhline(p, **plotting.THEORY_STYLE, label=f"$p = {p:g}$")
    chk = _checked(cfg, r)
    cps = r.checkpoints[chk]
    ax.plot(cps, r.checkpoint_heads[0, chk] / cps, "o", mfc="white", color=cols[0],
            markersize=5, linestyle="none",
            label=f"checked checkpoints of path 1 (claim: within ±{cfg.z:g} SE)")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("number of tosses n (log scale)")
    ax.set_ylabel("relative frequency of heads")
    ax.legend(loc="upper right")
    return fig


FIGURES = (pmf, frequency)


# ------------------------------------------------------------------ memory and time guard

#: results/gallery/coin (default profile, float32, 2 CPU cores): heads_counts and running_heads
#: ran 0.019 s for 1.8e6 tosses: about 1e-8 s a toss
_S_PER_TOSS = 1e-8


def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the histogram's
    repetitions x num_tosses tosses are a Monte Carlo count (they stream: one chunk); the
    running paths are kept whole, num_paths x max_n counts (int32 on the device, int64 on the
    host) and their tosses."""
    from mathml_jax import budget as b

    reps, paths = cfg.repetitions * cfg.num_tosses, cfg.num_paths * cfg.max_n
    return b.estimate(
        b.Part(b.streamed(5 * reps), ("coin.repetitions", "coin.num_tosses"),
               "one chunk of the histogram's tosses"),
        # tosses, random bits, int32 counts and their int64 host copy: measured 424 MB for
        # 4 x 5e6 tosses (tests/test_budget.py)
        b.Part(20 * paths, ("coin.max_n", "coin.num_paths"),
               "the running heads of every path: num_paths x max_n tosses and counts"),
        seconds=(reps + paths) * _S_PER_TOSS, rate=f"{1 / _S_PER_TOSS:.0g} tosses/s measured",
        time_keys=("coin.repetitions", "coin.num_tosses", "coin.max_n"), streams=True)
