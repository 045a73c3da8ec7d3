"""``jacobian``: Jacobians of layers and their stacks equal the closed forms; reverse mode is
cheaper for a scalar loss, forward mode for few inputs (counted flops).

1. The layer x -> tanh(A x + b): its Jacobian from ``jax.jacfwd`` and ``jax.jacrev`` equals
   the closed form diag(sech^2(A x + b)) A, evaluated in NumPy float64 as 1 / cosh^2 (not
   JAX's own tanh rule 1 - tanh^2, which the autodiff applies itself), to round-off: per
   entry, |error| <= sqrt(n) eps |A_ij| (1 + sum_j |A_ij x_j| + |b_i|) (the sum A x + b of
   n terms, as a random walk, moved through sech^2, whose slope is below 0.77).
2. A stack of such layers: its Jacobian equals the product of the layers' closed-form
   Jacobians at the intermediate points (the chain rule), the product and the points again in
   NumPy float64; error / (max|J| + ||J||_F) <= sqrt(widest layer) eps. The same product
   formed in JAX (``net_product``) and JAX's 1 - tanh^2 layer Jacobian are shown as metrics:
   they repeat what the autodiff does.
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
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
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
from mathml_jax.timing import flops

SECTION = ("Multivariable calculus / the total derivative and the chain rule: Jacobians, "
           "forward and reverse mode")


@dataclass
class Config:
    layer_in: int = param(16, ge=1, le=4096, help="inputs of the layer drawn as a heat map")
    layer_out: int = param(12, ge=1, le=4096)
    widths: list[int] = param([16, 32, 24, 8], ge=1, le=4096,
                              help="input width then each layer's output width")
    num_points: int = param(8, ge=1, le=1000, help="random points x checked")
    input_dims: list[int] = param([8, 32, 128, 512, 2048], ge=1, le=100_000,
                                  help="n of the scalar loss sum(tanh(A x)), A (hidden, n)")
    hidden: int = param(256, ge=1, le=100_000)
    output_dims: list[int] = param([16, 64, 256, 1024], ge=1, le=100_000,
                                   help="m of the map tanh(B x), B (m, few_inputs)")
    few_inputs: int = param(8, ge=1, le=1000)
    fit_from: int = param(100, ge=1, le=100000,
                          help="exponents of counted flops are fitted over the "
                          "dimensions >= this, where lower-order terms are small")
    flops_per_entry: float = param(8.0, gt=0, le=1e6,
                                   help="cost model: at most this many flops per "
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


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    layer_A: np.ndarray        # (m, n) the layer's weights, as the run's dtype held them
    layer_b: np.ndarray        # (m,)
    layer_x: np.ndarray        # (P, n) the points
    layer_fwd: np.ndarray      # (P, m, n) jax.jacfwd of the layer at each point
    layer_rev: np.ndarray      # (P, m, n) jax.jacrev
    layer_closed: np.ndarray   # (P, m, n) diag(1 - tanh^2) A in JAX (JAX's own rule: metric)
    net_params: dict           # A0, b0, A1, b1, ...: the stack's layers
    net_x: np.ndarray          # (P, n) the points
    net_fwd: np.ndarray        # (P, m_L, n) jax.jacfwd of the stack
    net_rev: np.ndarray        # (P, m_L, n) jax.jacrev of the stack
    net_product: np.ndarray    # (P, m_L, n) JAX product of its closed-form layers (metric)
    cost_scalar_loss: dict     # n, jacfwd_flops, jacrev_flops, flops_ratio, jacfwd_s, ..., fit
    cost_vector_map: dict      # m, the same for the map tanh(Bx)
    eps: float                 # round-off unit of the run (the heat map's unit)
    device: str                # where the wall times were measured


def _init(rng, widths, dtype):
    """Layer parameters A ~ N(0, 1/n), b ~ N(0, 1/4), from a NumPy generator seeded by the run
    (plain arrays: drawing them with jax.random would compile a kernel per shape)."""
    return [(jnp.asarray(rng.normal(size=(m, n)) / np.sqrt(n), dtype),
             jnp.asarray(0.5 * rng.normal(size=m), dtype))
            for n, m in zip(widths[:-1], widths[1:], strict=True)]


def _host(*arrays):
    return tuple(np.asarray(a, np.float64) for a in arrays)


def _cost(cfg, ctx, tag, fwd, rev, dims, make):
    """Per dimension: flops of one Jacobian (one point) and the wall time of P of them
    (through the run's timer, one name per mode and dimension)."""
    out = {k: [] for k in ("jacfwd_flops", "jacrev_flops", "jacfwd_s", "jacrev_s",
                           "jacfwd_compile_s", "jacrev_compile_s")}
    for i, d in enumerate(dims):
        M, X = make(int(d))
        for mode, fn in (("jacfwd", fwd), ("jacrev", rev)):
            out[f"{mode}_flops"].append(flops(fn, M, X[:1]))
            name = f"{tag}_{mode}_{d}"
            ctx.timed(name, fn, M, X, repeats=cfg.timing_repeats)
            t = ctx.timer.timings[name]
            out[f"{mode}_s"].append(t.run_s)
            out[f"{mode}_compile_s"].append(t.compile_s)
        ctx.progress(f"jacobian cost ({tag})", i + 1, len(dims))
    res = {k: np.array(v, np.float64) for k, v in out.items()}
    res["fit"] = np.asarray(dims) >= cfg.fit_from
    return res


def _costs(cfg, ctx, rng):
    dtype, P, h, n0 = ctx.dtype, cfg.timing_points, cfg.hidden, cfg.few_inputs

    def make_loss(n):
        return (jnp.asarray(rng.normal(size=(h, n)) / np.sqrt(n), dtype),
                jnp.asarray(rng.normal(size=(P, n)), dtype))

    def make_map(m):
        return (jnp.asarray(rng.normal(size=(m, n0)), dtype),
                jnp.asarray(rng.normal(size=(P, n0)), dtype))

    n, m = np.array(cfg.input_dims), np.array(cfg.output_dims)
    loss = dict(n=n, **_cost(cfg, ctx, "loss", loss_jacfwd, loss_jacrev, n, make_loss))
    loss["flops_ratio"] = loss["jacfwd_flops"] / loss["jacrev_flops"]
    vmap_ = dict(m=m, **_cost(cfg, ctx, "map", map_jacfwd, map_jacrev, m, make_map))
    vmap_["flops_ratio"] = vmap_["jacrev_flops"] / vmap_["jacfwd_flops"]
    return loss, vmap_


def compute(cfg: Config, ctx: RunContext) -> Results:
    dtype = ctx.dtype
    k_x = jax.random.fold_in(ctx.key, 0)
    rng = np.random.default_rng(ctx.seed)
    (A, b), = _init(rng, [cfg.layer_in, cfg.layer_out], dtype)
    xs = jax.random.normal(k_x, (cfg.num_points, cfg.layer_in), dtype)
    layer = _host(*ctx.timed("layer_jacobians", layer_jacobians, A, b, xs))
    layer_in = _host(A, b, xs)
    params = _init(rng, cfg.widths, dtype)
    xs = jax.random.normal(jax.random.fold_in(k_x, 1), (cfg.num_points, cfg.widths[0]), dtype)
    net = _host(*ctx.timed("network_jacobians", network_jacobians, params, xs))
    net_params = {f"{k}{i}": np.asarray(v, np.float64)
                  for i, ab in enumerate(params) for k, v in zip("Ab", ab, strict=True)}
    loss, vmap_ = _costs(cfg, ctx, rng)
    return Results(layer_A=layer_in[0], layer_b=layer_in[1], layer_x=layer_in[2],
                   layer_fwd=layer[0], layer_rev=layer[1], layer_closed=layer[2],
                   net_params=net_params, net_x=_host(xs)[0],
                   net_fwd=net[0], net_rev=net[1], net_product=net[2],
                   cost_scalar_loss=loss, cost_vector_map=vmap_, eps=float(ctx.eps),
                   device=str(ctx.runtime.device))


# ------------------------------------------------------------------------------ claims

def _slope_shift(d, width):
    """How far the least-squares slope of log y against log d can move when log y is a power
    law plus g_i, with the g_i anywhere in an interval of this width:
    (width / 2) sum|x - mean x| / sum (x - mean x)^2, x = log d (the g_i shifted to the
    interval's middle change the slope by sum (x - mean x) g_i / sum (x - mean x)^2)."""
    x = np.log(np.asarray(d, np.float64))
    dx = x - x.mean()
    return float(width / 2 * np.abs(dx).sum() / (dx**2).sum())


def _rho(cfg, n, m):
    """Lower-order terms over the leading power, at most (see the module docstring):
    loss jacfwd 2hn^2 + [((K + 2) h + K) n + K h], jacrev 4hn + [K h]; map jacfwd
    2 m n0^2 + [K (n0^2 + n0)], jacrev 2 m^2 n0 + [(K + 2) m n0 + K m + K n0]."""
    h, n0, K = cfg.hidden, cfg.few_inputs, cfg.flops_per_entry
    return {"loss_jacfwd": (K + 2) / (2 * n) + K / (2 * h * n) + K / (2 * n**2),
            "loss_jacrev": K / (4 * n),
            "map_jacfwd": K * (n0**2 + n0) / (2 * n0**2 * m),
            "map_jacrev": ((K + 2) * n0 + K) / (2 * n0 * m) + K / (2 * m**2)}


def _sech2_jacobian(A, b, x):
    """diag(sech^2(A x + b)) A in NumPy float64, sech^2 = 1 / cosh^2 (not JAX's rule)."""
    return (1.0 / np.cosh(A @ x + b) ** 2)[:, None] * A


def _layer_reference(r):
    return np.stack([_sech2_jacobian(r.layer_A, r.layer_b, x) for x in r.layer_x])


def _layer_ulps(r, J, eps):
    """Per point: max over entries of |J - reference| / (eps |A_ij| (1 + sum_j |A_ij x_j|
    + |b_i|)), the error in units of the round-off one entry can carry."""
    A, b, X = r.layer_A, r.layer_b, r.layer_x
    size = np.abs(A)[None] * (1 + np.abs(A[None] * X[:, None, :]).sum(-1, keepdims=True)
                              + np.abs(b)[None, :, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(size > 0, np.abs(J - _layer_reference(r)) / size, 0.0)
    return q.max(axis=(1, 2)) / eps


def _network_reference(r):
    """The chain rule in NumPy float64: product of the layers' sech^2 Jacobians at the
    intermediate points."""
    L = len(r.net_params) // 2
    out = []
    for x in r.net_x:
        J, v = np.eye(len(x)), x
        for i in range(L):
            A, b = r.net_params[f"A{i}"], r.net_params[f"b{i}"]
            J, v = _sech2_jacobian(A, b, v) @ J, np.tanh(A @ v + b)
        out.append(J)
    return np.stack(out)


def _network_ulps(r, J, eps):
    R = _network_reference(r)
    return (np.abs(J - R).max(axis=(1, 2))
            / (np.abs(R).max(axis=(1, 2)) + np.linalg.norm(R, axis=(1, 2)))) / eps


def _layer_claims(cfg, r, eps):
    out = []
    for mode, J in (("jacfwd", r.layer_fwd), ("jacrev", r.layer_rev)):
        err, where = tol.worst(_layer_ulps(r, J, eps), [f"point {i}" for i in range(len(J))])
        out.append(Claim.at_most(
            f"{mode} of tanh(Ax + b) = diag(sech^2(Ax + b)) A: worst entry error, in eps times "
            "|A_ij| (1 + sum_j |A_ij x_j| + |b_i|)", err,
            tol.roundoff(1, 1.0, n=cfg.layer_in, power=0.5),
            id=f"layer_{mode}_closed_form", worst=where,
            reference="closed form diag(1 / cosh^2(Ax + b)) A in NumPy float64",
            detail=f"{cfg.layer_out}x{cfg.layer_in} layer, {cfg.num_points} points; bound "
                   "sqrt(n): the n-term sum Ax + b as a random walk"))
    errs = np.stack([_network_ulps(r, J, eps) for J in (r.net_fwd, r.net_rev)])
    labels = [[f"{mode}, point {i}" for i in range(errs.shape[1])]
              for mode in ("jacfwd", "jacrev")]
    err, where = tol.worst(errs, labels)
    out.append(Claim.at_most(
        "chain rule: Jacobian of a stack of layers (jacfwd and jacrev) = product of the layer "
        "Jacobians: max error / (max|J| + ||J||_F), in eps", err,
        tol.roundoff(1, 1.0, n=max(cfg.widths), power=0.5), id="network_chain_rule",
        worst=where, reference="product of the sech^2 layer Jacobians at the intermediate "
        "points, NumPy float64",
        detail=f"{len(cfg.widths) - 1} layers, widths {cfg.widths}; bound sqrt(widest layer)"))
    return out


def _exponent_claims(prefix, what, var, d, modes):
    """For each (mode, counted flops over d, exponent p, rho(d), theory): the fitted exponent
    of the count against d is p within the shift its lower-order terms allow. (The exponent of
    the ratio of two counts is the difference of theirs exactly, a least-squares slope being
    linear in log y: it is a metric, not a claim.)"""
    out = []
    dims = ", ".join(str(v) for v in d)
    for mode, counts, p, rho, theory in modes:
        G = float(np.log1p(np.max(rho)))
        out.append(Claim.close(
            f"{what}: {mode} counted flops grow like {var}^{p}: fitted exponent",
            fitted_slope(d, counts), p,
            tol.absolute(_slope_shift(d, G), "slope shift of the lower-order terms"),
            id=f"{prefix}_{mode}_flops_exponent", reference=f"hand count: {theory}",
            detail=f"{var} = {dims}; lower-order terms <= {np.max(rho):.3g} of the leading"))
    return out


def _loss_claims(cfg, r):
    c, h, K = r.cost_scalar_loss, cfg.hidden, cfg.flops_per_entry
    n, fit = c["n"], c["fit"]
    rho = _rho(cfg, n, n)
    out = _exponent_claims("loss", "scalar loss sum(tanh(Ax)) of n inputs", "n", n[fit], [
        ("jacfwd", c["jacfwd_flops"][fit], 2, rho["loss_jacfwd"][fit],
         "n JVPs, each a product A e_j: 2 h n^2"),
        ("jacrev", c["jacrev_flops"][fit], 1, rho["loss_jacrev"][fit],
         "one forward and one backward product with A: 4 h n")])
    # leading coefficients: jacfwd's n^2 one is 2h plus at most K (the unit tangents, n^2
    # entries); jacrev's n one is 4h plus at most K (the gradient, n entries)
    lo = (n[-1] / 2) / ((1 + K / (4 * h)) * (1 + rho["loss_jacrev"][-1]))
    hi = (n[-1] / 2) * (1 + K / (2 * h)) * (1 + rho["loss_jacfwd"][-1])
    out.append(Claim.within(
        "scalar loss at the largest n: jacfwd / jacrev counted flops = n / 2 (2 h n^2 against "
        "4 h n): reverse mode is cheaper by a factor that grows with n",
        c["jacfwd_flops"][-1] / c["jacrev_flops"][-1],
        lo, hi, id="loss_fwd_over_rev_flops", rule="window from the lower-order terms",
        reference="hand counts 2 h n^2 and 4 h n",
        detail=f"n = {n[-1]}, h = {h}; K = {K:g} flops per entry"))
    return out


def _map_claims(cfg, r):
    c, n0, K = r.cost_vector_map, cfg.few_inputs, cfg.flops_per_entry
    m, fit = c["m"], c["fit"]
    rho = _rho(cfg, m, m)
    out = _exponent_claims("map", "map tanh(Bx) of m outputs, few inputs n0", "m", m[fit], [
        ("jacrev", c["jacrev_flops"][fit], 2, rho["map_jacrev"][fit],
         "m VJPs, each a product with B: 2 m^2 n0"),
        ("jacfwd", c["jacfwd_flops"][fit], 1, rho["map_jacfwd"][fit], "n0 JVPs: 2 m n0^2")])
    # jacrev's m^2 coefficient is 2 n0 plus at most K (the unit cotangents); jacfwd's m one is
    # 2 n0^2 plus at most (K + 2) n0 + K (the primal product, the tangents, the outputs)
    lo = (m[-1] / n0) / (((2 * n0**2 + (K + 2) * n0 + K) / (2 * n0**2))
                         * (1 + rho["map_jacfwd"][-1]))
    hi = (m[-1] / n0) * (1 + K / (2 * n0)) * (1 + rho["map_jacrev"][-1])
    out.append(Claim.within(
        "map at the largest m: the roles swap, jacrev / jacfwd counted flops = m / n0 "
        "(2 m^2 n0 against 2 m n0^2)", c["jacrev_flops"][-1] / c["jacfwd_flops"][-1], lo, hi,
        id="map_rev_over_fwd_flops", rule="window from the lower-order terms",
        reference="hand counts 2 m^2 n0 and 2 m n0^2",
        detail=f"m = {m[-1]}, n0 = {n0}; K = {K:g} flops per entry"))
    return out


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    return _layer_claims(cfg, r, ctx.eps) + _loss_claims(cfg, r) + _map_claims(cfg, r)


def _ulps(err, scale, eps):
    return float((np.abs(err).max(axis=(1, 2)) / (eps * scale)).max())


def metrics(cfg: Config, r: Results) -> dict:
    s = np.abs(r.layer_closed).max(axis=(1, 2))
    sn = np.abs(r.net_product).max(axis=(1, 2)) + np.linalg.norm(r.net_product, axis=(1, 2))
    loss, vmap_ = r.cost_scalar_loss, r.cost_vector_map
    out = {
        # against the independent NumPy float64 references (the claims' measures)
        "layer_max_ulps": float(max(_layer_ulps(r, r.layer_fwd, r.eps).max(),
                                    _layer_ulps(r, r.layer_rev, r.eps).max())),
        "network_max_ulps": float(max(_network_ulps(r, r.net_fwd, r.eps).max(),
                                      _network_ulps(r, r.net_rev, r.eps).max())),
        # against JAX's own rule 1 - tanh^2 and JAX's product: what the autodiff itself does
        "layer_vs_jax_tanh_rule_ulps": max(_ulps(r.layer_fwd - r.layer_closed, s, r.eps),
                                           _ulps(r.layer_rev - r.layer_closed, s, r.eps)),
        "network_vs_jax_product_ulps": max(_ulps(r.net_fwd - r.net_product, sn, r.eps),
                                           _ulps(r.net_rev - r.net_product, sn, r.eps)),
        "fwd_over_rev_flops_at_max_n": float(loss["flops_ratio"][-1]),
        "fwd_over_rev_time_at_max_n": float(loss["jacfwd_s"][-1] / loss["jacrev_s"][-1]),
        "jacfwd_time_slope_in_n": fitted_slope(loss["n"], loss["jacfwd_s"]),
        "jacrev_time_slope_in_n": fitted_slope(loss["n"], loss["jacrev_s"]),
        "rev_over_fwd_flops_at_max_m": float(vmap_["flops_ratio"][-1]),
        "rev_over_fwd_time_at_max_m": float(vmap_["jacrev_s"][-1] / vmap_["jacfwd_s"][-1]),
    }
    for var, c in (("n", loss), ("m", vmap_)):
        d = c[var][c["fit"]]
        for mode in ("jacfwd", "jacrev"):
            out[f"{mode}_flops_exponent_in_{var}"] = fitted_slope(d, c[f"{mode}_flops"][c["fit"]])
        # the ratio's exponent is the difference of the two exponents (least squares is linear)
        out[f"flops_ratio_exponent_in_{var}"] = fitted_slope(d, c["flops_ratio"][c["fit"]])
    return out


KEY_METRICS = ("layer_max_ulps", "fwd_over_rev_flops_at_max_n")
#: the gallery's reproducibility check (mathml_jax.gallery.check): metrics measured with a clock
#: are not compared (None); every other number is, at the default tolerance
METRIC_TOLERANCES = {k: None for k in ("fwd_over_rev_time_at_max_n", "rev_over_fwd_time_at_max_m",
                                       "jacfwd_time_slope_in_n", "jacrev_time_slope_in_n")}


# ------------------------------------------------------------------------------ figures

def layer_jacobian(cfg: Config, r: Results):
    """The Jacobian of the layer tanh(Ax + b) from jax.jacfwd equals the closed form
    diag(sech^2(Ax + b)) A entry by entry, their difference being round-off of a few eps at
    most."""
    Jf, Jc = r.layer_fwd[0], _layer_reference(r)[0]
    fig, axes = plotting.figure(
        r"The Jacobian of a layer from jax.jacfwd equals the closed form "
        r"$\mathrm{diag}(\mathrm{sech}^2(Ax + b))\,A$ up to round-off", ncols=3,
        width=4.3, height=4.0)
    v = np.abs(Jc).max()
    for ax, M, title in ((axes[0], Jf, "jax.jacfwd"),
                         (axes[1], Jc, "closed form (NumPy float64)")):
        im = ax.imshow(M, cmap="RdBu_r", vmin=-v, vmax=v)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("input j")
        ax.set_ylabel("output i")
        ax.grid(False)
    fig.colorbar(im, ax=axes[1], shrink=0.8, label=r"$\partial y_i / \partial x_j$")
    d = (Jf - Jc) / r.eps
    lim = max(1, np.abs(d).max())
    im = axes[2].imshow(d, cmap="PuOr", vmin=-lim, vmax=lim)
    axes[2].set_title("difference, in eps", fontsize=10)
    axes[2].set_xlabel("input j")
    axes[2].grid(False)
    fig.colorbar(im, ax=axes[2], shrink=0.8, label=f"(jacfwd - closed form) / {r.eps:.1e}")
    return fig


def _flops_panel(ax, d, c, var, theory):
    for mode, name, marker in (("jacfwd", "forward mode", "o"), ("jacrev", "reverse mode", "s")):
        plotting.loglog_fit(ax, d, c[f"{mode}_flops"], f"jax.{mode} ({name})", name=name,
                            marker=marker, fit_mask=c["fit"])
    plotting.theory_line(ax, d, theory["jacfwd"], "theory, forward: " + (
        "$2hn^2$" if var == "n" else "$2mn_0^2$"))
    ax.plot(d, theory["jacrev"], **{**plotting.THEORY_STYLE, "linestyle": ":"},
            label="theory, reverse: " + ("$4hn$" if var == "n" else "$2m^2n_0$"))
    ax.set_ylabel("flops per Jacobian (XLA count)")
    ax.set_xlabel("number of inputs $n$ (log scale)" if var == "n"
                  else "number of outputs $m$ (log scale)")
    ax.legend(loc="upper left", frameon=False)


def _time_panel(ax, d, c, var, cfg, device):
    ax.loglog(d, c["jacfwd_s"], "o-", color=plotting.color("forward mode"),
              label="jax.jacfwd (forward mode)")
    ax.loglog(d, c["jacrev_s"], "s-", color=plotting.color("reverse mode"),
              label="jax.jacrev (reverse mode)")
    ax.set_xlabel("number of inputs $n$ (log scale)" if var == "n"
                  else "number of outputs $m$ (log scale)")
    ax.set_ylabel(f"wall time (s), {cfg.timing_points} Jacobians")
    ax.set_title(f"measured on {device} (reported, not a claim)", fontsize=10)
    ax.legend(loc="upper left", frameon=False)


def cost(cfg: Config, r: Results):
    """Reverse mode's flops grow like n and forward mode's like n^2 for a scalar loss of n
    inputs, and the roles swap for m outputs of few inputs: counted flops and wall times on
    log axes."""
    h, n0 = cfg.hidden, cfg.few_inputs
    loss, vmap_ = r.cost_scalar_loss, r.cost_vector_map
    n, m = loss["n"].astype(np.float64), vmap_["m"].astype(np.float64)
    fig, axes = plotting.figure(
        "For a scalar loss of $n$ inputs reverse mode wins, its flops growing like $n$ against "
        "$n^2$ for forward mode; for many outputs $m$ of few inputs the roles swap",
        ncols=2, nrows=2,
        width=4.8, height=3.5)
    (a1, a2), (a3, a4) = axes
    _flops_panel(a1, n, loss, "n", {"jacfwd": 2.0 * h * n**2, "jacrev": 4.0 * h * n})
    _flops_panel(a2, m, vmap_, "m", {"jacfwd": 2.0 * m * n0**2, "jacrev": 2.0 * m**2 * n0})
    a1.set_title(rf"scalar loss $\Sigma_i \tanh(Ax)_i$, $h = {h}$", fontsize=10)
    a2.set_title(rf"map $\tanh(Bx)$, $n_0 = {n0}$ inputs", fontsize=10)
    _time_panel(a3, n, loss, "n", cfg, r.device)
    _time_panel(a4, m, vmap_, "m", cfg, r.device)
    return fig


FIGURES = (layer_jacobian, cost)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the layer's and the
    stack's Jacobians at every point, num_points x out x in, three ways (jacfwd, jacrev, closed
    form) on the device and in float64 on the host; the cost study at its largest sizes: the
    loss's A (hidden x n, drawn in float64) and jacfwd's n tangents through it at every timed
    point (timing_points x hidden x n), and jacrev of the map, one cotangent per output
    (timing_points x m x m)."""
    from mathml_jax import budget as b

    it, P, T = target.itemsize, cfg.num_points, cfg.timing_points
    n, m, h = max(cfg.input_dims), max(cfg.output_dims), cfg.hidden
    w = cfg.widths
    net = P * sum(w[0] * wi for wi in w[1:]) + P * w[-1] * w[0]
    return b.estimate(
        b.Part(3 * (it + 8) * P * cfg.layer_out * cfg.layer_in,
               ("jacobian.layer_in", "jacobian.layer_out", "jacobian.num_points"),
               "num_points Jacobians of the layer, layer_out x layer_in, three ways"),
        b.Part(3 * (it + 8) * net, ("jacobian.widths", "jacobian.num_points"),
               "num_points Jacobians of every layer of the stack, three ways"),
        b.Part(h * n * (8 + it) + 2 * T * h * n * it,
               ("jacobian.input_dims", "jacobian.hidden", "jacobian.timing_points"),
               "the loss's hidden x n matrix and jacfwd's tangents at timing_points points"),
        b.Part(2 * T * m * m * it, ("jacobian.output_dims", "jacobian.timing_points"),
               "jacrev of the map: timing_points x m x m cotangents"),
        # results/gallery/jacobian: jacfwd of the loss at n = 2048 (32 points) 16 ms, jacrev of
        # the map at m = 1024 50 ms: 0.5-1.5 ns per Jacobian entry; 2 ns with some margin
        seconds=(cfg.timing_repeats + 2) * T * 2e-9 * (
            sum(2 * h * d for d in cfg.input_dims)
            + sum(d * d + d * cfg.few_inputs for d in cfg.output_dims))
        + sum(h * d for d in cfg.input_dims) * b.S_PER_DRAW,
        rate="2 ns a Jacobian entry (jacfwd and jacrev at the gallery's sizes)",
        time_keys=("jacobian.input_dims", "jacobian.hidden", "jacobian.timing_repeats"))
