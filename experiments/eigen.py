"""``eigen``: eigenvalues and eigenvectors, A v = lambda v: residuals, ellipses, power iteration.

1. The eigenpairs of ``jnp.linalg.eigh`` (symmetric) and ``jnp.linalg.eig`` (general) satisfy
   A v = lambda v to round-off, and the eigenvalues agree with NumPy's (float64 LAPACK).
2. A symmetric 2x2 matrix maps the unit circle to an ellipse whose semi-axes lie along its
   eigenvectors with lengths |lambda|: the largest and smallest stretch over the circle, found
   by brute force, are max |lambda| and min |lambda|.
3. Power iteration converges to the top eigenvector at rate |lambda_2 / lambda_1|: the fitted
   contraction rate of sin(angle) matches the ratio for several ratios (one ``vmap``).
4. Diagonalisation A = V diag(lambda) V^-1, and A^k = V diag(lambda^k) V^-1 equals k - 1
   repeated multiplications.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.convergence import fitted_rate
from mathml_jax.linalg import (
    circle_image,
    diagonalisation_error,
    eigenpair_residuals,
    lapack,
    power_by_eigen,
    power_by_products,
    power_iteration_batch,
    sin_angle,
    symmetric_with_spectrum,
)
from mathml_jax.runtime import RunContext

SECTION = "Linear algebra / Eigenvalues, eigenvectors and matrix decompositions"


@dataclass
class Config:
    n: int = param(60, ge=3, le=2000, help="size of the random matrices")
    circle_eigenvalues: list[float] = param([2.0, 0.5], help="eigenvalues of the 2x2 matrix",
                                         length=2)
    circle_points: int = param(4000, ge=16, le=1_000_000, help="points on the unit circle")
    ratios: list[float] = param([0.5, 0.7, 0.9], gt=0, lt=1,
                                help="|lambda_2/lambda_1| of the power-iteration matrices")
    power_steps: int = param(250, ge=10, le=100_000)
    rate_tol: float = param(0.005, gt=0, le=0.5, tolerance=True,
                            help="allowed |fitted rate - ratio|: the fit "
                            "window keeps the lambda_2 term >= 99% of the exact error, so the "
                            "window's bias is a few 1e-4")
    power_k: int = param(12, ge=2, le=1000, help="exponent k of A^k")

    def __post_init__(self):
        if len(self.circle_eigenvalues) != 2 or min(map(abs, self.circle_eigenvalues)) == 0:
            raise ConfigError("eigen.circle_eigenvalues", self.circle_eigenvalues,
                              "it must hold two non-zero numbers")
        if abs(self.circle_eigenvalues[0]) == abs(self.circle_eigenvalues[1]):
            raise ConfigError("eigen.circle_eigenvalues", self.circle_eigenvalues,
                              "the two eigenvalues must differ in absolute value (else the "
                              "ellipse is a circle and has no principal directions)")


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    symmetric: dict  # matrix S, eigenvalues, eigenvectors (eigh, run dtype), residuals (n,)
    general: dict    # matrix G, eigenvalues, eigenvectors (eig, complex), residuals (n,)
    circle: dict     # angles, image (points, 2), eigenvalues, eigenvectors, matrix (2x2)
    power: dict      # steps, ratios, spectra, v0, Q (eigenvectors), sin_angle (ratios, steps+1),
    #                  rayleigh (ratios, steps+1)
    diagonal: dict   # scaled (G / spectral radius), error ||A - V L V^-1||_F / ||A||_F,
    #                  by_eigen, by_products: A^k both ways
    eps: float       # the run's round-off unit (the floor of the power-iteration figure)


def _host(x, dtype=np.float64) -> np.ndarray:
    return np.asarray(x, dtype)


def _match_distance(a, b) -> tuple[float, int]:
    """Largest distance from a value in ``a`` to its nearest value in ``b`` (and back), and the
    index in ``a`` of the worst one (``len(a) + j`` for a value j of ``b``)."""
    d = np.abs(np.asarray(a)[:, None] - np.asarray(b)[None, :])
    both = np.concatenate([d.min(axis=1), d.min(axis=0)])
    i = int(np.argmax(both))
    return float(both[i]), i


# ------------------------------------------------------------------------------ compute

def _symmetric(cfg: Config, ctx: RunContext, key) -> dict:
    spectrum = jnp.linspace(-1.0, 1.0, cfg.n, dtype=ctx.dtype) ** 3 * 5.0
    S, _ = symmetric_with_spectrum(key, spectrum)
    lam, V = ctx.timed("eigh", jax.jit(lapack.eigh), S)
    return {"matrix": _host(S), "eigenvalues": _host(lam), "eigenvectors": _host(V),
            "residuals": _host(eigenpair_residuals(S, lam, V))}


def _general(cfg: Config, ctx: RunContext, key):
    G = jax.random.normal(key, (cfg.n, cfg.n), ctx.dtype) / np.sqrt(cfg.n)
    mu, W = ctx.timed("eig", jax.jit(lapack.eig), G)
    out = {"matrix": _host(G), "eigenvalues": _host(mu, np.complex128),
           "eigenvectors": _host(W, np.complex128),
           "residuals": _host(eigenpair_residuals(G, mu, W))}
    return out, (G, mu, W)


def _circle(cfg: Config, ctx: RunContext, key) -> dict:
    ev = jnp.asarray(cfg.circle_eigenvalues, ctx.dtype)
    S2, _ = symmetric_with_spectrum(key, ev)
    lam2, V2 = lapack.eigh(S2)
    angles = jnp.linspace(0, 2 * np.pi, cfg.circle_points, endpoint=False, dtype=ctx.dtype)
    return {"angles": _host(angles), "image": _host(circle_image(S2, angles)),
            "eigenvalues": _host(lam2), "eigenvectors": _host(V2), "matrix": _host(S2)}


def _power(cfg: Config, ctx: RunContext, k_pow, k_v0) -> dict:
    """Power iteration on matrices of each ratio |lambda_2/lambda_1| (one vmap)."""
    ratios, n = np.asarray(cfg.ratios, np.float64), cfg.n
    tails = np.linspace(0.2, 0.0, n - 2)  # lambda_3 = 0.2 lambda_2: a short transient
    spectra = jnp.asarray(np.stack([np.concatenate([[1.0, r], r * tails]) for r in ratios]),
                          ctx.dtype)
    mats, Qs = jax.vmap(symmetric_with_spectrum)(jax.random.split(k_pow, len(ratios)), spectra)
    v0 = jax.random.normal(k_v0, (len(ratios), n), ctx.dtype)
    _, vecs, rq = ctx.timed("power_iteration", power_iteration_batch, mats, v0,
                            num_steps=cfg.power_steps)
    return {"steps": np.arange(cfg.power_steps + 1), "ratios": ratios,
            "spectra": _host(spectra), "v0": _host(v0), "Q": _host(Qs),
            "sin_angle": _host(jax.vmap(sin_angle)(vecs, Qs[:, :, 0])),  # (ratios, steps+1)
            "rayleigh": _host(rq)}


def _diagonal(cfg: Config, G, mu, W) -> dict:
    rho = jnp.max(jnp.abs(mu))
    Gs, mu_s = G / rho, mu / rho  # spectral radius 1: powers stay O(1)
    return {"scaled": _host(Gs),
            "error": float(diagonalisation_error(Gs.astype(W.dtype), mu_s, W)),
            "by_eigen": _host(power_by_eigen(mu_s, W, k=cfg.power_k)),
            "by_products": _host(power_by_products(Gs, k=cfg.power_k))}


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_sym, k_gen, k_circ, k_pow, k_v0 = jax.random.split(ctx.key, 5)
    general, (G, mu, W) = _general(cfg, ctx, k_gen)
    return Results(symmetric=_symmetric(cfg, ctx, k_sym), general=general,
                   circle=_circle(cfg, ctx, k_circ), power=_power(cfg, ctx, k_pow, k_v0),
                   diagonal=_diagonal(cfg, G, mu, W), eps=ctx.eps)


# ------------------------------------------------------------------------------ analysis
# (NumPy only: shared by the claims and the figures)

def power_theory(p: dict) -> np.ndarray:
    """sin angle_k of power iteration, exact for symmetric A (float64): tan angle_k =
    sqrt(sum_{i>=2} c_i^2 lambda_i^(2k)) / |c_1| with c = Q^T v_0."""
    tan, _ = _power_tangents(p)
    return tan / np.sqrt(1.0 + tan**2)


def _power_tangents(p: dict) -> tuple[np.ndarray, np.ndarray]:
    """(exact tan angle_k, its lambda_2 term |c_2/c_1| r^k), each (ratios, steps+1)."""
    c = np.einsum("bn,bnm->bm", p["v0"], p["Q"])
    powers = p["spectra"][:, 1:, None] ** p["steps"][None, None, :]  # (ratios, n-1, steps)
    tan = np.sqrt(np.sum((c[:, 1:, None] * powers) ** 2, axis=1)) / np.abs(c[:, :1])
    leading = np.abs(c[:, 1:2] * powers[:, 0]) / np.abs(c[:, :1])
    return tan, leading


def power_rates(p: dict, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(fitted contraction rate, steps in the fit) per ratio. The fit uses the asymptotic
    window: the lambda_2 term is >= 99% of the exact theory, the error is small (sin ~ tan)
    and well above round-off."""
    tan, leading = _power_tangents(p)
    errs = p["sin_angle"]
    window = (leading >= 0.99 * tan) & (errs < 0.3) & (errs > 300 * eps)
    rates = np.array([fitted_rate(np.where(w, e, np.nan)) for w, e in zip(window, errs,
                                                                            strict=True)])
    return rates, window.sum(axis=1)


