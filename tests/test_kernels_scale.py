"""The optimisation kernels built for scale: recording options, the columns layout, the packed
state, and the 2-D closed forms, each against an independent reference.

1. Recording every k-th iterate or only the final one gives the same final iterate and the
   same subsampled trajectory as full recording; final-only compiled memory does not grow with
   the number of steps.
2. The batched columns kernels (forward-mode gradients, packed state) agree with the per-start
   ``vmap`` path and with NumPy float64 references (gradient descent and Adam on Rosenbrock,
   closed-form Newton on Himmelblau), tolerances from the dtype's eps.
3. Packing the state into one array changes nothing: bit-for-bit equal to the unpacked run.
4. The Hessians and types of ``classify_points`` agree with Himmelblau's analytic Hessian.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mathml_jax.linalg import small
from mathml_jax.optimization import critical_points as cp
from mathml_jax.optimization import descent, first_order
from mathml_jax.optimization.test_functions import himmelblau, quadratic, rosenbrock


@pytest.fixture(autouse=True)
def _float64():
    with jax.enable_x64(True):
        yield


def _starts(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-2, 2, n), rng.uniform(-1, 3, n)], 1).astype(dtype)


def _grad_rosenbrock(X):
    x, y = X[:, 0], X[:, 1]
    return np.stack([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)], 1)


def _np_gd_rosenbrock(X0, lr, steps, blowup):
    """NumPy float64 gradient descent with the kernel's freezing rule, per start."""
    X = np.array(X0, np.float64)
    div = np.full(len(X), -1)
    traj = [X.copy()]
    for k in range(steps):
        new = X - lr * _grad_rosenbrock(X)
        bad = ~(np.sum(new * new, 1) <= blowup**2)
        div = np.where((div < 0) & bad, k + 1, div)
        X = np.where((div >= 0)[:, None], X, new)
        traj.append(X.copy())
    return np.stack(traj, 1), div


