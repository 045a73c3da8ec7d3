"""The ``entropy`` experiment and its kernels, against independent references."""

from __future__ import annotations

import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from conftest import assert_all_claims_pass, assert_mutations_catch

import experiments.entropy as entropy_experiment
from experiments.entropy import truncated_poisson
from mathml_jax import series
from mathml_jax.information import (
    binary_search_questions,
    differential_entropy,
    entropy,
    huffman_code_lengths,
    play_poisson_games,
)


def test_entropy_matches_scipy_and_handles_zeros():
    with jax.enable_x64(True):
        p = np.array([0.5, 0.25, 0.125, 0.125, 0.0])
        assert abs(float(entropy(jnp.asarray(p), base=2.0)) - 1.75) < 1e-15
        assert abs(float(entropy(jnp.asarray(p))) - scipy.stats.entropy(p)) < 1e-15
        assert abs(float(entropy(jnp.asarray(p), base=10.0))
                   - scipy.stats.entropy(p, base=10)) < 1e-15
        assert float(entropy(jnp.array([0.0, 1.0, 0.0]))) == 0.0
        rows = np.random.default_rng(0).dirichlet(np.ones(6), size=5)
        np.testing.assert_allclose(np.asarray(entropy(jnp.asarray(rows))),
                                   scipy.stats.entropy(rows, axis=1), rtol=1e-13)


def test_huffman_is_optimal_by_brute_force_enumeration():
    """Over every length vector satisfying Kraft's inequality (lengths 1..n-1), the Huffman
    lengths attain the smallest expected length."""
    rng = np.random.default_rng(1)
    for _ in range(5):
        p = rng.dirichlet(np.ones(5))
        lengths = huffman_code_lengths(p)
        assert abs(np.sum(2.0 ** -lengths) - 1.0) < 1e-12  # complete prefix code
        best = min(p @ np.array(ls) for ls in itertools.product(range(1, 5), repeat=5)
                   if np.sum(2.0 ** -np.array(ls)) <= 1.0)
        assert abs(p @ lengths - best) < 1e-12
        h = scipy.stats.entropy(p, base=2)
        assert h <= p @ lengths < h + 1


def test_huffman_of_dyadic_pmf_equals_entropy():
    p = np.array([0.5, 0.25, 0.125, 0.0625, 0.0625])
    assert list(huffman_code_lengths(p)) == [1, 2, 3, 4, 4]
    assert list(huffman_code_lengths(np.array([1.0]))) == [0]


def test_binary_search_counts_against_a_python_bisection():
    def questions(x, lo, hi):
        q = 0
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if x <= mid else (mid + 1, hi)
            q += 1
        return q

    x = np.arange(1, 101)
    got = np.asarray(binary_search_questions(jnp.asarray(x), 1, 100))
    assert list(got) == [questions(int(v), 1, 100) for v in x]
    assert set(np.asarray(binary_search_questions(jnp.arange(1, 1025), 1, 1024))) == {10}


def test_poisson_games_draw_the_poisson_pmf():
    """Empirical frequencies of the hidden number against the truncated pmf: chi-square at the
    0.9999 quantile (failure probability 1e-4 for a correct sampler)."""
    pmf = truncated_poisson(4.0, 1e-12)
    lengths = jnp.asarray(huffman_code_lengths(pmf), jnp.int32)
    x, qh, qb = play_poisson_games(jax.random.key(2), 4.0, lengths, num_games=50_000)
    hist = np.bincount(np.asarray(x), minlength=pmf.size)
    exp = 50_000 * pmf
    keep = exp >= 5
    obs = np.append(hist[keep], hist[~keep].sum())
    e = np.append(exp[keep], exp[~keep].sum())
    assert np.sum((obs - e) ** 2 / e) < scipy.stats.chi2.ppf(0.9999, obs.size - 1)
    assert np.array_equal(np.asarray(qh), np.asarray(lengths)[np.asarray(x)])


def test_truncated_poisson_sums_to_one_and_tail_is_small():
    p = truncated_poisson(10.0, 1e-12)
    assert abs(p.sum() - 1) < 1e-12 and p[-1] < 1e-11


@pytest.mark.parametrize("sigma", [0.5, 3.0])
def test_differential_entropy_of_gaussian_matches_scipy(sigma):
    with jax.enable_x64(True):
        h = float(differential_entropy(lambda x: jax.scipy.stats.norm.pdf(x, 0.0, sigma),
                                       -15 * sigma, 15 * sigma))
        assert abs(h - scipy.stats.norm(scale=sigma).entropy()) < 1e-8


def test_entropy_does_not_recompile_for_a_new_base():
    p = jnp.full(8, 1 / 8)
    entropy(p, base=2.0)
    before = entropy._cache_size()
    assert abs(float(entropy(p, base=8.0)) - 1.0) < 1e-6
    assert entropy._cache_size() == before


