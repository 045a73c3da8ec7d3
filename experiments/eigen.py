"""``eigen``: eigenvalues and eigenvectors, A v = lambda v.

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
from mathml_jax import Claim, Report, plotting
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
from mathml_jax.timing import timed

SECTION = "Linear algebra / Eigenvalues, eigenvectors and matrix decompositions"


@dataclass
class Config:
    n: int = param(60, ge=3, le=2000, help="size of the random matrices")
    circle_eigenvalues: list[float] = param([2.0, 0.5], help="eigenvalues of the 2x2 matrix")
    circle_points: int = param(4000, ge=16, le=1_000_000, help="points on the unit circle")
    ratios: list[float] = param([0.5, 0.7, 0.9], gt=0, lt=1,
                                help="|lambda_2/lambda_1| of the power-iteration matrices")
    power_steps: int = param(250, ge=10, le=100_000)
    rate_tol: float = param(0.02, gt=0, le=1, help="allowed |fitted rate - ratio|")
    power_k: int = param(12, ge=2, le=1000, help="exponent k of A^k")

    def __post_init__(self):
        if len(self.circle_eigenvalues) != 2 or min(map(abs, self.circle_eigenvalues)) == 0:
            raise ConfigError("eigen.circle_eigenvalues", self.circle_eigenvalues,
                              "it must hold two non-zero numbers")
        if abs(self.circle_eigenvalues[0]) == abs(self.circle_eigenvalues[1]):
            raise ConfigError("eigen.circle_eigenvalues", self.circle_eigenvalues,
                              "the two eigenvalues must differ in absolute value (else the "
                              "ellipse is a circle and has no principal directions)")


def _match_distance(a, b) -> float:
    """Largest distance from a value in ``a`` to its nearest value in ``b`` (and back)."""
    d = np.abs(np.asarray(a)[:, None] - np.asarray(b)[None, :])
    return float(max(d.min(axis=1).max(), d.min(axis=0).max()))


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("eigen", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    n = cfg.n
    k_sym, k_gen, k_circ, k_pow, k_v0 = jax.random.split(ctx.key, 5)

    # -- 1. symmetric: eigh; general: eig (eigenvalues against NumPy, float64)
    spectrum = jnp.linspace(-1.0, 1.0, n, dtype=dtype) ** 3 * 5.0
    S, _ = symmetric_with_spectrum(k_sym, spectrum)
    (lam, V), t = timed(jax.jit(lapack.eigh), S)
    report.add_timing("eigh", t)
    norm_s = float(np.linalg.norm(np.asarray(S, np.float64), 2))
    tol_sym = 10 * n * eps
    res = float(jnp.max(eigenpair_residuals(S, lam, V))) / norm_s
    report.claim(Claim.at_most("eigh (symmetric): max ||A v - lambda v|| / ||A||_2", res,
                               tol_sym, detail=f"n={n}; bound 10 n eps"))
    orth = float(jnp.max(jnp.abs(V.T @ V - jnp.eye(n, dtype=dtype))))
    report.claim(Claim.at_most("eigh eigenvectors are orthonormal: max |V^T V - I|", orth,
                               tol_sym, detail="bound 10 n eps"))
    ref = np.linalg.eigvalsh(np.asarray(S, np.float64))
    report.claim(Claim.at_most("eigh eigenvalues = NumPy eigvalsh (float64): max diff / ||A||",
                               np.abs(np.asarray(lam, np.float64) - ref).max() / norm_s, tol_sym,
                               detail="bound 10 n eps"))

    G = jax.random.normal(k_gen, (n, n), dtype) / np.sqrt(n)
    (mu, W), t = timed(jax.jit(lapack.eig), G)
    report.add_timing("eig", t)
    norm_g = float(np.linalg.norm(np.asarray(G, np.float64), 2))
    res_g = float(jnp.max(eigenpair_residuals(G, mu, W))) / norm_g
    report.claim(Claim.at_most("eig (general): max ||A v - lambda v|| / ||A||_2", res_g,
                               tol_sym, detail=f"n={n}; complex pairs; bound 10 n eps"))
    ref_g = np.linalg.eigvals(np.asarray(G, np.float64))
    # eigenvalue perturbation is bounded by cond(V) * ||dA|| (Bauer-Fike)
    cond_v = float(np.linalg.cond(np.asarray(W, np.complex128)))
    dist = _match_distance(np.asarray(mu, np.complex128), ref_g) / norm_g
    report.claim(Claim.at_most("eig eigenvalues = NumPy eigvals (float64): max distance / ||A||",
                               dist, tol_sym * cond_v,
                               detail=f"Bauer-Fike: 10 n eps cond(V), cond(V)={cond_v:.3g}"))
    report.metric("eig_cond_V", cond_v)

    # -- 2. unit circle -> ellipse under a symmetric 2x2 matrix
    ev = jnp.asarray(cfg.circle_eigenvalues, dtype)
    S2, _ = symmetric_with_spectrum(k_circ, ev)
    lam2, V2 = lapack.eigh(S2)
    angles = jnp.linspace(0, 2 * np.pi, cfg.circle_points, endpoint=False, dtype=dtype)
    img = np.asarray(circle_image(S2, angles), np.float64)
    stretch = np.linalg.norm(img, axis=1)
    big, small = float(np.max(np.abs(ev))), float(np.min(np.abs(ev)))
    # sampling at spacing h misses the extreme stretch by O(|lambda| h^2) (plus rounding)
    h = 2 * np.pi / cfg.circle_points
    disc = big * h**2 + 10 * eps * big
    report.claim(Claim.close("longest semi-axis of the image ellipse = max |lambda|",
                             stretch.max(), big, tol=disc,
                             detail=f"brute force over {cfg.circle_points} circle points"))
    report.claim(Claim.close("shortest semi-axis of the image ellipse = min |lambda|",
                             stretch.min(), small, tol=disc,
                             detail=f"brute force over {cfg.circle_points} circle points"))
    i_max = int(np.argmax(stretch))
    x_max = np.array([np.cos(float(angles[i_max])), np.sin(float(angles[i_max]))])
    u_top = np.asarray(V2, np.float64)[:, int(np.argmax(np.abs(np.asarray(lam2))))]
    align = 1.0 - abs(float(x_max @ u_top))
    report.claim(Claim.at_most("the most-stretched direction is the top eigenvector: 1 - |cos|",
                               align, 2 * np.pi / cfg.circle_points + 100 * eps,
                               detail="within one circle sample of the eigen-direction"))
    report.add_series("circle", angles=np.asarray(angles), image=img,
                      eigenvalues=np.asarray(lam2), eigenvectors=np.asarray(V2),
                      matrix=np.asarray(S2))

    # -- 3. power iteration at several ratios |lambda_2/lambda_1| (one vmap)
    ratios = np.asarray(cfg.ratios, np.float64)
    tails = np.linspace(0.2, 0.0, n - 2)  # lambda_3 = 0.2 lambda_2: a short transient
    spectra = jnp.asarray(np.stack([np.concatenate([[1.0, r], r * tails]) for r in ratios]),
                          dtype)
    mats, Qs = jax.vmap(symmetric_with_spectrum)(jax.random.split(k_pow, len(ratios)), spectra)
    v0 = jax.random.normal(k_v0, (len(ratios), n), dtype)
    (final, vecs, rq), t = timed(power_iteration_batch, mats, v0, num_steps=cfg.power_steps)
    report.add_timing("power_iteration", t)
    errs = np.asarray(jax.vmap(sin_angle)(vecs, Qs[:, :, 0]), np.float64)  # (ratios, steps+1)
    steps = np.arange(cfg.power_steps + 1)
    # theory, exact for symmetric A: tan angle_k = sqrt(sum_{i>=2} c_i^2 lambda_i^(2k)) / |c_1|,
    # with c = Q^T v_0; its lambda_2 term |c_2/c_1| r^k dominates after a short transient.
    c = np.einsum("bn,bnm->bm", np.asarray(v0, np.float64), np.asarray(Qs, np.float64))
    lam_all = np.asarray(spectra, np.float64)
    powers = lam_all[:, 1:, None] ** steps[None, None, :]  # (ratios, n-1, steps)
    tan_theory = np.sqrt(np.sum((c[:, 1:, None] * powers) ** 2, axis=1)) / np.abs(c[:, :1])
    leading = np.abs(c[:, 1:2] * powers[:, 0]) / np.abs(c[:, :1])
    theory = tan_theory / np.sqrt(1.0 + tan_theory**2)  # sin angle_k: what is measured
    fitted = []
    for i, r in enumerate(ratios):
        # the asymptotic regime: the lambda_2 term is >= 99% of the exact theory, the error is
        # small (sin ~ tan) and well above round-off
        window = (leading[i] >= 0.99 * tan_theory[i]) & (errs[i] < 0.3) & (errs[i] > 300 * eps)
        rate = fitted_rate(np.where(window, errs[i], np.nan))
        fitted.append(rate)
        report.claim(Claim.close(f"power iteration contracts at |lambda_2/lambda_1| = {r:g}: "
                                 "fitted rate", rate, r, tol=cfg.rate_tol,
                                 detail=f"fit of log sin(angle) on {int(window.sum())} steps "
                                        f"in the asymptotic window"))
        report.metric(f"power_rate_{r:g}", rate, key=(i == len(ratios) - 1))
    report.claim(Claim.at_most(
        "power iteration follows the exact theory at every step: max_k |sin angle_k - theory_k|",
        float(np.abs(errs - theory).max()), 10 * n * eps,
        detail=f"theory from c = Q^T v0 and the spectrum in float64; {len(ratios)} ratios x "
               f"{cfg.power_steps + 1} steps; bound 10 n eps (the round-off floor)"))
    rq_err = np.abs(np.asarray(rq, np.float64)[:, -1] - 1.0)
    report.claim(Claim.at_most("Rayleigh quotient after the run = lambda_1 (max abs error)",
                               rq_err.max(), 100 * eps,
                               detail=f"{cfg.power_steps} steps; bound 100 eps"))
    report.add_series("power_iteration", steps=steps, ratios=ratios, sin_angle=errs,
                      theory=theory, fitted_rate=np.asarray(fitted))

    # -- 4. diagonalisation and A^k through it
    rho = float(np.max(np.abs(np.asarray(mu))))
    Gs = G / rho  # spectral radius 1: powers stay O(1)
    mu_s = mu / rho
    diag_err = float(diagonalisation_error(Gs.astype(W.dtype), mu_s, W))
    report.claim(Claim.at_most("A = V diag(lambda) V^-1: ||A - V L V^-1||_F / ||A||_F",
                               diag_err, 10 * n * eps * cond_v,
                               detail=f"bound 10 n eps cond(V), cond(V)={cond_v:.3g}"))
    K = cfg.power_k
    pk_eig = power_by_eigen(mu_s, W, k=K)
    pk_mul = power_by_products(Gs, k=K)
    ref_pk = np.linalg.matrix_power(np.asarray(Gs, np.float64), K)
    e_eig = np.linalg.norm(np.asarray(pk_eig, np.float64) - ref_pk) / np.linalg.norm(ref_pk)
    e_mul = np.linalg.norm(np.asarray(pk_mul, np.float64) - ref_pk) / np.linalg.norm(ref_pk)
    bound = 10 * K * n * eps * cond_v
    report.claim(Claim.at_most(f"A^{K} via V diag(lambda^{K}) V^-1 = NumPy matrix_power "
                               "(float64): relative error", e_eig, bound,
                               detail="bound 10 k n eps cond(V)"))
    report.claim(Claim.at_most(f"A^{K} by {K - 1} repeated multiplications = NumPy "
                               "matrix_power: relative error", e_mul, bound,
                               detail="bound 10 k n eps cond(V)"))
    report.metric("power_by_eigen_rel_error", e_eig)
    report.metric("power_by_products_rel_error", e_mul)
    report.metric("eigh_residual", res, key=True)

    _figures(report, img, np.asarray(lam2), np.asarray(V2), steps, errs, theory, ratios,
             fitted, eps)
    return report


def _figures(report, img, lam2, V2, steps, errs, theory, ratios, fitted, eps):
    fig, ax = plotting.figure("Circle to ellipse: semi-axes = eigenvectors "
                              "scaled by lambda", width=6.0, height=5.5)
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="gray", linestyle=":", label="unit circle")
    ax.plot(img[:, 0], img[:, 1], color=plotting.color("eigen"), label="image A x")
    for i in range(2):
        v = V2[:, i]
        ax.annotate("", xy=v, xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color="gray", lw=1.5))
        ax.annotate("", xy=lam2[i] * v, xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", color="black", lw=2))
        tip = lam2[i] * v
        ax.annotate(rf"$\lambda_{i + 1} v_{i + 1}$, $\lambda_{i + 1}$ = {lam2[i]:.2g}", tip,
                    textcoords="offset points", fontsize=10,
                    xytext=(8 * np.sign(tip[0]), 8 * np.sign(tip[1])),
                    ha="left" if tip[0] >= 0 else "right",
                    va="bottom" if tip[1] >= 0 else "top")
    ax.plot([], [], color="gray", label="eigenvector v (unit)")
    ax.plot([], [], color="black", label="A v = lambda v")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.legend(loc="best", fontsize=8)
    report.add_figure("circle_to_ellipse", fig)

    fig, ax = plotting.figure("Power iteration: error falls like |lambda2/lambda1|^k",
                              width=6.5)
    for i, r in enumerate(ratios):
        c = plotting.color(f"ratio {r:g}")
        ax.semilogy(steps, np.maximum(errs[i], eps / 10), color=c,
                    label=f"ratio {r:g} (fitted rate {fitted[i]:.3f})")
        ax.semilogy(steps, np.maximum(theory[i], eps / 10), color=c, linestyle="--",
                    linewidth=1.2)
    ax.plot([], [], **plotting.THEORY_STYLE, label="theory (exact, from Q^T v0)")
    ax.set_ylim(eps / 10, 10)
    ax.set_xlabel("step k")
    ax.set_ylabel("sin angle(v_k, top eigenvector)")
    ax.legend()
    report.add_figure("power_iteration", fig)
