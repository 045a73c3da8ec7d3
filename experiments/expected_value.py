"""``expected_value``: the die game's exact expectation against play; E[g(X)] by quadrature.

1. The roadmap's game: roll a fair die, win ``win`` on 1 or 2, lose ``lose`` otherwise. The
   exact expected value sums payoff x probability over the six faces ((2 win - 4 lose)/6,
   i.e. -33.33 with the stated 300/200); many rounds averaged by Monte Carlo approach it, and
   one player's running average drifts to it.
2. The probability of being ahead after n rounds (exactly P(Binomial(n, 1/3) >
   lose n / (win + lose))) falls to zero when the expectation is negative, below Hoeffding's
   bound exp(-2 n mu^2 / (win + lose)^2).
3. A continuous case: E[g(X)] as the integral of g times the density, by SciPy's adaptive
   quadrature (the reference) and by a JAX trapezoid rule, against the Monte Carlo average.

Every JAX computation is in the job's precision (``ctx.dtype``).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
import scipy.stats

from experiments._schema import param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.convergence import log_spaced_counts
from mathml_jax.probability import (
    binomial_two_sided_tail,
    die_game_payoffs,
    die_game_winnings,
    exact_expectation,
    monte_carlo_values,
    trapezoid_expectation,
)
from mathml_jax.runtime import RunContext
from mathml_jax.sharding import device_mesh, mc_chunks, stream_chunks

SECTION = "Probability theory / Expected value: the die game"


# Continuous distributions: a JAX sampler of (key, params, shape), the JAX density, the SciPy
# frozen distribution (the independent reference), and the interval the trapezoid rule covers.
def _normal_sample(key, params, shape):
    return params[0] + params[1] * jax.random.normal(key, shape, params.dtype)


def _exponential_sample(key, params, shape):
    return jax.random.exponential(key, shape, params.dtype) / params[0]


DISTRIBUTIONS = {
    "normal": dict(sample=_normal_sample,
                   pdf=lambda x, prm: jax.scipy.stats.norm.pdf(x, prm[0], prm[1]),
                   scipy=lambda prm: scipy.stats.norm(prm[0], prm[1]),
                   interval=lambda prm: (prm[0] - 12 * prm[1], prm[0] + 12 * prm[1])),
    "exponential": dict(sample=_exponential_sample,
                        pdf=lambda x, prm: jax.scipy.stats.expon.pdf(x, scale=1 / prm[0]),
                        scipy=lambda prm: scipy.stats.expon(scale=1 / prm[0]),
                        interval=lambda prm: (0.0, 50.0 / prm[0])),
}


def _square(x):
    return x * x


def _sqrt_abs(x):
    return jnp.sqrt(jnp.abs(x))


FUNCTIONS = {"square": (_square, "X^2"), "cos": (jnp.cos, "cos X"),
             "sqrt_abs": (_sqrt_abs, "sqrt|X|")}
#: the same names in mathtext, for figures
TEX = {"square": "X^2", "cos": r"\cos X", "sqrt_abs": r"\sqrt{|X|}"}
#: the same functions in NumPy, for SciPy's quadrature (the reference)
NUMPY_FUNCTIONS = {"square": np.square, "cos": np.cos, "sqrt_abs": lambda x: np.sqrt(np.abs(x))}


@dataclass
class Config:
    win: float = param(300.0, ge=0, le=1e9, help="amount won on a roll of 1 or 2")
    lose: float = param(200.0, ge=0, le=1e9, help="amount lost on a roll of 3..6")
    num_players: int = param(4000, ge=10, le=1_000_000, help="independent players")
    num_rounds: int = param(1000, ge=10, le=1_000_000, help="rounds each player plays")
    distribution: str = param("normal", choices=tuple(DISTRIBUTIONS),
                              help="the continuous random variable X")
    function: str = param("cos", choices=tuple(FUNCTIONS), help="g in E[g(X)]")
    mu: float = param(0.5, ge=-1e3, le=1e3, help="mean of the normal X")
    sigma: float = param(1.0, gt=0, le=1e3, help="standard deviation of the normal X")
    rate: float = param(1.0, gt=0, le=1e3, help="rate of the exponential X")
    num_samples: int = param(1_000_000, ge=100, le=100_000_000,
                             help="Monte Carlo draws of X")
    z: float = param(5.0, gt=0, le=20, tolerance=True,
                     help="error bound of every claim, in standard errors")

    def __post_init__(self):
        if self.num_players * self.num_rounds > 50_000_000:
            from experiments._schema import ConfigError
            raise ConfigError("expected_value.num_rounds", self.num_rounds,
                              "num_players x num_rounds winnings are held in memory; keep the "
                              "product at most 50,000,000")


def prob_ahead(n, win: float, lose: float) -> np.ndarray:
    """P(total winnings after n rounds > 0), exactly: with K ~ Binomial(n, 1/3) wins the total
    is win K - lose (n - K) > 0, i.e. K > lose n / (win + lose)."""
    n = np.asarray(n)
    if win + lose == 0:
        return np.zeros(n.shape)
    thresh = np.floor(lose * n / (win + lose) + 1e-9)
    return scipy.stats.binom.sf(thresh, n, 1 / 3)


@dataclass
class Results:
    """Everything the claims, metrics and figures need, as host arrays."""

    mu_jax: float              # E[winnings per round] summed over the faces by JAX
    final_totals: np.ndarray   # (players,) total winnings after the last round
    first_players: np.ndarray  # (<= 5, rounds) total winnings of the first players after each round
    checkpoints: np.ndarray    # (c,) rounds n where the players ahead are counted
    ahead: np.ndarray          # (c,) players with total winnings > 0 after n rounds
    quadrature: float          # E[g(X)] by SciPy's adaptive quadrature (float64)
    quadrature_error: float    # SciPy's error estimate
    quadrature_abs: float      # E|g(X)| by quadrature: the scale of the trapezoid's round-off
    trapezoid: float           # E[g(X)] by the JAX trapezoid rule
    mc_mean: float             # Monte Carlo average of g(X_i)
    mc_sd: float               # sample standard deviation of g(X_i)
    mc_samples: int            # number of draws
    running_n: np.ndarray      # (m,) n where the Monte Carlo running average is read
    running_average: np.ndarray  # (m,) its values


def game_moments(cfg: Config) -> tuple[float, float]:
    """(mean, standard deviation) of the winnings of one round, exactly (sum over faces)."""
    payoffs = np.where(np.arange(1, 7) <= 2, cfg.win, -cfg.lose).astype(np.float64)
    mu = float(np.sum(payoffs / 6)) if 2 * cfg.win != 4 * cfg.lose else 0.0
    return mu, float(np.sqrt(np.sum(payoffs**2 / 6) - mu**2))


def _params(cfg: Config) -> tuple[float, ...]:
    return (cfg.mu, cfg.sigma) if cfg.distribution == "normal" else (cfg.rate,)


def _quadrature(cfg: Config) -> tuple[float, float]:
    """E[g(X)] by SciPy's adaptive quadrature over the support, in float64 (the reference)."""
    frozen = DISTRIBUTIONS[cfg.distribution]["scipy"](_params(cfg))
    g = NUMPY_FUNCTIONS[cfg.function]
    lo, hi = frozen.support()
    val, err = scipy.integrate.quad(lambda x: g(x) * frozen.pdf(x), lo, hi, limit=500,
                                    epsabs=1e-12, epsrel=1e-12)
    return float(val), float(err)