# ------------------------------------------------------------------------------ claims

def _eigh_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    s = r.symmetric
    S, V, n = s["matrix"], s["eigenvectors"], cfg.n
    norm_s = np.linalg.norm(S, 2)
    bound = tol.roundoff(2, eps, n=n)
    res, w_res = tol.worst(s["residuals"] / norm_s)
    orth, w_orth = tol.worst(np.abs(V.T @ V - np.eye(n)))
    diff, w_diff = tol.worst(np.abs(s["eigenvalues"] - np.linalg.eigvalsh(S)) / norm_s)
    size = f"n = {n}"
    return [
        Claim.at_most("eigh (symmetric): max ||A v - lambda v|| / ||A||_2", res, bound,
                      id="eigh_residual", worst=w_res, detail=size,
                      reference="the definition A v = lambda v (residual 0)"),
        Claim.at_most("eigh eigenvectors are orthonormal: max |V^T V - I|", orth, bound,
                      id="eigh_orthonormal", worst=w_orth, detail=size + "; V^T V in float64",
                      reference="the identity matrix"),
        Claim.at_most("eigh eigenvalues = NumPy eigvalsh (float64): max diff / ||A||", diff,
                      bound, id="eigh_matches_numpy", worst=w_diff, detail=size,
                      reference="NumPy eigvalsh (LAPACK) in float64"),
    ]


