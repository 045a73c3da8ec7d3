"""Several devices and streaming (issue 15, requirements 6 and 2): every sharded kernel gives
the single-device numbers on 4 simulated CPU devices, and every chunked kernel the numbers of
one call, for batches the device count does not divide.

The reference of each comparison is the same kernel called once on one device (the code path
every single-device run takes, unchanged). One subprocess (XLA_FLAGS must be set before JAX
starts) runs every kernel on 4 devices and on 1 device (jax.devices()[:1]), with and without
chunks, and reports which outputs differ.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mathml_jax.optimization.descent import gradient_descent_batch
from mathml_jax.optimization.test_functions import rosenbrock
from mathml_jax.sharding import (
    MC_CHUNK_ELEMENTS,
    chunk_rows,
    map_rows,
    mc_chunk_key,
    mc_chunks,
    memory_budget,
    padded_rows,
    row_bytes,
)

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------- chunk sizes

def _chunk_rows_brute_force(n, per, budget, D):
    """The largest multiple of D rows within the budget, by trying every row count."""
    whole = max(D, -(-n // D) * D)
    fitting = [r for r in range(D, whole + 1, D) if r * per <= budget]
    return max(fitting) if fitting else D


@pytest.mark.parametrize("n, per, budget, D", [
    (1000, 8, 800, 1), (1000, 8, 799, 1), (10, 8, 10**9, 4), (10, 8, 8, 4), (37, 3, 40, 4),
    (0, 5, 100, 4), (64, 1, 64, 8), (100, 0, 1, 2)])
def test_chunk_rows_is_the_largest_multiple_of_the_devices_within_the_budget(n, per, budget, D):
    assert chunk_rows(n, per, budget, multiple=D) == _chunk_rows_brute_force(n, per, budget, D)


def test_chunk_rows_refuses_a_meaningless_request():
    for bad in [(-1, 1, 1), (1, 1, 0)]:
        with pytest.raises(ValueError, match="chunk_rows"):
            chunk_rows(*bad)
    with pytest.raises(ValueError, match="chunk_rows"):
        chunk_rows(1, 1, 1, multiple=0)


def test_monte_carlo_chunks_cover_the_draw_and_do_not_depend_on_the_machine():
    per, chunks = mc_chunks(10**6, 10**3)
    assert per * 10**3 <= MC_CHUNK_ELEMENTS < (per + 1) * 10**3
    assert (chunks - 1) * per < 10**6 <= chunks * per
    assert mc_chunks(7, 3) == (7, 1)            # one chunk: drawn as without chunks
    assert mc_chunks(5, 10**9) == (1, 5)        # at least one item per chunk
    key = jax.random.key(3)
    assert mc_chunk_key(key, 0, 1) is key
    assert not np.array_equal(jax.random.key_data(mc_chunk_key(key, 0, 2)),
                              jax.random.key_data(mc_chunk_key(key, 1, 2)))
    assert padded_rows(10, None) == 10
    assert memory_budget() >= 1


#: two float evaluations of Rosenbrock's (1 - x)^2 + 100 (y - x^2)^2 at the same point (each
#: at most 6 roundings deep, with or without fused multiply-adds) differ by at most
#: 2 gamma_6 F_abs, F_abs = (1 + |x|)^2 + 100 (|y| + x^2)^2 (Higham, Accuracy and Stability,
#: 3.1): the bound in units of eps
ROSENBROCK_EVALUATIONS_EPS = 2 * 6 / (1 - 6 * float(np.finfo(np.float32).eps))


def rosenbrock_discrepancy(f_a, f_b, traj) -> float:
    """max |f_a - f_b| / (eps F_abs) over the iterates ``traj`` (..., 2) both were taken at."""
    t = np.asarray(traj, np.float64)
    x, y = t[..., 0], t[..., 1]
    f_abs = (1 + np.abs(x)) ** 2 + 100 * (np.abs(y) + x * x) ** 2
    eps = float(np.finfo(np.asarray(f_a).dtype).eps)
    diff = np.abs(np.asarray(f_a, np.float64) - np.asarray(f_b, np.float64))
    return float(np.max(diff / (eps * f_abs)))


def test_map_rows_in_chunks_equals_one_call():
    """Rosenbrock GD from 10 starts in chunks of 3 rows (last chunk padded) on one device:
    bit for bit the same iterates and divergence steps as one call (a too-large step makes
    some runs diverge, so the status path is compared too). The losses, f at those same
    iterates, are evaluated by XLA:CPU with a rounding that depends on the batch's shape
    (last bits): compared within the bound of two evaluations."""
    x0 = jax.random.normal(jax.random.key(0), (10, 2))
    lr = jnp.linspace(1e-4, 6e-3, 10)
    kw = dict(loss_fn=rosenbrock, steps=40, in_axes=(0, 0, None))
    one = gradient_descent_batch(x0, lr, None, jnp.asarray(1e3), **kw)
    div = np.asarray(one.diverged_at)
    assert (div >= 0).any() and (div < 0).any()
    per = row_bytes(gradient_descent_batch, (x0, lr, None, jnp.asarray(1e3)), (0, 1), **kw)
    # a budget of 3 rows' bytes: chunks of 3 rows, the last one padded
    got, timing = map_rows(gradient_descent_batch, x0, lr, None, jnp.asarray(1e3),
                           batch_argnums=(0, 1), budget_bytes=3 * per, **kw)
    for field in ("trajectory", "diverged_at", "x"):
        np.testing.assert_array_equal(np.asarray(getattr(one, field)), getattr(got, field))
    assert rosenbrock_discrepancy(one.losses, got.losses, got.trajectory) \
        <= ROSENBROCK_EVALUATIONS_EPS
    assert timing.run_s >= 0 and timing.compile_s >= 0
    with pytest.raises(ValueError, match="multiple"):
        map_rows(gradient_descent_batch, x0, lr, None, 1e3, batch_argnums=(0, 1), rows=0, **kw)


def _context():
    from mathml_jax.runtime import RunContext, RuntimeInfo

    info = RuntimeInfo(platform="cpu", device="cpu", device_count=1, precision="float32",
                       jax_version=jax.__version__)
    return RunContext(seed=0, profile="fast", runtime=info)


def test_streamed_monte_carlo_is_its_chunks_drawn_from_folded_keys(monkeypatch):
    """coin's histogram and the die game's totals past MC_CHUNK_ELEMENTS (made 64 here):
    chunk c drawn from fold_in(key, c), each reduced as it comes, equal to the chunks drawn
    one by one by the kernel and reduced together; memory is one chunk's."""
    import experiments.coin as coin
    import experiments.expected_value as ev
    from mathml_jax import sharding
    from mathml_jax.probability import die_game_winnings, heads_counts

    monkeypatch.setattr(sharding, "MC_CHUNK_ELEMENTS", 64)
    ctx, key, p = _context(), jax.random.key(3), jnp.asarray(0.3)
    cfg = coin.Config(num_tosses=10, repetitions=50)  # 6 repetitions a chunk: 9 chunks
    hist = coin._heads_histogram(cfg, ctx, key, p, None)
    counts = np.concatenate([np.asarray(heads_counts(jax.random.fold_in(key, c), p,
                                                     num_tosses=10, num_repetitions=6))
                             for c in range(9)])[:50]
    np.testing.assert_array_equal(hist, np.bincount(counts, minlength=11))
    assert hist.sum() == 50 and "heads_counts" in ctx.timer.timings

    cfg = ev.Config(num_players=12, num_rounds=10)  # 6 players a chunk: 2 chunks
    game = ev._game(cfg, ctx, key)
    totals = np.concatenate([np.asarray(die_game_winnings(
        jax.random.fold_in(key, c), jnp.float32(cfg.win), jnp.float32(cfg.lose), num_rounds=10,
        num_players=6), np.float64) for c in range(2)])
    np.testing.assert_array_equal(game["final_totals"], totals[:, -1])
    np.testing.assert_array_equal(game["first_players"], totals[:5])
    np.testing.assert_array_equal(game["ahead"],
                                  (totals[:, game["checkpoints"] - 1] > 0).sum(axis=0))


