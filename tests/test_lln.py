"""The ``lln`` experiment and its kernels, against independent references."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from conftest import ROOT, assert_all_claims_pass, assert_mutations_catch

from mathml_jax.probability import (
    combine_counts,
    running_means,
    streak_win_counts,
    stream,
    stream_counts,
)
from mathml_jax.probability.streaming import PRNG_IMPLS, chunk_bits, stream_key

W = 1 << 12


def _counts(kind, chunks, last_valid, first=0, n=None, key=0):
    i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
    key = key if isinstance(key, jax.Array) else jax.random.key(key)
    parts = stream_counts(key, i32(first), i32(chunks if n is None else n),
                          i32(chunks), i32(last_valid), kind=kind, chunk_words=W)
    return combine_counts(parts)


def _reference_words(key, chunk, n=W):
    """The words of a chunk, from jax.random.bits: threefry2x32 keys in JAX's original
    (non-partitionable) layout, the one ``chunk_bits`` computes by hand."""
    with jax.threefry_partitionable(False):
        return np.asarray(jax.random.bits(jax.random.fold_in(key, chunk), (n,), jnp.uint32))


def test_chunk_bits_are_jax_random_bits_for_every_impl():
    for impl in PRNG_IMPLS:
        key = jax.random.key(5, impl=impl)
        for c in (0, 3):
            got = np.asarray(jax.jit(partial(chunk_bits, chunk_words=W))(key, c))
            np.testing.assert_array_equal(got, _reference_words(key, c))


def test_chunks_of_every_impl_are_distinct_and_uncorrelated():
    """fold_in(key, c) per chunk gives different words for every chunk, for every impl
    (unsafe_rbg derives chunk keys with its own generator, without Threefry's guarantees):
    no two of 64 chunks share a word at the same position more often than chance (2^-32 per
    word), and the XOR of neighbouring chunks is as balanced as fresh bits (5 SE)."""
    n_chunks = 64
    for impl in PRNG_IMPLS:
        key = jax.random.key(11, impl=impl)
        words = np.stack([np.asarray(chunk_bits(key, c, chunk_words=W))
                          for c in range(n_chunks)])
        for c in range(n_chunks):
            same = (words[c] == words[c + 1:]).sum()
            assert same <= 1, (impl, c, same)
        x = words[:-1] ^ words[1:]
        n = x.size * 32
        ones = int(np.bitwise_count(x).sum(dtype=np.int64))
        assert abs(ones - n / 2) < 5 * np.sqrt(n / 4), impl


def test_stream_key_derives_a_key_of_each_impl():
    parent = jax.random.key(0)
    assert stream_key(parent, "threefry2x32") is parent  # default streams keep their counts
    for impl in ("rbg", "unsafe_rbg"):
        k = stream_key(parent, impl)
        assert str(jax.random.key_impl(k)) == impl
        assert stream_key(k, impl) is k
    with pytest.raises(ValueError, match="prng impl"):
        stream_key(parent, "philox")


def test_counts_of_every_impl_depend_only_on_key_and_count():
    """The same (key, number of words) gives the same counts however the chunks are grouped
    into calls (block_chunks), for every PRNG implementation, and they equal NumPy's count
    of the reference words."""
    n_chunks, last = 7, 100
    for impl in PRNG_IMPLS:
        key = jax.random.key(2, impl=impl)
        ref = sum(int(np.bitwise_count(_reference_words(key, c)[:last if c == n_chunks - 1
                                                               else W]).sum())
                  for c in range(n_chunks))
        for kind in ("coin", "die"):
            results = {b: [int(v) for v in stream(key, (n_chunks - 1) * W + last, kind=kind,
                                                  chunk_words=W, block_chunks=b, mesh=None,
                                                  label="t", progress=None)[0]]
                       for b in (1, 3, 64)}
            assert results[1] == results[3] == results[64], (impl, kind, results)
            if kind == "coin":
                assert results[1] == [ref], impl


def test_coin_popcount_equals_counting_bits_one_by_one():
    """Heads of one chunk = the number of 1 bits of the same words, unpacked by NumPy."""
    key = jax.random.key(3)
    words = _reference_words(key, 0)
    bits = np.unpackbits(words.view(np.uint8)).sum()
    i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
    got = combine_counts(stream_counts(key, i32(0), i32(1), i32(1), i32(W), kind="coin",
                                       chunk_words=W))
    assert int(got[0]) == int(bits)
    # a partial last chunk only counts its valid words
    got = combine_counts(stream_counts(key, i32(0), i32(1), i32(1), i32(10), kind="coin",
                                       chunk_words=W))
    assert int(got[0]) == int(np.unpackbits(words[:10].view(np.uint8)).sum())


def test_die_faces_from_3_bit_fields_match_a_numpy_decoding():
    key = jax.random.key(4)
    words = _reference_words(key, 0)
    fields = np.stack([(words >> (3 * j)) & 7 for j in range(10)]).ravel()
    expected = np.bincount(fields[fields < 6], minlength=8)[:6]
    i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
    got = combine_counts(stream_counts(key, i32(0), i32(1), i32(1), i32(W), kind="die",
                                       chunk_words=W))
    assert [int(g) for g in got] == list(expected)


def test_coin_and_die_are_exactly_unbiased_chi_square():
    """~1.3e8 flips and ~4.9e7 rolls against the exact probabilities 1/2 and 1/6: chi-square
    statistic below the 0.9999 quantile (a correct sampler fails with probability 1e-4)."""
    heads = int(_counts("coin", 1000, W)[0])
    n = 1000 * W * 32
    assert (heads - n / 2) ** 2 / (n / 4) < scipy.stats.chi2.ppf(0.9999, 1)
    faces = np.array([int(f) for f in _counts("die", 1600, W)], np.float64)
    exp = faces.sum() / 6
    assert np.sum((faces - exp) ** 2 / exp) < scipy.stats.chi2.ppf(0.9999, 5)
    # the acceptance rate of 3-bit fields is 6/8
    cand = 1600 * W * 10
    p = 6 / 8
    assert abs(faces.sum() - cand * p) < 5 * np.sqrt(cand * p * (1 - p))


def test_counts_do_not_depend_on_how_chunks_are_split_into_calls():
    whole = _counts("die", 10, 77)
    parts = _counts("die", 10, 77, first=0, n=4) + _counts("die", 10, 77, first=4, n=6)
    assert list(whole) == list(parts)


def test_one_compilation_for_every_count_and_bounded_memory():
    """Counts are traced: the same executable serves 1e3 or 1e12 samples, so the memory it
    needs cannot grow with the count; its temporaries stay a few chunks."""
    _counts("coin", 3, W)
    before = stream_counts._cache_size()
    _counts("coin", 5, 17)
    assert stream_counts._cache_size() == before
    i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731
    compiled = stream_counts.lower(jax.random.key(0), i32(0), i32(1), i32(10**6), i32(W),
                                   kind="coin", chunk_words=W).compile()
    mem = compiled.memory_analysis()
    if mem is not None:
        assert mem.temp_size_in_bytes < 16 * W * 4


def test_uint64_carry_is_exact_beyond_2_to_32():
    """The (hi, lo) uint32 pair carries into hi when lo overflows, as Python ints do."""
    from mathml_jax.probability.streaming import _add64
    acc = (jnp.array([0, 5], jnp.uint32), jnp.array([2**32 - 10, 7], jnp.uint32))
    add = jnp.array([25, 3], jnp.uint32)
    hi, lo = _add64(acc, add)
    parts = jnp.stack([hi, lo])[None]
    assert [int(v) for v in combine_counts(parts)] == [2**32 - 10 + 25, 5 * 2**32 + 10]


def test_two_devices_give_the_same_counts_as_one():
    code = textwrap.dedent("""
        import json, jax, jax.numpy as jnp
        from mathml_jax.probability import combine_counts, device_mesh, stream_counts
        mesh = device_mesh()
        i32 = lambda v: jnp.asarray(v, jnp.int32)
        out = {"devices": len(jax.devices())}
        for impl in ("threefry2x32", "rbg", "unsafe_rbg"):
            for kind in ("coin", "die"):
                parts = stream_counts(jax.random.key(7, impl=impl), i32(0), i32(13), i32(13),
                                      i32(100), kind=kind, chunk_words=4096, mesh=mesh)
                out[impl + kind] = [int(c) for c in combine_counts(parts)]
        print(json.dumps(out))
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120, check=True)
    two = json.loads(res.stdout.strip().splitlines()[-1])
    assert two["devices"] == 2
    for impl in PRNG_IMPLS:
        for kind in ("coin", "die"):
            one = _counts(kind, 13, 100, key=jax.random.key(7, impl=impl))
            assert two[impl + kind] == [int(c) for c in one], (impl, kind)