def _eig_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    g, n = r.general, cfg.n
    norm_g = np.linalg.norm(g["matrix"], 2)
    cond_v = float(np.linalg.cond(g["eigenvectors"]))
    res, w_res = tol.worst(g["residuals"] / norm_g)
    dist, i = _match_distance(g["eigenvalues"], np.linalg.eigvals(g["matrix"]))
    where = f"JAX eigenvalue {i}" if i < n else f"NumPy eigenvalue {i - n}"
    return [
        Claim.at_most("eig (general): max ||A v - lambda v|| / ||A||_2", res,
                      tol.roundoff(2, eps, n=n), id="eig_residual", worst=w_res,
                      reference="the definition A v = lambda v (residual 0)",
                      detail=f"n = {n}; complex pairs"),
        # eigenvalue perturbation is bounded by cond(V) * ||dA|| (Bauer-Fike)
        Claim.at_most("eig eigenvalues = NumPy eigvals (float64): max distance / ||A||",
                      dist / norm_g, tol.roundoff(1, eps, n=n, scale=cond_v),
                      id="eig_matches_numpy", worst=where,
                      reference="NumPy eigvals (LAPACK) in float64",
                      detail=f"Bauer-Fike: n eps cond(V), cond(V) = {cond_v:.3g}"),
    ]


