"""Gradient descent as a kernel, with divergence detected inside the loop.

The roadmap's three steps, repeated ``steps`` times in one ``lax.scan``:

    1. compute the gradient g = grad f(x_k);
    2. step against it: x_{k+1} = x_k - eta g;
    3. repeat from x_{k+1}.

On the quadratic f(x) = 1/2 x^T A x - b^T x with Hessian eigenvalues in [mu, L] the error
obeys e_{k+1} = (I - eta A) e_k, so it contracts at rate max_i |1 - eta lambda_i| per step:
every eta in (0, 2/L) converges, every eta > 2/L diverges, and eta = 2/(L + mu) gives the best
rate (kappa - 1)/(kappa + 1), kappa = L/mu.

Divergence is a status, not a NaN: when an iterate becomes non-finite or leaves the ball of
radius ``blowup``, the iterate is frozen and the step index is recorded in ``diverged_at``
(-1 when the run never diverged); :func:`mathml_jax.status.describe_divergence` turns it into
words outside ``jit``.

Gradient descent is ``optax.sgd``: every kernel here runs an optax transformation (one start:
:func:`run_optimizer`; a batch as columns: :func:`run_optimizer_columns`), so gradient descent
and the optax optimisers of :mod:`mathml_jax.optimization.first_order` share one loop, one
divergence rule (:func:`freeze_diverged`) and one result type (:class:`OptimizeResult`).

What is stored is the caller's choice (static ``record_every``, ``record_losses``): the whole
trajectory (the default), every k-th iterate, or only the final one, in which case nothing of
size ``steps`` is ever written. The batched kernel keeps a few-variable state (d <= 4) as one
array of columns, (d + 1, n), with one row per coordinate and the divergence step in the last
row: a step is then a single elementwise loop over the n starts (gradients by d forward-mode
passes), not a chain of (n, d) intermediates, scattered outputs and carry copies.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from mathml_jax.optimization.optimizers import make_optimizer
from mathml_jax.status import NOT_DIVERGED

LossFn = Callable[[jax.Array, object], jax.Array]

# states of at most this many variables are stored as columns (one (n,) array per coordinate)
COLUMNS_MAX_DIM = 4
# batches of at least this many starts pack their state into one array and step in pairs
# (measured on a 2-core CPU, 1000 GD steps on Rosenbrock: 1000 starts 1.9 ms as columns, 5.3 ms
# packed; 2000 starts 13 ms as columns, 8 ms packed; 1e5 starts 115 ms and 58 ms. Above about
# 2000 elements XLA:CPU splits each loop over its thread pool, and one loop per step beats one
# per leaf; below, one small loop per leaf is cheaper than one that recomputes the step for
# every row). Newton measured the same way (1e4 starts: 4.5 ms as columns, 2.5 ms packed).
PACK_MIN_BATCH = 1 << 11


class OptimizeResult(NamedTuple):
    """The result of every descent run (gradient descent and the optax optimisers).

    trajectory (T, d): the recorded iterates; losses (T,) f at them, or None when not
    recorded; diverged_at () int32 (-1, :data:`~mathml_jax.status.NOT_DIVERGED`: never);
    x (d,): the final iterate x_steps.

    T = steps // record_every + 1 (x_0, x_k, x_2k, ...) for record_every = k >= 1, and T = 1
    (x_steps alone) for record_every = 0."""

    trajectory: jax.Array
    losses: jax.Array | None
    diverged_at: jax.Array
    x: jax.Array


def num_recorded(steps: int, record_every: int) -> int:
    """Number T of iterates a run of ``steps`` steps records: steps // k + 1, or 1 for k = 0."""
    _check_recording(steps, record_every)
    return 1 if record_every == 0 else steps // record_every + 1


def _check_recording(steps: int, record_every: int) -> None:
    if steps < 0 or record_every < 0:
        raise ValueError(f"steps and record_every must be >= 0, got {steps}, {record_every}")