def test_stream_driver_keeps_partial_count_on_ctrl_c(monkeypatch):
    import mathml_jax.probability.streaming as streaming

    calls = {"n": 0}
    real = combine_counts

    def interrupting(parts):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(parts)

    monkeypatch.setattr(streaming, "combine_counts", interrupting)
    counts, words, _, stopped = stream(jax.random.key(0), 10 * W, kind="coin", chunk_words=W,
                                       block_chunks=1, mesh=None, label="test",
                                       progress=None)
    assert stopped and words == 2 * W
    assert 0 < int(counts[0]) < 2 * W * 32


def test_streak_counts_against_a_python_loop():
    key = jax.random.key(1)
    trials, wins = streak_win_counts(key, 0.4, num_paths=3, num_tosses=200, max_streak=4)
    x = np.asarray(jax.random.bernoulli(key, 0.4, (200, 3)))
    t_ref, w_ref = np.zeros(4, int), np.zeros(4, int)
    for p in range(3):
        streak = 0
        for t in range(200):
            for k in range(1, 5):
                if streak >= k:
                    t_ref[k - 1] += 1
                    w_ref[k - 1] += x[t, p]
            streak = 0 if x[t, p] else streak + 1
    assert list(np.asarray(trials)) == list(t_ref) and list(np.asarray(wins)) == list(w_ref)


