"""The ``jacobian`` experiment and its kernels, against independent references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from conftest import assert_all_claims_pass

from mathml_jax.multivariable import (
    layer_jacobian_closed_form,
    layer_jacobians,
    loss_jacfwd,
    loss_jacrev,
    network,
    network_jacobians,
)


def _fd_jacobian(fn, x, h=1e-6):
    return np.stack([(fn(x + h * e) - fn(x - h * e)) / (2 * h) for e in np.eye(x.size)], axis=1)


def test_layer_jacobian_matches_numpy_finite_differences():
    rng = np.random.default_rng(0)
    A, b, x = rng.normal(size=(5, 4)), rng.normal(size=5), rng.normal(size=4)
    fd = _fd_jacobian(lambda v: np.tanh(A @ v + b), x)
    with jax.enable_x64(True):
        J = np.asarray(layer_jacobian_closed_form(jnp.asarray(A), jnp.asarray(b),
                                                  jnp.asarray(x)))
        Jf, Jr, Jc = layer_jacobians(jnp.asarray(A), jnp.asarray(b), jnp.asarray(x[None]))
    np.testing.assert_allclose(J, fd, atol=1e-8)
    np.testing.assert_allclose(np.asarray(Jf[0]), J, atol=1e-15)
    np.testing.assert_allclose(np.asarray(Jr[0]), J, atol=1e-15)


def test_network_jacobian_is_the_product_and_matches_finite_differences():
    rng = np.random.default_rng(1)
    widths = [3, 6, 4, 2]
    params = [(rng.normal(size=(m, n)), rng.normal(size=m))
              for n, m in zip(widths[:-1], widths[1:], strict=True)]
    x = rng.normal(size=3)

    def np_net(v):
        for A, b in params:
            v = np.tanh(A @ v + b)
        return v

    with jax.enable_x64(True):
        jp = [(jnp.asarray(A), jnp.asarray(b)) for A, b in params]
        Nf, Nr, Np = network_jacobians(jp, jnp.asarray(x[None]))
        np.testing.assert_allclose(np.asarray(network(jp, jnp.asarray(x))), np_net(x),
                                   rtol=1e-14)
    fd = _fd_jacobian(np_net, x)
    for J in (Nf, Nr, Np):
        np.testing.assert_allclose(np.asarray(J[0]), fd, atol=1e-8)


def test_loss_gradients_forward_and_reverse_agree():
    with jax.enable_x64(True):
        A = jnp.asarray(np.random.default_rng(2).normal(size=(7, 5)))
        xs = jnp.stack([jnp.linspace(-1, 1, 5), jnp.linspace(0.5, -2, 5)])
        exact = (1 - np.tanh(np.asarray(xs) @ np.asarray(A).T) ** 2) @ np.asarray(A)
        np.testing.assert_allclose(np.asarray(loss_jacfwd(A, xs)), exact, rtol=1e-13)
        np.testing.assert_allclose(np.asarray(loss_jacrev(A, xs)), exact, rtol=1e-13)


def test_jacobian_experiment_end_to_end_fast_profile(run_experiment):
    status, report, job = run_experiment("jacobian")
    assert status == 0
    assert_all_claims_pass(report)
    for name in ("layer_jacobian", "cost"):
        assert (job / f"{name}.png").stat().st_size > 10_000
    assert report.metrics["fwd_over_rev_at_max_n"] > 1