def scan_recorded(step: Callable, carry, steps: int, record_every: int,
                  observe: Callable, *, pairs: bool = False):
    """``carry = step(carry, k)`` for k = 0 .. steps - 1 in ``lax.scan``, storing
    ``observe(carry)`` only every ``record_every``-th step.

    Args:
      step: (carry, k) -> carry, k an int32 step index (traced).
      record_every: k >= 1 records observe(carry_0), observe(carry_k), observe(carry_2k), ...
        (steps // k + 1 entries; steps that are not a multiple of k run after the last record);
        0 records only observe(final carry) (1 entry): no array of size ``steps`` is formed.
      observe: carry -> pytree of arrays to record.
      pairs: run two steps per loop iteration, separated by an optimisation barrier, so
        that the two steps' outputs ping-pong between two buffers instead of a step writing a
        new buffer that is then copied into the loop carry (the barrier stops XLA from fusing
        the two steps into one loop that recomputes the first for every use in the second).

    Returns:
      (final carry, records stacked along a new leading axis).
    """
    _check_recording(steps, record_every)

    def run(c, start, length):
        # the step index rides in the carry: a scan over arange(length) would store it
        if pairs and length >= 2:
            def two(ck, _):
                c, k = ck
                return (step(lax.optimization_barrier(step(c, k)), k + 1), k + 2), None

            half, odd = divmod(length, 2)
            c, k = lax.scan(two, (c, jnp.asarray(start, jnp.int32)), None, length=half)[0]
            return step(c, k) if odd else c

        def one(ck, _):
            c, k = ck
            return (step(c, k), k + 1), None

        return lax.scan(one, (c, jnp.asarray(start, jnp.int32)), None, length=length)[0][0]

    if record_every == 0:
        final = run(carry, 0, steps)
        return final, jax.tree.map(lambda a: a[None], observe(final))
    blocks, rest = divmod(steps, record_every)

    def block(c, b):
        c = run(c, b * record_every, record_every)
        return c, observe(c)

    first = observe(carry)
    carry, recs = lax.scan(block, carry, jnp.arange(blocks, dtype=jnp.int32))
    carry = run(carry, blocks * record_every, rest)
    recs = jax.tree.map(lambda a, r: jnp.concatenate([a[None], r]), first, recs)
    return carry, recs


def forward_partial(f: Callable, cols: Sequence[jax.Array], i: int, *args) -> jax.Array:
    """d f(x + t e_i)/dt at t = 0, x the point with coordinates ``cols`` (d scalars), by one
    forward-mode pass; the other coordinates are constants, so no zero tangents are multiplied.
    """
    cols = list(cols)

    def fi(ci):
        return f(jnp.stack(cols[:i] + [ci] + cols[i + 1:]), *args)

    return jax.jvp(fi, (cols[i],), (jnp.ones_like(cols[i]),))[1]


def forward_gradient(f: Callable, cols: Sequence[jax.Array], *args) -> list[jax.Array]:
    """grad f at the point with coordinates ``cols`` (d scalars), by d forward-mode passes
    (:func:`forward_partial`): elementwise code for few variables, with no (d,) intermediate to
    scatter into (as the transpose of reverse mode builds)."""
    return [forward_partial(f, cols, i, *args) for i in range(len(cols))]


def squared_radius(blowup, dtype):
    """blowup^2 in ``dtype``, capped at its largest finite value, so that
    ``~(||x||^2 <= r2)`` is exactly "non-finite or ||x|| > blowup" without a square root."""
    b = jnp.asarray(blowup, dtype)
    return jnp.minimum(b * b, jnp.finfo(dtype).max)


def out_of_ball(coords: Sequence[jax.Array] | jax.Array, r2) -> jax.Array:
    """True where sum_i coords_i^2 > r2 or is NaN: for d columns (a sequence of arrays) one
    elementwise expression with no reduction op; for one iterate (a (d,) array) one dot
    product, so the program does not grow with d."""
    if isinstance(coords, jax.Array | np.ndarray):
        return ~(jnp.vdot(coords, coords) <= r2)
    return ~(functools.reduce(operator.add, [c * c for c in coords]) <= r2)


def freeze_diverged(old, new, diverged_at, k, r2):
    """The divergence rule of every descent kernel, after a step from ``old`` to ``new`` (an
    iterate, or a tuple of columns) at step index k: a run whose new iterate leaves the ball
    (:func:`out_of_ball`) has ``diverged_at`` set to k + 1 once, and from then on its iterate
    is ``old``, frozen. Returns (iterate, diverged_at)."""
    bad = out_of_ball(new, r2)
    stop = (diverged_at >= 0) | bad
    diverged_at = jnp.where((diverged_at < 0) & bad, k + 1, diverged_at).astype(jnp.int32)
    return jax.tree.map(lambda o, m: jnp.where(stop, o, m), old, new), diverged_at