def test_running_means_of_a_die_against_numpy_cumsum():
    at = jnp.array([1, 5, 50])
    m = np.asarray(running_means(jax.random.key(0), at, 5.0, distributions=("die",),
                                 num_paths=2, num_steps=50))
    keys = jax.random.split(jax.random.fold_in(jax.random.key(0), 0), 2)
    x = np.stack([np.asarray(jax.random.randint(k, (50,), 1, 7)) for k in keys])
    np.testing.assert_allclose(m[0], np.cumsum(x, axis=1)[:, [0, 4, 49]] / [1, 5, 50],
                               rtol=1e-6)


def test_chunk_size_is_chosen_per_backend_and_stays_overridable(run_experiment):
    from mathml_jax.probability.streaming import MEASURED_CHUNK_WORDS, default_chunk_words

    assert default_chunk_words("cpu") == MEASURED_CHUNK_WORDS["cpu"] == 1 << 18
    assert default_chunk_words("gpu") == MEASURED_CHUNK_WORDS["gpu"] == 1 << 24
    # also lln's float64 run (every claim must pass in both precisions)
    status, report, _ = run_experiment("lln", "lln.chunk_words=4096", "lln.num_flips=1e6",
                                       "lln.num_rolls=1e6", "lln.benchmark_samples=1e5",
                                       "precision=float64", figures=False)
    assert status == 0 and report.metrics["chunk_words"] == 4096


