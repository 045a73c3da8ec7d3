"""Compositions of elementary functions and their derivative by the chain rule.

A composition is a list of indices into a table of elementary functions, applied innermost
first: idx = (i_1, ..., i_k) means F = f_k o ... o f_1. The chain rule builds its derivative
from the table's derivative formulas alone, accumulating along the forward pass

    v_0 = x,   v_j = f_j(v_{j-1}),   F'(x) = prod_j f_j'(v_{j-1}).

Indices are traced (``lax.switch``), so many random compositions run in one compiled kernel,
batched with ``vmap``; index ``IDENTITY`` pads shorter compositions.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from mathml_jax.calculus.elementary import ELEMENTARY

NAMES = tuple(ELEMENTARY) + ("identity",)
IDENTITY = len(NAMES) - 1
_FUNS = [ELEMENTARY[n][0] for n in NAMES[:-1]] + [lambda x: x]
_DERIVS = [ELEMENTARY[n][1] for n in NAMES[:-1]] + [lambda x: jnp.ones_like(x)]


def compose(idx: jax.Array, x: jax.Array) -> jax.Array:
    """F(x) = f_k(...f_1(x)) for one composition idx (k,) and one point x."""
    def body(v, i):
        return jax.lax.switch(i, _FUNS, v), None

    return jax.lax.scan(body, x, idx)[0]


def chain_rule_derivative(idx: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(F(x), F'(x)) with F' = prod_j f_j'(v_{j-1}) from the derivative table (no autodiff)."""
    def body(carry, i):
        v, d = carry
        return (jax.lax.switch(i, _FUNS, v), d * jax.lax.switch(i, _DERIVS, v)), None

    (v, d), _ = jax.lax.scan(body, (x, jnp.ones_like(x)), idx)
    return v, d


@jax.jit
def compositions_and_derivatives(idx: jax.Array, x: jax.Array):
    """For C compositions idx (C, k) at points x (n,): F (C, n), chain-rule F' (C, n) and
    ``jax.grad`` of F (C, n)."""
    per_point = jax.vmap(chain_rule_derivative, in_axes=(None, 0))
    values, rule = jax.vmap(per_point, in_axes=(0, None))(idx, x)
    grad = jax.vmap(jax.vmap(jax.grad(compose, argnums=1), in_axes=(None, 0)),
                    in_axes=(0, None))(idx, x)
    return values, rule, grad


@partial(jax.jit, static_argnames=("length", "depth_max"))
def random_compositions(key: jax.Array, allowed: jax.Array, *, length: int, depth_max: int):
    """C = ``length`` random compositions of depth 2..depth_max, entries from ``allowed``
    (indices into :data:`NAMES`), padded with ``IDENTITY`` (the padding is applied last)."""
    k_fun, k_depth = jax.random.split(key)
    picks = jax.random.choice(k_fun, allowed, (length, depth_max))
    depth = jax.random.randint(k_depth, (length, 1), 2, depth_max + 1)
    return jnp.where(jnp.arange(depth_max)[None, :] < depth, picks, IDENTITY)
