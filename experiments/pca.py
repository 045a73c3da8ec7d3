"""``pca``: principal component analysis via the SVD of the centred data.

1. Synthetic Gaussian data with a known covariance Sigma = Q diag(lambda) Q^T: the explained
   variances estimate lambda and the principal directions estimate the columns of Q, within the
   sampling error, and the error shrinks like 1/sqrt(n) as the sample grows (Anderson's
   asymptotics: Var(lambda_hat_i) ~ 2 lambda_i^2 / n; E sin^2 angle_i ~
   (1/n) sum_(j != i) lambda_i lambda_j / (lambda_i - lambda_j)^2).
2. scikit-learn's digits: projection to two components coloured by digit, the cumulative
   explained variance, reconstructions at several k (mean squared reconstruction error = sum of
   the discarded s_i^2 / n), and agreement with scikit-learn's PCA (components up to sign,
   explained variance ratios).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.decomposition import PCA as SklearnPCA

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.convergence import fitted_slope
from mathml_jax.linalg import (
    lapack,
    pca,
    pca_reconstruct_ranks,
    pca_transform,
    random_orthogonal,
    sampled_pca_spectra,
)
from mathml_jax.linalg.datasets import digits
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Linear algebra / Matrix decompositions: principal component analysis"

Z_BOUND = 4.0  # Monte Carlo claims: within 4 standard errors


@dataclass
class Config:
    eigenvalues: list[float] = param([5.0, 3.0, 1.5, 0.7, 0.3], gt=0,
                                     help="covariance eigenvalues (distinct) of the synthetic data")
    sample_sizes: list[int] = param([100, 400, 1600, 6400], ge=10, le=10_000_000)
    trials: int = param(60, ge=10, le=100_000, help="independent samples per size (vmap)")
    slope_tol: float = param(0.1, gt=0, le=1, help="allowed |fitted slope + 1/2|")
    reconstruct_ks: list[int] = param([2, 5, 10, 20, 40], ge=1, le=64)
    compare_components: int = param(10, ge=2, le=64, help="components compared with sklearn")
    digits_shown: int = param(6, ge=1, le=20)

    def __post_init__(self):
        ev = sorted(self.eigenvalues, reverse=True)
        if len(set(ev)) != len(ev) or len(ev) < 2:
            raise ConfigError("pca.eigenvalues", self.eigenvalues,
                              "at least two distinct values are needed (equal eigenvalues have "
                              "no unique principal direction)")
        if len(self.sample_sizes) < 2:
            raise ConfigError("pca.sample_sizes", self.sample_sizes,
                              "at least two sizes are needed to fit the trend")


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("pca", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    k_q, k_trials = jax.random.split(ctx.key)

    # -- 1. synthetic data with a known covariance
    lam = np.sort(np.asarray(cfg.eigenvalues, np.float64))[::-1]
    d = lam.size
    Q = np.asarray(random_orthogonal(k_q, n=d, dtype=dtype), np.float64)
    cov_sqrt = jnp.asarray(Q * np.sqrt(lam)[None, :], dtype)
    # Anderson (1963): asymptotic sampling errors of the eigenvalues and eigenvectors
    off = ~np.eye(d, dtype=bool)
    ratio = np.where(off, lam[:, None] * lam[None, :]
                     / np.where(off, lam[:, None] - lam[None, :], 1.0) ** 2, 0.0)
    angle_const = np.sqrt(ratio.sum(axis=1))  # RMS sin angle_i ~ angle_const_i / sqrt(n)
    sizes = np.asarray(sorted(cfg.sample_sizes))
    rel_rms, sin_rms, mean_err, mean_se = [], [], [], []
    for i, n in enumerate(sizes):
        keys = jax.random.split(jax.random.fold_in(k_trials, i), cfg.trials)
        (var, comps), t = timed(sampled_pca_spectra, keys, cov_sqrt, num_samples=int(n))
        report.add_timing(f"pca_trials_n{n}", t)
        var = np.asarray(var, np.float64)  # (trials, d)
        comps = np.asarray(comps, np.float64)  # (trials, d, d): rows are directions
        cos = np.einsum("tij,ji->ti", comps, Q)
        sin = np.linalg.norm(comps - cos[..., None] * Q.T[None], axis=-1)
        rel_rms.append(np.sqrt(np.mean(((var - lam) / lam) ** 2, axis=0)))
        sin_rms.append(np.sqrt(np.mean(sin**2, axis=0)))
        mean_err.append(var.mean(axis=0) - lam)
        mean_se.append(var.std(axis=0, ddof=1) / np.sqrt(cfg.trials))
    rel_rms, sin_rms = np.array(rel_rms), np.array(sin_rms)  # (sizes, d)
    z = np.abs(mean_err[-1]) / mean_se[-1]
    report.claim(Claim.at_most(f"explained variances estimate the covariance eigenvalues "
                               f"(n={sizes[-1]}): largest |z| of the mean over trials",
                               z.max(), Z_BOUND,
                               detail=f"{d} eigenvalues, {cfg.trials} trials; "
                                      f"z = (mean - lambda) / SE; bias O(1/n) included"))
    ratio_var = rel_rms[-1] / np.sqrt(2.0 / sizes[-1])
    ratio_dir = sin_rms[-1] / (angle_const / np.sqrt(sizes[-1]))
    # RMS over T trials of an approximately Gaussian error has relative SE ~ 1/sqrt(2T)
    slack = Z_BOUND / np.sqrt(2 * cfg.trials) + 0.1
    report.claim(Claim.within("eigenvalue RMS relative error / sqrt(2/n) (Anderson), worst "
                              "component", ratio_var[np.argmax(np.abs(ratio_var - 1))],
                              1 - slack, 1 + slack,
                              detail=f"n={sizes[-1]}; {Z_BOUND:g} SE of an RMS + 0.1 for "
                                     "finite-n bias"))
    report.claim(Claim.within("direction RMS sin(angle) / Anderson's asymptotic value, worst "
                              "component", ratio_dir[np.argmax(np.abs(ratio_dir - 1))],
                              1 - slack, 1 + slack,
                              detail=f"n={sizes[-1]}; {Z_BOUND:g} SE of an RMS + 0.1"))
    slope_v = fitted_slope(sizes, rel_rms.mean(axis=1))
    slope_d = fitted_slope(sizes, sin_rms.mean(axis=1))
    report.claim(Claim.close("eigenvalue error shrinks as the sample grows: fitted slope vs n",
                             slope_v, -0.5, tol=cfg.slope_tol,
                             detail=f"RMS relative error, mean over components, "
                                    f"n = {sizes.min()}..{sizes.max()}"))
    report.claim(Claim.close("direction error shrinks as the sample grows: fitted slope vs n",
                             slope_d, -0.5, tol=cfg.slope_tol,
                             detail="RMS sin(angle to the true eigenvector)"))
    report.metric("eigenvalue_error_slope", slope_v, key=True)
    report.metric("direction_error_slope", slope_d, key=True)
    report.add_series("synthetic", sample_sizes=sizes, eigenvalues=lam,
                      eigenvalue_rel_rms=rel_rms, direction_sin_rms=sin_rms,
                      anderson_direction_constant=angle_const)

    # -- 2. digits: our PCA against scikit-learn's
    X64, y = digits()
    nd, dd = X64.shape
    X = jnp.asarray(X64, dtype)
    full, t = timed(pca, X, num_components=dd)
    report.add_timing("pca_digits", t)
    K = cfg.compare_components
    sk = SklearnPCA(n_components=K, svd_solver="full").fit(X64)
    comps = np.asarray(full.components[:K], np.float64)
    cos_signed = np.sum(comps * sk.components_, axis=1)
    # sin(angle) as ||c - (c.s) s||: accurate to round-off (sqrt(1 - cos^2) is not)
    sin_sk = np.linalg.norm(comps - cos_signed[:, None] * sk.components_, axis=1)
    evr = np.asarray(full.explained_variance_ratio, np.float64)
    # Wedin: a backward error ||E|| <= 10 sqrt(n) eps s_1 of the SVD turns direction i by at
    # most ||E|| / (gap between s_i and the nearest other singular value)
    sv = np.asarray(full.singular_values, np.float64)
    gaps = np.array([min(abs(sv[i] - sv[j]) for j in range(K + 1) if j != i) for i in range(K)])
    angle_tol = float(np.max(10 * np.sqrt(nd) * eps * sv[0] / gaps))
    report.claim(Claim.at_most(f"top {K} components = scikit-learn's up to sign: max sin(angle)",
                               sin_sk.max(),
                               max(angle_tol, 100 * eps),
                               detail="Wedin: 10 sqrt(n) eps s_1 / singular gap"))
    report.claim(Claim.at_most(f"explained variance ratios = scikit-learn's (top {K}): max "
                               "relative difference",
                               np.abs(evr[:K] - sk.explained_variance_ratio_).max()
                               / sk.explained_variance_ratio_[K - 1], 1000 * eps,
                               detail="bound 1000 eps"))
    two = pca(X, num_components=2)
    Z2 = np.asarray(pca_transform(X, two), np.float64)
    Zsk = sk.transform(X64)[:, :2]
    signs = np.sign(np.sum(Z2 * Zsk, axis=0))
    report.claim(Claim.at_most("2-D projection = scikit-learn's transform up to sign: max "
                               "difference / max |z|", np.abs(Z2 - Zsk * signs).max()
                               / np.abs(Zsk).max(), max(angle_tol, 100 * eps),
                               detail="same bound as the components"))
    ks = [k for k in cfg.reconstruct_ks if k <= dd]
    s2_all = np.asarray(lapack.svd(X - full.mean, compute_uv=False), np.float64) ** 2
    recs = np.asarray(pca_reconstruct_ranks(X, full, jnp.asarray(ks)), np.float64)
    mse = [np.mean(np.sum((X64 - r) ** 2, axis=1)) for r in recs]
    mse_theory = [s2_all[k:].sum() / nd for k in ks]
    mse, mse_theory = np.array(mse), np.array(mse_theory)
    total = s2_all.sum() / nd
    report.claim(Claim.at_most(f"reconstruction error with k of {dd} components = discarded "
                               f"variance sum_(i>k) s_i^2 / n, for k in {ks}: max gap / total",
                               np.abs(mse - mse_theory).max() / total, 100 * eps * dd,
                               detail="bound 100 d eps"))
    cum = np.cumsum(evr)
    k90 = int(np.searchsorted(cum, 0.9) + 1)
    report.metric("components_for_90pct_variance", k90, key=True)
    report.metric("two_component_variance_ratio", float(cum[1]))
    report.add_series("digits", explained_variance_ratio=evr, cumulative=cum,
                      sklearn_ratio=sk.explained_variance_ratio_, projection=Z2, labels=y,
                      reconstruct_ks=np.array(ks), reconstruction_mse=mse,
                      reconstruction_mse_theory=mse_theory)
    recon = {k: r[:cfg.digits_shown] for k, r in zip(ks, recs, strict=True)}

    _figures(report, sizes, rel_rms, sin_rms, lam, angle_const, Z2, y, cum, k90, X64, recon,
             ks, cfg.digits_shown)
    return report


def _figures(report, sizes, rel_rms, sin_rms, lam, angle_const, Z2, y, cum, k90, X64, recon,
             ks, shown):
    fig, (a1, a2) = plotting.figure("PCA on Gaussian data: sampling error shrinks like "
                                    "1/sqrt(n)", ncols=2)
    for i in range(lam.size):
        c = plotting.plt.get_cmap("tab10")(i)
        a1.loglog(sizes, rel_rms[:, i], "o-", color=c, label=f"lambda{i + 1} = {lam[i]:g}")
        a2.loglog(sizes, sin_rms[:, i], "o-", color=c, label=f"direction {i + 1}")
        a2.loglog(sizes, angle_const[i] / np.sqrt(sizes), color=c, linestyle="--", lw=1)
    plotting.theory_line(a1, sizes, np.sqrt(2.0 / sizes), "Anderson sqrt(2/n)")
    a2.plot([], [], **plotting.THEORY_STYLE, label="Anderson asymptotics")
    a1.set_ylabel("RMS relative error of explained variance")
    a2.set_ylabel("RMS sin(angle to true eigenvector)")
    for ax in (a1, a2):
        ax.set_xlabel("sample size n")
        ax.legend(fontsize=8)
    report.add_figure("sampling_error", fig)

    fig, ax = plotting.figure("Digits projected on the first two principal components",
                              width=6.5, height=5.5)
    cmap = plotting.plt.get_cmap("tab10")
    for digit in range(10):
        m = y == digit
        ax.scatter(Z2[m, 0], Z2[m, 1], s=6, color=cmap(digit), label=str(digit), alpha=0.7)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    ax.legend(title="digit", markerscale=3, ncols=2, fontsize=8)
    report.add_figure("projection_2d", fig)

    fig, ax = plotting.figure(f"Cumulative explained variance: {k90} of 64 components keep 90%")
    ax.plot(np.arange(1, cum.size + 1), cum, "o-", markersize=3, color=plotting.color("pca"))
    ax.axhline(0.9, color="gray", linestyle=":", label="90%")
    ax.axvline(k90, color="gray", linestyle="--", lw=1, label=f"k = {k90}")
    ax.set_xlabel("number of components k")
    ax.set_ylabel("fraction of variance explained")
    ax.legend()
    report.add_figure("explained_variance", fig)

    fig, axes = plotting.figure("Digits rebuilt from k principal components", ncols=len(ks) + 1,
                                nrows=shown, width=1.3, height=1.3)
    for r in range(shown):
        for c, (title, img) in enumerate([("original", X64[r]),
                                          *[(f"k={k}", recon[k][r]) for k in ks]]):
            ax = axes[r, c]
            ax.imshow(img.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for side in ("left", "bottom"):
                ax.spines[side].set_visible(False)
            if r == 0:
                ax.set_title(title, fontsize=9)
    report.add_figure("reconstructions", fig)
