"""``expected_value``: the die game, and E[g(X)] for a continuous random variable.

The roadmap's game: roll a fair die, win ``win`` on 1 or 2, lose ``lose`` otherwise. The
exact expected value sums payoff x probability over the six faces ((2 win - 4 lose)/6, i.e.
-33.33 with the stated 300/200); many rounds averaged by Monte Carlo approach it, one player's
running average drifts to it, and the probability of being ahead after n rounds (exactly
P(Binomial(n, 1/3) > lose n / (win + lose))) falls to zero when the expectation is negative,
below Hoeffding's bound exp(-2 n mu^2 / (win + lose)^2).

A continuous case: E[g(X)] as the integral of g times the density, by SciPy's adaptive
quadrature (the reference) and by a JAX trapezoid rule, against the Monte Carlo average.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.integrate
import scipy.stats

from experiments._schema import param
from mathml_jax import Claim, Report, plotting
from mathml_jax.convergence import log_spaced_counts
from mathml_jax.probability import (
    count_within_z,
    die_game_payoffs,
    die_game_winnings,
    exact_expectation,
    monte_carlo_values,
    trapezoid_expectation,
)
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Probability theory / Expected value: the die game"


# Continuous distributions: a JAX sampler of (key, params, shape), the JAX density, the SciPy
# frozen distribution (the independent reference), and the interval the trapezoid rule covers.
def _normal_sample(key, params, shape):
    return params[0] + params[1] * jax.random.normal(key, shape)


def _exponential_sample(key, params, shape):
    return jax.random.exponential(key, shape) / params[0]


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
    z: float = param(5.0, gt=0, le=20, help="error bound of every claim, in standard errors")

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


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("expected_value", section=SECTION)
    dtype = ctx.dtype
    k_game, k_cont = jax.random.split(ctx.key)
    z = cfg.z

    # -- 1. the die game: exact expectation by summing over the six faces (float64 NumPy)
    payoffs = np.where(np.arange(1, 7) <= 2, cfg.win, -cfg.lose).astype(np.float64)
    mu = (2 * cfg.win - 4 * cfg.lose) / 6  # payoff x probability, summed over faces
    mu = float(np.sum(payoffs / 6)) if mu != 0 else 0.0
    sd = float(np.sqrt(np.sum(payoffs**2 / 6) - mu**2))
    mu_jax = float(exact_expectation(die_game_payoffs(jnp.asarray(cfg.win, dtype),
                                                      jnp.asarray(cfg.lose, dtype)),
                                     jnp.full(6, 1 / 6, dtype)))
    report.claim(Claim.close(
        "E[winnings per round] = sum over faces of payoff x 1/6 = (2 win - 4 lose)/6",
        mu_jax, (2 * cfg.win - 4 * cfg.lose) / 6,
        tol=1e-5 * max(cfg.win, cfg.lose, 1.0), detail="JAX sum over outcomes vs closed form"))
    report.metric("expected_value", mu, key=True)
    report.metric("sd_per_round", sd)

    P, N = cfg.num_players, cfg.num_rounds
    totals, t = timed(die_game_winnings, k_game, jnp.asarray(cfg.win, dtype),
                      jnp.asarray(cfg.lose, dtype), num_rounds=N, num_players=P)
    report.add_timing("die_game", t)
    totals = np.asarray(totals, np.float64)
    mc_mean = totals[:, -1].sum() / (P * N)
    se_all = sd / np.sqrt(P * N)
    report.claim(Claim.close(
        f"Monte Carlo average over {P:,} players x {N:,} rounds = exact expectation",
        mc_mean, mu, tol=z * se_all + 1e-6 * max(cfg.win, cfg.lose),
        detail=f"{z:g} SE, SE = sd/sqrt(n) with the exact sd {sd:.4g}"))
    report.metric("monte_carlo_mean", mc_mean, key=True)
    one = totals[0] / np.arange(1, N + 1)
    report.claim(Claim.close(
        f"one player's running average after {N:,} rounds = expectation",
        one[-1], mu, tol=z * sd / np.sqrt(N) + 1e-6 * max(cfg.win, cfg.lose),
        detail=f"{z:g} SE"))

    cps = log_spaced_counts(N, per_decade=8)
    ahead = (totals[:, cps - 1] > 0).sum(axis=0)
    exact_ahead = prob_ahead(cps, cfg.win, cfg.lose)
    var = P * exact_ahead * (1 - exact_ahead)
    chk = (var >= z**2) | (var == 0)
    zmax, ok, fail = count_within_z(ahead[chk], P, exact_ahead[chk], z)
    report.claim(Claim.holds(
        f"fraction of players ahead after n rounds = exact P(Binomial(n,1/3) > lose n/(win+lose))"
        f" at {int(chk.sum())} checkpoints (largest |z|)", ok, measured=zmax,
        detail=f"{z:g} SE where P n_players p(1-p) >= z^2 or p in {{0,1}}; exact failure "
               f"probability of a correct sampler <= {fail:.1e}"))
    if mu != 0:
        # Hoeffding: each payoff lies in [-lose, win], so P(S_n - n mu >= t) <= e^{-2t^2/(n r^2)}
        hoeff = np.exp(-2 * N * mu**2 / (cfg.win + cfg.lose) ** 2)
        worse = exact_ahead[-1] if mu < 0 else 1 - exact_ahead[-1]
        side = "ahead" if mu < 0 else "behind or even"
        report.claim(Claim.at_most(
            f"expectation {mu:+.4g} per round: P({side} after {N:,} rounds) (exact) is below "
            "Hoeffding's bound exp(-2 n mu^2/(win+lose)^2), which falls to 0 as n grows",
            worse, hoeff, detail="exact binomial tail vs the bound"))
        report.metric("p_ahead_final", float(exact_ahead[-1]), key=True)
        report.metric("hoeffding_bound_final", float(hoeff))
    report.add_series("game", n=cps, fraction_ahead=ahead / P, exact_prob_ahead=exact_ahead,
                      one_player_running_average=one[cps - 1])

    # -- 2. a continuous random variable: E[g(X)] by quadrature and by Monte Carlo
    dist = DISTRIBUTIONS[cfg.distribution]
    g, g_name = FUNCTIONS[cfg.function]
    prm64 = (cfg.mu, cfg.sigma) if cfg.distribution == "normal" else (cfg.rate,)
    frozen = dist["scipy"](prm64)
    lo_s, hi_s = frozen.support()
    g_np = {"square": np.square, "cos": np.cos, "sqrt_abs": lambda x: np.sqrt(np.abs(x))}[
        cfg.function]
    quad, quad_err = scipy.integrate.quad(lambda x: g_np(x) * frozen.pdf(x), lo_s, hi_s,
                                          limit=500, epsabs=1e-12, epsrel=1e-12,
                                          points=None)
    prm = jnp.asarray(prm64, dtype)
    lo, hi = dist["interval"](prm64)
    trap = float(trapezoid_expectation(g, lambda x: dist["pdf"](x, prm), lo, hi))
    dist_name = (f"Normal({cfg.mu:g}, {cfg.sigma:g}^2)" if cfg.distribution == "normal"
                 else f"Exponential(rate {cfg.rate:g})")
    eps = ctx.eps
    tol_trap = max(1e-4 * abs(quad), 1e3 * eps * max(abs(quad), 1.0))
    report.claim(Claim.close(
        f"E[{g_name}], X ~ {dist_name}: JAX trapezoid rule = SciPy adaptive quadrature",
        trap, quad, tol=tol_trap, detail="20,001 points; tol 1e-4 relative"))
    vals, t = timed(monte_carlo_values, k_cont, prm, sampler=dist["sample"], g=g,
                    num_samples=cfg.num_samples)
    report.add_timing("monte_carlo", t)
    vals = np.asarray(vals, np.float64)
    mc = vals.mean()
    se = vals.std(ddof=1) / np.sqrt(vals.size)
    report.claim(Claim.close(
        f"E[{g_name}], X ~ {dist_name}: Monte Carlo average of {vals.size:,} draws = quadrature",
        mc, quad, tol=z * se, detail=f"{z:g} SE (sample standard error {se:.2e})"))
    report.metric("continuous_quadrature", quad, key=True)
    report.metric("continuous_monte_carlo", mc)
    report.metric("continuous_standard_error", se)
    m = log_spaced_counts(vals.size, per_decade=20)
    running = np.cumsum(vals)[m - 1] / m
    report.add_series("continuous", n=m, running_average=running, quadrature=np.full(m.shape, quad))

    _figures(report, cfg, mu, sd, totals, cps, ahead / P, exact_ahead, m, running, quad,
             np.sqrt(vals.var()), g_name, dist_name)
    return report


def _figures(report, cfg, mu, sd, totals, cps, frac_ahead, exact_ahead, m, running, quad,
             sd_g, g_name, dist_name):
    N = cfg.num_rounds
    n = np.arange(1, N + 1)
    fig, (ax1, ax2) = plotting.figure(
        f"Win {cfg.win:g} on 1-2, lose {cfg.lose:g} on 3-6: expected {mu:+.2f} per round",
        ncols=2, width=6)
    for i in range(min(5, totals.shape[0])):
        ax1.plot(n, totals[i] / n, linewidth=1, alpha=0.8, color=plotting.color(f"player{i}"),
                 label="running average, one player each" if i == 0 else None)
    band = cfg.z * sd / np.sqrt(n)
    ax1.fill_between(n, mu - band, mu + band, color="gray", alpha=0.2,
                     label=f"E ± {cfg.z:g} sd/sqrt(n)")
    ax1.axhline(mu, **plotting.THEORY_STYLE, label=f"exact E = {mu:.2f}")
    ax1.set_xscale("log")
    ax1.set_ylim(-cfg.lose * 1.05, cfg.win * 1.05)
    ax1.set_xlabel("rounds played n")
    ax1.set_ylabel("average winnings per round")
    ax1.legend(loc="upper right")
    ax2.plot(cps, frac_ahead, "o", color=plotting.color("sgd"),
             label=f"fraction of {totals.shape[0]:,} players ahead")
    plotting.theory_line(ax2, cps, exact_ahead, "exact P(ahead), binomial")
    if mu < 0:
        ax2.plot(cps, np.exp(-2 * cps * mu**2 / (cfg.win + cfg.lose) ** 2), ":", color="gray",
                 label="Hoeffding bound")
    ax2.set_xscale("log")
    ax2.set_ylim(-0.02, 1.02)
    ax2.set_xlabel("rounds played n")
    ax2.set_ylabel("P(total winnings > 0)")
    ax2.set_title("the chance of being ahead")
    ax2.legend()
    report.add_figure("die_game", fig)

    fig, ax = plotting.figure(f"E[{g_name}], X ~ {dist_name}: Monte Carlo converges to the "
                              "integral", width=7.5)
    ax.plot(m, running, color=plotting.color("sgd"), label="Monte Carlo running average")
    band = cfg.z * sd_g / np.sqrt(m)
    ax.fill_between(m, quad - band, quad + band, color="gray", alpha=0.2,
                    label=f"± {cfg.z:g} sd/sqrt(n)")
    ax.axhline(quad, **plotting.THEORY_STYLE, label=f"quadrature {quad:.5f}")
    ax.set_xscale("log")
    ax.set_ylim(quad - 4 * sd_g, quad + 4 * sd_g)
    ax.set_xlabel("number of draws n")
    ax.set_ylabel(f"average of {g_name}")
    ax.legend()
    report.add_figure("continuous", fig)
