"""``jacobian``: the total derivative, the chain rule in full generality, and what it costs.

1. The layer x -> tanh(A x + b): its Jacobian from ``jax.jacfwd`` and ``jax.jacrev`` equals
   the closed form diag(tanh'(A x + b)) A to round-off.
2. A stack of such layers: its Jacobian equals the product of the layers' closed-form
   Jacobians, evaluated at the intermediate points (the chain rule).
3. Cost of forward against reverse mode. How it is measured: each Jacobian function is
   ``jax.jit``-compiled ahead of time for its shapes (compile time excluded), then run
   ``timing_repeats`` times with ``block_until_ready``; the fastest run counts (the least
   disturbed by other load). Claims are on *ratios* of such times, never on seconds:
   for a scalar loss sum(tanh(A x)) of n inputs, jacfwd needs n forward passes and jacrev one
   backward pass, so the forward/reverse time ratio grows with n (theory: proportionally);
   for a map of m outputs and few inputs the roles swap.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.convergence import fitted_slope
from mathml_jax.multivariable import (
    layer_jacobians,
    loss_jacfwd,
    loss_jacrev,
    map_jacfwd,
    map_jacrev,
    network_jacobians,
)
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = ("Multivariable calculus / the total derivative and the chain rule: Jacobians, "
           "forward and reverse mode")


@dataclass
class Config:
    layer_in: int = param(16, ge=1, le=4096, help="inputs of the layer drawn as a heat map")
    layer_out: int = param(12, ge=1, le=4096)
    widths: list[int] = param([16, 32, 24, 8], ge=1, le=4096,
                              help="input width then each layer's output width")
    num_points: int = param(8, ge=1, le=1000, help="random points x checked")
    ulps: float = param(16.0, gt=0, help="closed-form bounds, in eps times a matrix scale")
    input_dims: list[int] = param([8, 32, 128, 512, 2048], ge=1, le=100_000,
                                  help="n of the scalar loss sum(tanh(A x)), A (hidden, n)")
    hidden: int = param(256, ge=1, le=100_000)
    output_dims: list[int] = param([16, 64, 256, 1024], ge=1, le=100_000,
                                   help="m of the map tanh(B x), B (m, few_inputs)")
    few_inputs: int = param(8, ge=1, le=1000)
    timing_repeats: int = param(15, ge=1, le=1000)
    timing_points: int = param(32, ge=1, le=100_000,
                               help="points x per timed call (one vmap): P Jacobians a call")
    min_ratio: float = param(5.0, gt=1,
                             help="forward/reverse time ratio at the largest n, at least")
    min_ratio_growth: float = param(4.0, gt=1,
                                    help="that ratio grows at least this much over the n range")

    def __post_init__(self):
        if len(self.widths) < 3:
            raise ConfigError("jacobian.widths", self.widths,
                              "it needs an input width and at least two layers (3 numbers)")
        for key in ("input_dims", "output_dims"):
            v = getattr(self, key)
            if len(v) < 2 or sorted(v) != v:
                raise ConfigError(f"jacobian.{key}", v, "at least two increasing dimensions")


def _init(rng, widths, dtype):
    """Layer parameters A ~ N(0, 1/n), b ~ N(0, 1/4), from a NumPy generator seeded by the run
    (plain arrays: drawing them with jax.random would compile a kernel per shape)."""
    return [(jnp.asarray(rng.normal(size=(m, n)) / np.sqrt(n), dtype),
             jnp.asarray(0.5 * rng.normal(size=m), dtype))
            for n, m in zip(widths[:-1], widths[1:], strict=True)]


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("jacobian", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    k_x = jax.random.fold_in(ctx.key, 0)
    rng = np.random.default_rng(ctx.seed)

    # -- 1. one layer: jacfwd, jacrev, closed form
    (A, b), = _init(rng, [cfg.layer_in, cfg.layer_out], dtype)
    xs = jax.random.normal(k_x, (cfg.num_points, cfg.layer_in), dtype)
    (Jf, Jr, Jc), t = timed(layer_jacobians, A, b, xs)
    report.add_timing("layer_jacobians", t)
    Jf, Jr, Jc = (np.asarray(a, np.float64) for a in (Jf, Jr, Jc))
    s = np.abs(Jc).max(axis=(1, 2))
    worst_f = float((np.abs(Jf - Jc).max(axis=(1, 2)) / (eps * s)).max())
    worst_r = float((np.abs(Jr - Jc).max(axis=(1, 2)) / (eps * s)).max())
    what = f"{cfg.layer_out}x{cfg.layer_in} layer, {cfg.num_points} points"
    report.claim(Claim.at_most("jacfwd of tanh(Ax + b) = diag(tanh'(Ax + b)) A: max error "
                               "/ (eps max|J|)", worst_f, cfg.ulps, detail=what))
    report.claim(Claim.at_most("jacrev of tanh(Ax + b) = diag(tanh'(Ax + b)) A: max error "
                               "/ (eps max|J|)", worst_r, cfg.ulps, detail=what))
    report.metric("layer_max_ulps", max(worst_f, worst_r), key=True)
    Jf, Jc = Jf[0], Jc[0]

    # -- 2. a stack of layers: Jacobian = product of the layers' Jacobians
    params = _init(rng, cfg.widths, dtype)
    xs = jax.random.normal(jax.random.fold_in(k_x, 1), (cfg.num_points, cfg.widths[0]), dtype)
    (Nf, Nr, Np), t = timed(network_jacobians, params, xs)
    report.add_timing("network_jacobians", t)
    Nf, Nr, Np = (np.asarray(a, np.float64) for a in (Nf, Nr, Np))
    # scale: max|J| + ||J||_F, a size of the terms summed in the matrix products
    s = np.abs(Np).max(axis=(1, 2)) + np.linalg.norm(Np, axis=(1, 2))
    worst_net = float(max((np.abs(Nf - Np).max(axis=(1, 2)) / (eps * s)).max(),
                          (np.abs(Nr - Np).max(axis=(1, 2)) / (eps * s)).max()))
    report.claim(Claim.at_most(
        f"chain rule: Jacobian of a {len(cfg.widths) - 1}-layer stack (jacfwd and jacrev) = "
        "product of the layer Jacobians: max error / (eps scale)", worst_net, cfg.ulps,
        detail=f"widths {cfg.widths}; scale max|J| + ||J||_F"))
    report.metric("network_max_ulps", worst_net)

    # -- 3. cost of forward vs reverse mode
    def cost(fwd, rev, dims, make):
        tf, tr = [], []
        for d in dims:
            M, x = make(d)
            _, a = timed(fwd, M, x, repeats=cfg.timing_repeats)
            _, r = timed(rev, M, x, repeats=cfg.timing_repeats)
            tf.append(a.run_s)
            tr.append(r.run_s)
        return np.array(tf), np.array(tr)

    P = cfg.timing_points

    def make_loss(n):
        return (jnp.asarray(rng.normal(size=(cfg.hidden, n)) / np.sqrt(n), dtype),
                jnp.asarray(rng.normal(size=(P, n)), dtype))

    def make_map(m):
        return (jnp.asarray(rng.normal(size=(m, cfg.few_inputs)), dtype),
                jnp.asarray(rng.normal(size=(P, cfg.few_inputs)), dtype))

    n = np.array(cfg.input_dims)
    tf, tr = cost(loss_jacfwd, loss_jacrev, n, make_loss)
    ratio = tf / tr
    report.claim(Claim.at_least(
        f"scalar loss of n = {n[-1]} inputs: jacfwd / jacrev time ratio (reverse mode is "
        "cheaper)", ratio[-1], cfg.min_ratio,
        detail=f"theory ~ n; best of {cfg.timing_repeats} compiled runs of {P} Jacobians each"))
    report.claim(Claim.at_least(
        f"forward/reverse ratio grows with n: ratio(n={n[-1]}) / ratio(n={n[0]})",
        ratio[-1] / ratio[0], cfg.min_ratio_growth,
        detail=f"theory ~ {n[-1] / n[0]:g}; jacfwd time x{tf[-1] / tf[0]:.1f}, jacrev time "
               f"x{tr[-1] / tr[0]:.1f} over the range"))
    report.metric("fwd_over_rev_at_max_n", float(ratio[-1]), key=True)
    report.metric("jacfwd_time_slope_in_n", fitted_slope(n, tf))
    report.metric("jacrev_time_slope_in_n", fitted_slope(n, tr))
    report.add_series("cost_scalar_loss", n=n, jacfwd_s=tf, jacrev_s=tr, ratio=ratio)

    m = np.array(cfg.output_dims)
    mf, mr = cost(map_jacfwd, map_jacrev, m, make_map)
    mratio = mr / mf
    report.claim(Claim.at_least(
        f"map of m = {m[-1]} outputs, {cfg.few_inputs} inputs: the roles swap, jacrev / "
        "jacfwd time ratio", mratio[-1], 1.5, detail=f"theory ~ m / n = "
                                                    f"{m[-1] / cfg.few_inputs:g}"))
    report.metric("rev_over_fwd_at_max_m", float(mratio[-1]))
    report.add_series("cost_vector_map", m=m, jacfwd_s=mf, jacrev_s=mr, ratio=mratio)

    _figures(report, cfg, Jf, Jc, n, tf, tr, m, mf, mr, eps)
    return report


def _figures(report, cfg, Jf, Jc, n, tf, tr, m, mf, mr, eps):
    fig, axes = plotting.figure(
        "Jacobian of tanh(Ax + b): jax.jacfwd equals diag(tanh'(Ax + b)) A", ncols=3,
        width=4.3, height=4.0)
    v = np.abs(Jc).max()
    for ax, M, title in ((axes[0], Jf, "jax.jacfwd"), (axes[1], Jc, "closed form")):
        im = ax.imshow(M, cmap="RdBu_r", vmin=-v, vmax=v)
        ax.set_title(title)
        ax.set_xlabel("input j")
        ax.set_ylabel("output i")
        ax.grid(False)
    fig.colorbar(im, ax=axes[1], shrink=0.8, label="dy_i / dx_j")
    d = (Jf - Jc) / eps
    im = axes[2].imshow(d, cmap="PuOr", vmin=-max(1, np.abs(d).max()), vmax=max(1, np.abs(d).max()))
    axes[2].set_title("difference, in eps")
    axes[2].set_xlabel("input j")
    axes[2].grid(False)
    fig.colorbar(im, ax=axes[2], shrink=0.8, label="(jacfwd - closed) / eps")
    report.add_figure("layer_jacobian", fig)

    fig, (ax1, ax2) = plotting.figure(
        "Reverse mode's cost for a scalar loss does not grow with the inputs; forward mode's "
        "does", ncols=2)
    ax1.loglog(n, tf, "o-", color=plotting.color("forward"), label="jax.jacfwd")
    ax1.loglog(n, tr, "s-", color=plotting.color("autodiff"), label="jax.jacrev")
    for ni, a, r in zip(n, tf, tr, strict=True):
        ax1.annotate(f"x{a / r:.0f}", (ni, a), textcoords="offset points", xytext=(-10, 6),
                     fontsize=8)
    ax1.set_xlabel("number of inputs n (scalar loss sum(tanh(Ax)))")
    ax1.set_ylabel(f"seconds per call ({cfg.timing_points} Jacobians)")
    ax1.set_title(f"1 output, hidden {cfg.hidden}: labels = fwd/rev ratio", fontsize=10)
    ax1.legend()
    ax2.loglog(m, mf, "o-", color=plotting.color("forward"), label="jax.jacfwd")
    ax2.loglog(m, mr, "s-", color=plotting.color("autodiff"), label="jax.jacrev")
    for mi, a, r in zip(m, mf, mr, strict=True):
        ax2.annotate(f"x{r / a:.1f}", (mi, r), textcoords="offset points", xytext=(-10, 6),
                     fontsize=8)
    ax2.set_xlabel(f"number of outputs m (map tanh(Bx), {cfg.few_inputs} inputs)")
    ax2.set_ylabel(f"seconds per call ({cfg.timing_points} Jacobians)")
    ax2.set_title("many outputs, few inputs: labels = rev/fwd ratio", fontsize=10)
    ax2.legend()
    report.add_figure("cost", fig)