def _quadrature_abs(cfg: Config) -> float:
    """E|g(X)| by SciPy's quadrature: a sum of terms g x density rounds off relative to the
    sum of their absolute values (cancellation in E[cos X] makes the error relatively larger)."""
    frozen = DISTRIBUTIONS[cfg.distribution]["scipy"](_params(cfg))
    g = NUMPY_FUNCTIONS[cfg.function]
    val, _ = scipy.integrate.quad(lambda x: abs(g(x)) * frozen.pdf(x), *frozen.support(),
                                  limit=500, epsrel=1e-6)
    return float(val)


def _game(cfg: Config, ctx: RunContext, key) -> dict:
    """The players' winnings, split over the devices; more than MC_CHUNK_ELEMENTS rolls stream
    in fixed chunks of players (chunk c from fold_in(key, c)), each reduced to its players'
    final totals and the count ahead at each checkpoint: memory stays one chunk's."""
    dtype, N, P = ctx.dtype, cfg.num_rounds, cfg.num_players
    win, lose = jnp.asarray(cfg.win, dtype), jnp.asarray(cfg.lose, dtype)
    mu_jax = exact_expectation(die_game_payoffs(win, lose), jnp.full(6, 1 / 6, dtype))
    cps = log_spaced_counts(N, per_decade=8)
    per, chunks = mc_chunks(P, N)
    finals, ahead, first = [], np.zeros(cps.size, np.int64), None
    for c, totals in enumerate(stream_chunks(
            ctx.timer, "die_game", die_game_winnings, key, win, lose, num_chunks=chunks,
            progress=ctx.progress, num_rounds=N, num_players=per,
            mesh=device_mesh(ctx.runtime.platform))):
        totals = np.asarray(totals[:min(per, P - c * per)], np.float64)
        first = totals[:min(5, totals.shape[0])] if first is None else first
        finals.append(totals[:, -1])
        ahead += (totals[:, cps - 1] > 0).sum(axis=0)
    return dict(mu_jax=float(mu_jax), final_totals=np.concatenate(finals),
                first_players=first, checkpoints=cps, ahead=ahead)


