"""``lln``: the law of large numbers, at scale.

1. Running averages of many independent sequences (a coin, a die, a Pareto variable with tail
   index 5: heavy tails, finite variance) settle at the mean; their spread over sequences
   shrinks like sigma / sqrt(n) (fitted slope -1/2 on log-log axes). A Cauchy variable has no
   mean and its running average does not settle (the average of n standard Cauchy draws is
   standard Cauchy: its spread does not shrink at all).
2. The gambler's fallacy, measured: after k losses in a row the next toss still wins with
   probability p, for every k up to ``max_streak``.
3. Scale: 1e10 fair coin flips (and 1e9 die rolls) counted in fixed-size chunks, sharded over
   all local devices, with a progress line and Ctrl-C keeping the partial count; throughput
   against NumPy's ``default_rng`` doing the same reduction in the same process.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from experiments._schema import param
from mathml_jax import Claim, Report, plotting
from mathml_jax.bench.baselines import coin_bits_numpy, coin_uniform_numpy
from mathml_jax.convergence import bootstrap_slope_se, fitted_slope, log_spaced_counts
from mathml_jax.probability import (
    count_within_z,
    device_mesh,
    running_means,
    streak_win_counts,
)
from mathml_jax.probability.streaming import (
    DIE_CANDIDATES_PER_WORD,
    PRNG_IMPLS,
    default_chunk_words,
    stream,
    stream_key,
)
from mathml_jax.timing import wall

SECTION = "Probability theory / Law of large numbers"
log = logging.getLogger(__name__)

MOMENTS = {"coin": (0.5, 0.5), "die": (3.5, math.sqrt(35 / 12))}


@dataclass
class Config:
    num_paths: int = param(200, ge=10, le=100_000, help="independent running-average paths")
    num_steps: int = param(100_000, ge=100, le=10_000_000, help="draws per path")
    alpha: float = param(5.0, gt=4, le=1000, help="Pareto tail index (> 4: finite variance, "
                         "and a spread estimate with finite variance)")
    p: float = param(0.5, gt=0, lt=1, help="win probability in the gambler's-fallacy study")
    max_streak: int = param(8, ge=1, le=60, help="longest losing streak examined")
    streak_paths: int = param(1000, ge=1, le=1_000_000)
    streak_tosses: int = param(2000, ge=10, le=100_000_000)
    num_flips: float = param(1e10, ge=1, le=1e15, help="fair coin flips counted at scale")
    num_rolls: float = param(1e9, ge=1, le=1e15, help="die roll candidates (3-bit fields) at scale")
    benchmark_samples: float = param(1e9, ge=1e5, le=1e12,
                                     help="samples of the JAX vs NumPy throughput comparison")
    chunk_words: int | None = param(None, ge=1, le=1 << 26,
                                    help="32-bit words per chunk; null: the backend's measured "
                                         "default (1 MiB on a CPU, 64 MiB on a GPU)")
    block_chunks: int = param(512, ge=1, le=1 << 20, help="chunks per call (progress step)")
    z: float = param(5.0, gt=0, le=20, help="error bound of Monte Carlo claims, in SE")
    prng_impl: str = param("threefry2x32", choices=PRNG_IMPLS,
                           help="PRNG of the streamed coin and die words (see "
                                "mathml_jax.probability.streaming)")


# --------------------------------------------------------------------------- streaming driver

def numpy_die(rng, n: int, chunk: int = 1 << 22) -> int:
    """NumPy baseline: the sum of n fair die rolls (integers(1, 7)), chunk by chunk."""
    total, left = 0, n
    while left > 0:
        m = min(chunk, left)
        total += int(rng.integers(1, 7, size=m, dtype=np.int64).sum())
        left -= m
    return total


# ----------------------------------------------------------------------------------- the run

def run(cfg: Config, ctx) -> Report:
    report = Report("lln", section=SECTION)
    z = cfg.z
    k_avg, k_streak, k_coin, k_die = jax.random.split(ctx.key, 4)
    rng = np.random.default_rng(ctx.seed)

    # -- 1. running averages
    at = log_spaced_counts(cfg.num_steps, per_decade=10)
    P = cfg.num_paths
    a = cfg.alpha
    moments = {**MOMENTS, "pareto": (a / (a - 1), math.sqrt(a / ((a - 1) ** 2 * (a - 2))))}
    dists = ("coin", "die", "pareto", "cauchy")
    all_means, t = running_means_timed(k_avg, at, cfg, dists)
    report.add_timing("running_means", t)
    curves = {}
    for dist, means in zip(dists, all_means, strict=True):
        curves[dist] = means
        report.add_series(f"running_{dist}", n=at, running_average=means)
        if dist == "cauchy":
            continue
        mu, sigma = moments[dist]
        final = means[:, -1]
        se = sigma / math.sqrt(cfg.num_steps * P)
        report.claim(Claim.close(
            f"{dist}: average of all {P} x {cfg.num_steps:,} draws = mean {mu:g}",
            final.mean(), mu, tol=z * se, detail=f"{z:g} SE, exact sigma {sigma:.4g}"))
        rms = np.sqrt(((means - mu) ** 2).mean(axis=0))
        fit = at >= 10
        slope = fitted_slope(at[fit], rms[fit])
        slope_se = bootstrap_slope_se(at[fit], (means[:, fit] - mu) ** 2, rng)
        report.claim(Claim.close(
            f"{dist}: spread of the running average ~ n^(-1/2), fitted slope", slope, -0.5,
            tol=max(4 * slope_se, 0.01), detail="n >= 10; tol 4 bootstrap SE over paths"))
        ratio = rms[-1] / (sigma / math.sqrt(cfg.num_steps))
        lo, hi = (math.sqrt(scipy.stats.chi2.ppf(q, P) / P) for q in (1e-5, 1 - 1e-5))
        report.claim(Claim.within(
            f"{dist}: RMS spread at n = {cfg.num_steps:,} / (sigma/sqrt(n))", ratio, lo, hi,
            detail=f"chi-square({P}) 1e-5 quantiles (normal limit of the average)"))
        report.metric(f"{dist}_spread_slope", slope, key=dist == "coin")

    c = curves["cauchy"]
    iqr = np.subtract(*np.quantile(c, [0.75, 0.25], axis=0))
    slope_c = fitted_slope(at, iqr)
    report.claim(Claim.within(
        "Cauchy (no mean): the spread of the running average does not shrink, slope of its "
        "interquartile range", slope_c, -0.15, 0.15,
        detail="vs -1/2 with a mean; the average of n Cauchy draws is Cauchy(0, 1)"))
    far = int((np.abs(c[:, -1]) > 1).sum())
    _, ok, fail = count_within_z(far, P, 0.5, z)
    report.claim(Claim.holds(
        f"Cauchy: after {cfg.num_steps:,} draws still P(|average| > 1) = 1/2 ({far} of {P})",
        ok, measured=far / P, detail=f"{z:g} SE; exact failure probability <= {fail:.1e}"))
    report.metric("cauchy_iqr_slope", slope_c)

    # -- 2. the gambler's fallacy
    (trials, wins), t = _timed_streak(k_streak, cfg)
    report.add_timing("streaks", t)
    trials, wins = np.asarray(trials, np.int64), np.asarray(wins, np.int64)
    var = trials * cfg.p * (1 - cfg.p)
    chk = var >= z**2
    if chk.any():
        zmax, ok, fail = count_within_z(wins[chk], trials[chk], cfg.p, z)
        report.claim(Claim.holds(
            f"gambler's fallacy: after k losses in a row a win still has probability p = "
            f"{cfg.p:g}, k = 1..{int(np.flatnonzero(chk).max()) + 1} (largest |z|)", ok,
            measured=zmax, detail=f"{z:g} SE, given the number of such tosses wins are "
                                  f"Binomial(trials, p); exact failure probability <= {fail:.1e}"))
    report.add_series("streaks", k=np.arange(1, cfg.max_streak + 1), trials=trials, wins=wins,
                      frequency=wins / np.maximum(trials, 1))

    # -- 3. scale: coin flips and die rolls in chunks, sharded over devices
    mesh = device_mesh()
    chunk_words = cfg.chunk_words or default_chunk_words(ctx.runtime.platform)
    report.metric("devices", len(jax.local_devices()))
    report.metric("chunk_words", chunk_words)
    report.metric("prng_impl", cfg.prng_impl)
    k_coin, k_die = stream_key(k_coin, cfg.prng_impl), stream_key(k_die, cfg.prng_impl)
    flips_words = -(-int(cfg.num_flips) // 32)
    counts, words, t, stopped = stream(k_coin, flips_words, kind="coin",
                                       chunk_words=chunk_words,
                                       block_chunks=cfg.block_chunks, mesh=mesh,
                                       label="coin flips", progress=ctx.progress)
    report.add_timing("coin_stream", t)
    flips, heads = 32 * words, int(counts[0])
    report.metric("coin_flips", flips, key=True)
    report.metric("coin_heads", heads)
    report.metric("coin_interrupted", stopped)
    report.metric("coin_flips_per_s", flips / t.run_s, key=True)
    report.metric("coin_peak_chunk_bytes", chunk_words * 4)
    _, ok, fail = count_within_z(heads, flips, 0.5, z)
    report.claim(Claim.holds(
        f"{flips:.3g} fair flips (one random bit each) counted in chunks: frequency of heads "
        f"within {z:g} SE of 1/2", ok, measured=heads / flips,
        detail=f"SE = 0.5/sqrt(n) = {0.5 / math.sqrt(flips):.1e}; exact failure probability "
               f"<= {fail:.1e}"))

    roll_words = -(-int(cfg.num_rolls) // DIE_CANDIDATES_PER_WORD)
    faces, words, t, stopped_d = stream(k_die, roll_words, kind="die",
                                        chunk_words=chunk_words,
                                        block_chunks=cfg.block_chunks, mesh=mesh,
                                        label="die rolls", progress=ctx.progress)
    report.add_timing("die_stream", t)
    faces = np.array([int(f) for f in faces], dtype=object)
    rolls = int(faces.sum())
    total = int(sum((i + 1) * int(f) for i, f in enumerate(faces)))
    report.metric("die_rolls", rolls)
    report.metric("die_rolls_per_s", rolls / t.run_s, key=True)
    report.metric("die_interrupted", stopped_d)
    _, ok, fail = count_within_z(faces.astype(np.float64), rolls, 1 / 6, z)
    report.claim(Claim.holds(
        f"{rolls:.3g} die rolls (3-bit fields, 6 and 7 rejected): every face within "
        f"{z:g} SE of 1/6", ok, measured=float(max(abs(f / rolls - 1 / 6) for f in faces)),
        detail=f"rejection sampling keeps rolls exactly uniform; exact failure probability "
               f"<= {fail:.1e}"))
    mean_roll = total / rolls
    report.claim(Claim.close(f"average of {rolls:.3g} die rolls = 3.5", mean_roll, 3.5,
                             tol=z * math.sqrt(35 / 12 / rolls), detail=f"{z:g} SE"))

    # -- throughput against NumPy, same reduction, same process (metrics, not claims)
    n_b = int(cfg.benchmark_samples)
    _, _, t_jc, _ = stream(jax.random.fold_in(k_coin, 1), -(-n_b // 32), kind="coin",
                           chunk_words=chunk_words, block_chunks=cfg.block_chunks,
                           mesh=mesh, label="benchmark coin")
    die_words = -(-n_b * 2 // 15)  # 7.5 rolls per word on average
    _, _, t_jd, _ = stream(jax.random.fold_in(k_die, 1), die_words, kind="die",
                           chunk_words=chunk_words, block_chunks=cfg.block_chunks,
                           mesh=mesh, label="benchmark die")
    _, np_coin_s = wall(coin_uniform_numpy, rng, n_b)
    _, np_die_s = wall(numpy_die, rng, n_b)
    _, np_raw_s = wall(coin_bits_numpy, rng, n_b, chunk=1 << 22)
    jax_coin_rate = n_b / t_jc.run_s
    jax_die_rate = die_words * DIE_CANDIDATES_PER_WORD * 0.75 / t_jd.run_s  # expected rolls
    report.metric("benchmark_samples", n_b)
    report.metric("benchmark_jax_coin_per_s", jax_coin_rate)
    report.metric("benchmark_numpy_coin_per_s", n_b / np_coin_s)
    report.metric("benchmark_coin_speedup", jax_coin_rate * np_coin_s / n_b, key=True)
    report.metric("benchmark_numpy_raw_coin_per_s", n_b / np_raw_s)
    report.metric("benchmark_coin_vs_raw_bits", jax_coin_rate * np_raw_s / n_b)
    report.metric("benchmark_jax_die_per_s", jax_die_rate)
    report.metric("benchmark_numpy_die_per_s", n_b / np_die_s)
    report.metric("benchmark_die_speedup", jax_die_rate * np_die_s / n_b, key=True)
    log.info("throughput at %.3g samples (%s): coin %.3g/s (NumPy %.3g/s, %.1fx; target >= 5x; "
             "NumPy raw PCG64 bits %.3g/s, %.2fx), die %.3g/s (NumPy %.3g/s, %.1fx; target "
             ">= 1x)", n_b, cfg.prng_impl, jax_coin_rate, n_b / np_coin_s,
             jax_coin_rate * np_coin_s / n_b, n_b / np_raw_s, jax_coin_rate * np_raw_s / n_b,
             jax_die_rate, n_b / np_die_s, jax_die_rate * np_die_s / n_b)

    _figures(report, cfg, at, curves, moments, trials, wins)
    return report


def running_means_timed(key, at, cfg, dists):
    from mathml_jax.timing import timed
    out, t = timed(running_means, key, jnp.asarray(at, jnp.int32), jnp.float32(cfg.alpha),
                   distributions=dists, num_paths=cfg.num_paths, num_steps=cfg.num_steps)
    return np.asarray(out, np.float64), t


def _timed_streak(key, cfg):
    from mathml_jax.timing import timed
    return timed(streak_win_counts, key, jnp.float32(cfg.p), num_paths=cfg.streak_paths,
                 num_tosses=cfg.streak_tosses, max_streak=cfg.max_streak)


def _figures(report, cfg, at, curves, moments, trials, wins):
    names = {"coin": "fair coin", "die": "fair die", "pareto": f"Pareto, tail index {cfg.alpha:g}"}
    fig, axes = plotting.figure("Running averages settle at the mean, within 3 sigma/sqrt(n)",
                                ncols=3, width=4.6)
    for ax, dist in zip(axes, ("coin", "die", "pareto"), strict=True):
        mu, sigma = moments[dist]
        m = curves[dist]
        for j in range(min(6, m.shape[0])):
            ax.plot(at, m[j], linewidth=1, alpha=0.8, color=plotting.color(f"path{j}"),
                    label="paths" if j == 0 else None)
        band = 3 * sigma / np.sqrt(at)
        ax.fill_between(at, mu - band, mu + band, color="gray", alpha=0.2,
                        label="mean ± 3 sigma/sqrt(n)")
        ax.axhline(mu, **plotting.THEORY_STYLE, label=f"mean {mu:g}")
        ax.set_xscale("log")
        ax.set_ylim(mu - 3 * sigma, mu + 3 * sigma)
        ax.set_title(names[dist])
        ax.set_xlabel("n (log scale)")
    axes[0].set_ylabel("running average")
    axes[0].legend(loc="upper right", fontsize=8)
    report.add_figure("running_averages", fig)

    fig, ax = plotting.figure("Spread of the running average shrinks like sigma/sqrt(n)",
                              width=7)
    for dist in ("coin", "die", "pareto"):
        mu, sigma = moments[dist]
        rms = np.sqrt(((curves[dist] - mu) ** 2).mean(axis=0)) / sigma
        plotting.loglog_fit(ax, at, rms, names[dist], name=dist, marker=".",
                            fit_mask=at >= 10)
    plotting.theory_line(ax, at, 1 / np.sqrt(at), "1/sqrt(n)")
    c = curves["cauchy"]
    iqr = np.subtract(*np.quantile(c, [0.75, 0.25], axis=0)) / 2
    ax.loglog(at, iqr, "x-", color=plotting.color("cauchy"), markersize=4,
              label="Cauchy: half the interquartile range (no mean)")
    ax.set_xlabel("n")
    ax.set_ylabel("spread over paths / sigma")
    ax.legend(fontsize=8)
    report.add_figure("spread", fig)

    fig, (a1, a2) = plotting.figure("No law of large numbers without a mean: Cauchy vs "
                                    "Pareto", ncols=2, width=6)
    for j in range(min(8, c.shape[0])):
        a1.plot(at, c[j], linewidth=1, color=plotting.color(f"path{j}"))
        a2.plot(at, curves["pareto"][j], linewidth=1, color=plotting.color(f"path{j}"))
    a1.set_title("standard Cauchy: running averages keep jumping")
    mu_p = moments["pareto"][0]
    a2.set_title(f"Pareto ({cfg.alpha:g}, heavy tail, finite variance): settles at {mu_p:g}")
    for a, center in ((a1, 0.0), (a2, mu_p)):
        a.set_xscale("log")
        a.set_ylim(center - 6, center + 6)
        a.axhline(center, **plotting.THEORY_STYLE)
        a.set_xlabel("n (log scale)")
    a1.set_ylabel("running average")
    report.add_figure("cauchy", fig)

    fig, ax = plotting.figure(f"Gambler's fallacy: after k losses a win still has "
                              f"probability {cfg.p:g}", width=7)
    k = np.arange(1, cfg.max_streak + 1)
    keep = trials > 0
    freq = wins[keep] / trials[keep]
    se = np.sqrt(cfg.p * (1 - cfg.p) / trials[keep])
    ax.errorbar(k[keep], freq, yerr=cfg.z * se, fmt="o", color=plotting.color("coin"),
                label=f"frequency of a win after >= k losses (± {cfg.z:g} SE)")
    ax.axhline(cfg.p, **plotting.THEORY_STYLE, label=f"p = {cfg.p:g}")
    ax.set_xlabel("length k of the losing streak")
    ax.set_ylabel("P(win | k losses before)")
    ax.legend()
    report.add_figure("gamblers_fallacy", fig)
