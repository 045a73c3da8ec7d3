"""The one vocabulary of outcomes (mathml_jax.status) and the one optax factory."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathml_jax.calculus import classify_critical_point, newton_critical_points
from mathml_jax.optimization.critical_points import classify_points, newton_from_starts
from mathml_jax.optimization.descent import gradient_descent_batch
from mathml_jax.optimization.optimizers import OPTIMIZERS, SCHEDULES, make_optimizer
from mathml_jax.optimization.test_functions import himmelblau, rosenbrock
from mathml_jax.status import NOT_DIVERGED, Kind, Status, describe_divergence


@pytest.mark.parametrize("vocab", [Status, Kind])
def test_codes_words_and_messages_are_unique_and_complete(vocab):
    codes = [int(m) for m in vocab]
    assert len(set(codes)) == len(codes) and min(codes) >= 0
    words = vocab.words()
    assert len(set(words)) == len(words) and all(words)
    assert all(m.message and m.message != m.word for m in vocab)
    assert vocab.words(np.asarray(codes, np.int32)) == words
    assert vocab.messages(codes) == [m.message for m in vocab]
    with pytest.raises(ValueError):
        vocab(max(codes) + 1)


def test_codes_are_usable_inside_jit():
    @jax.jit
    def f(x):
        return jnp.where(x > 0, Status.CONVERGED, Status.DIVERGED).astype(jnp.int32)

    out = f(jnp.asarray([1.0, -1.0]))
    assert Status.words(out) == ["converged", "diverged"]


def test_kernels_return_codes_that_map_to_words():
    # Newton in two variables: Himmelblau converges from near a minimum; from far out with a
    # tiny radius every run diverges
    starts = jnp.asarray([[3.1, 2.1], [-0.3, -0.9], [50.0, 50.0]])
    res = newton_from_starts(starts, None, jnp.asarray([1e3, 1e3, 1e3])[0], 1e-6,
                             f=lambda x, p: himmelblau(x), steps=50)
    words = Status.words(res.status)
    assert words[0] == "converged" and set(words) <= set(Status.words())
    far = newton_from_starts(starts[2:], None, 1.0, 1e-6, f=lambda x, p: himmelblau(x),
                             steps=5)
    assert Status.words(far.status) == ["diverged"]
    codes, _, _ = classify_points(jnp.asarray([[3.0, 2.0], [-0.270845, -0.923039],
                                               [0.086678, 2.884255]]), None, 1e-3,
                                  f=lambda x, p: himmelblau(x))
    assert Kind.words(codes) == ["minimum", "maximum", "saddle"]
    # one variable: x^3 at 0 is the same DEGENERATE code as a degenerate 2-D point
    x, status, _ = newton_critical_points(jnp.asarray([0.5, 5.0]), -1.0, 1.0, 1e-6,
                                          f=lambda x: x ** 2 - x ** 4 / 20, steps=30)
    assert Status.words(status)[0] == "converged"
    kinds, _ = classify_critical_point(jnp.asarray([0.0]), 1e-6, f=lambda x: x ** 3)
    assert Kind(int(kinds[0])) is Kind.DEGENERATE
    # gradient descent: the divergence step index, in words
    res = gradient_descent_batch(jnp.asarray([[0.0, 0.0], [-1.2, 1.0]]), 1.0, None, 1e6,
                                 loss_fn=rosenbrock, steps=10, in_axes=(0, None, None))
    div = np.asarray(res.diverged_at)
    assert div[1] > 0 and describe_divergence(div[1]) == f"diverged at step {div[1]}"
    assert describe_divergence(NOT_DIVERGED) == "did not diverge"


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_factory_builds_every_optimizer_and_schedule(name, schedule):
    opt = jax.jit(lambda x, lr: opt_step(make_optimizer(name, lr, schedule=schedule,
                                                        total_steps=10), x))
    x = jnp.asarray([-1.2, 1.0])
    x2 = opt(x, 1e-4)
    assert np.all(np.isfinite(np.asarray(x2))) and float(rosenbrock(x2)) < float(rosenbrock(x))


def opt_step(opt, x):
    state = opt.init(x)
    u, _ = opt.update(jax.grad(rosenbrock)(x), state, x)
    return x + u


def test_factory_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("newton", 0.1)
    with pytest.raises(ValueError, match="unknown schedule"):
        make_optimizer("sgd", 0.1, schedule="step")


def _two_steps(name, lr, schedule="constant", total_steps=1, momentum=0.9):
    """Two optax steps on f(x) = 1/2 x^T A x - b^T x in float64, and the quadratic."""
    A = np.array([[3.0, 0.5], [0.5, 1.0]])
    b = np.array([1.0, -2.0])
    x0 = np.array([0.7, -0.4])
    with jax.enable_x64(True):
        opt = make_optimizer(name, lr, momentum, schedule=schedule, total_steps=total_steps)
        x = jnp.asarray(x0)
        state = opt.init(x)
        xs = []
        for _ in range(2):
            u, state = opt.update(jnp.asarray(A) @ x - jnp.asarray(b), state, x)
            x = x + u
            xs.append(np.asarray(x))
    return (A, b, x0), xs


def test_first_steps_match_hand_written_numpy_updates():
    lr, beta = 0.1, 0.9
    (A, b, x0), (x1, x2) = _two_steps("sgd", lr)
    np.testing.assert_allclose(x1, x0 - lr * (A @ x0 - b), rtol=1e-14)
    np.testing.assert_allclose(x2, x1 - lr * (A @ x1 - b), rtol=1e-14)

    # heavy ball: v_k = g_k + beta v_{k-1}, x_{k+1} = x_k - lr v_k
    _, (m1, m2) = _two_steps("momentum", lr, momentum=beta)
    v1 = A @ x0 - b
    np.testing.assert_allclose(m1, x0 - lr * v1, rtol=1e-14)
    v2 = (A @ m1 - b) + beta * v1
    np.testing.assert_allclose(m2, m1 - lr * v2, rtol=1e-14)

    # Adam (b1 0.9, b2 0.999, eps 1e-8), bias-corrected moments
    _, (a1, a2) = _two_steps("adam", lr)
    b1, b2, eps = 0.9, 0.999, 1e-8
    m = v = np.zeros(2)
    x = x0
    for k, got in ((1, a1), (2, a2)):
        g = A @ x - b
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        x = x - lr * (m / (1 - b1 ** k)) / (np.sqrt(v / (1 - b2 ** k)) + eps)
        np.testing.assert_allclose(got, x, rtol=1e-12)


@pytest.mark.parametrize(("schedule", "factor"), [
    ("constant", 1.0), ("cosine", 0.5 * (1 + np.cos(np.pi / 4))), ("linear", 0.75)])
def test_schedules_scale_the_second_step(schedule, factor):
    lr = 0.1
    (A, b, x0), (x1, x2) = _two_steps("sgd", lr, schedule=schedule, total_steps=4)
    # optax evaluates a schedule in float32 (the learning rate is a Python float)
    rtol = 4 * float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(x1, x0 - lr * (A @ x0 - b), rtol=rtol)
    np.testing.assert_allclose(x2, x1 - factor * lr * (A @ x1 - b), rtol=rtol)