def _continuous(cfg: Config, ctx: RunContext, key) -> dict:
    dist = DISTRIBUTIONS[cfg.distribution]
    g, _ = FUNCTIONS[cfg.function]
    prm = jnp.asarray(_params(cfg), ctx.dtype)
    lo, hi = dist["interval"](_params(cfg))
    trap = trapezoid_expectation(g, lambda x: dist["pdf"](x, prm), jnp.asarray(lo, ctx.dtype),
                                 jnp.asarray(hi, ctx.dtype))
    vals = ctx.timed("monte_carlo", monte_carlo_values, key, prm, sampler=dist["sample"], g=g,
                     num_samples=cfg.num_samples, mesh=device_mesh(ctx.runtime.platform))
    vals = np.asarray(vals, np.float64)
    m = log_spaced_counts(vals.size, per_decade=20)
    quad, quad_err = _quadrature(cfg)
    return dict(quadrature=quad, quadrature_error=quad_err,
                quadrature_abs=_quadrature_abs(cfg), trapezoid=float(trap),
                mc_mean=float(vals.mean()), mc_sd=float(vals.std(ddof=1)),
                mc_samples=int(vals.size), running_n=m, running_average=np.cumsum(vals)[m - 1] / m)


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_game, k_cont = jax.random.split(ctx.key)
    return Results(**_game(cfg, ctx, k_game), **_continuous(cfg, ctx, k_cont))


# -------------------------------------------------------------------------------- claims

def _ahead_check(cfg: Config, r: Results):
    """(largest |z| of the players-ahead counts against the exact probability, where, the
    exact failure probability, checkpoints checked): checked where players p (1-p) >= z^2 or
    p is 0 or 1."""
    P, z = cfg.num_players, cfg.z
    exact = prob_ahead(r.checkpoints, cfg.win, cfg.lose)
    var = P * exact * (1 - exact)
    chk = (var >= z**2) | (var == 0)
    if not chk.any():
        return 0.0, "no checkpoint", 0.0, 0
    sd = np.sqrt(var[chk])
    zs = np.abs(tol.z_score(r.ahead[chk], P * exact[chk], sd))
    zmax, where = tol.worst(zs, [f"n={n}" for n in r.checkpoints[chk]])
    fail = float(min(1.0, binomial_two_sided_tail(P, exact[chk], z * sd).sum()))
    return zmax, where, fail, int(chk.sum())


def _behind_probability(cfg: Config, mu: float) -> tuple[float, str]:
    """The exact probability, after the last round, of being on the wrong side of 0 (ahead
    when mu < 0, behind or even when mu > 0): a binomial tail of the number of wins."""
    N = cfg.num_rounds
    first_ahead = int(np.floor(cfg.lose * N / (cfg.win + cfg.lose) + 1e-9)) + 1
    p_ahead = tol.binomial_tail(first_ahead, N, 1 / 3)
    return (p_ahead, "ahead") if mu < 0 else (1 - p_ahead, "behind or even")


