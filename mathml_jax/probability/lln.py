"""The law of large numbers: running averages of many independent sequences, and streaks.

The running average of n independent draws with mean mu and standard deviation sigma settles
at mu, its spread over independent sequences shrinking like sigma / sqrt(n). A Cauchy
variable has no mean: the average of n standard Cauchy draws is again standard Cauchy, so its
running average never settles.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

DISTRIBUTIONS = ("coin", "die", "pareto", "cauchy")


def draw(key: jax.Array, distribution: str, shape: tuple[int, ...], alpha=5.0,
         dtype=jnp.float32) -> jax.Array:
    """Independent draws of floating ``dtype``: a fair coin (0/1), a fair die (1..6), a Pareto
    variable with tail index ``alpha`` (P(X > x) = x^-alpha for x >= 1: heavy tails, finite
    variance for alpha > 2), or standard Cauchy (no mean)."""
    if distribution == "coin":
        return jax.random.bernoulli(key, 0.5, shape).astype(dtype)
    if distribution == "die":
        return jax.random.randint(key, shape, 1, 7).astype(dtype)
    if distribution == "pareto":
        return jax.random.pareto(key, jnp.asarray(alpha, dtype), shape, dtype)
    if distribution == "cauchy":
        return jax.random.cauchy(key, shape, dtype)
    raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")


@partial(jax.jit, static_argnames=("distributions", "num_paths", "num_steps", "dtype"))
def running_means(key: jax.Array, at: jax.Array, alpha=5.0, *, distributions: tuple[str, ...],
                  num_paths: int, num_steps: int, dtype=jnp.float32) -> jax.Array:
    """Running averages (1/n) sum_{i<=n} X_i of independent paths, read at the counts ``at``,
    for each of ``distributions`` (independent keys; one compilation for all of them).

    Args:
      at: int array of counts n in 1..num_steps where the averages are returned.
      dtype: the floating dtype of the draws and their sums (the job's precision).
    Returns:
      array (len(distributions), num_paths, len(at)) of ``dtype``.
    """
    out = []
    for i, dist in enumerate(distributions):
        def one_path(k, dist=dist):
            sums = jnp.cumsum(draw(k, dist, (num_steps,), alpha, dtype))
            return sums[at - 1] / at.astype(sums.dtype)

        keys = jax.random.split(jax.random.fold_in(key, i), num_paths)
        # one path at a time: memory holds one path of draws, not num_paths of them
        out.append(jax.lax.map(one_path, keys))
    return jnp.stack(out)


@partial(jax.jit, static_argnames=("num_paths", "num_tosses", "max_streak"))
def streak_win_counts(key: jax.Array, p, *, num_paths: int, num_tosses: int,
                      max_streak: int) -> tuple[jax.Array, jax.Array]:
    """The gambler's fallacy, counted: how often a win follows a streak of losses.

    Tosses win with probability ``p``. For k = 1..max_streak, ``trials[k-1]`` counts the tosses
    preceded by at least k losses in a row and ``wins[k-1]`` how many of those were wins; by
    independence wins/trials estimates p for every k.

    Returns:
      (trials, wins), int32 arrays of shape (max_streak,), summed over paths.
    """
    wins_all = jax.random.bernoulli(key, p, (num_tosses, num_paths))
    ks = jnp.arange(1, max_streak + 1)

    def step(carry, win):
        streak, trials, wins = carry
        after = streak[:, None] >= ks[None, :]  # (paths, K)
        trials = trials + jnp.sum(after, axis=0, dtype=jnp.int32)
        wins = wins + jnp.sum(after & win[:, None], axis=0, dtype=jnp.int32)
        streak = jnp.where(win, 0, streak + 1)
        return (streak, trials, wins), None

    zero = jnp.zeros(max_streak, jnp.int32)
    (_, trials, wins), _ = jax.lax.scan(step, (jnp.zeros(num_paths, jnp.int32), zero, zero),
                                        wins_all)
    return trials, wins
