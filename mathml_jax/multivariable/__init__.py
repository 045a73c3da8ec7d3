"""Multivariable calculus: partial and directional derivatives, gradients, Jacobians."""

from mathml_jax.multivariable.gradient import (
    directional_derivative,
    gradient_study,
    partials_by_slices,
    tangent_plane,
)

__all__ = [
    "directional_derivative",
    "gradient_study",
    "partials_by_slices",
    "tangent_plane",
]
