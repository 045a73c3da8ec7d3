"""``entropy``: how many yes/no questions find a hidden number: binary search, Huffman and H.

The guessing game: a number in 1..N. Binary search always needs ceil(log2 N) questions (10
for N = 1024), and the entropy of the uniform distribution is log2 N bits. When the number is
drawn from a Poisson distribution, a Huffman code over the (tail-truncated) pmf is an optimal
questioning strategy: its average number of questions L satisfies H <= L < H + 1. Both
strategies are played by simulation and compared with their exact averages.

Entropy of a few families against SciPy's closed forms and in bases 2 and 10 against
``scipy.stats.entropy(p, base)``; a point mass has zero entropy; differential entropies of a
Gaussian and an exponential by quadrature within the trapezoid rule's Euler-Maclaurin error.
The uniform pmf is the maximum (random pmfs drawn far below log n: a figure and a metric, not
a claim, as is the base-change factor ln 2, an identity of the code).
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
from mathml_jax.information import (
    binary_search_questions,
    differential_entropy,
    entropy,
    huffman_code_lengths,
    play_poisson_games,
)
from mathml_jax.runtime import RunContext

SECTION = "Probability theory / Information theory: entropy"

#: the fixed grids of the families check (Bernoulli p, Poisson rates, Binomial, Geometric)
BERNOULLI_P = np.linspace(0, 1, 101)
POISSON_RATES = np.geomspace(0.1, 100, 31)
BINOMIAL = (20, 0.3)
GEOMETRIC_P = 0.2
BASES_POISSON_RATE = 4.0


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
    z: float = param(5.0, gt=0, le=20, tolerance=True,
                     help="error bound of Monte Carlo claims, in SE")


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    uniform: dict       # questions (num_games,) of binary search on 1..N; entropy_bits (float)
    poisson: dict       # k, pmf (float64), huffman_questions, binary_search_questions per k;
    #                     entropy_bits (run dtype); simulated averages huffman_mean, bisection_mean
    rates: dict         # rate, entropy_bits, huffman, binary_search: exact averages per rate
    families: dict      # p, bernoulli_nats, rate, poisson_nats, binomial_nats, geometric_nats
    extremes: dict      # random_pmf_entropies (Dirichlet(1) pmfs), uniform_nats, point_mass
    bases: dict         # nats, bits, bans: entropies of (Binomial(20, 0.3), Poisson(4)) pmfs
    differential: dict  # gaussian, exponential: differential entropies by quadrature (nats)


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


def _host(x) -> np.ndarray:
    return np.asarray(x, np.float64)


# ------------------------------------------------------------------------------ compute

def _uniform_game(cfg: Config, ctx: RunContext, key) -> dict:
    """Binary search on 1..N for uniform hidden numbers, and H(uniform) through entr."""
    x = jax.random.randint(key, (cfg.num_games,), 1, cfg.N + 1)
    q = ctx.timed("binary_search_uniform", binary_search_questions, x, 1, cfg.N)
    # H of the uniform pmf, through entr: the sum over N equal cells
    h = cfg.N * jax.scipy.special.entr(jnp.asarray(1.0 / cfg.N, ctx.dtype)) / np.log(2)
    return {"questions": np.asarray(q), "entropy_bits": float(h)}


def _poisson_game(cfg: Config, ctx: RunContext, key) -> dict:
    """Huffman and bisection strategies for a Poisson number: per-k counts and simulated games."""
    pmf = truncated_poisson(cfg.rate, cfg.tail_mass)
    lengths = huffman_code_lengths(pmf)
    K = pmf.size - 1
    bis = np.asarray(binary_search_questions(jnp.arange(K + 1), 0, K))
    _, qh, qb = ctx.timed("poisson_games", play_poisson_games, key,
                          jnp.asarray(cfg.rate, ctx.dtype), jnp.asarray(lengths, jnp.int32),
                          num_games=cfg.num_games)
    return {"k": np.arange(K + 1), "pmf": pmf, "huffman_questions": lengths,
            "binary_search_questions": bis,
            "entropy_bits": float(entropy(jnp.asarray(pmf, ctx.dtype), base=2)),
            "huffman_mean": float(_host(qh).mean()), "bisection_mean": float(_host(qb).mean())}


def _rates(cfg: Config, ctx: RunContext) -> dict:
    """Entropy and the exact average questions of both strategies for each rate."""
    rates = np.asarray(cfg.rates, np.float64)
    pmfs = [truncated_poisson(r, cfg.tail_mass) for r in rates]
    Hs = _host(entropy(jnp.asarray(_padded(pmfs), ctx.dtype), base=2.0))
    Ls = np.array([p @ huffman_code_lengths(p) for p in pmfs])
    grid = jnp.arange(max(p.size for p in pmfs))  # one shape for every rate: no recompiles
    Bs = np.array([p @ np.asarray(binary_search_questions(grid, 0, p.size - 1))[:p.size]
                   for p in pmfs])
    return {"rate": rates, "entropy_bits": Hs, "huffman": Ls, "binary_search": Bs}


def _families(cfg: Config, ctx: RunContext) -> dict:
    """Entropy (nats) of Bernoulli, Poisson, Binomial and Geometric pmfs."""
    dtype = ctx.dtype
    ps = jnp.asarray(BERNOULLI_P, dtype)
    poi = _padded([truncated_poisson(r, cfg.tail_mass) for r in POISSON_RATES])
    binom = scipy.stats.binom.pmf(np.arange(BINOMIAL[0] + 1), *BINOMIAL)
    geo = scipy.stats.geom.pmf(np.arange(1, 400), GEOMETRIC_P)
    return {"p": BERNOULLI_P, "bernoulli_nats": _host(entropy(jnp.stack([1 - ps, ps], axis=1))),
            "rate": POISSON_RATES, "poisson_nats": _host(entropy(jnp.asarray(poi, dtype))),
            "binomial_nats": float(entropy(jnp.asarray(binom, dtype))),
            "geometric_nats": float(entropy(jnp.asarray(geo, dtype)))}


def _extremes(cfg: Config, ctx: RunContext, key) -> dict:
    """Random pmfs against the uniform one on n outcomes, and a point mass."""
    n, dtype = cfg.support, ctx.dtype
    random_pmfs = jax.random.dirichlet(key, jnp.ones(n, dtype), (cfg.num_random_pmfs,))
    return {"random_pmf_entropies": _host(entropy(random_pmfs)),
            "uniform_nats": float(entropy(jnp.full(n, 1.0 / n, dtype))),
            "point_mass": float(entropy(jax.nn.one_hot(3, n, dtype=dtype)))}


def bases_pmfs() -> np.ndarray:
    """Binomial(20, 0.3) and Poisson(4) on 0..20 (its tail P(X >= 20) pooled in the last
    cell, so that both sum to 1), float64."""
    binom = scipy.stats.binom.pmf(np.arange(BINOMIAL[0] + 1), *BINOMIAL)
    poi = scipy.stats.poisson.pmf(np.arange(21), BASES_POISSON_RATE)
    poi[-1] = scipy.stats.poisson.sf(19, BASES_POISSON_RATE)
    return np.stack([binom, poi])


def _bases(ctx: RunContext) -> dict:
    """Entropy of two pmfs in bases e, 2 and 10."""
    fams = jnp.asarray(bases_pmfs(), ctx.dtype)
    return {name: _host(entropy(fams, base=b))
            for name, b in (("nats", None), ("bits", 2.0), ("bans", 10.0))}


def _differential(cfg: Config) -> dict:
    """Differential entropies of N(0, sigma^2) and Exponential(rate) by the trapezoid rule."""
    s, lam = cfg.sigma, cfg.exp_rate
    h_gauss = differential_entropy(lambda x: jax.scipy.stats.norm.pdf(x, 0.0, s),
                                   -14 * s, 14 * s)
    h_exp = differential_entropy(lambda x: jax.scipy.stats.expon.pdf(x, scale=1 / lam),
                                 0.0, 60 / lam)
    return {"gaussian": float(h_gauss), "exponential": float(h_exp)}


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_uni, k_poi, k_dir = jax.random.split(ctx.key, 3)
    return Results(uniform=_uniform_game(cfg, ctx, k_uni),
                   poisson=_poisson_game(cfg, ctx, k_poi), rates=_rates(cfg, ctx),
                   families=_families(cfg, ctx), extremes=_extremes(cfg, ctx, k_dir),
                   bases=_bases(ctx), differential=_differential(cfg))


# ------------------------------------------------------------------------------ claims

def _ceil_log2(N: int) -> int:
    return int(np.ceil(np.log2(N) - 1e-12)) if N > 1 else 0


def _uniform_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    N, q = cfg.N, r.uniform["questions"]
    ceil_log = _ceil_log2(N)
    out = [
        Claim.close("entropy of the uniform distribution on 1..N = log2 N bits",
                    r.uniform["entropy_bits"], np.log2(N),
                    tol.roundoff(20, eps, scale=max(1.0, np.log2(N))), id="uniform_entropy",
                    reference="closed form log2 N", detail=f"N = {N}"),
        Claim.holds("binary search on 1..N needs at most ceil(log2 N) questions and at least "
                    "ceil(log2 N) - 1 (largest count shown)",
                    bool(q.max() == ceil_log and q.min() >= ceil_log - 1), measured=q.max(),
                    id="binary_search_ceil_log2", reference="closed form ceil(log2 N)",
                    detail=f"N = {N}, ceil(log2 N) = {ceil_log}, {cfg.num_games:,} games; "
                           "exactly ceil when N is a power of 2"),
    ]
    if N & (N - 1) == 0:  # only made when N is a power of 2 (same id whenever it is made)
        out.append(Claim.close(
            "N is a power of 2: every game takes exactly H = log2 N questions (average)",
            q.mean(), np.log2(N), tol.absolute(0.0, "exact (integer counts)"),
            id="binary_search_power_of_two_exact", reference="closed form log2 N",
            detail=f"N = {N}"))
    return out


def _poisson_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    p = r.poisson
    pmf, lengths, bis = p["pmf"], p["huffman_questions"], p["binary_search_questions"]
    H, L, L_bis = p["entropy_bits"], float(pmf @ lengths), float(pmf @ bis)
    root_n = np.sqrt(cfg.num_games)
    se_h = np.sqrt(pmf @ (lengths - L) ** 2) / root_n
    se_b = np.sqrt(pmf @ (bis - L_bis) ** 2) / root_n
    exact = tol.absolute(1e-12, "float64 sum of the pmf")
    what = (f"rate {cfg.rate:g}, H = {H:.4f} bits, K = {pmf.size - 1} (tail mass "
            f"{cfg.tail_mass:g} pooled)")
    ref = "exact average over the truncated Poisson pmf (float64)"
    return [
        Claim.at_most("Poisson: H - L <= round-off, i.e. the Huffman strategy's exact average "
                      "questions L >= H (source coding theorem)", H - L,
                      tol.roundoff(20, eps, scale=H), id="poisson_huffman_at_least_entropy",
                      reference="entropy of the pmf by entr (run dtype)", detail=what),
        Claim.at_most("Poisson: Huffman's L - H < 1 (Huffman is within a question of H)", L - H,
                      tol.absolute(1.0, "Huffman bound: L < H + 1"),
                      id="poisson_huffman_within_one_of_entropy",
                      reference="entropy of the pmf by entr (run dtype)", detail=what),
        Claim.close("simulated Huffman games: average questions = exact L", p["huffman_mean"],
                    L, tol.standard_errors(cfg.z, se_h) + exact, id="simulated_huffman_average",
                    reference=ref + ", exact sd", detail=f"{cfg.num_games:,} games"),
        Claim.close("simulated binary-search games on 0..K: average questions = exact average",
                    p["bisection_mean"], L_bis, tol.standard_errors(cfg.z, se_b) + exact,
                    id="simulated_bisection_average", reference=ref + ", exact sd",
                    detail=f"{cfg.num_games:,} games"),
        Claim.at_most("Huffman (optimal) needs no more questions on average than binary "
                      "search: L_Huffman - L_bisection", L - L_bis,
                      tol.absolute(1e-12, "float64 round-off of the exact averages"),
                      id="huffman_beats_bisection", reference=ref, detail=what),
    ]


def _rates_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    Hs, Ls = r.rates["entropy_bits"], r.rates["huffman"]
    labels = [f"rate {x:g}" for x in r.rates["rate"]]
    below, w_below = tol.worst(Hs - Ls, labels)
    above, w_above = tol.worst(Ls - Hs, labels)
    detail = f"{Hs.size} rates"
    return [
        Claim.at_most("source coding theorem over rates: H - L <= round-off (L >= H; largest "
                      "H - L shown)", below, tol.roundoff(20, eps, scale=Hs.max()),
                      id="rates_huffman_at_least_entropy", worst=w_below, detail=detail,
                      reference="entropy of each pmf by entr (run dtype)"),
        Claim.at_most("... and the largest L - H is below 1", above,
                      tol.absolute(1.0 - 1e-12, "strictly below 1 (L < H + 1)"),
                      id="rates_huffman_within_one_of_entropy", worst=w_above, detail=detail,
                      reference="entropy of each pmf by entr (run dtype)"),
    ]


def _family_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    f = r.families
    ref_poi = scipy.stats.poisson(f["rate"]).entropy()
    errs = [np.abs(f["bernoulli_nats"] - scipy.stats.bernoulli(f["p"]).entropy()).max(),
            np.abs(f["poisson_nats"] - ref_poi).max(),
            abs(f["binomial_nats"] - scipy.stats.binom(*BINOMIAL).entropy()),
            abs(f["geometric_nats"] - scipy.stats.geom(GEOMETRIC_P).entropy())]
    err, where = tol.worst(errs, ["Bernoulli", "Poisson", "Binomial", "Geometric"])
    # round-off of a sum of entr terms, plus the pooled Poisson tail: moving a mass m into one
    # cell changes H by at most m (1 + ln(1/m)); twice that
    m = cfg.tail_mass
    bound = (tol.roundoff(10, eps, scale=max(1.0, ref_poi.max()))
             + tol.absolute(2 * m * (1 + np.log(1 / m)), "2 m (1 + ln(1/m)), m = pooled tail"))
    return [
        Claim.at_most("entropy (entr, nats) = scipy.stats .entropy() for Bernoulli(p), "
                      "Poisson(rate), Binomial(20, 0.3), Geometric(0.2): largest difference",
                      err, bound, id="families_match_scipy", worst=where,
                      reference="scipy.stats closed forms / series (float64)",
                      detail=f"{f['p'].size} p, {f['rate'].size} rates"),
        Claim.close("Bernoulli(1/2) has the most uncertainty among coins: 1 bit",
                    f["bernoulli_nats"].max() / np.log(2), 1.0, tol.roundoff(10, eps),
                    id="fair_coin_one_bit", reference="closed form: H(1/2) = 1 bit"),
    ]


def _extreme_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    """The uniform maximum over random pmfs is a metric and a figure (random pmfs stay far
    below log n: that comparison could not fail); the bases are checked against SciPy's."""
    n, e = cfg.support, r.extremes
    pmfs = bases_pmfs()
    errs = np.concatenate([np.abs(r.bases[k] - scipy.stats.entropy(pmfs, base=b, axis=1))
                           for k, b in (("bits", 2), ("bans", 10))])
    dev, w_dev = tol.worst(errs, ["binomial bits", "poisson bits", "binomial bans",
                                  "poisson bans"])
    return [
        Claim.close("entropy of the uniform on n outcomes = log n", e["uniform_nats"],
                    np.log(n), tol.roundoff(2, eps, n=n, scale=np.log(n)),
                    id="uniform_entropy_log_n", reference="closed form log n",
                    detail=f"n = {n}"),
        Claim.close("a point mass has zero entropy (exactly; entr(0) = 0, no NaN)",
                    e["point_mass"], 0.0, tol.absolute(0.0, "exact: entr(0) = entr(1) = 0"),
                    id="point_mass_zero_entropy", reference="closed form 0"),
        Claim.at_most("entropy in bits and in bans (base 2, 10) = scipy.stats.entropy(p, base) "
                      "for Binomial(20, 0.3) and Poisson(4): largest difference", dev,
                      tol.roundoff(20, eps, scale=float(np.max(r.bases["bits"]))),
                      id="bases_match_scipy", reference="scipy.stats.entropy(p, base) (float64)",
                      worst=w_dev),
    ]