class _Packing(NamedTuple):
    """Where each leaf of a state pytree goes: rows of one (m, n) array, or kept apart."""

    treedef: Any
    rows: tuple   # per leaf: row index in the packed array, or None (kept apart)
    kinds: tuple  # per leaf: "same", "bitcast" (an int of the float's width) or "bool"
    dtypes: tuple


def _to_row(leaf: jax.Array, kind: str, dtype) -> jax.Array:
    """One (n,) leaf as a row of the packed array: bit-for-bit for an integer of the float's
    width, 0/1 for a boolean, a cast otherwise."""
    return lax.bitcast_convert_type(leaf, dtype) if kind == "bitcast" else leaf.astype(dtype)


def pack_state(tree, n: int, dtype) -> tuple[jax.Array, list, _Packing]:
    """Stack every (n,) leaf of ``tree`` into one (m, n) array of ``dtype`` (integers of the
    same width bit-for-bit, booleans as 0/1); other leaves (a step count) are returned apart.

    One array for the whole batched state makes a step one elementwise loop fusion writing one
    buffer, where separate leaves make XLA emit one loop per leaf, each re-reading all inputs.
    """
    leaves, treedef = jax.tree.flatten(tree)
    dtype = jnp.dtype(dtype)
    kinds = []
    for leaf in leaves:
        kind = None
        if leaf.shape == (n,):
            if leaf.dtype == dtype:
                kind = "same"
            elif leaf.dtype == jnp.bool_:
                kind = "bool"
            elif jnp.issubdtype(leaf.dtype, jnp.integer) and leaf.dtype.itemsize == dtype.itemsize:
                kind = "bitcast"
        kinds.append(kind)
    rows = [None] * len(kinds)
    for i, r in enumerate(i for i, k in enumerate(kinds) if k):
        rows[r] = i
    layout = _Packing(treedef, tuple(rows), tuple(kinds), tuple(leaf.dtype for leaf in leaves))
    if not any(kinds):
        return jnp.zeros((0, n), dtype), list(leaves), layout
    S, apart = repack_state(tree, layout, dtype)
    return S, apart, layout


def repack_state(tree, layout: _Packing, dtype) -> tuple[jax.Array, list]:
    """:func:`pack_state` of a tree with the same structure as the one ``layout`` came from."""
    leaves = jax.tree.leaves(tree)
    packed = [_to_row(leaf, kind, dtype) for leaf, kind in zip(leaves, layout.kinds, strict=True)
              if kind]
    apart = [leaf for leaf, kind in zip(leaves, layout.kinds, strict=True) if not kind]
    return jnp.stack(packed), apart


def unpack_state(S: jax.Array, apart: list, layout: _Packing):
    """The pytree that :func:`pack_state` packed into (S, apart)."""
    it = iter(apart)
    leaves = []
    for row, kind, dt in zip(layout.rows, layout.kinds, layout.dtypes, strict=True):
        if kind == "same":
            leaves.append(S[row])
        elif kind == "bool":
            leaves.append(S[row] != 0)
        elif kind == "bitcast":
            leaves.append(lax.bitcast_convert_type(S[row], dt))
        else:
            leaves.append(next(it))
    return jax.tree.unflatten(layout.treedef, leaves)


def run_packed(update: Callable, state, n: int, dtype, steps: int, record_every: int,
               observe: Callable, *, min_batch: int | None = None):
    """:func:`scan_recorded` of ``state = update(state, k)`` for a batch of n runs whose state
    leaves are (n,) columns. From ``PACK_MIN_BATCH`` runs on, the state is packed into one
    array between steps (:func:`pack_state`) and the steps run in pairs (``min_batch``
    overrides the threshold for a kernel measured apart). Returns (final state, records)."""
    if n < (PACK_MIN_BATCH if min_batch is None else min_batch):
        return scan_recorded(update, state, steps, record_every, observe)
    S, apart, layout = pack_state(state, n, dtype)

    def step(c, k):
        new = update(unpack_state(*c, layout), k)
        return repack_state(new, layout, dtype)

    (S, apart), recs = scan_recorded(step, (S, apart), steps, record_every,
                                     lambda c: observe(unpack_state(*c, layout)), pairs=True)
    return unpack_state(S, apart, layout), recs


