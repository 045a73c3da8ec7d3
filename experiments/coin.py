"""``coin``: what "probability 1/2" means.

Ten tosses of a coin, repeated many times: the number of heads follows the binomial pmf, and
with a fair coin exactly five heads happens only C(10,5)/2^10 = 24.6% of the time. The relative
frequency of heads along several independent paths settles at p, within
z * sqrt(p (1 - p) / n) at every checkpoint n. Every Monte Carlo claim states the exact
probability (from the binomial distribution, a union bound over all comparisons) that a
correct sampler would fail it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import numpy as np
import scipy.stats

from experiments._schema import param
from mathml_jax import Claim, Report, plotting
from mathml_jax.convergence import log_spaced_counts
from mathml_jax.probability import count_within_z, heads_counts, running_heads
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Probability theory / Probability: what a probability of 1/2 means"


@dataclass
class Config:
    p: float = param(0.5, ge=0, le=1, help="probability of heads (a biased coin if not 0.5)")
    num_tosses: int = param(10, ge=1, le=10_000, help="tosses per experiment")
    repetitions: int = param(100_000, ge=10, le=100_000_000,
                             help="how many times the num_tosses experiment is repeated")
    num_paths: int = param(8, ge=1, le=1000, help="independent running-frequency paths")
    max_n: int = param(100_000, ge=10, le=100_000_000, help="tosses per path")
    z: float = param(5.0, gt=0, le=20, help="error bound of every claim, in standard errors")


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


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("coin", section=SECTION)
    k_counts, k_paths = jax.random.split(ctx.key)
    p, n, R, z = cfg.p, cfg.num_tosses, cfg.repetitions, cfg.z

    # -- 1. the number of heads in n tosses, R times, against the exact binomial pmf
    counts, t = timed(heads_counts, k_counts, p, num_tosses=n, num_repetitions=R)
    report.add_timing("heads_counts", t)
    hist = np.bincount(np.asarray(counts), minlength=n + 1)
    ks = np.arange(n + 1)
    pmf = scipy.stats.binom.pmf(ks, n, p)
    freq = hist / R
    cells, cell_counts, cell_pmf = pooled_cells(hist, pmf, R, z)
    zmax, ok, fail = count_within_z(cell_counts, R, cell_pmf, z)
    report.claim(Claim.holds(
        f"empirical pmf of heads in {n} tosses = Binomial({n}, {p:g}) within {z:g} SE in "
        "every cell (largest |z| shown)", ok, measured=zmax,
        detail=f"{R:,} repetitions; SE sqrt(pmf(1-pmf)/R); exact failure probability of a "
               f"correct sampler <= {fail:.1e}"))
    mode = int(np.argmax(pmf))
    se_mode = np.sqrt(pmf[mode] * (1 - pmf[mode]) / R)
    report.claim(Claim.close(
        f"the most likely count, {mode} heads, happens with probability C({n},{mode}) p^{mode}"
        f" (1-p)^{n - mode} only", freq[mode], pmf[mode], tol=z * se_mode + 1e-12,
        detail=f"{z:g} SE"))
    report.metric("p_mode", float(pmf[mode]), key=True)
    report.metric("empirical_p_mode", float(freq[mode]))
    report.metric("pmf_max_abs_z", zmax)
    report.add_series("pmf", heads=ks, empirical=freq, exact=pmf,
                      standard_error=np.sqrt(pmf * (1 - pmf) / R))

    # -- 2. the running relative frequency along independent paths
    running, t = timed(running_heads, k_paths, p, num_tosses=cfg.max_n, num_paths=cfg.num_paths)
    report.add_timing("running_heads", t)
    running = np.asarray(running)
    cps = log_spaced_counts(cfg.max_n, per_decade=6)  # where frequencies are checked
    heads_at = running[:, cps - 1]  # (paths, checkpoints)
    # Where n p (1-p) < z^2 the count is too small for a z-SE bound to mean anything (a single
    # tail toss at p = 0.97 is a 5-SE event at n = 1): those n are drawn but not checked.
    var = cps * p * (1 - p)
    chk = (var >= z**2) | (var == 0)
    zmax_f, ok_f, fail_f = count_within_z(heads_at[:, chk], cps[None, chk], p, z)
    first = int(cps[chk][0]) if chk.any() else cfg.max_n
    report.claim(Claim.holds(
        f"relative frequency within {z:g} sqrt(p(1-p)/n) of p at every checkpoint n "
        f"({int(chk.sum())} checkpoints {first:,}..{cfg.max_n:,}, {cfg.num_paths} paths; "
        "largest |z|)",
        ok_f, measured=zmax_f,
        detail="checked where n p(1-p) >= z^2; exact failure probability of a correct sampler "
               f"<= {fail_f:.1e} (union bound)"))
    final = heads_at[:, -1] / cfg.max_n
    report.metric("final_frequency_mean", float(final.mean()), key=True)
    report.metric("frequency_max_abs_z", zmax_f)
    report.metric("claims_failure_probability_bound", fail + fail_f)
    report.add_series("frequency", n=cps, frequency=heads_at / cps[None, :],
                      bound=z * np.sqrt(p * (1 - p) / cps))

    _figures(report, cfg, ks, freq, pmf, running, cps[chk])
    return report


def _figures(report, cfg, ks, freq, pmf, running, cps):
    p, n, R = cfg.p, cfg.num_tosses, cfg.repetitions
    mode = int(np.argmax(pmf))
    fig, ax = plotting.figure(
        f"{n} tosses, p={p:g}: exactly {mode} heads only {100 * pmf[mode]:.1f}% of the time",
        width=7.5)
    ax.bar(ks, freq, color=plotting.color("sgd"), alpha=0.7,
           label=f"empirical, {R:,} repetitions")
    ax.plot(ks, pmf, "o", color="black", label=f"exact Binomial({n}, {p:g})")
    ax.set_xlabel("number of heads")
    ax.set_ylabel("probability")
    ax.legend(loc="upper left")
    report.add_figure("pmf", fig)

    fig, ax = plotting.figure(f"The frequency of heads settles at p={p:g}, within "
                              f"{cfg.z:g} sqrt(p(1-p)/n)", width=7)
    idx = np.unique(np.geomspace(1, cfg.max_n, 2000).round().astype(np.int64))
    for i, path in enumerate(running):
        ax.plot(idx, path[idx - 1] / idx, linewidth=1.0, alpha=0.8,
                label="independent paths" if i == 0 else None, color=plotting.color(f"path{i}"))
    band = cfg.z * np.sqrt(p * (1 - p) / idx)
    ax.fill_between(idx, np.clip(p - band, 0, 1), np.clip(p + band, 0, 1), color="gray",
                    alpha=0.2, label=f"p ± {cfg.z:g} sqrt(p(1-p)/n)")
    ax.axhline(p, **plotting.THEORY_STYLE, label=f"p = {p:g}")
    ax.plot(cps, running[0, cps - 1] / cps, "k.", markersize=4,
            label="checked checkpoints (path 1)")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("number of tosses n (log scale)")
    ax.set_ylabel("relative frequency of heads")
    ax.legend(loc="upper right")
    report.add_figure("frequency", fig)
