"""Optimisation kernels: models and losses, stochastic gradients, training loops."""

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

__all__ = [
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
