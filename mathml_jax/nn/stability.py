"""The edge of stability: full-batch gradient descent theta <- theta - eta grad L(theta) and the
top Hessian eigenvalue (the sharpness) along its path.

On a quadratic with Hessian H, gradient descent is stable iff eta lambda_max(H) < 2 (the ``gd``
experiment's threshold). On a network's loss, Cohen et al. (ICLR 2021) found the sharpness
rises during training (progressive sharpening) until it reaches about 2/eta, and then hovers
there while the loss keeps decreasing, non-monotonically: the edge of stability.

:func:`gd_sharpness` runs gradient descent for several start points and step sizes at once
(two ``vmap``), each in one ``lax.scan``, and every ``record_every`` steps measures the loss and
the sharpness by a few Lanczos steps on Hessian-vector products, warm-started from the previous
top Ritz vector (the top eigenvector moves little between records, so a few steps suffice; a
Ritz value never exceeds lambda_max, and its residual norm, recorded too, bounds its distance
to an eigenvalue). :func:`eos_band` (NumPy) turns one path into the statistics of a claim, in
units of the edge: q = eta lambda_max / 2.

Measured (two-moons, network (2, 16, 16, 2), sigmoid, cross-entropy, Glorot starts
``init_mlp(jax.random.key(s))``, data ``two_moons(n, noise, seed=0)``, 8 Lanczos steps a record;
``eos_band`` with threshold 0.9; float32 and float64 separately, the paths differ between
them, the statistics do not):

* The sharpness at initialisation is 2.3-2.7 (the sigmoid's mean 1/2 makes the last layer's
  curvature large), above 2/eta for eta >= 1. Gradient descent first throws the iterate to a
  flatter region (q drops to 0.7-0.9, the catapult of Lewkowycz et al. 2020), then the
  sharpness rises again (progressive sharpening, visible for eta = 1: from q ~ 0.81 to the
  edge within 550-1950 steps) and hovers at 2/eta while the loss keeps falling.
* Recommended (clean, cheap): a dataset of its own for this part, n = 256 points at noise 0.3
  (the classes overlap, so the loss cannot go to 0, where a cross-entropy Hessian vanishes and
  the sharpness would decay late in training), etas (1, 2, 4), record_every = 25 (odd: at the
  edge the iterate and the sharpness can oscillate with period 2, strongly so with tanh; an
  even stride would sample one phase only),
  num_matvecs = 8; default 3000 steps and 3 starts, fast 2 starts (steps: below).
  Over 66 paths (starts key(0..2) and key(100..105), default; key(0..1), fast; float32
  and float64): every path reaches the edge (onset <= 1950 steps for eta = 1, <= 1075 for
  eta = 2, <= 500 for eta = 4: so 2000 steps leave a late eta = 1 path few records after
  its onset; a fast profile is safer with 3000 steps, or with etas (2, 4) and 1500); median
  q after onset in [0.907, 1.043]; q10 >= 0.799, q90 <= 1.188 (single spikes reach 1.7:
  catapults); the slope of log(median lambda_max) against log(eta), per start, -0.929 to
  -1.002 (plateau ~ 2/eta: smaller eta, higher plateau, in every start). One start of the
  nine (key(103), eta = 1) never dips below 0.9 (onset = record 1) and hovers a little
  under the edge (median 0.907 float64, 0.937 float32). Run time on 2 shared, heavily loaded
  cores: ~9 s (3 starts, 3000 steps, float32), compile ~4-6 s.
* With the training set of the experiment instead (n = 512 at noise 0.2, etas (1, 1.5, 2),
  4000 steps): with 2 starts (key(0..1)) and stride 49, onsets <= 1176 steps, median q in
  [0.930, 1.029], q10 down to 0.69; with 6 more starts (key(100..105)) and stride 50 (even),
  onsets <= 1700 steps, median q in [0.889, 1.095] (float64 eta = 2: 0.889; float32 eta = 1:
  bands such as [1.023, 1.042], the one-phase sampling of a period-2 oscillation), q10 down
  to 0.695, slope -0.916 to -1.217. It shows the edge, with much less margin: the median
  band [0.85, 1.15] holds (worst 0.889: margin 0.26), a slope band of +-0.2 would fail.
* Not robust: eta = 0.5 (2/eta = 4) shows the strongest sharpening (q from ~0.48 to 1) but
  reaches the edge only after 1500-4150 steps, and for data seed 1 not within 5000; the
  data seed matters more than the start: in the recommended setting, data seed 1 behaves like
  seed 0 (float64: medians 0.995-1.021), data seed 2 does not (float64: two eta = 1 paths of
  9 do not reach the edge within 3000 steps, medians 0.904-1.111). tanh at noise 0.15
  hovers with a strong period-2 oscillation (q alternating 0.45/1.65) and the sharpness then
  decays as the loss goes to 0.
* Suggested claims and bounds (each can fail; margins are from the numbers above, for the
  recommended setting): every path reaches q >= 0.9 (count = all; measured: all);
  median q after onset in [0.85, 1.15] (worst 0.907: margin 0.38 of the half-width);
  q10 >= 0.7 and q90 <= 1.3 (worst 0.799 / 1.188: margins 0.33 / 0.37 of the 0.3 band);
  slope of log median lambda_max on log eta within -1 +- 0.2 (worst -0.929: margin 0.64).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mathml_jax.nn.spectrum import tridiagonalise


class SharpnessPath(NamedTuple):
    """Records at steps 0, record_every, 2 record_every, ... (K = num_steps // record_every of
    them, :func:`record_steps`), for S start points and E step sizes, each (S, E, K):
    loss, sharpness (the top Ritz value, a lower bound on lambda_max) and bound (its Ritz
    residual norm: an eigenvalue of H lies within it)."""

    loss: jax.Array
    sharpness: jax.Array
    bound: jax.Array


def record_steps(num_steps: int, record_every: int) -> np.ndarray:
    """The steps at which :func:`gd_sharpness` records: 0, record_every, ... (K,)."""
    return np.arange(num_steps // record_every) * record_every


def _one_path(theta0, v0, eta, data, *, f, num_steps, record_every, num_matvecs):
    grad = jax.grad(f)

    def gd_step(theta, _):
        return theta - eta * grad(theta, data), None

    def record_then_descend(carry, _):
        theta, v = carry
        run = tridiagonalise(f, theta, data, v, num_matvecs)
        out = (f(theta, data), run.ritz[-1], run.bounds[-1])
        theta, _ = jax.lax.scan(gd_step, theta, None, length=record_every)
        return (theta, run.top_vector), out

    _, (loss, lam, bound) = jax.lax.scan(record_then_descend, (theta0, v0), None,
                                         length=num_steps // record_every)
    return loss, lam, bound


@partial(jax.jit, static_argnames=("f", "num_steps", "record_every", "num_matvecs"))
def gd_sharpness(thetas: jax.Array, data, etas: jax.Array, key: jax.Array, *, f: Callable,
                 num_steps: int, record_every: int, num_matvecs: int = 8) -> SharpnessPath:
    """Full-batch gradient descent on f(., data) from each row of ``thetas`` (S, d) with each
    step size in ``etas`` (E,) (traced: a new eta does not recompile), recording the loss and
    the sharpness before every ``record_every`` steps (static, as are ``num_steps`` and the
    Lanczos steps ``num_matvecs`` per record; the first record starts Lanczos from a normal
    vector drawn with ``key``, each later one from the previous top Ritz vector). A diverging
    run gives non-finite records.

    Returns :class:`SharpnessPath`."""
    if thetas.ndim != 2:
        raise ValueError(f"thetas must be (starts, d), got shape {thetas.shape}")
    if num_steps < record_every or record_every < 1:
        raise ValueError(f"need 1 <= record_every={record_every} <= num_steps={num_steps}")
    if not 1 <= num_matvecs <= thetas.shape[1]:
        raise ValueError(f"num_matvecs={num_matvecs} must be in 1..{thetas.shape[1]}")
    etas = jnp.asarray(etas, thetas.dtype)
    v0 = jax.random.normal(key, thetas.shape[1:], thetas.dtype)
    path = partial(_one_path, f=f, num_steps=num_steps, record_every=record_every,
                   num_matvecs=num_matvecs)
    per_eta = jax.vmap(path, in_axes=(None, None, 0, None))
    loss, lam, bound = jax.vmap(per_eta, in_axes=(0, None, None, None))(thetas, v0, etas, data)
    return SharpnessPath(loss, lam, bound)


# ------------------------------------------------------------------ NumPy statistics (no JAX)

class EdgeBand(NamedTuple):
    """The edge-of-stability statistics of one sharpness path, in units of 2/eta
    (q = eta lambda_max / 2): ``onset``, the first record where q >= threshold after q first
    was below it (1 if it never was: the path started at or above the edge, and record 0 is
    the initialisation; -1 if it dipped and never came back); ``min_before``, the lowest q
    before the onset from record 1 on (progressive sharpening: how far below the edge the path
    was); ``median``, ``q10``, ``q90``, ``max_after``: of q over the records from the onset
    on (NaN if none); ``count``: how many records that is."""

    onset: int
    min_before: float
    median: float
    q10: float
    q90: float
    max_after: float
    count: int


def eos_band(sharpness, eta: float, threshold: float = 0.9) -> EdgeBand:
    """:class:`EdgeBand` of the records ``sharpness`` (K,) of a run with step size eta.

    The onset is a crossing from below, so that a start above 2/eta (the sharpness at
    initialisation can exceed it: gradient descent first throws the iterate to a flatter
    region, the catapult of Lewkowycz et al. 2020) does not count as having reached the edge."""
    q = np.asarray(sharpness, np.float64) * float(eta) / 2.0
    nan = float("nan")
    if q.size < 2 or not np.all(np.isfinite(q)):
        return EdgeBand(-1, nan, nan, nan, nan, nan, 0)
    below = np.nonzero(q < threshold)[0]
    if below.size == 0:
        onset = 1
    else:
        back = np.nonzero(q[below[0]:] >= threshold)[0]
        if back.size == 0:
            return EdgeBand(-1, float(q[1:].min()), nan, nan, nan, nan, 0)
        onset = int(below[0] + back[0])
    after = q[onset:]
    min_before = float(q[1:onset].min()) if onset > 1 else float(q[onset])
    return EdgeBand(onset, min_before, float(np.median(after)), float(np.quantile(after, 0.1)),
                    float(np.quantile(after, 0.9)), float(after.max()), int(after.size))
