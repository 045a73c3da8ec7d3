"""``lln``: the law of large numbers at scale: averages settle at the mean, 1e10 flips counted.

1. Running averages of many independent sequences (a coin, a die, a Pareto variable with tail
   index 5: heavy tails, finite variance) settle at the mean; their spread over sequences
   shrinks like sigma / sqrt(n) (fitted slope -1/2 on log-log axes). A Cauchy variable has no
   mean and its running average does not settle (the average of n standard Cauchy draws is
   standard Cauchy: its spread does not shrink at all).
2. The gambler's fallacy, measured: after k losses in a row the next toss still wins with
   probability p, for every k up to ``max_streak``.
3. Scale: 1e10 fair coin flips (and 1e9 die rolls) counted in fixed-size chunks, sharded over
   all local devices, with a progress bar and Ctrl-C keeping the partial count; throughput
   against NumPy's ``default_rng`` doing the same reduction in the same process.

The draws of the running averages are in the job's precision (``ctx.dtype``); the streamed
coin and die counts are exact integers whatever the precision.
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
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.bench.baselines import coin_bits_numpy, coin_uniform_numpy
from mathml_jax.convergence import bootstrap_slope_se, fitted_slope, log_spaced_counts
from mathml_jax.probability import (
    device_mesh,
    running_means,
    streak_win_counts,
    z_failure_probability,
)
from mathml_jax.probability.streaming import (
    DIE_CANDIDATES_PER_WORD,
    PRNG_IMPLS,
    default_chunk_words,
    stream_all,
    stream_key,
)
from mathml_jax.report import Timing
from mathml_jax.runtime import RunContext
from mathml_jax.timing import wall

log = logging.getLogger("mathml_jax")

SECTION = "Probability theory / Law of large numbers"

MOMENTS = {"coin": (0.5, 0.5), "die": (3.5, math.sqrt(35 / 12))}
DISTS = ("coin", "die", "pareto", "cauchy")
WITH_MEAN = ("coin", "die", "pareto")


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
    z: float = param(5.0, gt=0, le=20, tolerance=True,
                     help="error bound of Monte Carlo claims, in SE")
    prng_impl: str = param("threefry2x32", choices=PRNG_IMPLS,
                           help="PRNG of the streamed coin and die words (see "
                                "mathml_jax.probability.streaming)")


@dataclass
class Results:
    """Everything the claims, metrics and figures need, as host arrays."""

    at: np.ndarray          # (m,) counts n where the running averages are read
    running: dict           # coin/die/pareto/cauchy: (paths, m) running averages (float64)
    streak_trials: np.ndarray  # (max_streak,) tosses after >= k losses in a row
    streak_wins: np.ndarray    # (max_streak,) wins among them
    coin: dict              # streamed flips: flips, heads, interrupted, run_s
    die: dict               # streamed rolls: faces (6,) counts, interrupted, run_s
    benchmark: dict         # samples/s of the JAX streams and the NumPy baselines
    devices: int            # devices the streams were sharded over (all processes')
    chunk_words: int        # 32-bit words per chunk in use


def moments(cfg: Config) -> dict:
    """(mean, standard deviation) of each distribution with a mean, in closed form."""
    a = cfg.alpha
    return {**MOMENTS, "pareto": (a / (a - 1), math.sqrt(a / ((a - 1) ** 2 * (a - 2))))}


# ------------------------------------------------------------------------------- compute

def numpy_die(rng, n: int, chunk: int = 1 << 22) -> int:
    """NumPy baseline: the sum of n fair die rolls (integers(1, 7)), chunk by chunk."""
    total, left = 0, n
    while left > 0:
        m = min(chunk, left)
        total += int(rng.integers(1, 7, size=m, dtype=np.int64).sum())
        left -= m
    return total


def _running_averages(cfg: Config, ctx: RunContext, key) -> tuple[np.ndarray, dict]:
    at = log_spaced_counts(cfg.num_steps, per_decade=10)
    out = ctx.timed("running_means", running_means, key, jnp.asarray(at, jnp.int32),
                    jnp.asarray(cfg.alpha, ctx.dtype), distributions=DISTS,
                    num_paths=cfg.num_paths, num_steps=cfg.num_steps, dtype=ctx.dtype)
    out = np.asarray(out, np.float64)
    return at, {d: out[i] for i, d in enumerate(DISTS)}


def _streamed(ctx, key, num_words, kind, label, chunk_words, cfg, mesh):
    """One stream of counts through the run's progress bar and timer; under jax.distributed
    each process counts its share of the chunks and all get the exact totals."""
    counts, words, t, stopped = stream_all(key, num_words, kind=kind, chunk_words=chunk_words,
                                           block_chunks=cfg.block_chunks, mesh=mesh,
                                           label=label, progress=ctx.progress)
    ctx.timer.add(label.replace(" ", "_"), t)
    return counts, words, t.run_s, bool(stopped)


def _at_scale(cfg: Config, ctx: RunContext, k_coin, k_die, chunk_words, mesh):
    """Coin flips and die rolls counted in chunks (exact integer counts)."""
    counts, words, run_s, stopped = _streamed(ctx, k_coin, -(-int(cfg.num_flips) // 32),
                                              "coin", "coin stream", chunk_words, cfg, mesh)
    coin = {"flips": 32 * int(words), "heads": int(counts[0]), "interrupted": stopped,
            "run_s": run_s}
    roll_words = -(-int(cfg.num_rolls) // DIE_CANDIDATES_PER_WORD)
    faces, _, run_s, stopped = _streamed(ctx, k_die, roll_words, "die", "die stream",
                                         chunk_words, cfg, mesh)
    die = {"faces": np.array([int(f) for f in faces], np.int64), "interrupted": stopped,
           "run_s": run_s}
    return coin, die


def _benchmark(cfg: Config, ctx: RunContext, k_coin, k_die, chunk_words, mesh) -> dict:
    """Samples per second of the JAX streams and of NumPy doing the same reduction. Ctrl-C
    (or SIGTERM) stops the comparison: the rates measured before it are kept, the rest are
    withheld, and ``interrupted`` says so (a rate of a cut-short run is no rate)."""
    n_b = int(cfg.benchmark_samples)
    rng = np.random.default_rng(ctx.seed)
    out = {"samples": n_b, "interrupted": False}
    *_, coin_s, stopped = _streamed(ctx, jax.random.fold_in(k_coin, 1), -(-n_b // 32),
                                          "coin", "benchmark coin", chunk_words, cfg, mesh)
    if stopped:
        return dict(out, interrupted=True)
    out["jax_coin_per_s"] = n_b / coin_s
    die_words = -(-n_b * 2 // 15)  # 7.5 rolls per word on average
    *_, die_s, stopped = _streamed(ctx, jax.random.fold_in(k_die, 1), die_words, "die",
                                         "benchmark die", chunk_words, cfg, mesh)
    if stopped:
        return dict(out, interrupted=True)
    out["jax_die_per_s"] = die_words * DIE_CANDIDATES_PER_WORD * 0.75 / die_s  # expected
    for name, fn, kw in (("numpy_coin", coin_uniform_numpy, {}), ("numpy_die", numpy_die, {}),
                         ("numpy_raw_coin", coin_bits_numpy, {"chunk": 1 << 22})):
        try:
            _, seconds = wall(fn, rng, n_b, **kw)
        except KeyboardInterrupt:
            log.warning("the NumPy comparison was interrupted (%s): its rates are withheld",
                        name)
            return dict(out, interrupted=True)
        ctx.timer.add(f"baseline_{name}", Timing(compile_s=0.0, run_s=seconds))
        out[f"{name}_per_s"] = n_b / seconds
    return out


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_avg, k_streak, k_coin, k_die = jax.random.split(ctx.key, 4)
    at, running = _running_averages(cfg, ctx, k_avg)
    trials, wins = ctx.timed("streaks", streak_win_counts, k_streak,
                             jnp.asarray(cfg.p, ctx.dtype), num_paths=cfg.streak_paths,
                             num_tosses=cfg.streak_tosses, max_streak=cfg.max_streak)
    mesh = device_mesh()
    chunk_words = cfg.chunk_words or default_chunk_words(ctx.runtime.platform)
    k_coin, k_die = stream_key(k_coin, cfg.prng_impl), stream_key(k_die, cfg.prng_impl)
    coin, die = _at_scale(cfg, ctx, k_coin, k_die, chunk_words, mesh)
    return Results(at=at, running=running, streak_trials=np.asarray(trials, np.int64),
                   streak_wins=np.asarray(wins, np.int64), coin=coin, die=die,
                   benchmark=_benchmark(cfg, ctx, k_coin, k_die, chunk_words, mesh),
                   devices=jax.device_count(), chunk_words=int(chunk_words))


# -------------------------------------------------------------------------------- claims

def binomial_z(counts, n, p) -> np.ndarray:
    """|z| of binomial counts against n p, with SE sqrt(n p (1 - p)) (0/0 = 0)."""
    n, p = np.asarray(n, np.float64), np.asarray(p, np.float64)
    return np.abs(tol.z_score(counts, n * p, np.sqrt(n * p * (1 - p))))


def _slope_tol(slope_se: float) -> tol.Tol:
    """4 bootstrap SE of the fitted slope, never below 0.01."""
    t = tol.bootstrap(4, slope_se)
    return t if t.value >= 0.01 else tol.absolute(0.01, f"0.01 floor ({t.rule} is smaller)")


def _mean_claims(cfg: Config, r: Results, dist: str, rng) -> list[Claim]:
    mu, sigma = moments(cfg)[dist]
    means, at, P, n = r.running[dist], r.at, cfg.num_paths, cfg.num_steps
    rms = np.sqrt(((means - mu) ** 2).mean(axis=0))
    fit = at >= 10
    slope = fitted_slope(at[fit], rms[fit])
    slope_se = bootstrap_slope_se(at[fit], (means[:, fit] - mu) ** 2, rng)
    lo, hi = (math.sqrt(scipy.stats.chi2.ppf(q, P) / P) for q in (1e-5, 1 - 1e-5))
    return [
        Claim.close(f"{dist}: the average of all draws of all paths = the mean",
                    means[:, -1].mean(), mu,
                    tol.standard_errors(cfg.z, sigma / math.sqrt(n * P)),
                    id=f"{dist}_average_is_mean", reference="closed-form mean (exact sigma)",
                    detail=f"{P} paths x {n:,} draws"),
        Claim.close(f"{dist}: spread of the running average ~ n^(-1/2), fitted slope", slope,
                    -0.5, _slope_tol(slope_se), id=f"{dist}_spread_slope",
                    reference="theory sigma/sqrt(n); 4 bootstrap SE over paths",
                    detail="log-log fit of the RMS over paths for n >= 10"),
        Claim.within(f"{dist}: RMS spread at the last n / (sigma/sqrt(n))",
                     rms[-1] / (sigma / math.sqrt(n)), lo, hi, id=f"{dist}_final_spread",
                     reference="chi-square(paths) 1e-5 quantiles (normal limit of the average)",
                     rule="chi-square quantiles 1e-5, 1 - 1e-5", detail=f"n = {n:,}, {P} paths"),
    ]


def _iqr(x) -> np.ndarray:
    """Interquartile range over paths (rows) at every n (columns)."""
    return np.subtract(*np.quantile(x, [0.75, 0.25], axis=0))


def _cauchy_claims(cfg: Config, r: Results, rng) -> list[Claim]:
    c, P = r.running["cauchy"], cfg.num_paths
    slope_c = fitted_slope(r.at, _iqr(c))
    boot = [fitted_slope(r.at, _iqr(c[rng.integers(0, P, P)])) for _ in range(200)]
    far = int((np.abs(c[:, -1]) > 1).sum())
    return [
        Claim.close("Cauchy (no mean): the spread of the running average does not shrink, "
                    "fitted slope of its interquartile range against n = 0", slope_c, 0.0,
                    tol.bootstrap(5, float(np.std(boot, ddof=1))), id="cauchy_spread_flat",
                    reference="the average of n Cauchy draws is Cauchy(0, 1): slope 0 (a "
                              "variable with a mean: -1/2); 5 bootstrap SE over paths",
                    detail=f"{P} paths, log-log fit over all n"),
        Claim.at_most("Cauchy: at the last n still P(|average| > 1) = 1/2, |z| of the count",
                      float(binomial_z(far, P, 0.5)), tol.sigmas(cfg.z),
                      id="cauchy_half_beyond_one",
                      reference="exact: P(|Cauchy(0,1)| > 1) = 1/2, Binomial(paths, 1/2)",
                      detail=f"{far} of {P} paths after {cfg.num_steps:,} draws; exact "
                             f"failure probability <= {z_failure_probability(P, 0.5, cfg.z):.1e}"),
    ]


def _gambler_claims(cfg: Config, r: Results) -> list[Claim]:
    trials, wins = r.streak_trials, r.streak_wins
    chk = trials * cfg.p * (1 - cfg.p) >= cfg.z**2
    if not chk.any():
        return []
    k = np.arange(1, cfg.max_streak + 1)[chk]
    zmax, where = tol.worst(binomial_z(wins[chk], trials[chk], cfg.p), [f"k={j}" for j in k])
    return [Claim.at_most(
        "gambler's fallacy: after k losses in a row a win still has probability p, for every "
        "k with enough such tosses (largest |z|)", zmax, tol.sigmas(cfg.z),
        id="gamblers_fallacy", worst=where,
        reference="independence: wins ~ Binomial(tosses after k losses, p)",
        detail=f"p = {cfg.p:g}, k = 1..{int(k.max())}; checked where trials p(1-p) >= z^2; "
               f"exact failure probability <= "
               f"{z_failure_probability(trials[chk], cfg.p, cfg.z):.1e}")]


def _scale_claims(cfg: Config, r: Results) -> list[Claim]:
    flips, heads, faces = r.coin["flips"], r.coin["heads"], r.die["faces"]
    rolls = int(faces.sum())
    zf, face = tol.worst(binomial_z(faces, rolls, 1 / 6), [f"face {i}" for i in range(1, 7)])
    mean_roll = float(np.dot(np.arange(1, 7), faces)) / rolls
    return [
        Claim.at_most("fair flips (one random bit each) counted in chunks: |z| of the number "
                      "of heads against 1/2", float(binomial_z(heads, flips, 0.5)),
                      tol.sigmas(cfg.z), id="stream_coin_fair",
                      reference="exact: heads ~ Binomial(flips, 1/2)",
                      detail=f"{flips:.3g} flips, frequency {heads / flips:.8f}; exact failure "
                             f"probability <= {z_failure_probability(flips, 0.5, cfg.z):.1e}"),
        Claim.at_most("die rolls (3-bit fields, 6 and 7 rejected): every face count within "
                      "the z bound of 1/6 (largest |z|)", zf, tol.sigmas(cfg.z),
                      id="stream_die_uniform", worst=face,
                      reference="exact: face counts ~ Binomial(rolls, 1/6) (rejection sampling)",
                      detail=f"{rolls:.3g} rolls; exact failure probability <= "
                             f"{z_failure_probability([rolls] * 6, 1 / 6, cfg.z):.1e}"),
        Claim.close("average of the streamed die rolls = 3.5", mean_roll, 3.5,
                    tol.standard_errors(cfg.z, math.sqrt(35 / 12 / rolls)),
                    id="stream_die_mean", reference="closed form: mean 3.5, variance 35/12",
                    detail=f"{rolls:.3g} rolls"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    rng = np.random.default_rng(ctx.seed)  # the bootstrap's resampling
    out = [c for dist in WITH_MEAN for c in _mean_claims(cfg, r, dist, rng)]
    return out + _cauchy_claims(cfg, r, rng) + _gambler_claims(cfg, r) + _scale_claims(cfg, r)


def metrics(cfg: Config, r: Results) -> dict:
    out = {}
    for dist, (mu, _) in moments(cfg).items():
        rms = np.sqrt(((r.running[dist] - mu) ** 2).mean(axis=0))
        out[f"{dist}_spread_slope"] = fitted_slope(r.at[r.at >= 10], rms[r.at >= 10])
    out["cauchy_iqr_slope"] = fitted_slope(r.at, _iqr(r.running["cauchy"]))
    rolls, b = int(r.die["faces"].sum()), r.benchmark
    out.update(
        devices=r.devices, chunk_words=r.chunk_words, prng_impl=cfg.prng_impl,
        coin_flips=r.coin["flips"], coin_heads=r.coin["heads"],
        coin_interrupted=r.coin["interrupted"],
        coin_flips_per_s=r.coin["flips"] / r.coin["run_s"],
        coin_peak_chunk_bytes=r.chunk_words * 4, die_rolls=rolls,
        die_rolls_per_s=rolls / r.die["run_s"], die_interrupted=r.die["interrupted"],
        benchmark_samples=b["samples"])
    out.update(_benchmark_metrics(b))
    return out


def _benchmark_metrics(b: dict) -> dict:
    """The comparison's rates and speed-ups, those it measured: an interrupted comparison
    withholds what it did not finish, and ``benchmark_interrupted: true`` says so (the run's
    status is then "interrupted")."""
    out = {f"benchmark_{k}": v for k, v in b.items() if k.endswith("_per_s")}
    if b.get("interrupted"):
        out["benchmark_interrupted"] = True
    for name, (num, den) in {"coin_speedup": ("jax_coin", "numpy_coin"),
                             "coin_vs_raw_bits": ("jax_coin", "numpy_raw_coin"),
                             "die_speedup": ("jax_die", "numpy_die")}.items():
        if f"{num}_per_s" in b and f"{den}_per_s" in b:
            out[f"benchmark_{name}"] = b[f"{num}_per_s"] / b[f"{den}_per_s"]
    return out


KEY_METRICS = ("coin_spread_slope", "coin_flips", "coin_flips_per_s", "die_rolls_per_s",
               "benchmark_coin_speedup", "benchmark_die_speedup")
#: the gallery's reproducibility check (mathml_jax.gallery.check): rates and speed-ups measured
#: with a clock are not compared (None); every other number is, at the default tolerance
METRIC_TOLERANCES = {k: None for k in (
    "coin_flips_per_s", "die_rolls_per_s", "benchmark_jax_coin_per_s", "benchmark_numpy_coin_per_s",
    "benchmark_coin_speedup", "benchmark_numpy_raw_coin_per_s", "benchmark_coin_vs_raw_bits",
    "benchmark_jax_die_per_s", "benchmark_numpy_die_per_s", "benchmark_die_speedup")}


# ------------------------------------------------------------------------------- figures

def _names(cfg: Config) -> dict:
    return {"coin": "fair coin", "die": "fair die", "pareto": f"Pareto, tail index {cfg.alpha:g}"}


def running_averages(cfg: Config, r: Results):
    """Running averages of a coin, a die and a heavy-tailed Pareto variable settle at their means
    as the draws n grow, mostly inside the band mu ± 2 sigma/sqrt(n)."""
    fig, axes = plotting.figure(r"Running averages settle at the mean, inside "
                                rf"$\mu \pm {plotting.SE_BAND}\sigma/\sqrt{{n}}$",
                                ncols=3, width=4.6, height=4.4)
    at, mom = r.at, moments(cfg)
    for ax, dist in zip(axes, WITH_MEAN, strict=True):
        mu, sigma = mom[dist]
        m = r.running[dist]
        shown = min(6, m.shape[0])
        for j, c in enumerate(plotting.ordered_colors(shown)):
            ax.plot(at, m[j], linewidth=1, alpha=0.9, color=c,
                    label=f"{shown} of {m.shape[0]} paths" if j == 0 else None)
        plotting.se_envelope(ax, at, mu, sigma / np.sqrt(at),
                             rf"$\mu \pm {plotting.SE_BAND}\sigma/\sqrt{{n}}$")
        ax.axhline(mu, **plotting.THEORY_STYLE, label=r"mean $\mu$")
        ax.set_xscale("log")
        ax.set_ylim(mu - 3 * sigma, mu + 3 * sigma)
        ax.set_title(_names(cfg)[dist])
        ax.set_xlabel("number of draws n (log scale)")
    axes[0].set_ylabel("running average")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=3)
    return fig


def spread(cfg: Config, r: Results):
    """The spread of the running average over paths shrinks like sigma/sqrt(n), slope -1/2 on log
    axes, for the coin, the die and the Pareto variable, but not at all for the Cauchy, which
    has no mean."""
    fig, ax = plotting.figure(r"The spread of the average shrinks like $\sigma/\sqrt{n}$ "
                              r"with a slope of $-1/2$ unless there is no mean",
                              width=7.5, height=4.6)
    at, mom = r.at, moments(cfg)
    for dist in WITH_MEAN:
        mu, sigma = mom[dist]
        rms = np.sqrt(((r.running[dist] - mu) ** 2).mean(axis=0)) / sigma
        plotting.loglog_fit(ax, at, rms, _names(cfg)[dist], name=dist, marker=".",
                            fit_mask=at >= 10)
    plotting.theory_line(ax, at, 1 / np.sqrt(at), r"theory $1/\sqrt{n}$ (slope $-1/2$)")
    iqr = _iqr(r.running["cauchy"]) / 2
    ax.loglog(at, iqr, "x-", color=plotting.color("cauchy"), markersize=4,
              label=f"Cauchy, no mean: half the interquartile range "
                    f"(slope {fitted_slope(at, iqr):.2f})")
    ax.set_xlabel("number of draws n (log scale)")
    ax.set_ylabel(rf"RMS spread over {cfg.num_paths} paths / $\sigma$ (log scale)")
    ax.legend(loc="lower left")
    return fig


def cauchy(cfg: Config, r: Results):
    """Without a mean there is no law of large numbers: Cauchy running averages never settle, as
    spread after many draws as after one, while those of a Pareto variable with finite
    variance do."""
    fig, (a1, a2) = plotting.figure("No law of large numbers without a mean: the Cauchy "
                                    "average never settles, the Pareto average does",
                                    ncols=2, width=5, height=4.4)
    c, at = r.running["cauchy"], r.at
    shown = min(8, c.shape[0])
    for j, col in enumerate(plotting.ordered_colors(shown)):
        a1.plot(at, c[j], linewidth=1, color=col,
                label=f"{shown} of {c.shape[0]} paths" if j == 0 else None)
        a2.plot(at, r.running["pareto"][j], linewidth=1, color=col)
    a1.set_title("standard Cauchy (no mean)")
    mu_p, sigma_p = moments(cfg)["pareto"]
    a2.set_title(f"Pareto, tail index {cfg.alpha:g}\n(heavy tail, finite variance)")
    for q in (-1, 1):  # the quartiles of Cauchy(0, 1), which every average of n draws is
        a1.plot(at, np.full_like(at, q, dtype=float), **{**plotting.THEORY_STYLE, "linestyle": ":"},
                label="quartiles $\\pm 1$ of Cauchy(0, 1), for every n" if q == 1 else None)
    plotting.se_envelope(a2, at, mu_p, sigma_p / np.sqrt(at),
                         rf"$\mu \pm {plotting.SE_BAND}\sigma/\sqrt{{n}}$")
    for a, center, name in ((a1, 0.0, "median 0"), (a2, mu_p, rf"mean $\mu = {mu_p:g}$")):
        a.set_xscale("log")
        a.set_ylim(center - 6, center + 6)
        a.axhline(center, **plotting.THEORY_STYLE, label=name)
        a.set_xlabel("number of draws n (log scale)")
    a1.set_ylabel("running average")
    handles = [h for a in (a1, a2) for h in zip(*a.get_legend_handles_labels(), strict=True)]
    fig.legend(*zip(*handles, strict=True), loc="outside lower center", ncols=2)
    return fig


def gamblers_fallacy(cfg: Config, r: Results):
    """After k losses in a row the next toss still wins with probability p: the measured
    frequency of a win after a losing streak stays at p for every streak length k, up to
    sampling error."""
    fig, ax = plotting.figure(f"Gambler's fallacy: after $k$ losses in a row a win still has "
                              f"probability $p = {cfg.p:g}$", width=7.5, height=4.4)
    trials, wins = r.streak_trials, r.streak_wins
    k = np.arange(1, cfg.max_streak + 1)
    checked = trials * cfg.p * (1 - cfg.p) >= cfg.z**2
    some = (trials > 0) & ~checked
    se = np.sqrt(cfg.p * (1 - cfg.p) / np.maximum(trials, 1))
    freq = wins / np.maximum(trials, 1)
    ax.errorbar(k[checked], freq[checked], yerr=plotting.SE_BAND * se[checked], fmt="o",
                color=plotting.color("coin"), capsize=3,
                label=rf"frequency of a win after $\geq k$ losses (±{plotting.SE_BAND} SE)")
    if some.any():
        ax.errorbar(k[some], freq[some], yerr=plotting.SE_BAND * se[some], fmt="o",
                    mfc="white", color=plotting.color("coin"), capsize=3,
                    label=f"{int(some.sum())} $k$ with too few tosses (not in the claim)")
    if (trials == 0).any():
        ax.plot([], [], " ", color="white",
                label=f"{int((trials == 0).sum())} $k$ never reached: no point")
    ax.axhline(cfg.p, **plotting.THEORY_STYLE, label=f"theory: $p = {cfg.p:g}$ for every $k$")
    ax.set_xlabel("length $k$ of the losing streak")
    ax.set_ylabel(r"P(win after $\geq k$ losses)")
    ax.legend(loc="lower left")
    return fig


FIGURES = (running_averages, spread, cauchy, gamblers_fallacy)


# ------------------------------------------------------------------ memory and time guard

#: Per-item costs on this machine (2 shared CPU cores, jaxlib 0.10.2, float32), measured with
#: mathml_jax.probability.streaming.stream at 1 MiB chunks (2^28 coin words, 2^27 die words)
#: and with 1-word chunks (2e6 chunks): a coin word 2.9 ns, a die word 5.4 ns, a chunk's own
#: overhead 0.5-0.9 us; the NumPy baselines from results/gallery/lln (1e9 samples): 2.8 s
#: (random < p), 3.1 s (integers), 0.05 s (raw bits); running means 0.93 s for 8e7 draws,
#: streaks 12 ms for 1.6e7 toss-streak checks. NVIDIA H200: 4.8e12 flips/s at 64 MiB chunks
#: (streaming.MEASURED_CHUNK_WORDS). Rounded up: the estimates are rough.
_S_PER_WORD = {"cpu": {"coin": 3e-9, "die": 6e-9}, "gpu": {"coin": 7e-12, "die": 1.4e-11}}
_S_PER_CHUNK = {"cpu": 1e-6, "gpu": 1e-6}
_S_PER_NUMPY_SAMPLE = 6.0e-9  # the three NumPy baselines together, per benchmark sample
_S_PER_DRAW = 1.2e-8          # running means: one draw of one distribution
_S_PER_STREAK_CHECK = 8e-10   # streaks: one toss of one path against one streak length
#: chunks per stream: the chunk counters are int32 (traced loop bounds and fold_in data);
#: half their range leaves room for the per-device loop's padding
MAX_CHUNKS = 2**30


def _stream_words(cfg: Config) -> dict[str, tuple[int, str, str]]:
    """32-bit words of each stream: name -> (words, kind, the key that sets the count)."""
    n_b = int(cfg.benchmark_samples)
    return {"coin stream": (-(-int(cfg.num_flips) // 32), "coin", "lln.num_flips"),
            "die stream": (-(-int(cfg.num_rolls) // DIE_CANDIDATES_PER_WORD), "die",
                           "lln.num_rolls"),
            "benchmark coin": (-(-n_b // 32), "coin", "lln.benchmark_samples"),
            "benchmark die": (-(-n_b * 2 // 15), "die", "lln.benchmark_samples")}


def _too_many_chunks(cfg: Config, chunk: int) -> None:
    from mathml_jax.budget import OverBudget, show_value

    for label, (words, _, key) in _stream_words(cfg).items():
        if -(-words // chunk) > MAX_CHUNKS:
            need = -(-words // MAX_CHUNKS)
            raise OverBudget(
                f"{key}={show_value(getattr(cfg, key.split('.')[1]))}, lln.chunk_words={chunk}: "
                f"the {label} would be cut into {-(-words // chunk):.3g} chunks of {chunk} "
                f"word{'s' * (chunk > 1)}; its chunk counter is a 32-bit integer, so at most "
                f"{MAX_CHUNKS:,} chunks. Set lln.chunk_words to at least {need} (or null: "
                f"the backend's measured size, {default_chunk_words('cpu'):,} words on a "
                f"CPU), or lower {key}. Nothing was run.")


def _streak_counts_overflow(cfg: Config) -> None:
    """The streak study's counts are int32 sums over every toss of every path."""
    from mathml_jax.budget import INT32_MAX, OverBudget

    tosses = cfg.streak_tosses * cfg.streak_paths
    if tosses > INT32_MAX:
        raise OverBudget(
            f"lln.streak_tosses={cfg.streak_tosses}, lln.streak_paths={cfg.streak_paths}: the "
            f"streak study counts {tosses:.3g} tosses in 32-bit integers, which hold at most "
            f"{INT32_MAX:,}; keep streak_tosses x streak_paths at most that (e.g. "
            f"lln.streak_paths={max(1, INT32_MAX // cfg.streak_tosses)}). Nothing was run.")


