"""Stochastic gradients: minibatch estimates, their error and variance, and SGD training.

A minibatch of size B drawn without replacement from N examples gives the estimate

    g_B = (1/B) sum_{i in batch} grad l_i(w),

which is unbiased (E g_B = grad L(w)) with total variance

    E ||g_B - grad L||^2 = (sigma^2 / B) (N - B) / (N - 1),
    sigma^2 = (1/N) sum_i ||grad l_i - grad L||^2

(the finite-population correction makes it exactly 0 at B = N). Averaging m independent
minibatch gradients divides that by m: the error shrinks like 1/sqrt(m), the law of large
numbers at work inside SGD.

Minibatches are drawn exactly uniformly without replacement, as the B examples with the
largest of N i.i.d. random keys (redrawn in the rare case of a tie at the boundary, so
tie-breaking cannot bias them). Where B fixes a shape it is static and the batch is a
partial sort (``lax.top_k``) and a gather of B rows; the variance sweep keeps the sizes
traced (masks from one sort per draw), so a sweep over B is one compilation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp
import optax

from mathml_jax.optimization.optimizers import make_optimizer


def minibatch_mean(values: jax.Array, key: jax.Array, batch_size) -> jax.Array:
    """Mean of ``batch_size`` rows of ``values`` (N, ...) drawn uniformly without replacement.

    ``batch_size`` may be traced: the batch is a 0/1 mask (:func:`nested_minibatch_masks`
    with one size) scaled by 1/B, so every size shares one compiled kernel and a ``vmap``
    over draws becomes one matrix product.
    """
    n = values.shape[0]
    mask = nested_minibatch_masks(key, n, jnp.reshape(batch_size, (1,)))[0]
    return jnp.tensordot(mask.astype(values.dtype) / batch_size, values, axes=1)


def _sort_keys(key: jax.Array, n: int) -> jax.Array:
    """n i.i.d. sort keys, uniform over 2^30 distinct positive normal float32 values.

    The top 30 of 32 random bits, offset past the subnormals (a CPU may flush those to zero,
    which would make distinct bits compare equal) and reinterpreted as float32: the map is
    increasing, so no two distinct draws compare equal. float32 rather than integer keys
    because XLA's CPU ``top_k`` has a partial-sort fast path for float32 only.
    """
    bits = jax.random.bits(key, (n,), jnp.uint32)
    return jax.lax.bitcast_convert_type((bits >> 2) + jnp.uint32(1 << 23), jnp.float32)


def minibatch_indices(key: jax.Array, n: int, *, batch_size: int) -> jax.Array:
    """Indices (batch_size,) of a uniform random subset of ``range(n)``, without replacement.

    The ``batch_size`` examples with the largest of n i.i.d. keys, found by ``lax.top_k`` (a
    partial sort) rather than a full sort of the keys. Exactly uniform over the C(n, B)
    subsets (given ideal random bits): whenever the B-th and (B+1)-th largest keys differ
    (event A), the top-B set does not depend on how ties are broken; relabelling the examples
    by any permutation pi leaves the law of the keys and the event A unchanged and maps the
    set s to pi(s), so P(s | A) is the same for every s. A draw outside A is redrawn with
    fresh keys (a ``lax.while_loop``), which samples the law given A; that needs a tie, of
    probability at most C(n, 2) / 2^30 (1.5e-4 for n = 569), so redraws cost nothing.

    Args:
      key: PRNG key.
      n: number of examples (static).
      batch_size: B in [1, n] (static: it fixes the output's shape).

    Returns:
      int32 indices, shape (B,), distinct, in decreasing order of their keys.
    """
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [1, {n}], got {batch_size}")
    if batch_size == n:
        return jnp.arange(n, dtype=jnp.int32)

    def draw(k):
        k, sub = jax.random.split(k)
        keys = _sort_keys(sub, n)
        vals, idx = jax.lax.top_k(keys, batch_size)
        # a key outside the batch equal to the B-th largest. (Slicing the outputs of a
        # top_k of B + 1 instead would stop XLA's CPU rewrite to its fast TopK call.)
        return k, idx, jnp.sum(keys >= jnp.min(vals)) > batch_size

    _, idx, _ = jax.lax.while_loop(lambda c: c[2], lambda c: draw(c[0]), draw(key))
    return idx


def nested_minibatch_masks(key: jax.Array, n: int, batch_sizes: jax.Array) -> jax.Array:
    """Membership masks (K, n) of the first B_k examples of one uniform random permutation.

    Row k is 1 on the examples whose key is among the B_k largest of n i.i.d. keys (one sort
    of the keys gives every threshold), 0 elsewhere. The first B entries of a uniform
    permutation are a uniform sample of size B without replacement, so each row alone is
    exactly such a sample, whatever the other sizes; the rows are nested (a smaller batch
    lies inside a larger one), so rows of one draw are dependent.

    Exact (given ideal random bits): a draw where a boundary that matters ties (the B-th and
    (B+1)-th largest keys equal, for some B < n in ``batch_sizes``; probability at most
    C(n, 2) / 2^30) is redrawn with fresh keys. Given no such tie the nested sets do not
    depend on tie-breaking, and relabelling the examples leaves the law of the keys and the
    event unchanged, so the sets have the law of a uniform permutation's prefixes (the same
    argument as :func:`minibatch_indices`).

    Args:
      key: PRNG key.
      n: number of examples (static).
      batch_sizes: integer array (K,) of sizes in [1, n]; may be traced.

    Returns:
      Array (K, n) of 0/1 float32, row k summing to B_k.
    """
    sizes = jnp.asarray(batch_sizes)
    below = jnp.minimum(sizes, n - 1)  # the (B+1)-th largest key; unused when B = n

    def draw(k):
        k, sub = jax.random.split(k)
        keys = _sort_keys(sub, n)
        desc = -jnp.sort(-keys)
        thresh = desc[sizes - 1]
        tie = jnp.any((sizes < n) & (thresh == desc[below]))
        return k, keys, thresh, tie

    _, keys, thresh, _ = jax.lax.while_loop(lambda c: c[3], lambda c: draw(c[0]), draw(key))
    return (keys[None, :] >= thresh[:, None]).astype(jnp.float32)


@partial(jax.jit, static_argnames=("num_draws",))
def minibatch_gradient_sq_errors(per_example: jax.Array, key: jax.Array, batch_sizes: jax.Array,
                                 *, num_draws: int) -> jax.Array:
    """Squared errors ||g_B - g||^2 of minibatch gradients, for each batch size.

    Each draw is one uniform random permutation pi of the N examples, and the minibatch of
    size B its first B examples, for every B at once (:func:`nested_minibatch_masks`):

        g_B - g = (1/B) sum_{j < B} (grad l_{pi(j)} - g),

    one (K, N) mask times the centred gradients (N, d). For each B the draws are independent
    and each is exactly a uniform sample without replacement, so the mean over draws of one
    size estimates its variance without bias. Within one draw the sizes' batches are nested,
    hence dependent: fine for every use here (a mean and standard error over draws of one
    size at a time), not for a covariance across sizes. One permutation serves all K sizes
    instead of K permutations (about 10 times fewer sorts).

    Args:
      per_example: per-example gradients, shape (N, d); their mean g is the full gradient.
      key: PRNG key.
      batch_sizes: integer array (K,) of batch sizes in [1, N] (traced: a sweep over sizes
        does not recompile).
      num_draws: permutations drawn; each gives one minibatch of every size.

    Returns:
      Array (K, num_draws). Its mean over draws estimates (sigma^2/B) (N-B)/(N-1).
    """
    n = per_example.shape[0]
    centered = per_example - jnp.mean(per_example, axis=0)
    scale = 1.0 / jnp.asarray(batch_sizes).astype(per_example.dtype)

    def one(k):
        mask = nested_minibatch_masks(k, n, batch_sizes).astype(per_example.dtype)
        return jnp.sum((scale[:, None] * (mask @ centered)) ** 2, axis=1)

    return jax.vmap(one, out_axes=1)(jax.random.split(key, num_draws))


@partial(jax.jit, static_argnames=("batch_size", "num_batches"))
def running_mean_sq_errors_of_keys(per_example: jax.Array, keys: jax.Array, *, batch_size: int,
                                   num_batches: int) -> jax.Array:
    """:func:`running_mean_sq_errors` with one path per key of ``keys`` (P,): path i depends
    on ``keys[i]`` only, so paths can be cut into chunks and split over devices
    (:func:`mathml_jax.sharding.map_rows`). Returns (P, num_batches)."""
    n = per_example.shape[0]
    centered = per_example - jnp.mean(per_example, axis=0)

    def path(k):
        def step(total, inp):
            m, kk = inp
            idx = minibatch_indices(kk, n, batch_size=batch_size)
            total = total + jnp.mean(centered[idx], axis=0)
            return total, jnp.sum((total / m) ** 2)

        ms = jnp.arange(1, num_batches + 1, dtype=per_example.dtype)
        _, errs = jax.lax.scan(step, jnp.zeros(per_example.shape[1], per_example.dtype),
                               (ms, jax.random.split(k, num_batches)))
        return errs

    return jax.vmap(path)(keys)


@partial(jax.jit, static_argnames=("batch_size", "num_batches", "num_paths"))
def running_mean_sq_errors(per_example: jax.Array, key: jax.Array, *, batch_size: int,
                           num_batches: int, num_paths: int) -> jax.Array:
    """||(1/m) sum_{j<=m} g_B^(j) - g||^2 for m = 1..num_batches, on independent paths.

    The running average of m independent minibatch gradients, compared with the full
    gradient g; a ``lax.scan`` over m, a ``vmap`` over paths (path i from
    ``jax.random.split(key, num_paths)[i]``, :func:`running_mean_sq_errors_of_keys`). Each
    minibatch is :func:`minibatch_indices` (exactly uniform without replacement, by a partial
    sort), and its mean is a gather of B rows.

    Args:
      per_example: per-example gradients, shape (N, d).
      key: PRNG key.
      batch_size: B in [1, N] (static: it fixes the gather's shape).
      num_batches: minibatches averaged per path.
      num_paths: independent paths.

    Returns:
      Array (num_paths, num_batches). Its mean over paths is (sigma^2/B)(N-B)/(N-1) / m.
    """
    return running_mean_sq_errors_of_keys(per_example, jax.random.split(key, num_paths),
                                          batch_size=batch_size, num_batches=num_batches)


LossFn = Callable[[jax.Array, jax.Array, jax.Array, jax.Array], jax.Array]


def train(w0: jax.Array, X: jax.Array, y: jax.Array, l2, learning_rate, key: jax.Array, *,
          loss_fn: LossFn, optimizer: str, schedule: str, batch_size: int,
          epochs: int) -> tuple[jax.Array, jax.Array]:
    """Minibatch training of ``loss_fn(w, X_batch, y_batch, l2)`` for one seed.

    Each epoch shuffles the N examples and takes N // batch_size steps, one per disjoint
    minibatch (``batch_size = N`` is full-batch gradient descent). Epochs and steps are two
    nested ``lax.scan`` loops; the full-data loss is recorded after every epoch.

    Returns:
      losses: shape (epochs + 1,), the full-data loss before training and after each epoch.
      w: the final weights, shape (d,).
    """
    n = X.shape[0]
    steps = n // batch_size
    opt = make_optimizer(optimizer, learning_rate, schedule=schedule, total_steps=steps * epochs)
    grad_fn = jax.grad(loss_fn)

    def epoch(carry, k):
        perm = jax.random.permutation(k, n) if batch_size < n else jnp.arange(n)
        batches = perm[: steps * batch_size].reshape(steps, batch_size)

        def step(c, idx):
            w, state = c
            updates, state = opt.update(grad_fn(w, X[idx], y[idx], l2), state, w)
            return (optax.apply_updates(w, updates), state), None

        carry, _ = jax.lax.scan(step, carry, batches)
        return carry, loss_fn(carry[0], X, y, l2)

    (w, _), losses = jax.lax.scan(epoch, (w0, opt.init(w0)), jax.random.split(key, epochs))
    return jnp.concatenate([loss_fn(w0, X, y, l2)[None], losses]), w


@partial(jax.jit, static_argnames=("loss_fn", "optimizer", "schedule", "batch_size", "epochs"))
def train_seeds(w0, X, y, l2, learning_rate, keys, *, loss_fn: LossFn, optimizer: str,
                schedule: str, batch_size: int, epochs: int):
    """:func:`train` for many seeds at once: one ``vmap`` over ``keys`` (S,) inside one ``jit``.

    Returns losses (S, epochs + 1) and final weights (S, d).
    """
    def one(k):
        return train(w0, X, y, l2, learning_rate, k, loss_fn=loss_fn, optimizer=optimizer,
                     schedule=schedule, batch_size=batch_size, epochs=epochs)

    return jax.vmap(one)(keys)
