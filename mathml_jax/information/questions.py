"""The guessing game: how many yes/no questions find a hidden number?

Binary search ("is it at most m?") halves the candidates each time: ceil(log2 N) questions
on 1..N. When the number is drawn from a known pmf, the optimal strategy is a Huffman code
(each question is one bit of the codeword), and its average number of questions L satisfies
H <= L < H + 1 with H the entropy in bits (Shannon's source coding theorem).

``huffman_code_lengths`` is the greedy algorithm itself (a heap of subtrees, NumPy, outside
``jit``): it builds the strategy once; ``binary_search_questions`` plays the game in JAX.
"""

from __future__ import annotations

import heapq
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


def huffman_code_lengths(pmf) -> np.ndarray:
    """Codeword lengths (questions per outcome) of a binary Huffman code for ``pmf``.

    Repeatedly merges the two least likely subtrees; every outcome in a merged subtree gets one
    more question. Outcomes of probability 0 get the length of their merge anyway (the code
    is complete: sum 2^-length = 1). A single outcome needs 0 questions.

    Returns:
      int64 array of the same length as ``pmf``.
    """
    pmf = np.asarray(pmf, np.float64)
    n = pmf.size
    lengths = np.zeros(n, np.int64)
    if n == 1:
        return lengths
    heap = [(float(p), i, [i]) for i, p in enumerate(pmf)]
    heapq.heapify(heap)
    tie = n
    while len(heap) > 1:
        p1, _, a = heapq.heappop(heap)
        p2, _, b = heapq.heappop(heap)
        lengths[a] += 1
        lengths[b] += 1
        heapq.heappush(heap, (p1 + p2, tie, a + b))
        tie += 1
    return lengths


def _one_search(x, lo, hi):
    def cond(s):
        return s[0] < s[1]

    def body(s):
        lo, hi, q = s
        mid = (lo + hi) // 2
        yes = x <= mid
        return jnp.where(yes, lo, mid + 1), jnp.where(yes, mid, hi), q + 1

    return jax.lax.while_loop(cond, body, (lo, hi, jnp.zeros((), jnp.int32)))[2]


@jax.jit
def binary_search_questions(x: jax.Array, lo, hi) -> jax.Array:
    """Questions "is it at most m?" that bisection on lo..hi asks to find each entry of x.

    Args:
      x: int array of hidden numbers, each in lo..hi.
    Returns:
      int32 array of the shape of x.
    """
    return jax.vmap(_one_search, in_axes=(0, None, None))(x.ravel(), lo, hi).reshape(x.shape)


@partial(jax.jit, static_argnames=("num_games",))
def play_poisson_games(key: jax.Array, rate, lengths: jax.Array, *,
                       num_games: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Hidden numbers X ~ Poisson(rate), found by the Huffman strategy and by bisection.

    ``lengths[k]`` is the Huffman question count for k (the last entry stands for "k or more",
    the truncated tail), so X is clipped to the table; bisection searches the same 0..K.

    Returns:
      (numbers, huffman_questions, binary_search_questions), each of shape (num_games,).
    """
    k_max = lengths.shape[0] - 1
    x = jnp.minimum(jax.random.poisson(key, rate, (num_games,)), k_max).astype(jnp.int32)
    return x, lengths[x], binary_search_questions(x, 0, k_max)
