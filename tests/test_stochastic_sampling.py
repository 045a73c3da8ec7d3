"""Minibatch sampling without replacement: exactly uniform, checked by brute force.

Each sampler is drawn many times on a tiny N, and the frequency of every possible outcome
(every subset, or every chain of nested subsets) is compared with the exact uniform
probability by a chi-square test. The keys are fixed, so every test is deterministic; the
bound p > 1e-4 leaves a wide margin. With deliberately coarse sort keys (ties frequent), the
samplers must stay uniform (a tie at a boundary that matters is redrawn), while breaking
those ties by index is detectably biased: the test has the power to see such a bias.
"""

from __future__ import annotations

import math
import re
from itertools import combinations, permutations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from mathml_jax.optimization import stochastic
from mathml_jax.optimization.stochastic import (
    minibatch_gradient_sq_errors,
    minibatch_indices,
    nested_minibatch_masks,
    running_mean_sq_errors,
)

DRAWS = 20_000
P_MIN = 1e-4


def _chi2_p(counts):
    """p-value of observed counts against equal probabilities for every cell."""
    counts = np.asarray(counts, np.float64)
    return scipy.stats.chisquare(counts).pvalue


def _subset_counts(idx, n, b):
    """Counts of each of the C(n, b) subsets among rows of ``idx`` (draws, b)."""
    idx = np.asarray(idx)
    assert idx.shape == (DRAWS, b)
    assert (np.sort(idx, axis=1)[:, 1:] != np.sort(idx, axis=1)[:, :-1]).all()  # distinct
    codes = (1 << idx).sum(axis=1)
    cells = [sum(1 << i for i in c) for c in combinations(range(n), b)]
    assert set(np.unique(codes)) <= set(cells)
    return [int((codes == c).sum()) for c in cells]


def _draw_indices(n, b, seed=0):
    keys = jax.random.split(jax.random.key(seed), DRAWS)
    return jax.jit(jax.vmap(lambda k: minibatch_indices(k, n, batch_size=b)))(keys)


def _coarse_keys(key, n):
    """Sort keys with only 4 values: most draws of 5 keys have ties."""
    return jax.random.randint(key, (n,), 0, 4).astype(jnp.float32) + 1.0


@pytest.mark.parametrize(("n", "b"), [(5, 2), (6, 3), (6, 1), (6, 5)])
def test_minibatch_indices_uniform_over_subsets(n, b):
    counts = _subset_counts(_draw_indices(n, b), n, b)
    assert len(counts) == math.comb(n, b)
    assert _chi2_p(counts) > P_MIN


def test_minibatch_indices_whole_data_and_bad_size():
    np.testing.assert_array_equal(minibatch_indices(jax.random.key(0), 4, batch_size=4),
                                  np.arange(4))
    for b in (0, 5):
        with pytest.raises(ValueError, match="batch_size"):
            minibatch_indices(jax.random.key(0), 4, batch_size=b)


def _chain_counts(masks, n):
    """Counts of each permutation of range(n), read from nested masks of sizes 1..n-1."""
    masks = np.asarray(masks)
    assert masks.shape == (DRAWS, n - 1, n)
    assert (masks.sum(axis=2) == np.arange(1, n)).all()
    assert (masks[:, 1:] >= masks[:, :-1]).all()  # nested
    # rank of each example: the first size whose batch holds it (n - 1 if none)
    rank = np.where(masks.any(axis=1), masks.argmax(axis=1), n - 1)
    codes = (rank * n ** np.arange(n)).sum(axis=1)
    cells = [sum(r * n**i for i, r in enumerate(p)) for p in permutations(range(n))]
    assert set(np.unique(codes)) <= set(cells)
    return [int((codes == c).sum()) for c in cells]


def _draw_masks(n, sizes, seed=0):
    keys = jax.random.split(jax.random.key(seed), DRAWS)
    return jax.jit(jax.vmap(lambda k: nested_minibatch_masks(k, n, jnp.asarray(sizes))))(keys)


def test_nested_masks_are_a_uniform_permutations_prefixes():
    """N=4, sizes 1, 2, 3: the nested batches determine a permutation; all 24 equally likely."""
    counts = _chain_counts(_draw_masks(4, [1, 2, 3]), 4)
    assert len(counts) == 24
    assert _chi2_p(counts) > P_MIN


def test_nested_masks_each_size_uniform_and_whole_data():
    masks = np.asarray(_draw_masks(5, [2, 5, 3]))
    np.testing.assert_array_equal(masks[:, 1], 1.0)  # B = N: every example
    for row, b in ((0, 2), (2, 3)):
        idx = np.sort(np.argsort(-masks[:, row], axis=1, kind="stable")[:, :b], axis=1)
        assert _chi2_p(_subset_counts(idx, 5, b)) > P_MIN


def test_coarse_keys_stay_uniform_but_index_tie_breaking_is_biased(monkeypatch):
    """Ties are frequent with 4 key values: the samplers redraw and stay uniform; ``top_k``
    alone (ties broken by index) is far from uniform."""
    monkeypatch.setattr(stochastic, "_sort_keys", _coarse_keys)
    assert _chi2_p(_subset_counts(_draw_indices(5, 2, seed=1), 5, 2)) > P_MIN
    assert _chi2_p(_chain_counts(_draw_masks(4, [1, 2, 3], seed=1), 4)) > P_MIN
    keys = jax.random.split(jax.random.key(1), DRAWS)
    biased = jax.vmap(lambda k: jax.lax.top_k(_coarse_keys(k, 5), 2)[1])(keys)
    assert _chi2_p(_subset_counts(biased, 5, 2)) < 1e-10


def test_kernels_do_not_recompile():
    G = jnp.asarray(np.random.default_rng(0).normal(size=(7, 3)), jnp.float32)
    running_mean_sq_errors(G, jax.random.key(0), batch_size=3, num_batches=4, num_paths=2)
    before = running_mean_sq_errors._cache_size()
    running_mean_sq_errors(G, jax.random.key(1), batch_size=3, num_batches=4, num_paths=2)
    assert running_mean_sq_errors._cache_size() == before
    minibatch_gradient_sq_errors(G, jax.random.key(0), jnp.array([1, 3]), num_draws=5)
    before = minibatch_gradient_sq_errors._cache_size()
    sq = minibatch_gradient_sq_errors(G, jax.random.key(0), jnp.array([2, 7]), num_draws=5)
    assert minibatch_gradient_sq_errors._cache_size() == before  # new sizes, same program
    assert float(jnp.max(sq[1])) < 1e-10  # B = N


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="XLA's CPU TopK rewrite")
def test_running_mean_uses_the_partial_sort_on_cpu():
    """The running-mean kernel's speed rests on XLA CPU rewriting ``top_k`` to its TopK call
    (a partial sort); a full sort of N keys per minibatch would be about 8 times slower."""
    G = jnp.zeros((569, 31), jnp.float32)
    text = running_mean_sq_errors.lower(G, jax.random.key(0), batch_size=16, num_batches=8,
                                        num_paths=4).compile().as_text()
    assert "TopK" in text
    assert not re.search(r"\bsort\(", text)
