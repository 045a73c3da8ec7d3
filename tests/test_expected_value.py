"""The ``expected_value`` experiment and its kernels, against independent references."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from conftest import assert_all_claims_pass, assert_mutations_catch

from experiments.expected_value import DISTRIBUTIONS, FUNCTIONS, prob_ahead
from mathml_jax.probability import (
    die_game_payoffs,
    die_game_winnings,
    exact_expectation,
    monte_carlo_values,
    trapezoid_expectation,
)


def test_exact_expectation_of_the_stated_game_is_minus_100_over_3():
    ev = exact_expectation(die_game_payoffs(300.0, 200.0), jnp.full(6, 1 / 6))
    exact = Fraction(2 * 300 - 4 * 200, 6)  # exact rational arithmetic
    assert abs(float(ev) - float(exact)) < 1e-4 and exact == Fraction(-100, 3)


def test_prob_ahead_against_brute_force_enumeration():
    """All 6^n sequences of n = 5 rolls enumerated."""
    win, lose, n = 300, 200, 5
    pay = [win, win, -lose, -lose, -lose, -lose]
    ahead = sum(sum(pay[f] for f in seq) > 0 for seq in itertools.product(range(6), repeat=n))
    assert abs(float(prob_ahead(n, win, lose)) - ahead / 6**n) < 1e-12


def test_die_faces_are_uniform_chi_square():
    """Winnings steps are +win for faces 1-2 only; the fraction of wins is 1/3 within a chi-square
    0.9999 quantile (failure probability 1e-4 for a correct sampler)."""
    w = np.asarray(die_game_winnings(jax.random.key(5), 3.0, 1.0, num_rounds=2000,
                                     num_players=100))
    steps = np.diff(w, axis=1, prepend=0)
    assert set(np.unique(steps)) <= {3.0, -1.0}
    wins = int((steps == 3.0).sum())
    n = steps.size
    chi2 = (wins - n / 3) ** 2 / (n / 3) + (n - wins - 2 * n / 3) ** 2 / (2 * n / 3)
    assert chi2 < scipy.stats.chi2.ppf(0.9999, 1)


@pytest.mark.parametrize("dist,prm,fn,closed", [
    ("normal", (0.0, 1.0), "cos", np.exp(-0.5)),            # E cos X = e^{-sigma^2/2}
    ("normal", (1.0, 2.0), "square", 1.0 + 4.0),            # E X^2 = mu^2 + sigma^2
    ("exponential", (2.0,), "square", 2 / 4),               # E X^2 = 2 / rate^2
    ("exponential", (1.0,), "sqrt_abs", np.sqrt(np.pi) / 2),  # Gamma(3/2)
])
def test_trapezoid_and_monte_carlo_against_closed_forms(dist, prm, fn, closed):
    with jax.enable_x64(True):
        d, (g, _) = DISTRIBUTIONS[dist], FUNCTIONS[fn]
        p = jnp.asarray(prm)
        trap = float(trapezoid_expectation(g, lambda x: d["pdf"](x, p), *d["interval"](prm)))
        assert abs(trap - closed) < 1e-4 * max(1, abs(closed))
        v = np.asarray(monte_carlo_values(jax.random.key(1), p, sampler=d["sample"], g=g,
                                          num_samples=200_000))
        assert abs(v.mean() - closed) < 5 * v.std() / np.sqrt(v.size)


def test_monte_carlo_values_does_not_recompile_for_new_parameters():
    d, (g, _) = DISTRIBUTIONS["normal"], FUNCTIONS["cos"]
    monte_carlo_values(jax.random.key(0), jnp.array([0.0, 1.0]), sampler=d["sample"], g=g,
                       num_samples=100)
    before = monte_carlo_values._cache_size()
    monte_carlo_values(jax.random.key(0), jnp.array([2.0, 3.0]), sampler=d["sample"], g=g,
                       num_samples=100)
    assert monte_carlo_values._cache_size() == before


def test_expected_value_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("expected_value", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    rec = json.loads((job / "metrics.json").read_text())
    assert abs(rec["metrics"]["expected_value"] + 100 / 3) < 1e-9
    for name in ("die_game", "continuous"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert_mutations_catch(report, _mutations(report.config))


def _mutations(cfg) -> dict:
    """Perturbations of the results of a run, each failing the claims that should catch it."""
    from experiments.expected_value import game_moments

    mu, sd = game_moments(cfg)
    P, N = cfg.num_players, cfg.num_rounds

    def mean_bias(r):  # every player's total 8 SE of the grand mean too high
        r.final_totals = r.final_totals + 8 * sd * np.sqrt(N / P)

    def spread(r):  # totals 1.3 times too spread out around their mean
        m = r.final_totals.mean()
        r.final_totals = m + 1.3 * (r.final_totals - m)

    def one_player(r):  # the first player 6 SE (of one player's average) too lucky
        r.first_players[0, -1] += 6 * sd * np.sqrt(N)

    def ahead(r):  # 6 SE more players ahead than the binomial tail allows
        p = prob_ahead(r.checkpoints, cfg.win, cfg.lose)
        r.ahead = r.ahead + np.round(6 * np.sqrt(P * p * (1 - p))).astype(np.int64)

    def trapezoid(r):  # the trapezoid rule off by 1e-4 relative (a grid 10 times coarser)
        r.trapezoid = r.trapezoid * (1 + 1e-4)

    def monte_carlo(r):  # the Monte Carlo average 8 SE off
        r.mc_mean = r.mc_mean + 8 * r.mc_sd / np.sqrt(r.mc_samples)

    return {"game mean biased by 8 SE": (mean_bias, {"game_monte_carlo_mean"}),
            "totals 1.3x too spread": (spread, {"totals_spread_sqrt_n"}),
            "one player 6 SE off": (one_player, {"one_player_average"}),
            "6 SE too many ahead": (ahead, {"fraction_ahead_binomial"}),
            "trapezoid off by 1e-4": (trapezoid, {"trapezoid_equals_quadrature"}),
            "Monte Carlo off by 8 SE": (monte_carlo, {"monte_carlo_equals_quadrature"})}


@pytest.mark.parametrize("overrides", [
    ("expected_value.win=500", "seed=3", "precision=float64"),
    ("expected_value.distribution=exponential", "expected_value.function=sqrt_abs", "seed=1"),
])
def test_other_games_and_variables_pass(run_experiment, overrides):
    # no figures (the end-to-end test checks them); the first is expected_value's float64 run
    status, report, _ = run_experiment("expected_value", *overrides, figures=False)
    assert status == 0
    assert_all_claims_pass(report)
