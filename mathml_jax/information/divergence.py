"""Cross-entropy and Kullback-Leibler divergence, discrete and between densities.

    H(p, q) = -sum_x p(x) log q(x)          (cross-entropy, ``xlogy``)
    KL(p || q) = sum_x p(x) log(p(x)/q(x))  (``rel_entr``) = H(p, q) - H(p) >= 0,

with equality only when p = q (Gibbs' inequality). KL is not symmetric. For densities the sums
become integrals, computed here on a grid by the trapezoid rule from log densities.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import optax
from jax.scipy.special import rel_entr, xlogy
from jax.scipy.stats import norm


@partial(jax.jit, static_argnames=("axis",))
def cross_entropy(p: jax.Array, q: jax.Array, *, axis: int = -1) -> jax.Array:
    """H(p, q) = -sum p log q along ``axis`` (nats); 0 log 0 = 0 through ``xlogy``.

    With a one-hot p (true class y) it is -log q[y], the classification loss.
    """
    return -jnp.sum(xlogy(p, q), axis=axis)


@partial(jax.jit, static_argnames=("axis",))
def kl_divergence(p: jax.Array, q: jax.Array, *, axis: int = -1) -> jax.Array:
    """KL(p || q) = sum p log(p / q) along ``axis`` (nats), through ``rel_entr``."""
    return jnp.sum(rel_entr(p, q), axis=axis)


def gaussian_kl(m1, s1, m2, s2):
    """KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2."""
    return jnp.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5


@jax.jit
def density_kl(logp: jax.Array, logq: jax.Array, x: jax.Array) -> jax.Array:
    """KL(p || q) = integral p (log p - log q) dx from LOG densities on the grid ``x``
    (trapezoid rule).

    Densities are passed as logs on purpose: far in the tails p and q underflow to 0 in
    float32 (a Gaussian 14 sd out is below 1e-45) while their logs stay finite, and
    ``rel_entr(p, 0) = inf`` would poison the integral and its gradient. Where p underflows,
    exp(log p) = 0 multiplies a finite number and contributes 0.
    """
    return jnp.trapezoid(jnp.exp(logp) * (logp - logq), x)


@jax.jit
def mixture_logpdf(x, weights, means, sds):
    """log of the Gaussian mixture density sum_k w_k N(means_k, sds_k^2) at x (logsumexp)."""
    return jax.scipy.special.logsumexp(norm.logpdf(x[..., None], means, sds), b=weights,
                                       axis=-1)




@partial(jax.jit, static_argnames=("direction", "steps"))
def fit_gaussian(logp: jax.Array, x: jax.Array, starts: jax.Array, lr, *, direction: str,
                 steps: int) -> tuple[jax.Array, jax.Array]:
    """Fits N(m, s^2) to the density p (``logp``, its log on the grid ``x``) by Adam on KL.

    ``direction="forward"`` minimises KL(p || q) (mass-covering: it matches the moments of p);
    ``"reverse"`` minimises KL(q || p) (mode-seeking: it locks onto one bump). The parameters
    are (m, log s); the loop is one ``lax.scan``; ``lr`` is traced.

    Args:
      starts: (S, 2) initial (m, log s) of S independent fits (one ``vmap``).
    Returns:
      (trajectories (S, steps + 1, 2) of (m, s), losses (S, steps + 1)).
    """
    if direction not in ("forward", "reverse"):
        raise ValueError(f"direction must be 'forward' or 'reverse', got {direction!r}")

    def loss(theta):
        logq = norm.logpdf(x, theta[0], jnp.exp(theta[1]))
        return density_kl(logp, logq, x) if direction == "forward" else density_kl(logq, logp, x)

    opt = optax.adam(lr)

    def step(carry, _):
        theta, state = carry
        value, g = jax.value_and_grad(loss)(theta)
        updates, state = opt.update(g, state, theta)
        return (optax.apply_updates(theta, updates), state), (theta, value)

    def one(start):
        (theta, _), (thetas, values) = jax.lax.scan(step, (start, opt.init(start)), None,
                                                    length=steps)
        thetas = jnp.concatenate([thetas, theta[None]])
        values = jnp.concatenate([values, loss(theta)[None]])
        return jnp.stack([thetas[:, 0], jnp.exp(thetas[:, 1])], axis=1), values

    return jax.vmap(one)(starts)
