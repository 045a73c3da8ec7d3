"""Elementary functions of one variable with their derivatives in closed form.

Each entry is ``(f, f')`` written with ``jax.numpy``; the derivative formulas are the table a
learner memorises (d/dx sin = cos, d/dx exp = exp, ...), so experiments can build a derivative
by rule (the chain rule) and compare it with ``jax.grad``. Domains: every function here is
defined and smooth on all of R (``log1p_sq`` is log(1 + x^2), ``sqrt1p_sq`` is sqrt(1 + x^2)).
"""

from __future__ import annotations

import jax.numpy as jnp


def _sigmoid(x):
    return 0.5 * (1 + jnp.tanh(0.5 * x))


ELEMENTARY = {
    "sin": (jnp.sin, jnp.cos),
    "cos": (jnp.cos, lambda x: -jnp.sin(x)),
    "exp": (jnp.exp, jnp.exp),
    "tanh": (jnp.tanh, lambda x: 1 - jnp.tanh(x) ** 2),
    "sigmoid": (_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    "log1p_sq": (lambda x: jnp.log1p(x * x), lambda x: 2 * x / (1 + x * x)),
    "sqrt1p_sq": (lambda x: jnp.sqrt(1 + x * x), lambda x: x / jnp.sqrt(1 + x * x)),
    "cube": (lambda x: x ** 3, lambda x: 3 * x * x),
    "atan": (jnp.arctan, lambda x: 1 / (1 + x * x)),
}
"""name -> (f, f'), both elementwise jax.numpy functions."""
