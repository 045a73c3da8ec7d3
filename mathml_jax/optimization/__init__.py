"""Optimisation kernels: models and losses, stochastic gradients, training loops, gradient
descent, the optax optimisers compared (one factory, :mod:`.optimizers`), test functions and
critical points. Status and kind codes live in :mod:`mathml_jax.status`."""

from mathml_jax.optimization.critical_points import (
    classify_hessian,
    classify_points,
    determinant_test,
    hvp,
    lanczos_extreme_eigenvalues,
    newton_critical_point,
    newton_from_starts,
)
from mathml_jax.optimization.descent import (
    OptimizeResult,
    gradient_descent,
    gradient_descent_batch,
)
from mathml_jax.optimization.first_order import (
    optimize,
    optimize_batch,
)
from mathml_jax.optimization.logistic import (
    logistic_loss,
    per_example_gradients,
    smoothness_constant,
)
from mathml_jax.optimization.optimizers import (
    OPTIMIZERS,
    SCHEDULES,
    make_optimizer,
    make_schedule,
)
from mathml_jax.optimization.stochastic import (
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
    "TEST_FUNCTIONS",
    "TestFunction",
    "classify_hessian",
    "classify_points",
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
    "OptimizeResult",
    "SCHEDULES",
    "logistic_loss",
    "make_optimizer",
    "make_schedule",
    "minibatch_gradient_sq_errors",
    "minibatch_mean",
    "per_example_gradients",
    "running_mean_sq_errors",
    "smoothness_constant",
    "train",
]