def _circle_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    c = r.circle
    stretch = np.linalg.norm(c["image"], axis=1)
    ev = np.abs(np.asarray(cfg.circle_eigenvalues, np.float64))
    big, small = float(ev.max()), float(ev.min())
    # sampling at spacing h misses the extreme stretch by O(|lambda| h^2) (plus rounding)
    h = 2 * np.pi / cfg.circle_points
    disc = tol.absolute(big * h**2, "circle sampling: max|lambda| h^2") + tol.roundoff(
        10, eps, scale=big)
    i_max = int(np.argmax(stretch))
    x_max = np.array([np.cos(c["angles"][i_max]), np.sin(c["angles"][i_max])])
    u_top = c["eigenvectors"][:, int(np.argmax(np.abs(c["eigenvalues"])))]
    detail = f"brute force over {cfg.circle_points} circle points"
    return [
        Claim.close("longest semi-axis of the image ellipse = max |lambda|", stretch.max(), big,
                    disc, id="ellipse_longest_axis", detail=detail,
                    reference="the configured eigenvalues (closed form)"),
        Claim.close("shortest semi-axis of the image ellipse = min |lambda|", stretch.min(),
                    small, disc, id="ellipse_shortest_axis", detail=detail,
                    reference="the configured eigenvalues (closed form)"),
        Claim.at_most("the most-stretched direction is the top eigenvector: 1 - |cos|",
                      1.0 - abs(float(x_max @ u_top)),
                      tol.absolute(h**2 / 2, "one circle sample: 1 - cos(h) <= h^2/2")
                      + tol.roundoff(10, eps), id="ellipse_axis_is_eigenvector",
                      reference="eigh's top eigenvector",
                      detail="the best sample is within h/2 of the eigen-direction (1 - cos <= "
                             "h^2/8); bound one full sample"),
    ]


def _power_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    p = r.power
    labels = [f"ratio {x:g}" for x in p["ratios"]]
    rates, sizes = power_rates(p, eps)
    gap, w_gap = tol.worst(np.abs(rates - p["ratios"]), labels)
    dev = np.abs(p["sin_angle"] - power_theory(p))
    dev_max, w_dev = tol.worst(dev.max(axis=1), labels)
    step = int(np.argmax(dev[labels.index(w_dev)]))
    rq, w_rq = tol.worst(np.abs(p["rayleigh"][:, -1] - 1.0), labels)
    return [
        Claim.at_most("power iteration contracts at |lambda_2/lambda_1|: largest |fitted rate "
                      "- ratio| over the ratios", gap,
                      tol.absolute(cfg.rate_tol, "rate_tol: bias of the fit window (the "
                                   "lambda_2 term >= 99% of the exact error)"),
                      id="power_iteration_rate", worst=w_gap,
                      reference="the ratio |lambda_2/lambda_1| of the spectrum",
                      detail="fit of log sin(angle) on the asymptotic window: "
                             + ", ".join(f"{lab}: rate {x:.4f} on {int(k)} steps"
                                         for lab, x, k in zip(labels, rates, sizes,
                                                              strict=True))),
        Claim.at_most("power iteration follows the exact theory at every step: max_k |sin "
                      "angle_k - theory_k|", dev_max, tol.roundoff(2, eps, n=cfg.n),
                      id="power_iteration_theory", worst=f"{w_dev}, step {step}",
                      reference="exact theory from c = Q^T v0 and the spectrum in float64",
                      detail=f"{len(labels)} ratios x {cfg.power_steps + 1} steps; the bound "
                             "is the round-off floor"),
        Claim.at_most("Rayleigh quotient after the run = lambda_1 (max abs error)", rq,
                      tol.roundoff(10, eps), id="rayleigh_quotient", worst=w_rq,
                      reference="lambda_1 = 1 (constructed spectrum)",
                      detail=f"{cfg.power_steps} steps"),
    ]