def _trapezoid_bound(logpdf, lo: float, hi: float, num_points: int = 200_001) -> float:
    """Twice the Euler-Maclaurin leading term of the trapezoid rule for -f log f on [lo, hi],
    h^2/12 |g'(hi) - g'(lo)| (g' by second-order one-sided float64 differences, inside
    [lo, hi]: a density may jump at an end)."""
    def g(x):
        lf = logpdf(x)
        return -np.exp(lf) * lf
    d = 1e-4 * (hi - lo)
    gp = [s * (-3 * g(x) + 4 * g(x + s * d) - g(x + 2 * s * d)) / (2 * d)
          for x, s in ((lo, 1), (hi, -1))]
    h = (hi - lo) / (num_points - 1)
    return 2 * h**2 / 12 * abs(gp[1] - gp[0])


def _differential_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    s, lam = cfg.sigma, cfg.exp_rate
    ref_g = 0.5 * np.log(2 * np.pi * np.e * s**2)
    ref_e = 1 - np.log(lam)
    why = "2 x Euler-Maclaurin h^2/12 |g'(b) - g'(a)|"
    t_g = (tol.roundoff(20, eps, scale=abs(ref_g)) + tol.absolute(_trapezoid_bound(
        lambda x: scipy.stats.norm.logpdf(x, 0, s), -14 * s, 14 * s), why))
    t_e = (tol.roundoff(20, eps, scale=abs(ref_e)) + tol.absolute(_trapezoid_bound(
        lambda x: np.log(lam) - lam * x, 0.0, 60 / lam), why))
    return [
        Claim.close("differential entropy of N(0, sigma^2) by quadrature = "
                    "(1/2) log(2 pi e sigma^2)", r.differential["gaussian"], ref_g, t_g,
                    id="gaussian_differential_entropy",
                    reference="closed form (1/2) log(2 pi e sigma^2)",
                    detail=f"sigma = {s:g}; trapezoid rule, 200001 points"),
        Claim.close("differential entropy of Exponential(lambda) by quadrature = 1 - log "
                    "lambda", r.differential["exponential"], ref_e, t_e,
                    id="exponential_differential_entropy", reference="closed form 1 - log lambda",
                    detail=f"lambda = {lam:g}; trapezoid rule, 200001 points"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    eps = ctx.eps
    return (_uniform_claims(cfg, r, eps) + _poisson_claims(cfg, r, eps)
            + _rates_claims(cfg, r, eps) + _family_claims(cfg, r, eps)
            + _extreme_claims(cfg, r, eps) + _differential_claims(cfg, r, eps))


def metrics(cfg: Config, r: Results) -> dict:
    p = r.poisson
    return {"uniform_entropy_bits": r.uniform["entropy_bits"],
            "binary_search_questions_uniform": float(r.uniform["questions"].mean()),
            "poisson_entropy_bits": p["entropy_bits"],
            "huffman_average_questions": p["huffman_mean"],
            "binary_search_average_questions": p["bisection_mean"],
            "huffman_exact_average": float(p["pmf"] @ p["huffman_questions"]),
            "gaussian_differential_entropy": r.differential["gaussian"],
            "exponential_differential_entropy": r.differential["exponential"],
            # identities of the code, shown rather than claimed: H_e / H_2 = ln 2 (the base is a
            # division), and log n - max H over random pmfs > 0 (random pmfs are never uniform)
            "nats_per_bit": float(r.bases["nats"][0] / r.bases["bits"][0]),
            "nats_per_ban": float(r.bases["nats"][0] / r.bases["bans"][0]),
            "uniform_minus_max_random_pmf_nats": float(
                np.log(cfg.support) - r.extremes["random_pmf_entropies"].max())}


KEY_METRICS = ("uniform_entropy_bits", "poisson_entropy_bits", "huffman_average_questions",
               "binary_search_average_questions")


# ------------------------------------------------------------------------------ figures

def poisson_questions(cfg: Config, r: Results):
    """The optimal (Huffman) strategy asks about -log2 P(X = k) questions for the hidden number
    k, fewer for likely numbers and more for rare ones, while binary search asks about as many
    for every k."""
    p = r.poisson
    pmf, k, lengths, bis = p["pmf"], p["k"], p["huffman_questions"], p["binary_search_questions"]
    show = pmf > 1e-4 * pmf.max()
    fig, ax = plotting.figure(f"Poisson({cfg.rate:g}): the optimal strategy asks fewer questions "
                              "about likely numbers", width=9)
    ax.set_title(f"average: Huffman {pmf @ lengths:.2f}, binary search {pmf @ bis:.2f}, "
                 f"entropy $H$ = {p['entropy_bits']:.2f} bits", fontsize=10)
    ax.bar(k[show], pmf[show], color="lightgray", label="$P(X = k)$")
    ax.set_xlabel("hidden number $k$")
    ax.set_ylabel("probability")
    ax2 = ax.twinx()
    ax2.step(k[show], lengths[show], where="mid", color=plotting.color("huffman"),
             label="Huffman questions for $k$")
    ax2.step(k[show], bis[show], where="mid", color=plotting.color("bisection"),
             linestyle="--", label="binary-search questions for $k$")
    ax2.plot(k[show], -np.log2(pmf[show]), ":", color="black", label=r"$-\log_2 P(X = k)$")
    ax2.set_ylabel("questions")
    ax2.set_ylim(0, max(lengths[show].max(), bis.max()) + 2)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=4)
    return fig


def questions_vs_entropy(cfg: Config, r: Results):
    """Huffman's average number of questions lies between H and H + 1 for Poisson distributions
    of growing entropy H, as the source coding theorem says, while binary search asks more."""
    Hs, Ls, Bs = r.rates["entropy_bits"], r.rates["huffman"], r.rates["binary_search"]
    fig, ax = plotting.figure(r"Average questions: $H \leq L_{\rm Huffman} < H + 1$ "
                              "(source coding theorem)", width=7)
    hh = np.linspace(0, Hs.max() * 1.05, 50)
    ax.fill_between(hh, hh, hh + 1, color="black", alpha=0.08, linewidth=0,
                    label=r"$[H, H + 1)$")
    plotting.theory_line(ax, hh, hh, r"$H$ (no strategy does better)")
    ax.plot(Hs, Ls, "o-", color=plotting.color("huffman"), label="Huffman (optimal)")
    ax.plot(Hs, Bs, "s--", color=plotting.color("bisection"), label="binary search on 0..K")
    for rate, h, l_ in zip(r.rates["rate"], Hs, Ls, strict=True):
        ax.annotate(rf"$\lambda$ = {rate:g}", (h, l_), textcoords="offset points",
                    xytext=(6, -14), fontsize=9)
    ax.set_xlabel(r"entropy $H$ of Poisson($\lambda$), bits")
    ax.set_ylabel("average number of questions")
    ax.legend(loc="upper left")
    return fig


def entropy_families(cfg: Config, r: Results):
    """Entropy peaks at the fair coin among Bernoulli pmfs, grows like (1/2) log2(2 pi e lambda)
    for Poisson, and no random pmf on n outcomes reaches the uniform pmf's log2 n."""
    f, e = r.families, r.extremes
    ps, lam = f["p"], f["rate"]
    fig, (a1, a2, a3) = plotting.figure(
        r"Entropy is largest for a fair coin and for the uniform pmf, and grows like "
        r"$\frac{1}{2}\log_2(2\pi e\lambda)$ for Poisson", ncols=3, height=4.2)
    a1.plot(ps, f["bernoulli_nats"] / np.log(2), color=plotting.color("entropy"),
            label="entr, JAX")
    a1.plot(ps[::10], scipy.stats.bernoulli(ps[::10]).entropy() / np.log(2), "ko",
            markersize=4, label="scipy.stats")
    a1.set_xlabel(r"$p$ = P(heads)")
    a1.set_ylabel(r"$H$(Bernoulli($p$)), bits")
    a1.legend(loc="lower center")
    a2.plot(lam, f["poisson_nats"] / np.log(2), color=plotting.color("entropy"),
            label="entr, JAX")
    a2.plot(lam[::3], scipy.stats.poisson(lam[::3]).entropy() / np.log(2), "ko", markersize=4,
            label="scipy.stats")
    plotting.theory_line(ax=a2, x=lam, y=0.5 * np.log2(2 * np.pi * np.e * lam),
                         label=r"$\frac{1}{2}\log_2(2\pi e\lambda)$")
    a2.set_xscale("log")
    a2.set_xlabel(r"rate $\lambda$ (log scale)")
    a2.set_ylabel(r"$H$(Poisson($\lambda$)), bits")
    a2.legend(loc="upper left")
    n = cfg.support
    hr = e["random_pmf_entropies"] / np.log(2)
    a3.hist(hr, bins=40, color=plotting.color("entropy"), alpha=0.7,
            label=f"{hr.size:,} random pmfs")
    a3.axvline(np.log2(n), label=rf"uniform: $\log_2 {n}$ = {np.log2(n):g} bits",
               **plotting.THEORY_STYLE)
    a3.set_xlabel(f"entropy of a pmf on {n} outcomes, bits")
    a3.set_ylabel("number of pmfs")
    a3.legend(loc="upper left")
    return fig


FIGURES = (poisson_questions, questions_vs_entropy, entropy_families)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the random pmfs,
    num_random_pmfs x support (Dirichlet draws, normalised, their entropies: about three
    arrays of it); the games, num_games hidden numbers and question counts (int32 on the
    device, int64 and float64 on the host: about 40 bytes a game)."""
    import math

    from mathml_jax import budget as b

    pmfs = cfg.num_random_pmfs * cfg.support
    return b.estimate(
        b.Part(3 * pmfs * target.itemsize, ("entropy.num_random_pmfs", "entropy.support"),
               "num_random_pmfs random pmfs on support outcomes"),
        b.Part(40 * cfg.num_games, ("entropy.num_games",), "the games' numbers and questions"),
        seconds=pmfs * 4 * b.S_PER_DRAW
        + cfg.num_games * (math.log2(cfg.N) + 1) * 2 * b.S_PER_ELEMENT,
        rate=f"{1 / (4 * b.S_PER_DRAW):.2g} Dirichlet entries/s, "
             f"{1 / b.S_PER_ELEMENT:.2g} bisection steps/s",
        time_keys=("entropy.num_random_pmfs", "entropy.num_games"))