def test_lln_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("lln", determinism=True)
    assert status == 0
    assert_all_claims_pass(report)
    rec = json.loads((job / "metrics.json").read_text())["metrics"]
    for name in ("coin_flips_per_s", "benchmark_numpy_coin_per_s", "benchmark_coin_speedup",
                 "benchmark_die_speedup"):
        assert rec[name] > 0
    assert rec["coin_flips"] >= 1e8
    assert rec["chunk_words"] == 1 << 18  # the CPU's measured default
    for name in ("running_averages", "spread", "cauchy", "gamblers_fallacy"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert_mutations_catch(report, _lln_mutations(report.config))


def _lln_mutations(cfg) -> dict:
    """Perturbations of the results of a run, each failing the claims that should catch it."""
    from experiments.lln import WITH_MEAN, moments

    P, n = cfg.num_paths, cfg.num_steps
    out = {}
    for dist in WITH_MEAN:
        mu, sigma = moments(cfg)[dist]

        def bias(r, d=dist, s=sigma):  # every average off by 8 SE of the grand mean
            r.running[d] = r.running[d] + 8 * s / np.sqrt(n * P)

        def slower(r, d=dist, m=mu):  # the spread shrinks like n^(-1/4), not n^(-1/2)
            r.running[d] = m + (r.running[d] - m) * (r.at / r.at[0]) ** 0.25

        def wider(r, d=dist, m=mu):  # the spread at the last n 1.6 times too wide
            r.running[d][:, -1] = m + 1.6 * (r.running[d][:, -1] - m)

        out[f"{dist} mean biased by 8 SE"] = (bias, {f"{dist}_average_is_mean"})
        out[f"{dist} spread ~ n^-1/4"] = (slower, {f"{dist}_spread_slope",
                                                     f"{dist}_final_spread"})
        out[f"{dist} final spread x1.6"] = (wider, {f"{dist}_final_spread"})

    def cauchy_settles(r):  # Cauchy averages shrinking as if it had a mean
        r.running["cauchy"] = r.running["cauchy"] / np.sqrt(r.at)

    def streak_bias(r):  # after a losing streak, wins 6 SE more often ("due" a win)
        sd = np.sqrt(r.streak_trials * cfg.p * (1 - cfg.p))
        r.streak_wins = r.streak_wins + np.round(6 * sd).astype(np.int64)

    def coin_bias(r):  # 6 SE too many heads among the streamed flips
        r.coin["heads"] += int(6 * np.sqrt(r.coin["flips"] / 4))

    def die_face(r):  # face 1 drawn 6 SE too rarely, face 2 as often too often
        faces = r.die["faces"].copy()
        d = int(6 * np.sqrt(faces.sum() * 5 / 36))
        faces[0] -= d
        faces[1] += d
        r.die["faces"] = faces

    def die_shift(r):  # 3 SE of each low face moved to a high face: each face |z| = 3,
        faces = r.die["faces"].copy()  # the mean 3 * 3 * 3 sqrt(5/36) = 10 SE too high
        d = int(3 * np.sqrt(faces.sum() * 5 / 36))
        faces[:3] -= d
        faces[3:] += d
        r.die["faces"] = faces

    return {**out,
            "Cauchy averages shrink": (cauchy_settles, {"cauchy_spread_flat",
                                                        "cauchy_half_beyond_one"}),
            "gambler: a win is due": (streak_bias, {"gamblers_fallacy"}),
            "streamed coin biased": (coin_bias, {"stream_coin_fair"}),
            "streamed die face 1 rare": (die_face, {"stream_die_uniform"}),
            "streamed die mean shifted": (die_shift, {"stream_die_mean"})}


def test_running_means_follow_the_requested_dtype():
    """The draws and sums are in the job's precision (no float32 pinned): float64 under
    at_precision("float64"), float32 otherwise."""
    from mathml_jax.runtime import in_float64

    at = jnp.array([1, 10])
    f32 = running_means(jax.random.key(0), at, 5.0, distributions=("coin", "pareto"),
                        num_paths=2, num_steps=10)
    assert f32.dtype == jnp.float32

    def f64(alpha):
        return running_means(jax.random.key(0), at, alpha, distributions=("coin", "pareto"),
                             num_paths=2, num_steps=10, dtype=jnp.float64)

    assert in_float64(f64, 5.0).dtype == np.float64
