"""``jacobian``: the total derivative, the chain rule in full generality, and what it costs.

1. The layer x -> tanh(A x + b): its Jacobian from ``jax.jacfwd`` and ``jax.jacrev`` equals
   the closed form diag(tanh'(A x + b)) A to round-off.
2. A stack of such layers: its Jacobian equals the product of the layers' closed-form
   Jacobians, evaluated at the intermediate points (the chain rule).
3. Cost of forward against reverse mode, as operations counted in the program (XLA's cost
   analysis of one Jacobian at one point, ``mathml_jax.timing.flops``; at one point because
   under a vmap over points the products A e_j, which do not depend on x, are done once for
   all), never as time: on a GPU forward mode's n tangents run side by side, so its time does
   not grow like its work.
   For the scalar loss sum(tanh(A x)), A (h, n), jacfwd pushes the n unit tangents through,
   n products A e_j: 2 h n^2 flops; jacrev does one forward and one backward product with A:
   4 h n flops. Their exponents in n are 2 and 1, their ratio grows like n (about n / 2). For
   the map tanh(B x), B (m, n0), with m outputs and few inputs the roles swap: jacfwd costs
   2 m n0^2 (n0 tangents), jacrev 2 m^2 n0 (m cotangents), exponents 1 and 2 in m.

   The tolerances come from the lower-order terms of these counts. Model: besides the leading
   products, the program spends at most K (``flops_per_entry``) flops per entry of each array
   shape it builds (the chain rule through tanh and the sum needs about 4 per tangent entry; the
   unit tangents 2 per entry), plus the primal product (2 h n or 2 m n0). So a count is
   c d^p (1 + r(d)) with c at least the leading coefficient and 0 <= r(d) <= rho(d), a bound
   that falls with d; a least-squares slope of log count against log d then moves from p by
   at most (G / 2) sum|x - mean x| / sum (x - mean x)^2, G = log(1 + rho(smallest d fitted)).

   Wall-clock times (each Jacobian function compiled ahead of time, compile time apart, then
   the best of ``timing_repeats`` runs of ``timing_points`` Jacobians in one vmapped call) are
   reported as metrics, series and a figure panel, never checked.
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
from mathml_jax.timing import flops, timed

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
    fit_from: int = param(100, ge=1, help="exponents of counted flops are fitted over the "
                          "dimensions >= this, where lower-order terms are small")
    flops_per_entry: float = param(8.0, gt=0, help="cost model: at most this many flops per "
                                   "entry of each array a Jacobian program builds, besides "
                                   "its leading matrix products")
    timing_repeats: int = param(15, ge=1, le=1000, help="wall time (reported only): best of")
    timing_points: int = param(32, ge=1, le=100_000,
                               help="points x per timed call (one vmap): P Jacobians a call")

    def __post_init__(self):
        if len(self.widths) < 3:
            raise ConfigError("jacobian.widths", self.widths,
                              "it needs an input width and at least two layers (3 numbers)")
        for key in ("input_dims", "output_dims"):
            v = getattr(self, key)
            if len(v) < 2 or sorted(v) != v:
                raise ConfigError(f"jacobian.{key}", v, "at least two increasing dimensions")
            if sum(d >= self.fit_from for d in v) < 2:
                raise ConfigError(f"jacobian.{key}", v, "at least two dimensions must be >= "
                                  f"jacobian.fit_from ({self.fit_from}) for the exponent fits")


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

    # -- 3. cost of forward vs reverse mode: flops counted in the program; times reported
    P, h, n0, K = cfg.timing_points, cfg.hidden, cfg.few_inputs, cfg.flops_per_entry

    def cost(fwd, rev, dims, make):
        """Per dimension: flops of one Jacobian (one point) and the wall time of P of them."""
        out = {k: [] for k in ("fwd_flops", "rev_flops", "fwd_s", "rev_s", "fwd_compile_s",
                               "rev_compile_s")}
        for d in dims:
            M, X = make(d)
            for mode, fn in (("fwd", fwd), ("rev", rev)):
                out[f"{mode}_flops"].append(flops(fn, M, X[:1]))
                _, t = timed(fn, M, X, repeats=cfg.timing_repeats)
                out[f"{mode}_s"].append(t.run_s)
                out[f"{mode}_compile_s"].append(t.compile_s)
        return {k: np.array(v) for k, v in out.items()}

    def make_loss(n):
        return (jnp.asarray(rng.normal(size=(h, n)) / np.sqrt(n), dtype),
                jnp.asarray(rng.normal(size=(P, n)), dtype))

    def make_map(m):
        return (jnp.asarray(rng.normal(size=(m, n0)), dtype),
                jnp.asarray(rng.normal(size=(P, n0)), dtype))

    n = np.array(cfg.input_dims)
    loss = cost(loss_jacfwd, loss_jacrev, n, make_loss)
    fit_n = n >= cfg.fit_from
    # lower-order terms over the leading power, at most (see the module docstring):
    # jacfwd 2hn^2 + [((K + 2) h + K) n + K h], jacrev 4hn + [K h]
    rho_f = (K + 2) / (2 * n) + K / (2 * h * n) + K / (2 * n**2)
    rho_r = K / (4 * n)
    _exponent_claims(report, "scalar loss sum(tanh(Ax)) of n inputs", "n", n[fit_n],
                     [("jacfwd", loss["fwd_flops"][fit_n], 2, rho_f[fit_n],
                       f"n JVPs, each a product A e_j: 2 h n^2, h = {h}"),
                      ("jacrev", loss["rev_flops"][fit_n], 1, rho_r[fit_n],
                       "one forward and one backward product with A: 4 h n")])
    ratio = loss["fwd_flops"] / loss["rev_flops"]
    # leading coefficients: jacfwd's n^2 one is 2h plus at most K (the unit tangents, n^2
    # entries); jacrev's n one is 4h plus at most K (the gradient, n entries)
    lo = (n[-1] / 2) / ((1 + K / (4 * h)) * (1 + rho_r[-1]))
    hi = (n[-1] / 2) * (1 + K / (2 * h)) * (1 + rho_f[-1])
    report.claim(Claim.within(
        f"scalar loss of n = {n[-1]} inputs: jacfwd / jacrev counted flops = n / 2 (2 h n^2 "
        "against 4 h n): reverse mode is cheaper by a factor that grows with n", ratio[-1], lo,
        hi, detail=f"h = {h}; window from the lower-order terms, K = {K:g} flops per entry"))
    report.metric("fwd_over_rev_flops_at_max_n", float(ratio[-1]), key=True)
    report.metric("fwd_over_rev_time_at_max_n", float(loss["fwd_s"][-1] / loss["rev_s"][-1]))
    report.metric("jacfwd_time_slope_in_n", fitted_slope(n, loss["fwd_s"]))
    report.metric("jacrev_time_slope_in_n", fitted_slope(n, loss["rev_s"]))
    report.add_series("cost_scalar_loss", n=n, jacfwd_flops=loss["fwd_flops"],
                      jacrev_flops=loss["rev_flops"], flops_ratio=ratio, jacfwd_s=loss["fwd_s"],
                      jacrev_s=loss["rev_s"], jacfwd_compile_s=loss["fwd_compile_s"],
                      jacrev_compile_s=loss["rev_compile_s"], fit=fit_n)

    m = np.array(cfg.output_dims)
    vmap_ = cost(map_jacfwd, map_jacrev, m, make_map)
    fit_m = m >= cfg.fit_from
    # jacfwd 2 m n0^2 + [K (n0^2 + n0)]; jacrev 2 m^2 n0 + [(K + 2) m n0 + K m + K n0]
    rho_mf = K * (n0**2 + n0) / (2 * n0**2 * m)
    rho_mr = ((K + 2) * n0 + K) / (2 * n0 * m) + K / (2 * m**2)
    _exponent_claims(report, f"map tanh(Bx) of m outputs, {n0} inputs", "m", m[fit_m],
                     [("jacrev", vmap_["rev_flops"][fit_m], 2, rho_mr[fit_m],
                       f"m VJPs, each a product with B: 2 m^2 n0, n0 = {n0}"),
                      ("jacfwd", vmap_["fwd_flops"][fit_m], 1, rho_mf[fit_m],
                       "n0 JVPs: 2 m n0^2")])
    mratio = vmap_["rev_flops"] / vmap_["fwd_flops"]
    # jacrev's m^2 coefficient is 2 n0 plus at most K (the unit cotangents); jacfwd's m one is
    # 2 n0^2 plus at most (K + 2) n0 + K (the primal product, the tangents, the outputs)
    lo = (m[-1] / n0) / (((2 * n0**2 + (K + 2) * n0 + K) / (2 * n0**2)) * (1 + rho_mf[-1]))
    hi = (m[-1] / n0) * (1 + K / (2 * n0)) * (1 + rho_mr[-1])
    report.claim(Claim.within(
        f"map of m = {m[-1]} outputs, {n0} inputs: the roles swap, jacrev / jacfwd counted "
        f"flops = m / n0 (2 m^2 n0 against 2 m n0^2)", mratio[-1], lo, hi,
        detail=f"window from the lower-order terms, K = {K:g} flops per entry"))
    report.metric("rev_over_fwd_flops_at_max_m", float(mratio[-1]))
    report.metric("rev_over_fwd_time_at_max_m", float(vmap_["rev_s"][-1] / vmap_["fwd_s"][-1]))
    report.add_series("cost_vector_map", m=m, jacfwd_flops=vmap_["fwd_flops"],
                      jacrev_flops=vmap_["rev_flops"], flops_ratio=mratio,
                      jacfwd_s=vmap_["fwd_s"], jacrev_s=vmap_["rev_s"],
                      jacfwd_compile_s=vmap_["fwd_compile_s"],
                      jacrev_compile_s=vmap_["rev_compile_s"], fit=fit_m)

    _figures(report, cfg, Jf, Jc, n, loss, fit_n, m, vmap_, fit_m, eps, ctx.runtime.device)
    return report


def _slope_shift(d, width):
    """How far the least-squares slope of log y against log d can move when log y is a power
    law plus g_i, with the g_i anywhere in an interval of this width:
    (width / 2) sum|x - mean x| / sum (x - mean x)^2, x = log d (the g_i shifted to the
    interval's middle change the slope by sum (x - mean x) g_i / sum (x - mean x)^2)."""
    x = np.log(np.asarray(d, np.float64))
    dx = x - x.mean()
    return float(width / 2 * np.abs(dx).sum() / (dx**2).sum())


def _exponent_claims(report, what, var, d, modes):
    """For each (mode, counted flops over d, exponent p, rho(d), theory): the fitted exponent
    of the count against d is p within the shift its lower-order terms allow; then the ratio
    of the first mode's count to the second's grows like d^(p1 - p2)."""
    widths = []
    for mode, counts, p, rho, theory in modes:
        G = float(np.log1p(np.max(rho)))
        widths.append(G)
        tol = _slope_shift(d, G)
        report.claim(Claim.close(
            f"{what}: {mode} counted flops grow like {var}^{p}: fitted exponent over {var} = "
            f"{', '.join(str(v) for v in d)}", fitted_slope(d, counts), p, tol,
            detail=f"theory {theory}; tolerance from lower-order terms <= {np.max(rho):.3g} of "
                   "the leading one"))
        report.metric(f"{mode}_flops_exponent_in_{var}", fitted_slope(d, counts))
    (m1, c1, p1, _, _), (m2, c2, p2, _, _) = modes
    report.claim(Claim.close(
        f"{what}: {m1} / {m2} counted flops grow like {var}^{p1 - p2}: fitted exponent",
        fitted_slope(d, c1 / c2), p1 - p2, _slope_shift(d, sum(widths)),
        detail="both counts' lower-order terms"))


def _figures(report, cfg, Jf, Jc, n, loss, fit_n, m, vmap_, fit_m, eps, device):
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

    h, n0, P = cfg.hidden, cfg.few_inputs, cfg.timing_points
    fig, axes = plotting.figure(
        "Counted flops: for a scalar loss reverse mode's cost grows like n and forward mode's "
        "like n$^2$; for many outputs and few inputs the roles swap", ncols=2, nrows=2,
        width=4.8, height=3.5)
    (a1, a2), (a3, a4) = axes
    for ax, d, c, fit, var, theory in (
            (a1, n, loss, fit_n, "n", {"jacfwd": 2.0 * h * n**2, "jacrev": 4.0 * h * n}),
            (a2, m, vmap_, fit_m, "m", {"jacfwd": 2.0 * m * n0**2, "jacrev": 2.0 * m**2 * n0})):
        for mode, name, marker in (("fwd", "forward", "o"), ("rev", "autodiff", "s")):
            plotting.loglog_fit(ax, d, c[f"{mode}_flops"], f"jax.jac{mode}", name=name,
                                marker=marker, fit_mask=fit)
        plotting.theory_line(ax, d, theory["jacfwd"], "theory: " + (
            "2 h n$^2$" if var == "n" else "2 m n$_0^2$"))
        ax.plot(d, theory["jacrev"], **{**plotting.THEORY_STYLE, "linestyle": ":"},
                label="theory: " + ("4 h n" if var == "n" else "2 m$^2$ n$_0$"))
        ax.set_ylabel("flops per Jacobian (counted by XLA)")
        ax.legend(loc="upper left", frameon=False)
    a1.set_title(f"scalar loss sum(tanh(Ax)), 1 output, h = {h}", fontsize=10)
    a1.set_xlabel("number of inputs n")
    a2.set_title(f"map tanh(Bx), {n0} inputs n$_0$", fontsize=10)
    a2.set_xlabel("number of outputs m")
    for ax, d, c, var in ((a3, n, loss, "n"), (a4, m, vmap_, "m")):
        ax.loglog(d, c["fwd_s"], "o-", color=plotting.color("forward"), label="jax.jacfwd")
        ax.loglog(d, c["rev_s"], "s-", color=plotting.color("autodiff"), label="jax.jacrev")
        ax.set_xlabel("number of inputs n" if var == "n" else "number of outputs m")
        ax.set_ylabel(f"wall time (s) per call of {P} Jacobians")
        ax.set_title(f"measured on {device} (reported, not a claim)", fontsize=10)
        ax.legend(loc="upper left", frameon=False)
    report.add_figure("cost", fig)
