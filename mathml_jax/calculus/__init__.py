"""Calculus of one variable: derivatives as limits, critical points, the chain rule, quadrature."""

from mathml_jax.calculus.differences import (
    central_difference,
    derivative_estimates,
    forward_difference,
)
from mathml_jax.calculus.elementary import ELEMENTARY

__all__ = [
    "ELEMENTARY",
    "central_difference",
    "derivative_estimates",
    "forward_difference",
]