def _game_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    mu, sd = game_moments(cfg)
    P, N, z = cfg.num_players, cfg.num_rounds, cfg.z
    summed = tol.roundoff(8, eps, scale=max(cfg.win, cfg.lose, 1.0))  # winnings in the dtype
    zmax, where, fail, n_chk = _ahead_check(cfg, r)
    lo, hi = (np.sqrt(scipy.stats.chi2.ppf(q, P - 1) / (P - 1)) for q in (1e-5, 1 - 1e-5))
    return [
        Claim.close("Monte Carlo average over all players and rounds = exact expectation",
                    r.final_totals.sum() / (P * N), mu,
                    tol.standard_errors(z, sd / np.sqrt(P * N)) + summed,
                    id="game_monte_carlo_mean", reference="closed form (2 win - 4 lose)/6",
                    detail=f"{P:,} players x {N:,} rounds; SE = sd/sqrt(n), exact sd {sd:.4g}"),
        Claim.close("one player's running average after all rounds = expectation",
                    r.first_players[0, -1] / N, mu,
                    tol.standard_errors(z, sd / np.sqrt(N)) + summed, id="one_player_average",
                    reference="closed form (2 win - 4 lose)/6", detail=f"{N:,} rounds"),
        Claim.within("spread of the total winnings over players = sd sqrt(n): sample SD of "
                     "the totals / (sd sqrt(n))", r.final_totals.std(ddof=1) / (sd * np.sqrt(N)),
                     lo, hi, id="totals_spread_sqrt_n",
                     reference="closed-form sd of one round (sum over faces); chi-square "
                               "(players - 1) 1e-5 quantiles (normal limit of the total)",
                     rule="chi-square quantiles 1e-5, 1 - 1e-5",
                     detail=f"{P:,} players after {N:,} rounds"),
        Claim.at_most("fraction of players ahead after n rounds = exact P(Binomial(n,1/3) > "
                      "lose n/(win+lose)) at every checked n (largest |z|)", zmax,
                      tol.sigmas(z), id="fraction_ahead_binomial", worst=where,
                      reference="SciPy Binomial(n, 1/3) tail (exact)",
                      detail=f"{n_chk} checkpoints where players p(1-p) >= z^2 or p in {{0,1}}; "
                             f"exact failure probability of a correct sampler <= {fail:.1e}"),
    ]


def hoeffding(cfg: Config, n) -> np.ndarray:
    """Hoeffding's bound exp(-2 n mu^2 / (win + lose)^2) on the probability of being on the
    wrong side of 0 after n rounds (each payoff lies in [-lose, win])."""
    mu, _ = game_moments(cfg)
    return np.exp(-2 * np.asarray(n, np.float64) * mu**2 / (cfg.win + cfg.lose) ** 2)


def _describe(cfg: Config) -> str:
    dist = (f"Normal({cfg.mu:g}, {cfg.sigma:g}^2)" if cfg.distribution == "normal"
            else f"Exponential(rate {cfg.rate:g})")
    return f"E[{FUNCTIONS[cfg.function][1]}], X ~ {dist}"


def _describe_tex(cfg: Config) -> str:
    dist = (rf"\mathcal{{N}}({cfg.mu:g}, {cfg.sigma:g}^2)" if cfg.distribution == "normal"
            else rf"\mathrm{{Exponential}}({cfg.rate:g})")
    return rf"$E[{TEX[cfg.function]}]$ for $X \sim {dist}$"


#: points of the JAX trapezoid rule (mathml_jax.probability.trapezoid_expectation's default)
TRAPEZOID_POINTS = 20_001
#: |zeta(-1/2)|: the h^(3/2) error coefficient of the trapezoid rule at a square-root point
ZETA_HALF = 0.2078862250


def _end_derivatives(F, x0: float, w: float) -> tuple[float, float]:
    """(first, third) derivative of F at x0 from a degree-6 polynomial through F on
    [x0, x0 + w] (w < 0: to the left), in float64; one-sided, so a density that starts at x0
    is fine."""
    t = np.linspace(0.0, 1.0, 25)
    c = np.polynomial.polynomial.polyfit(t, F(x0 + w * t), 6)
    return float(c[1] / w), float(6 * c[3] / w**3)