# ----------------------------------------------------------------- 4 devices against 1

FOUR_DEVICES = textwrap.dedent("""
    import json, sys, time
    T = [("start", time.time())]
    import jax, jax.numpy as jnp, numpy as np
    from mathml_jax.sharding import device_mesh, map_rows
    from mathml_jax.optimization.descent import gradient_descent_batch
    from mathml_jax.optimization.first_order import optimize_batch
    from mathml_jax.optimization.critical_points import classify_points, newton_from_starts
    from mathml_jax.optimization.stochastic import running_mean_sq_errors_of_keys
    from mathml_jax.optimization.test_functions import make_quadratic, quadratic, rosenbrock
    from mathml_jax.calculus.critical_points import newton_critical_points
    from mathml_jax.probability.coin import heads_counts, running_heads_of_keys
    from mathml_jax.probability.expectation import die_game_winnings, monte_carlo_values

    T.append(("imports", time.time()))
    mesh = device_mesh("cpu")
    one_device = jax.devices()[0]
    out = {"devices": len(jax.devices()), "mesh": int(mesh.devices.size), "differ": {},
           "rounded": {}}

    def host(tree):
        return [np.asarray(a) for a in jax.tree.leaves(tree)]

    def compare(name, kernel, *args, batch_argnums=(0,), losses=None, **static):
        # one call on one device against 4 devices in chunks of 8 rows (2 per device)
        with jax.default_device(one_device):
            ref = host(kernel(*args, **static))
        got = host(map_rows(kernel, *args, batch_argnums=batch_argnums, mesh=mesh, rows=8,
                            **static)[0])
        bad = [i for i in range(len(ref))
               if i != losses and not np.array_equal(ref[i], got[i])]
        if bad or len(ref) != len(got):
            out["differ"][name] = bad
        if losses is not None:   # (trajectory, losses, ...): f at the same iterates
            out["rounded"][name] = [ref[losses], got[losses], got[0]]

    def rosen(x, i):  # Rosenbrock for every run (optimize_batch passes a per-run index)
        return rosenbrock(x)

    n = 37  # not a multiple of 4 or 8: every run pads
    x0 = jax.random.normal(jax.random.key(0), (n, 2)) + jnp.array([0.0, 1.0])
    lr = jnp.geomspace(1e-4, 1e-2, n)  # the largest steps diverge: the status is compared
    compare("gd rosenbrock", gradient_descent_batch, x0, lr, None, jnp.asarray(1e3),
            batch_argnums=(0, 1), losses=1, loss_fn=rosenbrock, steps=30,
            in_axes=(0, 0, None))
    # one quadratic shared by every run, the step sizes batched (the gd experiment's sweep):
    # XLA computes A x for all runs as one matrix product, whose reduction it blocks by the
    # batch size, so the rows are not bit-identical across chunkings: compared in the test
    A1, b1 = make_quadratic(jax.random.key(8), 20, 10.0, jnp.float32)
    x_s, lr_s = jax.random.normal(jax.random.key(9), (20,)), jnp.geomspace(0.05, 1.9, 25)
    kw = dict(loss_fn=quadratic, steps=60, in_axes=(None, 0, None), record_losses=False)
    with jax.default_device(one_device):
        ref = gradient_descent_batch(x_s, lr_s, (A1, b1), jnp.asarray(1e6), **kw)
    got = map_rows(gradient_descent_batch, x_s, lr_s, (A1, b1), jnp.asarray(1e6),
                   batch_argnums=(1,), mesh=mesh, rows=8, **kw)[0]
    out["shared"] = [A1, b1, lr_s, ref.trajectory, got.trajectory]
    idx = jnp.zeros(n, jnp.int32)
    # Adam: XLA partitions the program and then divides by the bias correction as a
    # multiplication by its reciprocal, rounded differently: one step, compared in the test
    with jax.default_device(one_device):
        ref = optimize_batch(x0, lr, jnp.asarray(0.9), idx, jnp.asarray(1e6), f=rosen,
                             optimizer="adam", steps=1)
    got = map_rows(optimize_batch, x0, lr, jnp.asarray(0.9), idx, jnp.asarray(1e6),
                   batch_argnums=(0, 1, 3), mesh=mesh, rows=8, f=rosen, optimizer="adam",
                   steps=1)[0]
    out["adam_one_step"] = [np.asarray(ref.trajectory), got.trajectory]
    T.append(("optimizers", time.time()))
    pts = jax.random.uniform(jax.random.key(3), (n, 2), minval=-2.0, maxval=2.0)
    compare("newton_from_starts", newton_from_starts, pts, None, jnp.asarray(100.0),
            jnp.asarray(1e-6), f=rosenbrock, steps=20)
    compare("classify_points", classify_points, pts, None, jnp.asarray(1e-6), f=rosenbrock)
    compare("newton_critical_points 1-D", newton_critical_points, jnp.linspace(-2.0, 2.0, n),
            jnp.asarray(-2.0), jnp.asarray(2.0), jnp.asarray(1e-5), f=jnp.cos, steps=20)
    # minibatch means of 31-dimensional gradients: XLA:CPU orders a row's sums by the batch
    # shape (rows differ in the last bits even between chunkings on one device): the test
    # compares them within the rounding of those sums
    G = jax.random.normal(jax.random.key(4), (40, 31))
    keys = jax.random.split(jax.random.key(5), n)
    with jax.default_device(one_device):
        ref = running_mean_sq_errors_of_keys(G, keys, batch_size=6, num_batches=5)
    got = map_rows(running_mean_sq_errors_of_keys, G, keys, batch_argnums=(1,), mesh=mesh,
                   rows=8, batch_size=6, num_batches=5)[0]
    out["minibatch"] = [G, ref, got]
    compare("running_heads_of_keys", running_heads_of_keys,
            jax.random.split(jax.random.key(6), n), jnp.asarray(0.3), num_tosses=50)

    T.append(("newton etc", time.time()))
    # Monte Carlo from one key: each device draws its rows of the single-device draw
    def draws(name, kernel, *args, **static):
        with jax.default_device(one_device):
            ref = np.asarray(kernel(*args, mesh=None, **static))
        got = kernel(*args, mesh=mesh, **static)
        out.setdefault("mc_shards", {})[name] = len(got.sharding.device_set)
        if not np.array_equal(ref, np.asarray(got)):
            out["differ"][f"{name} / 4 devices"] = float(np.max(np.abs(ref - np.asarray(got))))
    key = jax.random.key(7)
    draws("heads_counts", heads_counts, key, jnp.asarray(0.3), num_tosses=20,
          num_repetitions=n)
    draws("die_game_winnings", die_game_winnings, key, jnp.asarray(3.0), jnp.asarray(2.0),
          num_rounds=30, num_players=n)
    draws("monte_carlo_values", monte_carlo_values, key, jnp.array([0.5, 1.0]),
          sampler=lambda k, prm, shape: prm[0] + prm[1] * jax.random.normal(k, shape),
          g=jnp.cos, num_samples=1001)
    arrays = {f"{k}|{i}": a for k, v in out.pop("rounded").items() for i, a in enumerate(v)}
    arrays.update({f"adam|{i}": a for i, a in enumerate(out.pop("adam_one_step"))})
    arrays.update({f"shared|{i}": np.asarray(a) for i, a in enumerate(out.pop("shared"))})
    arrays.update({f"minibatch|{i}": np.asarray(a)
                   for i, a in enumerate(out.pop("minibatch"))})
    np.savez(OUT, **arrays)
    T.append(("end", time.time()))
    print([(a, round(t - T[0][1], 1)) for a, t in T], file=sys.stderr)
    print(json.dumps(out))
""")