def _diagonal_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    d, n, K = r.diagonal, cfg.n, cfg.power_k
    cond_v = float(np.linalg.cond(r.general["eigenvectors"]))
    ref = np.linalg.matrix_power(d["scaled"], K)
    rel = {k: np.linalg.norm(d[k] - ref) / np.linalg.norm(ref) for k in ("by_eigen",
                                                                         "by_products")}
    bound = tol.roundoff(K, eps, n=n, scale=cond_v)
    detail = f"k = {K}, n = {n}, cond(V) = {cond_v:.3g}"
    ref_words = "NumPy matrix_power in float64"
    return [
        Claim.at_most("A = V diag(lambda) V^-1: ||A - V L V^-1||_F / ||A||_F", d["error"],
                      tol.roundoff(1, eps, n=n, scale=cond_v), id="diagonalisation",
                      reference="the matrix A itself",
                      detail=f"bound n eps cond(V), cond(V) = {cond_v:.3g}"),
        Claim.at_most("A^k via V diag(lambda^k) V^-1 = NumPy matrix_power (float64): relative "
                      "error", rel["by_eigen"], bound, id="power_by_eigen",
                      reference=ref_words, detail=detail + "; bound k n eps cond(V)"),
        Claim.at_most("A^k by k - 1 repeated multiplications = NumPy matrix_power: relative "
                      "error", rel["by_products"],
                      tol.roundoff(2, eps, n=K * n, power=0.5), id="power_by_products",
                      reference=ref_words,
                      detail=detail + "; k products of n-term sums: 2 (k n)^0.5 eps, no V"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    eps = ctx.eps
    return (_eigh_claims(cfg, r, eps) + _eig_claims(cfg, r, eps) + _circle_claims(cfg, r, eps)
            + _power_claims(cfg, r, eps) + _diagonal_claims(cfg, r, eps))


def metrics(cfg: Config, r: Results) -> dict:
    d = r.diagonal
    ref = np.linalg.matrix_power(d["scaled"], cfg.power_k)
    rates, _ = power_rates(r.power, r.eps)
    out = {"eig_cond_V": float(np.linalg.cond(r.general["eigenvectors"]))}
    out.update({f"power_rate_{x:g}": float(v) for x, v in zip(cfg.ratios, rates, strict=True)})
    out.update({f"power_{k}_rel_error": float(np.linalg.norm(d[k] - ref) / np.linalg.norm(ref))
                for k in ("by_eigen", "by_products")})
    out["eigh_residual"] = float(r.symmetric["residuals"].max()
                                 / np.linalg.norm(r.symmetric["matrix"], 2))
    return out


#: the rate of the slowest default ratio (0.9) and the eigh residual
KEY_METRICS = ("power_rate_0.9", "eigh_residual")


# ------------------------------------------------------------------------------ figures

def circle_to_ellipse(cfg: Config, r: Results):
    """A symmetric 2x2 matrix maps the unit circle to an ellipse whose semi-axes are its
    eigenvectors v stretched to A v = lambda v, of lengths |lambda|."""
    img, lam2, V2 = r.circle["image"], r.circle["eigenvalues"], r.circle["eigenvectors"]
    fig, ax = plotting.figure(r"Circle to ellipse: the semi-axes are the eigenvectors scaled "
                              r"by $|\lambda|$", width=6.0, height=5.5)
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="black", linestyle=":", linewidth=1.2,
            label="unit circle $\\|x\\| = 1$")
    ax.plot(img[:, 0], img[:, 1], color=plotting.color("eigen"), label="its image $Ax$")
    for i in range(2):
        v = V2[:, i]
        ax.annotate("", xy=v, xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color=plotting.color("lambda_min"), lw=1.5))
        ax.annotate("", xy=lam2[i] * v, xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color=plotting.color("lambda_max"), lw=2))
        tip = lam2[i] * v
        ax.annotate(rf"$\lambda_{i + 1} v_{i + 1}$", tip,
                    textcoords="offset points", fontsize=10,
                    xytext=(8 * np.sign(tip[0]), 8 * np.sign(tip[1])),
                    ha="left" if tip[0] >= 0 else "right",
                    va="bottom" if tip[1] >= 0 else "top")
    ax.plot([], [], color=plotting.color("lambda_min"), label="eigenvector $v$ (unit)")
    ax.plot([], [], color=plotting.color("lambda_max"),
            label=rf"$Av = \lambda v$ ($\lambda_1$ = {lam2[0]:.2g}, $\lambda_2$ = {lam2[1]:.2g})")
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    lim = 1.4 * max(1.0, float(np.abs(lam2).max()))  # room for the arrow labels
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2)
    return fig