# --- 1. recording -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("d", [2, 6])
def test_record_every_subsamples_the_full_trajectory(dtype, d):
    """k-th and final-only recording: the same final iterate and the subsampled trajectory,
    for the columns kernel (d = 2) and the per-start vmap (d = 6)."""
    steps, k = 103, 10  # not a multiple of k: the last 3 steps run after the last record
    rng = np.random.default_rng(1)
    A = np.diag(np.linspace(0.1, 1.0, d))
    b = rng.normal(size=d)
    x0 = jnp.asarray(rng.normal(size=(5, d)), dtype)
    params = (jnp.asarray(A, dtype), jnp.asarray(b, dtype))
    kw = dict(loss_fn=quadratic, steps=steps, in_axes=(0, None, None))
    full = descent.gradient_descent_batch(x0, 0.9, params, 1e6, **kw)
    every = descent.gradient_descent_batch(x0, 0.9, params, 1e6, record_every=k, **kw)
    final = descent.gradient_descent_batch(x0, 0.9, params, 1e6, record_every=0,
                                           record_losses=False, **kw)
    assert full.trajectory.shape == (5, steps + 1, d)
    assert every.trajectory.shape == (5, steps // k + 1, d)
    assert final.trajectory.shape == (5, 1, d) and final.losses is None
    np.testing.assert_array_equal(np.asarray(every.trajectory), np.asarray(full.trajectory[:, ::k]))
    np.testing.assert_array_equal(np.asarray(every.losses), np.asarray(full.losses[:, ::k]))
    for r in (full, every, final):
        np.testing.assert_array_equal(np.asarray(r.x), np.asarray(full.trajectory[:, -1]))
    np.testing.assert_array_equal(np.asarray(final.trajectory[:, 0]), np.asarray(full.x))


def test_single_start_recording_matches_and_rejects_negative():
    x0 = jnp.asarray([-1.2, 1.0])
    full = descent.gradient_descent_jit(x0, 1e-3, loss_fn=rosenbrock, steps=50)
    every = descent.gradient_descent_jit(x0, 1e-3, loss_fn=rosenbrock, steps=50, record_every=7)
    # equal up to rounding: the loop structure may change XLA's FMA contraction (it does in
    # JAX 0.12), one ulp per step at most, not amplified on this contracting stretch
    tol = 4 * 50 * float(jnp.finfo(x0.dtype).eps)
    np.testing.assert_allclose(np.asarray(every.trajectory), np.asarray(full.trajectory[::7]),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(np.asarray(every.x), np.asarray(full.trajectory[-1]),
                               rtol=tol, atol=tol)
    with pytest.raises(ValueError):
        descent.gradient_descent_jit(x0, 1e-3, loss_fn=rosenbrock, steps=50, record_every=-1)


@pytest.mark.parametrize("optimizer", ["adam", "momentum", "lion"])
def test_optimize_batch_recording(optimizer):
    x0 = jnp.asarray(_starts(6))
    kw = dict(f=rosenbrock, optimizer=optimizer, steps=60)
    args = (x0, jnp.full(6, 1e-3), 0.9, jnp.zeros(6, jnp.int32), 1e6)
    full = first_order.optimize_batch(*args, **kw)
    every = first_order.optimize_batch(*args, record_every=20, **kw)
    final = first_order.optimize_batch(*args, record_every=0, record_losses=False, **kw)
    np.testing.assert_array_equal(np.asarray(every.trajectory),
                                  np.asarray(full.trajectory[:, ::20]))
    np.testing.assert_array_equal(np.asarray(final.x), np.asarray(full.trajectory[:, -1]))
    assert final.losses is None and final.trajectory.shape == (6, 1, 2)


def _temp_bytes(fn, *args, **kw):
    compiled = fn.lower(*args, **kw).compile()
    stats = compiled.memory_analysis()
    if stats is None:
        pytest.skip("no memory analysis on this backend")
    return stats.temp_size_in_bytes + stats.output_size_in_bytes


@pytest.mark.parametrize("n", [64, 2 * descent.PACK_MIN_BATCH])
def test_final_only_memory_does_not_grow_with_steps(n):
    x = jax.ShapeDtypeStruct((n, 2), jnp.float32)
    lr = jax.ShapeDtypeStruct((), jnp.float32)
    lrs = jax.ShapeDtypeStruct((n,), jnp.float32)
    idx = jax.ShapeDtypeStruct((n,), jnp.int32)
    for steps_small, steps_large in [(100, 10_000)]:
        gd = [_temp_bytes(descent.gradient_descent_batch, x, lr, None, 1e8, loss_fn=rosenbrock,
                          steps=s, in_axes=(0, None, None), record_every=0,
                          record_losses=False) for s in (steps_small, steps_large)]
        adam = [_temp_bytes(first_order.optimize_batch, x, lrs, 0.9, idx, 1e8, f=rosenbrock,
                            optimizer="adam", steps=s, record_every=0, record_losses=False)
                for s in (steps_small, steps_large)]
        assert gd[1] == gd[0], gd
        assert adam[1] == adam[0], adam
        # and far below one float per start and step
        assert gd[1] < 4 * n * steps_small, gd


# --- 2. columns kernels against references ------------------------------------------------


@pytest.mark.parametrize("n", [50, descent.PACK_MIN_BATCH])
def test_gd_columns_against_numpy_float64(n):
    """Rosenbrock GD from n starts against NumPy float64 with the same freezing rule: with a
    stable step the final iterates agree to rounding; with a large step (many runs diverge)
    the divergence steps agree. (Past the stability limit rounding differences grow
    geometrically, so only the status is compared there.)"""
    X0 = _starts(n, seed=2)
    kw = dict(loss_fn=rosenbrock, in_axes=(0, None, None), record_every=0, record_losses=False)
    res = descent.gradient_descent_batch(jnp.asarray(X0), 2e-4, None, 1e8, steps=300, **kw)
    traj, div = _np_gd_rosenbrock(X0, 2e-4, 300, 1e8)
    assert np.all(div < 0) and np.all(np.asarray(res.diverged_at) < 0)
    eps = np.finfo(np.float64).eps
    scale = np.max(np.abs(traj), axis=(1, 2))[:, None]
    assert np.all(np.abs(np.asarray(res.x) - traj[:, -1]) <= 1e3 * eps * scale)

    res = descent.gradient_descent_batch(jnp.asarray(1.5 * X0), 1e-3, None, 1e3, steps=40, **kw)
    _, div = _np_gd_rosenbrock(1.5 * X0, 1e-3, 40, 1e3)
    assert np.any(div >= 0) and np.any(div < 0)
    np.testing.assert_array_equal(np.asarray(res.diverged_at), div)


def test_gd_columns_agree_with_per_start_path_float32():
    X0 = jnp.asarray(_starts(64, seed=3), jnp.float32)
    kw = dict(loss_fn=rosenbrock, steps=200)
    batch = descent.gradient_descent_batch(X0, 2e-4, None, 1e8, in_axes=(0, None, None), **kw)
    one = jax.vmap(lambda x: descent.gradient_descent_jit(x, 2e-4, None, 1e8, **kw))(X0)
    eps = float(jnp.finfo(jnp.float32).eps)
    np.testing.assert_allclose(np.asarray(batch.trajectory), np.asarray(one.trajectory),
                               rtol=200 * eps, atol=200 * eps)
    np.testing.assert_array_equal(np.asarray(batch.diverged_at), np.asarray(one.diverged_at))


def _np_adam(X0, lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    X = np.array(X0, np.float64)
    m = np.zeros_like(X)
    v = np.zeros_like(X)
    for t in range(1, steps + 1):
        g = _grad_rosenbrock(X)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        X = X - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return X


@pytest.mark.parametrize("n", [40, descent.PACK_MIN_BATCH])
def test_adam_columns_against_numpy_float64(n):
    X0 = _starts(n, seed=4)
    res = first_order.optimize_batch(jnp.asarray(X0), jnp.full(n, 1e-2), 0.0,
                                     jnp.zeros(n, jnp.int32), 1e8, f=rosenbrock,
                                     optimizer="adam", steps=100, record_every=0,
                                     record_losses=False)
    ref = _np_adam(X0, 1e-2, 100)
    assert np.all(np.asarray(res.diverged_at) == -1)
    np.testing.assert_allclose(np.asarray(res.x), ref, rtol=1e-9, atol=1e-9)


def test_adam_columns_agree_with_per_start_optimize():
    X0 = jnp.asarray(_starts(16, seed=5))
    lrs = jnp.linspace(1e-3, 5e-2, 16)
    res = first_order.optimize_batch(X0, lrs, 0.0, jnp.zeros(16, jnp.int32), 1e8, f=rosenbrock,
                                     optimizer="adam", steps=80)
    one = jax.vmap(lambda x, lr: first_order.optimize(x, lr, 0.0, 0, 1e8, f=rosenbrock,
                                                      optimizer="adam", steps=80))(X0, lrs)
    np.testing.assert_allclose(np.asarray(res.trajectory), np.asarray(one.trajectory),
                               rtol=1e-12, atol=1e-12)


def _np_newton_himmelblau(S, steps):
    x, y = S[:, 0].astype(np.float64), S[:, 1].astype(np.float64)
    for _ in range(steps):
        a, b = x * x + y - 11, x + y * y - 7
        gx, gy = 4 * x * a + 2 * b, 2 * a + 4 * y * b
        hxx, hyy, hxy = 12 * x * x + 4 * y - 42, 4 * x + 12 * y * y - 26, 4 * (x + y)
        det = hxx * hyy - hxy * hxy
        x, y = x - (hyy * gx - hxy * gy) / det, y - (hxx * gy - hxy * gx) / det
    return np.stack([x, y], 1)


@pytest.mark.parametrize("n", [200, descent.PACK_MIN_BATCH])
def test_newton_columns_against_numpy_and_general_path(n):
    S = np.random.default_rng(6).uniform(-5, 5, (n, 2))
    res = cp.newton_from_starts(jnp.asarray(S), None, 1e3, 1e-10, f=himmelblau, steps=30)
    ref = _np_newton_himmelblau(S, 30)
    conv = np.asarray(res.status) == cp.CONVERGED
    assert conv.mean() > 0.9
    np.testing.assert_allclose(np.asarray(res.x)[conv], ref[conv], rtol=0, atol=1e-9)
    general = jax.jit(jax.vmap(lambda x0: cp.newton_critical_point(
        himmelblau, x0, None, 1e3, 1e-10, steps=30)))(jnp.asarray(S))
    np.testing.assert_array_equal(np.asarray(res.status), np.asarray(general.status))
    np.testing.assert_allclose(np.asarray(res.x)[conv], np.asarray(general.x)[conv], atol=1e-9)


# --- 3. packing ------------------------------------------------------------------------------


def test_packing_changes_nothing(monkeypatch):
    X0 = jnp.asarray(_starts(300, seed=7), jnp.float32)

    def run():
        return jax.jit(lambda x: descent.run_optimizer_columns(
            optax.sgd(jnp.float32(2e-3)), x, None, 1e2, loss_fn=rosenbrock, steps=51,
            p_axis=None, record_every=5, record_losses=True))(X0)

    monkeypatch.setattr(descent, "PACK_MIN_BATCH", 1 << 40)
    plain = run()
    monkeypatch.setattr(descent, "PACK_MIN_BATCH", 0)
    packed = run()
    assert np.any(np.asarray(plain.diverged_at) >= 0)
    for a, b in zip(plain, packed, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_pack_state_round_trip():
    n = 5
    tree = ((jnp.arange(n, dtype=jnp.float32), jnp.ones(n, jnp.float32)),
            jnp.asarray([-1, 3, -1, 7, 2**31 - 1], jnp.int32), jnp.asarray([1, 0, 1, 1, 0], bool),
            jnp.int32(4))
    S, apart, layout = descent.pack_state(tree, n, jnp.float32)
    assert S.shape == (4, n) and len(apart) == 1
    back = descent.unpack_state(S, apart, layout)
    for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(back), strict=True):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# --- 4. classification -------------------------------------------------------------------------


def _himmelblau_hessian(P):
    x, y = P[:, 0], P[:, 1]
    return np.stack([np.stack([12 * x * x + 4 * y - 42, 4 * (x + y)], -1),
                     np.stack([4 * (x + y), 4 * x + 12 * y * y - 26], -1)], -2)


def test_classify_points_columns_against_analytic_hessian():
    P = np.random.default_rng(8).uniform(-5, 5, (3001, 2))
    codes, lam, H = cp.classify_points(jnp.asarray(P), None, 1e-6, f=himmelblau, chunk_size=512)
    Href = _himmelblau_hessian(P)
    eps = np.finfo(np.float64).eps
    norm = np.max(np.abs(Href), axis=(1, 2))
    assert np.all(np.abs(np.asarray(H) - Href).max(axis=(1, 2)) <= 64 * eps * norm)
    ref = np.linalg.eigvalsh(Href)
    assert np.all(np.abs(np.asarray(lam) - ref).max(1) <= 64 * eps * norm)
    expect = np.where((ref[:, 0] < -1e-6) & (ref[:, 1] > 1e-6), cp.SADDLE,
                      np.where(ref[:, 0] > 1e-6, cp.MINIMUM, cp.MAXIMUM))
    np.testing.assert_array_equal(np.asarray(codes), expect)
    c2, l2, h2 = cp.classify_points(jnp.asarray(P), None, 1e-6, f=himmelblau, chunk_size=512,
                                    return_hessians=False)
    assert h2 is None
    np.testing.assert_array_equal(np.asarray(c2), np.asarray(codes))
    np.testing.assert_array_equal(np.asarray(l2), np.asarray(lam))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_power_of_two_scale(dtype):
    info = jnp.finfo(dtype)
    m = np.concatenate([10.0 ** np.linspace(-30, 30, 301), [float(info.smallest_normal), 1.0,
                                                              0.75, float(info.max) / 8]])
    m = m[(m >= float(info.smallest_normal)) & (m <= float(info.max))].astype(dtype)
    s, inv = map(np.asarray, small._power_of_two_scale(jnp.asarray(m)))
    assert np.all(s <= m) and np.all(m / 2 < s)
    assert np.all(np.frexp(s)[0] == 0.5)  # exact powers of two
    np.testing.assert_array_equal(s.astype(np.float64) * inv.astype(np.float64), 1.0)
    # capped at 2^(emax - 1), so that 1/s is a normal number
    s, inv = map(np.asarray, small._power_of_two_scale(jnp.asarray([float(info.max)], dtype)))
    assert s[0] == 2.0 ** (info.maxexp - 2) and inv[0] == 2.0 ** -(info.maxexp - 2)
    special, _ = small._power_of_two_scale(jnp.asarray([0.0, np.inf, np.nan], dtype))
    np.testing.assert_array_equal(np.asarray(special), [1.0, 1.0, 1.0])
    tiny, _ = small._power_of_two_scale(jnp.asarray([float(info.smallest_subnormal)], dtype))
    # a subnormal scales by the smallest normal, or by 1 where the CPU flushes it to zero
    assert float(tiny[0]) in (float(info.smallest_normal), 1.0)