def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the counts stream
    (one chunk per device at a time, nothing kept but the counts), so they are never refused
    for memory, only for time; the running means hold one path of draws at a time; the streak
    study holds all its tosses (streak_tosses x streak_paths)."""
    from mathml_jax import budget as b

    chunk = cfg.chunk_words or default_chunk_words(target.platform)
    _too_many_chunks(cfg, chunk)
    _streak_counts_overflow(cfg)
    plat = "gpu" if target.platform != "cpu" else "cpu"
    per_key: dict[str, float] = {}
    for words, kind, key in _stream_words(cfg).values():
        s = words * _S_PER_WORD[plat][kind] + -(-words // chunk) * _S_PER_CHUNK[plat]
        per_key[key] = per_key.get(key, 0.0) + s
    per_key["lln.benchmark_samples"] += cfg.benchmark_samples * _S_PER_NUMPY_SAMPLE
    per_key["lln.num_steps"] = per_key["lln.num_paths"] = 2 * cfg.num_paths * cfg.num_steps \
        * _S_PER_DRAW  # the running means' 4 distributions, split between their two keys
    per_key["lln.streak_tosses"] = (cfg.streak_tosses * cfg.streak_paths * cfg.max_streak
                                    * _S_PER_STREAK_CHECK)
    total = sum(per_key.values())
    time_keys = tuple(k for k in sorted(per_key, key=per_key.get, reverse=True)
                      if per_key[k] >= 0.1 * total)
    itemsize = target.itemsize
    return b.estimate(
        b.Part(3 * cfg.num_steps * itemsize, ("lln.num_steps",),
               "one path of num_steps draws, its running sum and temporaries"),
        # random bits, uniforms and wins, and the scan's transposed copy: measured 1.7 GB for
        # 1e8 tosses in float32
        b.Part(16 * cfg.streak_tosses * cfg.streak_paths,
               ("lln.streak_tosses", "lln.streak_paths"),
               "every toss of the streak study: random words and wins, streak_tosses x "
               "streak_paths"),
        b.Part(16 * chunk, ("lln.chunk_words",), "one chunk of random words and its counts"),
        seconds=total, streams=True, time_keys=time_keys, rate_platform=plat,
        rate=f"{32 / _S_PER_WORD[plat]['coin']:.2g} coin flips/s, "
             f"{1 / _S_PER_NUMPY_SAMPLE:.2g} NumPy benchmark samples/s, measured on "
             f"{'an NVIDIA H200' if plat == 'gpu' else 'a 2-core CPU'}")