def test_sharded_kernels_equal_single_device_on_four_devices(tmp_path):
    """Every sharded kernel on 4 devices against one call on 1 device: bit for bit, except
    the losses (f at bit-identical iterates), within the bound of two evaluations."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4",
               JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT))
    rounded = tmp_path / "rounded.npz"
    code = f"OUT = {str(rounded)!r}\n" + FOUR_DEVICES
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    print(res.stderr[-500:])
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4 and out["mesh"] == 4
    # the draws were really split: the constraint is not a no-op
    assert out["mc_shards"] and all(v == 4 for v in out["mc_shards"].values()), out["mc_shards"]
    assert out["differ"] == {}, out["differ"]
    saved = np.load(rounded)
    names = {k.split("|")[0] for k in saved.files} - {"adam", "shared", "minibatch"}
    assert names == {"gd rosenbrock"}
    for name in names:
        ref, got, traj = (saved[f"{name}|{i}"] for i in range(3))
        assert rosenbrock_discrepancy(ref, got, traj) <= ROSENBROCK_EVALUATIONS_EPS, name
    # Adam, one step x1 = x0 - u, u = lr m^/(sqrt(v^) + eps): each program rounds u with at
    # most 8 operations (the bias corrections as a division, or as a product with a rounded
    # reciprocal, 2 each; sqrt, + eps, the quotient, x lr), so the two u differ by at most
    # 2 gamma_8 |u|, and x1 by that plus one rounding of x1 in each
    (x0_ref, x1_ref), (_, x1_got) = (np.swapaxes(saved[f"adam|{i}"], 0, 1).astype(np.float64)
                                     for i in range(2))
    np.testing.assert_array_equal(saved["adam|0"][:, 0], saved["adam|1"][:, 0])  # the starts
    eps = float(np.finfo(np.float32).eps)
    bound = 2 * 8 * eps / (1 - 8 * eps) * np.abs(x1_ref - x0_ref) + 2 * eps * np.abs(x1_ref)
    assert np.all(np.abs(x1_got - x1_ref) <= bound)
    assert np.any(x1_ref != x0_ref)  # the step moved
    _shared_quadratic_within_rounding(*(saved[f"shared|{i}"] for i in range(5)))
    _minibatch_errors_within_rounding(*(saved[f"minibatch|{i}"] for i in range(3)), B=6, m=5)


def _minibatch_errors_within_rounding(G, ref, got, *, B, m):
    """||T_k / k||^2, T_k the sum of k minibatch means of B centred rows: two programs that
    order the sums differently differ in each T_i by at most 2 gamma_(B+k) k M_i (M_i the
    largest |centred gradient| in coordinate i), and in the sum of d squares by at most
    2 gamma_d of it; to first order |delta| <= sum_i 4 gamma_(B+k) M_i^2 + 2 gamma_d s."""
    eps = float(np.finfo(np.float32).eps)
    G = np.asarray(G, np.float64)
    M2 = np.sum(np.max(np.abs(G - G.mean(axis=0)), axis=0) ** 2)
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    k = np.arange(1, m + 1)

    def gamma(j):
        return j * eps / (1 - j * eps)

    bound = 4 * gamma(B + k) * M2 + 2 * gamma(G.shape[1]) * ref
    assert np.all(np.abs(got - ref) <= bound)
    assert np.all(bound < 0.1 * ref)  # tight enough that paths swapped or lost would show


def _shared_quadratic_within_rounding(A, b, lr, ref, got):
    """GD x <- x - eta (A x - b) on one quadratic, rows batched over eta <= 1.9 / L: two
    programs that round the gradient differently (another blocking of A x's sums) stay within
    the sum of both programs' rounding errors, because every step contracts the difference
    (||I - eta A||_2 <= 1): per step, eta gamma_(2d+2) (|A| |x| + |b|) (the gradient, as
    (A x + A^T x)/2 - b) plus eps (eta |g| + |x_new|) (the step and the update)."""
    A, b, lr = (np.asarray(a, np.float64) for a in (A, b, lr))
    ref, got = np.asarray(ref, np.float64), np.asarray(got, np.float64)
    eps, d = float(np.finfo(np.float32).eps), A.shape[0]
    assert np.max(np.linalg.eigvalsh(A)) * lr.max() < 2  # every run contracts
    gamma = (2 * d + 2) * eps / (1 - (2 * d + 2) * eps)
    x, x_new = ref[:, :-1], ref[:, 1:]
    g = x @ A.T - b
    per_step = lr[:, None, None] * (gamma * (np.abs(x) @ np.abs(A).T + np.abs(b))
                                    + eps * np.abs(g)) + eps * np.abs(x_new)
    bound = 2 * np.cumsum(np.linalg.norm(per_step, axis=2), axis=1)
    np.testing.assert_array_equal(ref[:, 0], got[:, 0])
    assert np.all(np.linalg.norm(got[:, 1:] - ref[:, 1:], axis=2) <= bound)
