"""Calculus of one variable: derivatives as limits, critical points, the chain rule, quadrature."""

from mathml_jax.calculus.chain_rule import (
    chain_rule_derivative,
    compose,
    compositions_and_derivatives,
    random_compositions,
)
from mathml_jax.calculus.critical_points import (
    INCONCLUSIVE,
    KIND_NAMES,
    MAXIMUM,
    MINIMUM,
    STATUS_NAMES,
    classify_critical_point,
    derivative_sign_change,
    newton_critical_points,
)
from mathml_jax.calculus.differences import (
    central_difference,
    derivative_estimates,
    forward_difference,
)
from mathml_jax.calculus.elementary import ELEMENTARY

__all__ = [
    "ELEMENTARY",
    "INCONCLUSIVE",
    "KIND_NAMES",
    "MAXIMUM",
    "MINIMUM",
    "STATUS_NAMES",
    "chain_rule_derivative",
    "compose",
    "compositions_and_derivatives",
    "random_compositions",
    "classify_critical_point",
    "derivative_sign_change",
    "newton_critical_points",
    "central_difference",
    "derivative_estimates",
    "forward_difference",
]