def batch_size(in_axes, *args) -> int:
    """The size n of the batch axis that ``jax.vmap(..., in_axes)`` sees in ``args``."""
    return jax.eval_shape(jax.vmap(lambda *a: jnp.zeros(()), in_axes=in_axes), *args).shape[0]


def _losses(loss_fn, traj, params, record_losses):
    return jax.vmap(loss_fn, in_axes=(0, None))(traj, params) if record_losses else None


def run_optimizer(opt: optax.GradientTransformation, x0: jax.Array, params, blowup, *,
                  loss_fn: LossFn, steps: int, record_every: int = 1,
                  record_losses: bool = True) -> OptimizeResult:
    """``steps`` steps of the optax transformation ``opt`` on loss_fn(x, params) from one start
    ``x0`` (d,), in one ``lax.scan``, the divergence rule :func:`freeze_diverged` after every
    step. The optimiser's state is not frozen (it is never returned, and it cannot unfreeze
    the iterate). ``record_every`` and ``record_losses`` as for :func:`gradient_descent`."""
    grad = jax.grad(loss_fn)
    r2 = squared_radius(blowup, x0.dtype)

    def step(carry, k):
        x, state, div = carry
        updates, state = opt.update(grad(x, params), state, x)
        x, div = freeze_diverged(x, optax.apply_updates(x, updates), div, k, r2)
        return x, state, div

    init = (x0, opt.init(x0), jnp.asarray(NOT_DIVERGED, jnp.int32))
    (x, _, div), traj = scan_recorded(step, init, steps, record_every, lambda c: c[0])
    return OptimizeResult(traj, _losses(loss_fn, traj, params, record_losses), div, x)


def run_optimizer_columns(opt: optax.GradientTransformation, X: jax.Array, params, blowup, *,
                          loss_fn: LossFn, steps: int, p_axis, record_every: int,
                          record_losses: bool, min_batch: int | None = None
                          ) -> OptimizeResult:
    """:func:`run_optimizer` for a batch of n starts ``X`` (n, d), d <= COLUMNS_MAX_DIM: the
    iterate is a tuple of d columns (n,), optax's elementwise update runs once on the whole
    batch (its moments are columns too, its step count one shared scalar; a learning rate
    (n,) is one per run), gradients by forward mode (:func:`forward_gradient`), the state
    packed by :func:`run_packed` from ``min_batch`` runs on. ``params`` is batched along
    ``p_axis`` (None: shared). Returns fields with a leading axis n."""
    n, d = X.shape
    dtype = X.dtype
    r2 = squared_radius(blowup, dtype)
    grad = jax.vmap(lambda c, p: forward_gradient(loss_fn, c, p), in_axes=(0, p_axis))
    cols = tuple(X[:, i] for i in range(d))

    def update(carry, k):
        cols, state, div = carry
        updates, state = opt.update(tuple(grad(cols, params)), state, cols)
        # only the iterate is frozen: the optimiser's state is never returned, and once a run
        # has diverged (div >= 0) its iterate stays frozen whatever the state does. Freezing
        # the state too made XLA:CPU recompute the gradient inside every state leaf's loop
        # (Adam, 1000 starts: 10 ms a run against 2.9 ms without)
        cols, div = freeze_diverged(cols, optax.apply_updates(cols, updates), div, k, r2)
        return cols, state, div

    init = (cols, opt.init(cols), jnp.full((n,), NOT_DIVERGED, jnp.int32))
    (cols, _, div), traj = run_packed(update, init, n, dtype, steps, record_every,
                                      lambda c: jnp.stack(c[0], axis=-1), min_batch=min_batch)
    traj = jnp.swapaxes(traj, 0, 1)  # (n, T, d)
    losses = None
    if record_losses:
        losses = jax.vmap(jax.vmap(loss_fn, in_axes=(0, None)), in_axes=(0, p_axis))(
            traj, params)
    return OptimizeResult(traj, losses, div, jnp.stack(cols, axis=-1))


