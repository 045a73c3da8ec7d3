"""The ``coin`` experiment and its kernels, against independent references."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest
import scipy.stats
from conftest import assert_all_claims_pass, assert_mutations_catch, compose

from experiments._cli import execute
from experiments.coin import pooled_cells
from mathml_jax.convergence import log_spaced_counts
from mathml_jax.probability import (
    binomial_two_sided_tail,
    count_within_z,
    heads_counts,
    running_heads,
)


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_heads_counts_follow_the_binomial_chi_square(p):
    """Pearson chi-square against scipy's binomial pmf; the statistic is compared with the
    0.9999 quantile of chi2(cells - 1), so a correct sampler fails with probability ~1e-4."""
    n, R = 10, 50_000
    counts = np.asarray(heads_counts(jax.random.key(11), p, num_tosses=n, num_repetitions=R))
    assert counts.shape == (R,) and counts.min() >= 0 and counts.max() <= n
    hist = np.bincount(counts, minlength=n + 1)
    expected = R * scipy.stats.binom.pmf(np.arange(n + 1), n, p)
    keep = expected >= 5
    obs = np.append(hist[keep], hist[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    chi2 = np.sum((obs - exp) ** 2 / np.maximum(exp, 1e-300))
    assert chi2 < scipy.stats.chi2.ppf(0.9999, obs.size - 1)


def test_five_heads_in_ten_fair_tosses_closed_form():
    from math import comb
    assert abs(scipy.stats.binom.pmf(5, 10, 0.5) - comb(10, 5) / 2**10) < 1e-15
    assert 0.24 < comb(10, 5) / 2**10 < 0.25  # "about a quarter of the time"


def test_running_heads_is_a_cumulative_count_and_exact_at_p_0_and_1():
    r = np.asarray(running_heads(jax.random.key(0), 0.3, num_tosses=1000, num_paths=3))
    steps = np.diff(r, axis=1)
    assert r.shape == (3, 1000) and set(np.unique(steps)) <= {0, 1} and r[:, 0].max() <= 1
    assert np.all(np.asarray(running_heads(jax.random.key(1), 0.0, num_tosses=50,
                                           num_paths=2)) == 0)
    assert np.all(np.asarray(running_heads(jax.random.key(1), 1.0, num_tosses=50,
                                           num_paths=2)) == np.arange(1, 51))
    # paths are independent: different keys inside, so not all equal
    assert not np.array_equal(r[0], r[1])


def test_new_p_does_not_recompile():
    heads_counts(jax.random.key(0), 0.5, num_tosses=10, num_repetitions=100)
    before = heads_counts._cache_size()
    heads_counts(jax.random.key(0), 0.3, num_tosses=10, num_repetitions=100)
    assert heads_counts._cache_size() == before


def test_binomial_tail_against_brute_force_enumeration():
    n, p, h = 12, 0.3, 2.5
    ks = np.arange(n + 1)
    brute = scipy.stats.binom.pmf(ks, n, p)[np.abs(ks - n * p) > h].sum()
    assert abs(float(binomial_two_sided_tail(n, p, h)) - brute) < 1e-14
    assert float(binomial_two_sided_tail(10, 0.0, 0.0)) == 0.0


def test_count_within_z_and_pooling():
    zmax, ok, fail = count_within_z([50, 61], 100, 0.5, 2.0)
    assert ok is False and abs(zmax - 2.2) < 1e-12
    assert fail > 0.04  # two 2-sigma checks: about 2 x 4.5%
    labels, counts, probs = pooled_cells(np.array([5, 90, 5]), np.array([0.001, 0.998, 0.001]),
                                         100, 5.0)
    assert labels == [] or counts.sum() <= 100
    cps = log_spaced_counts(100, per_decade=6)
    assert list(cps) == sorted(set(cps))
    assert cps[0] == 1 and cps[-1] == 100


def test_coin_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("coin", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    rec = json.loads((job / "metrics.json").read_text())
    assert rec["status"] == "ok" and rec["claims_passed"] == rec["claims_total"] == 4
    for name in ("pmf", "frequency"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert_mutations_catch(report, _coin_mutations(report.config))


def _coin_mutations(cfg) -> dict:
    """Perturbations of the results of a run, each failing the claims that should catch it."""
    R = cfg.repetitions
    pmf = scipy.stats.binom.pmf(np.arange(cfg.num_tosses + 1), cfg.num_tosses, cfg.p)
    sd = np.sqrt(R * pmf * (1 - pmf))  # SE of each cell's count
    mode = int(np.argmax(pmf))

    def mode_excess(r):  # the most likely count 6 SE too frequent
        r.hist[mode] += int(6 * sd[mode])

    def tail_excess(r):  # no heads at all 8 SE of the pooled rare cell too often
        rest = pmf[0] + pmf[-1]
        r.hist[0] += int(8 * np.sqrt(R * rest * (1 - rest)))

    def spread_bias(r):  # every common cell 3 SE off, signs alternating: no cell beyond
        k = np.flatnonzero(R * pmf * (1 - pmf) >= cfg.z**2)  # 5 SE, jointly far off
        r.hist[k] += (3 * sd[k] * (-1) ** k).astype(np.int64)

    def drift(r):  # path 1 ends 6 SE above p
        n = r.checkpoints[-1]
        r.checkpoint_heads[0, -1] = int(n * cfg.p + 6 * np.sqrt(n * cfg.p * (1 - cfg.p)))

    return {"mode 6 SE too frequent": (mode_excess, {"pmf_is_binomial", "mode_probability"}),
            "no heads 8 SE too often": (tail_excess, {"pmf_is_binomial", "pmf_chi_square"}),
            "3 SE bias in every cell": (spread_bias, {"pmf_chi_square"}),
            "frequency drifts off p": (drift, {"frequency_settles_at_p"})}


@pytest.mark.parametrize("overrides", [("coin.p=0.1", "seed=3", "precision=float64"),
                                       ("coin.p=1", "seed=1"), ("coin.p=0.97", "seed=2")])
def test_biased_coins_pass(run_experiment, overrides):
    # no figures: the end-to-end test checks them; the first is also coin's float64 run
    status, report, _ = run_experiment("coin", *overrides, figures=False)
    assert status == 0
    assert_all_claims_pass(report)


@pytest.mark.parametrize("bad", ["coin.p=1.5", "coin.p=-0.1"])
def test_p_outside_unit_interval_is_a_config_error(tmp_path, capsys, bad):
    status, report = execute(compose("experiment=coin", "profile=fast", bad), "coin",
                             tmp_path / "job")
    assert status == 2 and report is None
    assert "coin.p" in capsys.readouterr().err