def power_iteration(cfg: Config, r: Results):
    """Power iteration's angle to the top eigenvector shrinks like |lambda_2/lambda_1|^k: its
    sine against step k on a log axis, for several eigenvalue ratios, down to round-off."""
    p, eps = r.power, r.eps
    theory = power_theory(p)
    fitted, _ = power_rates(p, eps)
    fig, ax = plotting.figure(r"Power iteration: the error falls like "
                              r"$|\lambda_2/\lambda_1|^k$ down to round-off", width=6.5)
    colors = plotting.ordered_colors(len(p["ratios"]))
    for i, ratio in enumerate(p["ratios"]):
        ax.semilogy(p["steps"], np.maximum(p["sin_angle"][i], eps / 10), color=colors[i],
                    label=rf"$|\lambda_2/\lambda_1|$ = {ratio:g} (fitted rate {fitted[i]:.3f})")
        ax.semilogy(p["steps"], np.maximum(theory[i], eps / 10),
                    **{**plotting.THEORY_STYLE, "linewidth": 1.2})
    ax.plot([], [], **plotting.THEORY_STYLE, label=r"theory (exact, from $Q^T v_0$)")
    ax.axhline(eps, color="black", linestyle=":", linewidth=1)
    ax.text(p["steps"][-1], eps * 1.5, "unit round-off", ha="right", va="bottom", fontsize=9)
    ax.set_ylim(eps / 10, 10)
    ax.set_xlabel("step $k$")
    ax.set_ylabel(r"$\sin\angle(v_k, v_1)$ (log scale)")
    ax.legend(loc="upper right")
    return fig


FIGURES = (circle_to_ellipse, power_iteration)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the n x n matrices
    (symmetric, general, their eigenvectors, complex ones from eig, float64 host copies and A^k
    both ways: about 16 of them); power iteration keeps every iterate, len(ratios) x
    (power_steps + 1) x n, and its ratios' n x n matrices."""
    from mathml_jax import budget as b

    n, r, steps = cfg.n, len(cfg.ratios), cfg.power_steps + 1
    return b.estimate(
        b.Part(16 * 8 * n * n, ("eigen.n",), "about 16 n x n matrices (eig, eigh, A^k)"),
        b.Part(b.size((r, steps, n), itemsize=target.itemsize) + b.size((r, steps, n),
                                                                         itemsize=8)
               + 3 * r * n * n * 8, ("eigen.power_steps", "eigen.n"),
               "every power iterate: len(ratios) x (power_steps + 1) x n"),
        b.Part(cfg.circle_points * 2 * 8 * 3, ("eigen.circle_points",), "the circle's image"),
        seconds=(b.S_PER_EIG_N3 + 2 * b.S_PER_EIGH_N3) * n**3 + 2 * cfg.power_k * n**3
        * b.S_PER_FLOP + r * steps * 2 * n * n * b.S_PER_FLOP,
        rate=f"eig at {b.S_PER_EIG_N3:g} n^3 s, products at {1 / b.S_PER_FLOP:.0e} flop/s",
        time_keys=("eigen.n", "eigen.power_steps"))
