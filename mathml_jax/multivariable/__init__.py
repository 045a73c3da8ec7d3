"""Multivariable calculus: partial and directional derivatives, gradients, Jacobians."""

from mathml_jax.multivariable.gradient import (
    directional_derivative,
    gradient_study,
    partials_by_slices,
    tangent_plane,
)
from mathml_jax.multivariable.jacobian import (
    layer,
    layer_jacobian_closed_form,
    layer_jacobians,
    loss_jacfwd,
    loss_jacrev,
    map_jacfwd,
    map_jacrev,
    network,
    network_jacobians,
    scalar_loss,
    vector_map,
)

__all__ = [
    "directional_derivative",
    "gradient_study",
    "layer",
    "layer_jacobian_closed_form",
    "layer_jacobians",
    "loss_jacfwd",
    "loss_jacrev",
    "map_jacfwd",
    "map_jacrev",
    "network",
    "network_jacobians",
    "partials_by_slices",
    "scalar_loss",
    "tangent_plane",
    "vector_map",
]
