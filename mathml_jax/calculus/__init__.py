"""Calculus of one variable: derivatives as limits, critical points, the chain rule, quadrature."""

from mathml_jax.calculus.chain_rule import (
    chain_rule_derivative,
    compose,
    compositions_and_derivatives,
    random_compositions,
)
from mathml_jax.calculus.critical_points import (
    DEGENERATE,
    MAXIMUM,
    MINIMUM,
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
from mathml_jax.calculus.quadrature import (
    RULES,
    antiderivative_and_derivative,
    composite_rule_estimates,
    composite_rules,
    gauss_legendre,
    gauss_legendre_estimates,
    gauss_legendre_table,
    monte_carlo_running_estimates,
)

__all__ = [
    "ELEMENTARY",
    "DEGENERATE",
    "MAXIMUM",
    "MINIMUM",
    "RULES",
    "antiderivative_and_derivative",
    "composite_rules",
    "composite_rule_estimates",
    "gauss_legendre",
    "gauss_legendre_estimates",
    "gauss_legendre_table",
    "monte_carlo_running_estimates",
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