def gradient_descent(x0: jax.Array, lr, params=None, blowup=1e8, *, loss_fn: LossFn,
                     steps: int, record_every: int = 1, record_losses: bool = True
                     ) -> OptimizeResult:
    """``steps`` steps of gradient descent from ``x0`` (d,) with step ``lr``, for one start:
    x <- x - lr grad f(x) (``optax.sgd``), no step once the run has diverged.

    Args:
      x0: start, shape (d,).
      lr: step size eta (traced: a new value does not recompile).
      params: the loss's parameters (e.g. (A, b) of a quadratic), passed to ``loss_fn``.
      blowup: an iterate with norm above this counts as diverged (traced).
      loss_fn: f(x, params) -> scalar (static).
      steps: number of steps (static).
      record_every: store x_0, x_k, x_2k, ... for k >= 1 (1: every iterate, the default), or
        only the final iterate for 0 (static).
      record_losses: also evaluate f at the stored iterates (static).

    Returns:
      OptimizeResult with the recorded iterates, f at them, the divergence step and x_steps.
    """
    if x0.ndim != 1:
        raise ValueError(f"gradient_descent expects one start of shape (d,), got {x0.shape}")
    opt = make_optimizer("sgd", jnp.asarray(lr, x0.dtype))
    return run_optimizer(opt, x0, params, blowup, loss_fn=loss_fn, steps=steps,
                         record_every=record_every, record_losses=record_losses)


@partial(jax.jit, static_argnames=("loss_fn", "steps", "record_every", "record_losses"))
def gradient_descent_jit(x0, lr, params=None, blowup=1e8, *, loss_fn: LossFn, steps: int,
                         record_every: int = 1, record_losses: bool = True):
    """:func:`gradient_descent` inside one ``jit``."""
    return gradient_descent(x0, lr, params, blowup, loss_fn=loss_fn, steps=steps,
                            record_every=record_every, record_losses=record_losses)


@partial(jax.jit, static_argnames=("loss_fn", "steps", "in_axes", "record_every",
                                   "record_losses"))
def gradient_descent_batch(x0, lr, params=None, blowup=1e8, *, loss_fn: LossFn, steps: int,
                           in_axes=(0, 0, None), record_every: int = 1,
                           record_losses: bool = True) -> OptimizeResult:
    """Gradient descent for a batch of starts, steps and/or problems in one ``vmap``.

    Args:
      in_axes: batch axes of (x0, lr, params), as for ``jax.vmap`` (static), e.g. (None, 0,
        None) sweeps the step size, (0, None, None) the starts, (None, None, 0) the problems.
      record_every, record_losses: what to store, as for :func:`gradient_descent` (static);
        ``record_every=0, record_losses=False`` stores only the final iterates (n, d).

    For d <= ``COLUMNS_MAX_DIM`` variables the batch runs as columns
    (:func:`run_optimizer_columns`); the results equal those of ``vmap(gradient_descent)`` up
    to rounding (forward- instead of reverse-mode gradients).

    Returns:
      OptimizeResult with a leading batch axis on every field.
    """
    x_axis, _, p_axis = in_axes
    if x_axis not in (0, None):
        raise ValueError(f"x0's batch axis must be 0 or None, got {x_axis}")
    d = x0.shape[-1]
    kw = dict(loss_fn=loss_fn, steps=steps, record_every=record_every,
              record_losses=record_losses)
    if d <= COLUMNS_MAX_DIM:
        n = batch_size(in_axes, x0, lr, params)
        X = x0 if x_axis is not None else jnp.broadcast_to(x0, (n, d))
        opt = make_optimizer("sgd", jnp.asarray(lr, x0.dtype))  # lr (n,) or shared: elementwise
        return run_optimizer_columns(opt, X, params, blowup, p_axis=p_axis, **kw)

    def one(x, eta, p):
        return gradient_descent(x, eta, p, blowup, **kw)

    return jax.vmap(one, in_axes=in_axes)(x0, lr, params)


def contraction_rate(eigenvalues, lr):
    """max_i |1 - lr lambda_i|: the per-step contraction of GD's error on a quadratic."""
    return jnp.max(jnp.abs(1.0 - lr * jnp.asarray(eigenvalues)))
