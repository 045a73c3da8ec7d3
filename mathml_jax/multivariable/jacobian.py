"""The total derivative of a layer x -> sigma(A x + b), and of a stack of layers.

    J_layer(x) = diag(sigma'(A x + b)) A                               (m x n)
    J_{L o ... o 1}(x) = J_L(v_{L-1}) ... J_2(v_1) J_1(x)              (the chain rule)

``jax.jacfwd`` builds a Jacobian column by column (one forward-mode JVP per input), and
``jax.jacrev`` row by row (one reverse-mode VJP per output). For a scalar loss of n inputs,
forward mode costs ~n evaluations, reverse mode ~1: the reason backpropagation trains networks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

ACTIVATION = jnp.tanh


def layer(A: jax.Array, b: jax.Array, x: jax.Array) -> jax.Array:
    """sigma(A x + b) with sigma = tanh. A (m, n), b (m,), x (n,)."""
    return ACTIVATION(A @ x + b)


def layer_jacobian_closed_form(A: jax.Array, b: jax.Array, x: jax.Array) -> jax.Array:
    """diag(sigma'(A x + b)) A, with tanh' = 1 - tanh^2 (no autodiff). Shape (m, n)."""
    return (1 - jnp.tanh(A @ x + b) ** 2)[:, None] * A


def network(params, x: jax.Array) -> jax.Array:
    """The composition of layers; params is a list of (A, b)."""
    for A, b in params:
        x = layer(A, b, x)
    return x


def _network_jacobians(params, x):
    fwd = jax.jacfwd(network, argnums=1)(params, x)
    rev = jax.jacrev(network, argnums=1)(params, x)
    prod = jnp.eye(x.shape[0], dtype=x.dtype)
    v = x
    for A, b in params:
        prod = layer_jacobian_closed_form(A, b, v) @ prod
        v = layer(A, b, v)
    return fwd, rev, prod


@jax.jit
def network_jacobians(params, xs: jax.Array):
    """At each point of xs (P, n): (jacfwd of the network, jacrev of the network, product of
    the closed-form layer Jacobians at the intermediate points), each (P, m_L, n)."""
    return jax.vmap(_network_jacobians, in_axes=(None, 0))(params, xs)


@jax.jit
def layer_jacobians(A: jax.Array, b: jax.Array, xs: jax.Array):
    """(jacfwd, jacrev, closed form) of one layer at each point of xs (P, n): (P, m, n) each."""
    def one(x):
        return (jax.jacfwd(layer, argnums=2)(A, b, x), jax.jacrev(layer, argnums=2)(A, b, x),
                layer_jacobian_closed_form(A, b, x))

    return jax.vmap(one)(xs)


def scalar_loss(A: jax.Array, x: jax.Array) -> jax.Array:
    """sum(tanh(A x)): a scalar function of n inputs (A is (h, n))."""
    return jnp.sum(jnp.tanh(A @ x))


def vector_map(B: jax.Array, x: jax.Array) -> jax.Array:
    """tanh(B x): m outputs of n inputs (B is (m, n))."""
    return jnp.tanh(B @ x)


# Jitted Jacobians for the cost study (compiled once per shape; timed without compilation), at
# every row of xs (P, n): one call does P Jacobians, so the timed work at the large sizes is
# milliseconds, well above the few microseconds of dispatch that would otherwise be timed.
def _at_points(jac):
    return jax.jit(jax.vmap(jac, in_axes=(None, 0)))


loss_jacfwd = _at_points(jax.jacfwd(scalar_loss, argnums=1))
loss_jacrev = _at_points(jax.jacrev(scalar_loss, argnums=1))
map_jacfwd = _at_points(jax.jacfwd(vector_map, argnums=1))
map_jacrev = _at_points(jax.jacrev(vector_map, argnums=1))
