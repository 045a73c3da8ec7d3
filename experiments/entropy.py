"""``entropy``: how many yes/no questions does it take?

The guessing game: a number in 1..N. Binary search always needs ceil(log2 N) questions (10
for N = 1024), and the entropy of the uniform distribution is log2 N bits. When the number is
drawn from a Poisson distribution, a Huffman code over the (tail-truncated) pmf is an optimal
questioning strategy: its average number of questions L satisfies H <= L < H + 1. Both
strategies are played by simulation and compared with their exact averages.

Entropy of a few families against SciPy's closed forms; the uniform distribution is the
maximum on its support, a point mass has zero entropy, bases 2, e and 10 differ by a constant
factor; differential entropies of a Gaussian and an exponential by quadrature.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.stats

from experiments._schema import param
from mathml_jax import Claim, Report, plotting
from mathml_jax.information import (
    binary_search_questions,
    differential_entropy,
    entropy,
    huffman_code_lengths,
    play_poisson_games,
)
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Probability theory / Information theory: entropy"


@dataclass
class Config:
    N: int = param(1024, ge=1, le=1 << 30, help="the hidden number is in 1..N")
    rate: float = param(10.0, gt=0, le=1e4, help="rate of the Poisson-distributed number")
    rates: list[float] = param([0.3, 1.0, 3.0, 10.0, 30.0, 100.0], gt=0, le=1e4,
                               help="rates of the questions-against-entropy figure")
    num_games: int = param(100_000, ge=100, le=100_000_000, help="games simulated")
    tail_mass: float = param(1e-12, gt=0, le=1e-3,
                             help="Poisson tail mass pooled into the last outcome")
    support: int = param(16, ge=2, le=1_000_000, help="support size of the max-entropy check")
    num_random_pmfs: int = param(10_000, ge=1, le=10_000_000,
                                 help="random pmfs compared with the uniform one")
    sigma: float = param(2.0, gt=0, le=1e3, help="standard deviation of the Gaussian")
    exp_rate: float = param(0.5, gt=0, le=1e3, help="rate of the exponential")
    z: float = param(5.0, gt=0, le=20, help="error bound of Monte Carlo claims, in SE")


def truncated_poisson(rate: float, tail_mass: float) -> np.ndarray:
    """Poisson(rate) pmf on 0..K, the last entry holding P(X >= K) <= tail_mass (float64)."""
    K = int(scipy.stats.poisson.isf(tail_mass, rate)) + 1
    K = max(K, 1)
    pmf = scipy.stats.poisson.pmf(np.arange(K + 1), rate)
    pmf[-1] = scipy.stats.poisson.sf(K - 1, rate)
    return pmf


def _padded(pmfs) -> np.ndarray:
    """pmfs of different lengths as rows of one zero-padded matrix (entr(0) = 0)."""
    out = np.zeros((len(pmfs), max(p.size for p in pmfs)))
    for i, p in enumerate(pmfs):
        out[i, :p.size] = p
    return out


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("entropy", section=SECTION)
    dtype = ctx.dtype
    eps = ctx.eps
    k_uni, k_poi, k_dir = jax.random.split(ctx.key, 3)
    z = cfg.z

    # -- 1. uniform on 1..N: binary search and the entropy log2 N
    N = cfg.N
    x = jax.random.randint(k_uni, (cfg.num_games,), 1, N + 1)
    q_uni, t = timed(binary_search_questions, x, 1, N)
    report.add_timing("binary_search_uniform", t)
    q_uni = np.asarray(q_uni)
    ceil_log = int(np.ceil(np.log2(N) - 1e-12)) if N > 1 else 0
    # H of the uniform pmf, through entr: sum over N equal cells
    h_uni = float(N * jax.scipy.special.entr(jnp.asarray(1.0 / N, jnp.float64
                                                          if dtype == jnp.float64 else dtype))
                  / np.log(2))
    report.claim(Claim.close(f"entropy of the uniform distribution on 1..{N} = log2 N bits",
                             h_uni, np.log2(N), tol=1e3 * eps * max(1.0, np.log2(N))))
    report.claim(Claim.holds(
        f"binary search on 1..{N} needs at most ceil(log2 N) = {ceil_log} questions "
        f"({cfg.num_games:,} games; largest count shown)",
        bool(q_uni.max() == ceil_log and q_uni.min() >= ceil_log - 1), measured=q_uni.max(),
        detail="every game within {ceil-1, ceil}; exactly ceil when N is a power of 2"))
    if N & (N - 1) == 0:
        report.claim(Claim.close(f"N = {N} is a power of 2: every game takes exactly H = "
                                 f"log2 N = {ceil_log} questions (average)",
                                 q_uni.mean(), np.log2(N), tol=0.0))
    report.metric("uniform_entropy_bits", h_uni, key=True)
    report.metric("binary_search_questions_uniform", float(q_uni.mean()))

    # -- 2. Poisson: Huffman strategy against bisection, simulated and exact
    pmf64 = truncated_poisson(cfg.rate, cfg.tail_mass)
    lengths = huffman_code_lengths(pmf64)
    K = pmf64.size - 1
    bis = np.asarray(binary_search_questions(jnp.arange(K + 1), 0, K))
    H = float(entropy(jnp.asarray(pmf64, dtype), base=2))
    L = float(pmf64 @ lengths)
    L_bis = float(pmf64 @ bis)
    (xs, qh, qb), t = timed(play_poisson_games, k_poi, jnp.asarray(cfg.rate, dtype),
                            jnp.asarray(lengths, jnp.int32), num_games=cfg.num_games)
    report.add_timing("poisson_games", t)
    qh, qb = np.asarray(qh, np.float64), np.asarray(qb, np.float64)
    sd_h = np.sqrt(pmf64 @ (lengths - L) ** 2)
    sd_b = np.sqrt(pmf64 @ (bis - L_bis) ** 2)
    what = f"H = {H:.4f} bits; K = {K} (tail mass {cfg.tail_mass:g} pooled)"
    report.claim(Claim.at_least(
        f"Poisson({cfg.rate:g}): Huffman strategy's exact average questions L >= H "
        "(source coding theorem)", L, H - 1e3 * eps * H, slack=1e3 * eps * H,
        detail=f"{what}; round-off allowance 1e3 eps H"))
    report.claim(Claim.at_most(
        f"Poisson({cfg.rate:g}): Huffman's L < H + 1 (Huffman is within a question of H)",
        L - H, 1.0, detail=what))
    report.claim(Claim.close(
        f"simulated Huffman games: average questions = exact L ({cfg.num_games:,} games)",
        qh.mean(), L, tol=z * sd_h / np.sqrt(qh.size) + 1e-12, detail=f"{z:g} SE, exact sd"))
    report.claim(Claim.close(
        "simulated binary-search games on 0..K: average questions = exact average",
        qb.mean(), L_bis, tol=z * sd_b / np.sqrt(qb.size) + 1e-12, detail=f"{z:g} SE"))
    report.claim(Claim.at_most("Huffman (optimal) needs no more questions on average than "
                               "binary search: L_Huffman - L_bisection", L - L_bis, 1e-12))
    report.metric("poisson_entropy_bits", H, key=True)
    report.metric("huffman_average_questions", float(qh.mean()), key=True)
    report.metric("binary_search_average_questions", float(qb.mean()), key=True)
    report.metric("huffman_exact_average", L)
    report.add_series("poisson_game", k=np.arange(K + 1), pmf=pmf64, huffman_questions=lengths,
                      binary_search_questions=bis)

    rates = np.asarray(cfg.rates, np.float64)
    pmfs = [truncated_poisson(r, cfg.tail_mass) for r in rates]
    Hs = np.asarray(entropy(jnp.asarray(_padded(pmfs), dtype), base=2.0))
    Ls = np.array([p @ huffman_code_lengths(p) for p in pmfs])
    grid = jnp.arange(max(p.size for p in pmfs))  # one shape for every rate: no recompiles
    Bs = np.array([p @ np.asarray(binary_search_questions(grid, 0, p.size - 1))[:p.size]
                   for p in pmfs])
    report.claim(Claim.at_least(
        f"source coding theorem for {rates.size} rates: L - H >= 0 (smallest shown)",
        (Ls - Hs).min(), -1e3 * eps * Hs.max(), slack=1e3 * eps * Hs.max(),
        detail="round-off allowance 1e3 eps max H"))
    report.claim(Claim.at_most("... and the largest L - H", (Ls - Hs).max(), 1.0 - 1e-12))
    report.add_series("rates", rate=rates, entropy_bits=Hs, huffman=Ls, binary_search=Bs)

    # -- 3. entropy of families against SciPy's closed forms, in nats
    ps = np.linspace(0, 1, 101)
    bern = jnp.stack([1 - jnp.asarray(ps, dtype), jnp.asarray(ps, dtype)], axis=1)
    h_bern = np.asarray(entropy(bern))
    ref_bern = scipy.stats.bernoulli(ps).entropy()
    lam = np.geomspace(0.1, 100, 31)
    h_poi = np.asarray(entropy(jnp.asarray(
        _padded([truncated_poisson(r, cfg.tail_mass) for r in lam]), dtype)))
    ref_poi = scipy.stats.poisson(lam).entropy()
    binom = scipy.stats.binom.pmf(np.arange(21), 20, 0.3)
    h_binom = float(entropy(jnp.asarray(binom, dtype)))
    geo = scipy.stats.geom.pmf(np.arange(1, 400), 0.2)
    h_geo = float(entropy(jnp.asarray(geo, dtype)))
    err = max(np.abs(h_bern - ref_bern).max(), np.abs(h_poi - ref_poi).max(),
              abs(h_binom - scipy.stats.binom(20, 0.3).entropy()),
              abs(h_geo - scipy.stats.geom(0.2).entropy()))
    # round-off, plus the pooled Poisson tail (mass tail_mass, entropy change << 1e3 x mass)
    tol = 1e3 * eps * max(1.0, ref_poi.max()) + 1e3 * cfg.tail_mass
    report.claim(Claim.at_most(
        "entropy (entr, nats) = scipy.stats .entropy() for Bernoulli(p) on 101 p, Poisson on 31 "
        "rates, Binomial(20, 0.3), Geometric(0.2): largest difference", err, tol,
        detail="tolerance 1000 eps x scale + 1000 x tail mass"))
    report.claim(Claim.close("Bernoulli(1/2) has the most uncertainty among coins: 1 bit",
                             h_bern.max() / np.log(2), 1.0, tol=1e3 * eps))

    n = cfg.support
    random_pmfs = jax.random.dirichlet(k_dir, jnp.ones(n, dtype), (cfg.num_random_pmfs,))
    h_rand = np.asarray(entropy(random_pmfs))
    h_unif_n = float(entropy(jnp.full(n, 1.0 / n, dtype)))
    report.claim(Claim.at_most(
        f"uniform is the maximum on {n} outcomes: largest entropy of {cfg.num_random_pmfs:,} "
        "random pmfs (Dirichlet(1)) minus log n", h_rand.max() - np.log(n), 1e3 * eps))
    report.claim(Claim.close(f"entropy of the uniform on {n} outcomes = log n", h_unif_n,
                             np.log(n), tol=1e3 * eps * np.log(n)))
    point = float(entropy(jax.nn.one_hot(3, n, dtype=dtype)))
    report.claim(Claim.close("a point mass has zero entropy (exactly; entr(0) = 0, no NaN)",
                             point, 0.0, tol=0.0))
    fams = jnp.stack([jnp.asarray(binom, dtype), jnp.asarray(
        scipy.stats.poisson.pmf(np.arange(21), 4.0), dtype)])
    h_e, h_2, h_10 = (np.asarray(entropy(fams, base=b)) for b in (None, 2.0, 10.0))
    ratios = np.concatenate([h_e / h_2, h_e / h_10])
    expect = np.concatenate([np.full(2, np.log(2)), np.full(2, np.log(10))])
    report.claim(Claim.at_most("bases differ by a constant factor: H_e = ln2 H_2 = ln10 H_10 "
                               "(largest relative deviation)",
                               np.abs(ratios / expect - 1).max(), 1e2 * eps))

    # -- 4. differential entropy by quadrature against closed forms
    s, lam_e = cfg.sigma, cfg.exp_rate
    h_gauss = float(differential_entropy(
        lambda x: jax.scipy.stats.norm.pdf(x, 0.0, s), -14 * s, 14 * s))
    h_exp = float(differential_entropy(
        lambda x: jax.scipy.stats.expon.pdf(x, scale=1 / lam_e), 0.0, 60 / lam_e))
    ref_g = 0.5 * np.log(2 * np.pi * np.e * s**2)
    ref_e = 1 - np.log(lam_e)
    tq = 1e-4 * max(1.0, abs(ref_g), abs(ref_e))
    report.claim(Claim.close(f"differential entropy of N(0, {s:g}^2) by quadrature = "
                             "(1/2) log(2 pi e sigma^2)", h_gauss, ref_g, tol=tq))
    report.claim(Claim.close(f"differential entropy of Exponential({lam_e:g}) by quadrature = "
                             "1 - log lambda", h_exp, ref_e, tol=tq))
    report.metric("gaussian_differential_entropy", h_gauss)
    report.metric("exponential_differential_entropy", h_exp)
    report.add_series("families", p=ps, bernoulli_nats=h_bern, rate=lam, poisson_nats=h_poi)

    _figures(report, cfg, pmf64, lengths, bis, H, L, L_bis, rates, Hs, Ls, Bs, ps, h_bern,
             lam, h_poi, ref_poi)
    return report


def _figures(report, cfg, pmf, lengths, bis, H, L, L_bis, rates, Hs, Ls, Bs, ps, h_bern, lam,
             h_poi, ref_poi):
    k = np.arange(pmf.size)
    show = pmf > 1e-4 * pmf.max()
    fig, ax = plotting.figure(f"Poisson({cfg.rate:g}): the optimal strategy asks fewer questions "
                              "about likely numbers", width=9)
    ax.set_title(f"average: Huffman {L:.2f}, binary search {L_bis:.2f}, entropy H = {H:.2f} "
                 "bits", fontsize=10)
    ax.bar(k[show], pmf[show], color="lightgray", label="P(X = k)")
    ax.set_xlabel("hidden number k")
    ax.set_ylabel("probability")
    ax2 = ax.twinx()
    ax2.step(k[show], lengths[show], where="mid", color=plotting.color("huffman"),
             label="Huffman questions for k")
    ax2.step(k[show], bis[show], where="mid", color=plotting.color("bisection"),
             linestyle="--", label="binary-search questions for k")
    ax2.plot(k[show], -np.log2(pmf[show]), ":", color="black", label="-log2 P(X = k)")
    ax2.set_ylabel("questions")
    ax2.set_ylim(0, max(lengths[show].max(), bis.max()) + 2)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, loc="upper right")
    report.add_figure("poisson_questions", fig)

    fig, ax = plotting.figure("Average questions: H <= Huffman < H + 1 (source coding theorem)",
                              width=7)
    hh = np.linspace(0, Hs.max() * 1.05, 50)
    ax.fill_between(hh, hh, hh + 1, color="gray", alpha=0.2, label="[H, H + 1)")
    ax.plot(Hs, Ls, "o-", color=plotting.color("huffman"), label="Huffman (optimal)")
    ax.plot(Hs, Bs, "s--", color=plotting.color("bisection"), label="binary search on 0..K")
    for r, h, l_ in zip(rates, Hs, Ls, strict=True):
        ax.annotate(f"rate {r:g}", (h, l_), textcoords="offset points", xytext=(5, -12),
                    fontsize=8)
    ax.set_xlabel("entropy H of Poisson(rate), bits")
    ax.set_ylabel("average number of questions")
    ax.legend(loc="upper left")
    report.add_figure("questions_vs_entropy", fig)

    fig, (a1, a2) = plotting.figure("Entropy: largest for a fair coin, growing like "
                                    "(1/2) log2(2 pi e rate) for Poisson", ncols=2)
    a1.plot(ps, h_bern / np.log(2), color=plotting.color("entropy"), label="entr, JAX")
    a1.plot(ps[::10], scipy.stats.bernoulli(ps[::10]).entropy() / np.log(2), "ko",
            markersize=4, label="scipy.stats")
    a1.set_xlabel("p = P(heads)")
    a1.set_ylabel("H(Bernoulli(p)), bits")
    a1.legend()
    a2.plot(lam, h_poi / np.log(2), color=plotting.color("entropy"), label="entr, JAX")
    a2.plot(lam[::3], ref_poi[::3] / np.log(2), "ko", markersize=4, label="scipy.stats")
    a2.plot(lam, 0.5 * np.log2(2 * np.pi * np.e * lam), ":", color="gray",
            label="(1/2) log2(2 pi e rate)")
    a2.set_xscale("log")
    a2.set_xlabel("rate")
    a2.set_ylabel("H(Poisson(rate)), bits")
    a2.legend()
    report.add_figure("entropy_families", fig)