def trapezoid_error_bound(cfg: Config, num_points: int = TRAPEZOID_POINTS) -> float:
    """The leading error terms of the trapezoid rule on [lo, hi] with step h (Euler-Maclaurin):
    h^2/12 |F'(hi) - F'(lo)| + h^4/720 |F'''(hi) - F'''(lo)| for F = g x density, plus
    |zeta(-1/2)| h^(3/2) f(0) per side of the square-root point of sqrt|X| (Navot's
    expansion; the derivative terms of an end at that point are left out). NumPy float64."""
    prm = _params(cfg)
    frozen = DISTRIBUTIONS[cfg.distribution]["scipy"](prm)
    g = NUMPY_FUNCTIONS[cfg.function]
    lo, hi = DISTRIBUTIONS[cfg.distribution]["interval"](prm)
    h, w = (hi - lo) / (num_points - 1), (hi - lo) / 1000

    def F(x):
        return g(x) * frozen.pdf(x)

    root = cfg.function == "sqrt_abs" and lo <= 0 <= hi
    ends = [(x, s) for x, s in ((lo, w), (hi, -w)) if not (root and x == 0)]
    d1, d3 = 0.0, 0.0
    for x, s in ends:  # F(hi) - F(lo) of each derivative
        a1, a3 = _end_derivatives(F, x, s)
        d1, d3 = d1 + (a1 if s < 0 else -a1), d3 + (a3 if s < 0 else -a3)
    est = h**2 / 12 * abs(d1) + h**4 / 720 * abs(d3)
    if root:
        est += ZETA_HALF * h**1.5 * float(frozen.pdf(0.0)) * (1 if 0 in (lo, hi) else 2)
    return est


