"""The one optax factory: every optimiser and learning-rate schedule any experiment offers.

:func:`make_optimizer` returns an ``optax.GradientTransformation`` by name. Plain gradient
descent is ``"sgd"`` (update -eta g); heavy-ball momentum x_{k+1} = x_k - alpha grad f(x_k)
+ beta (x_k - x_{k-1}) is ``"momentum"`` (optax's trace v_k = g_k + beta v_{k-1}).
"""

from __future__ import annotations

import optax

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "lion")
SCHEDULES = ("constant", "cosine", "linear")


def make_schedule(learning_rate, schedule: str = "constant", *, total_steps: int = 1):
    """eta_k by name: "constant" (eta), "cosine" (eta (1 + cos(pi k / K)) / 2, 0 from K on) or
    "linear" (eta (1 - k / K), 0 from K on), K = ``total_steps``. ``learning_rate`` may be
    traced."""
    if schedule == "constant":
        return learning_rate
    if schedule == "cosine":
        return optax.cosine_decay_schedule(learning_rate, decay_steps=total_steps)
    if schedule == "linear":
        return optax.linear_schedule(learning_rate, 0.0, transition_steps=total_steps)
    raise ValueError(f"unknown schedule {schedule!r}; allowed: {SCHEDULES}")


def make_optimizer(name: str, learning_rate, momentum=0.9, *, schedule: str = "constant",
                   total_steps: int = 1) -> optax.GradientTransformation:
    """An optax optimiser by name, its step size following a schedule over ``total_steps``.

    ``learning_rate`` and ``momentum`` may be traced (they are only used arithmetically), so a
    sweep over them does not recompile a jitted caller.

    Args:
      name: one of OPTIMIZERS: "sgd" (gradient descent), "momentum" (heavy ball), "nesterov",
        "adagrad", "rmsprop", "adam", "lion" (sign of an interpolated momentum; Chen et al.
        2023).
      learning_rate: eta (scalar, or an array broadcasting against the parameters).
      momentum: beta of "momentum" and "nesterov".
      schedule: one of SCHEDULES (:func:`make_schedule`).
      total_steps: K of the decaying schedules (static).

    Example::

        opt = make_optimizer("adam", 1e-2, schedule="cosine", total_steps=1000)
    """
    lr = make_schedule(learning_rate, schedule, total_steps=total_steps)
    if name == "sgd":
        return optax.sgd(lr)
    if name == "momentum":
        return optax.sgd(lr, momentum=momentum)
    if name == "nesterov":
        return optax.sgd(lr, momentum=momentum, nesterov=True)
    if name == "adagrad":
        return optax.adagrad(lr)
    if name == "rmsprop":
        return optax.rmsprop(lr)
    if name == "adam":
        return optax.adam(lr)
    if name == "lion":
        return optax.lion(lr)
    raise ValueError(f"unknown optimizer {name!r}; allowed: {OPTIMIZERS}")