def test_entropy_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("entropy", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    rec = json.loads((job / "metrics.json").read_text())
    assert rec["metrics"]["binary_search_questions_uniform"] == 10
    for name in ("poisson_questions", "questions_vs_entropy", "entropy_families"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    ids = {c["id"] for c in rec["claims"]}
    assert {"uniform_entropy", "binary_search_ceil_log2", "binary_search_power_of_two_exact",
            "poisson_huffman_at_least_entropy", "simulated_huffman_average",
            "families_match_scipy", "bases_match_scipy",
            "gaussian_differential_entropy"} <= ids
    assert not {"uniform_is_maximum", "base_change"} & ids  # could not fail: metrics now
    assert abs(rec["metrics"]["nats_per_bit"] - np.log(2)) < 1e-5
    saved = series.load(job / "series.npz", entropy_experiment.Results)
    assert np.array_equal(saved.poisson["huffman_questions"],
                          report.results.poisson["huffman_questions"])
    _assert_mutations(report)


def _set(path, f):
    """A mutation: results.<section>[key] = f(old value)."""
    section, key = path.split(".")

    def mutate(r):
        d = getattr(r, section)
        d[key] = f(d[key])
    return mutate


def _assert_mutations(report):
    p = report.results.poisson
    se_bis = np.sqrt(p["pmf"] @ (p["binary_search_questions"]
                                 - p["pmf"] @ p["binary_search_questions"]) ** 2 / 20_000)

    def shorter_codes(r):  # Huffman lengths one shorter: L < H, the coding theorem broken
        r.poisson["huffman_questions"] = np.maximum(r.poisson["huffman_questions"] - 1, 0)
        r.rates["huffman"] = r.rates["huffman"] - 0.5
    assert_mutations_catch(report, {
        "binary search one question more": (
            _set("uniform.questions", lambda q: q + 1),
            {"binary_search_ceil_log2", "binary_search_power_of_two_exact"}),
        "uniform entropy 0.1% high": (_set("uniform.entropy_bits", lambda h: h * 1.001),
                                      {"uniform_entropy"}),
        "Huffman codes one question shorter": (
            shorter_codes, {"poisson_huffman_at_least_entropy", "simulated_huffman_average",
                            "rates_huffman_at_least_entropy"}),
        "Huffman codes one question longer": (
            _set("poisson.huffman_questions", lambda q: q + 1),
            {"poisson_huffman_within_one_of_entropy", "simulated_huffman_average"}),
        "rates: Huffman averages one question longer": (
            _set("rates.huffman", lambda x: x + 1.0), {"rates_huffman_within_one_of_entropy"}),
        "binary search on 0..K two questions shorter": (
            _set("poisson.binary_search_questions", lambda q: q - 2),
            {"huffman_beats_bisection", "simulated_bisection_average"}),
        "simulated binary search biased by 6 SE": (
            _set("poisson.bisection_mean", lambda m: m + 6 * se_bis),
            {"simulated_bisection_average"}),
        "Poisson entropies 0.01% high": (_set("families.poisson_nats", lambda h: h * 1.0001),
                                         {"families_match_scipy"}),
        "Bernoulli entropies 0.01% high": (_set("families.bernoulli_nats",
                                                lambda h: h * 1.0001),
                                           {"families_match_scipy", "fair_coin_one_bit"}),
        "uniform on n outcomes 0.01% high": (_set("extremes.uniform_nats", lambda h: h * 1.0001),
                                             {"uniform_entropy_log_n"}),
        "entr(0) = NaN": (_set("extremes.point_mass", lambda h: np.nan),
                          {"point_mass_zero_entropy"}),
        "bits computed in nats": (_set("bases.bits", lambda h: report.results.bases["nats"]),
                                  {"bases_match_scipy"}),
        "Gaussian differential entropy 1e-5 high": (
            _set("differential.gaussian", lambda h: h + 1e-5),
            {"gaussian_differential_entropy"}),
        "exponential differential entropy 1e-5 high": (
            _set("differential.exponential", lambda h: h + 1e-5),
            {"exponential_differential_entropy"}),
    })


def test_entropy_other_settings_pass(run_experiment):
    # entropy's float64 run; no figures (the end-to-end test checks them)
    status, report, _ = run_experiment("entropy", "entropy.N=1000", "entropy.rate=2.5",
                                       "seed=4", "precision=float64", figures=False)
    assert status == 0
    assert_all_claims_pass(report)
    # N = 1000 is not a power of 2: the exact-average claim is not made
    assert "binary_search_power_of_two_exact" not in {c.id for c in report.claims}