def _continuous_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    quad = r.quadrature
    bound = trapezoid_error_bound(cfg)
    trap_tol = (tol.absolute(2 * bound, "2 x the trapezoid rule's leading error terms "
                                        "(Euler-Maclaurin, h^(3/2) at a square root)")
                + tol.roundoff(8, eps, scale=r.quadrature_abs))
    se = r.mc_sd / np.sqrt(r.mc_samples)
    return [
        Claim.close("E[g(X)]: JAX trapezoid rule = SciPy adaptive quadrature, within the "
                    "trapezoid rule's own error", r.trapezoid, quad, trap_tol,
                    id="trapezoid_equals_quadrature",
                    reference="SciPy adaptive quadrature (quad) in float64",
                    detail=f"{_describe(cfg)}; {TRAPEZOID_POINTS:,} points, leading error "
                           f"terms {bound:.2g}"),
        Claim.close("E[g(X)]: Monte Carlo average = quadrature", r.mc_mean, quad,
                    tol.standard_errors(cfg.z, se), id="monte_carlo_equals_quadrature",
                    reference="SciPy adaptive quadrature (quad) in float64",
                    detail=f"{_describe(cfg)}; {r.mc_samples:,} draws, sample SE"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    return _game_claims(cfg, r, ctx.eps) + _continuous_claims(cfg, r, ctx.eps)


def metrics(cfg: Config, r: Results) -> dict:
    mu, sd = game_moments(cfg)
    out = {"expected_value": mu, "expected_value_jax_sum": r.mu_jax, "sd_per_round": sd,
           "monte_carlo_mean": float(r.final_totals.sum() / (cfg.num_players * cfg.num_rounds))}
    if mu != 0:
        out["p_ahead_final"] = float(prob_ahead(r.checkpoints[-1], cfg.win, cfg.lose))
        out["hoeffding_bound_final"] = float(hoeffding(cfg, cfg.num_rounds))
        out["p_wrong_side_final"] = _behind_probability(cfg, mu)[0]
    out.update(continuous_quadrature=r.quadrature, continuous_monte_carlo=r.mc_mean,
               continuous_trapezoid=r.trapezoid, trapezoid_error_bound=trapezoid_error_bound(cfg),
               continuous_standard_error=r.mc_sd / np.sqrt(r.mc_samples))
    return out


KEY_METRICS = ("expected_value", "monte_carlo_mean", "p_ahead_final", "continuous_quadrature")


# ------------------------------------------------------------------------------- figures

def _running_panel(ax, cfg: Config, r: Results, mu: float, sd: float) -> None:
    n = np.arange(1, cfg.num_rounds + 1)
    cols = plotting.ordered_colors(len(r.first_players))
    for i, totals in enumerate(r.first_players):
        ax.plot(n, totals / n, linewidth=1, alpha=0.9, color=cols[i],
                label=f"running average of {len(cols)} players" if i == 0 else None)
    plotting.se_envelope(ax, n, mu, sd / np.sqrt(n),
                         rf"$E \pm {plotting.SE_BAND}\,\mathrm{{sd}}/\sqrt{{n}}$")
    ax.axhline(mu, **plotting.THEORY_STYLE,
               label=rf"exact $E = (2 \cdot {cfg.win:g} - 4 \cdot {cfg.lose:g})/6 = {mu:.2f}$")
    ax.set_xscale("log")
    ax.set_ylim(-cfg.lose * 1.05, cfg.win * 1.05)
    ax.set_xlabel("rounds played n (log scale)")
    ax.set_ylabel("average winnings per round")
    ax.set_title("one player's average drifts to E")


def die_game(cfg: Config, r: Results):
    """Players' running average winnings in the die game settle at the exact expected value,
    payoff times probability summed over the faces, and the fraction ahead follows the exact
    binomial tail."""
    mu, sd = game_moments(cfg)
    fig, (ax1, ax2) = plotting.figure(
        f"Win {cfg.win:g} on a 1 or 2, lose {cfg.lose:g} on 3 to 6: the expected winnings "
        f"are {mu:+.2f} per round, and play converges to them", ncols=2, width=5, height=4.4)
    _running_panel(ax1, cfg, r, mu, sd)
    cps = r.checkpoints
    ax2.plot(cps, r.ahead / cfg.num_players, "o", color=plotting.color("die"),
             label=f"fraction of {cfg.num_players:,} players ahead")
    plotting.theory_line(ax2, cps, prob_ahead(cps, cfg.win, cfg.lose),
                         "exact P(ahead), binomial tail")
    if mu != 0:
        ax2.plot(cps, np.minimum(hoeffding(cfg, cps), 1), color="black", linestyle=":",
                 label="Hoeffding bound " + ("on P(ahead)" if mu < 0 else "on P(behind)"))
    ax2.set_xscale("log")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel("rounds played n (log scale)")
    ax2.set_ylabel("P(total winnings > 0)")
    ax2.set_title("the chance of being ahead")
    handles = [h for a in (ax1, ax2) for h in zip(*a.get_legend_handles_labels(), strict=True)]
    fig.legend(*zip(*handles, strict=True), loc="outside lower center", ncols=2)
    return fig


def continuous(cfg: Config, r: Results):
    """The Monte Carlo average of g(X) converges to E[g(X)], the integral of g times the density
    found by quadrature, its spread narrowing like 1/sqrt(n) as the draws n grow."""
    quad, sd_g, m = r.quadrature, r.mc_sd, r.running_n
    fig, ax = plotting.figure("The Monte Carlo average converges to the integral of g times "
                              f"the density, {_describe_tex(cfg)}", width=7.5, height=4.6)
    ax.plot(m, r.running_average, color=plotting.color("monte carlo"),
            label="Monte Carlo running average")
    plotting.se_envelope(ax, m, quad, sd_g / np.sqrt(m),
                         rf"$\pm {plotting.SE_BAND}\,\mathrm{{sd}}/\sqrt{{n}}$")
    ax.axhline(quad, **plotting.THEORY_STYLE,
               label=f"integral: SciPy quadrature {quad:.6f}, JAX trapezoid {r.trapezoid:.6f}")
    ax.set_xscale("log")
    ax.set_ylim(quad - 4 * sd_g, quad + 4 * sd_g)
    ax.set_xlabel("number of draws n (log scale)")
    ax.set_ylabel(f"average of ${TEX[cfg.function]}$")
    ax.legend(loc="upper right")
    return fig


FIGURES = (die_game, continuous)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the die game is a
    Monte Carlo batch of num_players x num_rounds rolls (it streams over players: one chunk of
    faces, payoffs and running totals, plus each player's totals at the checkpoints); the
    continuous Monte Carlo keeps its num_samples values (device dtype and float64 on the host,
    with their running means: measured 266 MB for 1e7 samples in float32)."""
    import math

    from mathml_jax import budget as b

    games = cfg.num_players * cfg.num_rounds
    checkpoints = 8 * (math.log10(cfg.num_rounds) + 1)
    return b.estimate(
        b.Part(b.streamed(games * (4 + target.itemsize + 8))
               + cfg.num_players * (checkpoints + 2) * 8,
               ("expected_value.num_players", "expected_value.num_rounds"),
               "one chunk of players' rolls and running totals, and every player's checkpoints"),
        b.Part(cfg.num_samples * (target.itemsize + 3 * 8), ("expected_value.num_samples",),
               "num_samples values of g(X) and their running means"),
        seconds=(games + cfg.num_samples) * b.S_PER_DRAW,
        rate=f"{1 / b.S_PER_DRAW:.2g} random draws/s",
        time_keys=("expected_value.num_rounds", "expected_value.num_players",
                   "expected_value.num_samples"), streams=True)
