"""Optimisation kernels: models and losses, stochastic gradients, training loops, gradient
descent, the optax optimisers compared, test functions and critical points."""

from mathml_jax.optimization.critical_points import (
    TYPE_NAMES,
    classify_hessian,
    classify_points,
    determinant_test,
    hvp,
    lanczos_extreme_eigenvalues,
    newton_critical_point,
    newton_from_starts,
)
from mathml_jax.optimization.descent import (
    describe_status,
    gradient_descent,
    gradient_descent_batch,
)
from mathml_jax.optimization.first_order import (
    OPTIMIZER_NAMES,
    build_optimizer,
    optimize,
    optimize_batch,
)
from mathml_jax.optimization.logistic import (
    logistic_loss,
    per_example_gradients,
    smoothness_constant,
)
from mathml_jax.optimization.stochastic import (
    OPTIMIZERS,
    SCHEDULES,
    make_optimizer,
    minibatch_gradient_sq_errors,
    minibatch_mean,
    running_mean_sq_errors,
    train,
)
from mathml_jax.optimization.test_functions import (
    TEST_FUNCTIONS,
    TestFunction,
    make_quadratic,
)

__all__ = [
    "OPTIMIZER_NAMES",
    "TEST_FUNCTIONS",
    "TYPE_NAMES",
    "TestFunction",
    "build_optimizer",
    "classify_hessian",
    "classify_points",
    "describe_status",
    "determinant_test",
    "gradient_descent",
    "gradient_descent_batch",
    "hvp",
    "lanczos_extreme_eigenvalues",
    "make_quadratic",
    "newton_critical_point",
    "newton_from_starts",
    "optimize",
    "optimize_batch",
    "OPTIMIZERS",
    "SCHEDULES",
    "logistic_loss",
    "make_optimizer",
    "minibatch_gradient_sq_errors",
    "minibatch_mean",
    "per_example_gradients",
    "running_mean_sq_errors",
    "smoothness_constant",
    "train",
]
