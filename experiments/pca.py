"""``pca``: principal component analysis via the SVD of the centred data.

1. Synthetic Gaussian data with a known covariance Sigma = Q diag(lambda) Q^T: the explained
   variances estimate lambda and the principal directions estimate the columns of Q, within the
   sampling error, and the error shrinks like 1/sqrt(n) as the sample grows (Anderson's
   asymptotics: Var(lambda_hat_i) ~ 2 lambda_i^2 / n; E sin^2 angle_i ~
   (1/n) sum_(j != i) lambda_i lambda_j / (lambda_i - lambda_j)^2).
2. scikit-learn's digits: projection to two components coloured by digit, the cumulative
   explained variance, reconstructions at several k (their mean squared error is the discarded
   variance sum of s_i^2 / n: an identity of the same SVD, shown in a figure and a metric), and
   agreement with scikit-learn's PCA in float64 (components up to sign, explained variance
   ratios, projection, reconstruction errors), in units of a stated round-off model.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.decomposition import PCA as SklearnPCA

from experiments._schema import ConfigError, param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
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

SECTION = "Linear algebra / Matrix decompositions: principal component analysis"

Z_BOUND = 4.0  # Monte Carlo claims: within 4 standard errors


@dataclass
class Config:
    eigenvalues: list[float] = param([5.0, 3.0, 1.5, 0.7, 0.3], gt=0,
                                     le=1e6, unique=False,
                                     help="covariance eigenvalues (distinct) of the synthetic data")
    sample_sizes: list[int] = param([100, 400, 1600, 6400], ge=10, le=10_000_000)
    trials: int = param(60, ge=10, le=100_000, help="independent samples per size (vmap)")
    slope_tol: float = param(0.1, gt=0, le=0.5, tolerance=True, help="allowed |fitted slope + 1/2|")
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


@dataclass
class Results:
    """Everything the claims, metrics and figures need, as host arrays (the run's series)."""

    synthetic: dict  # sample_sizes, eigenvalues (lambda, descending), per size x component:
                     # eigenvalue_rel_rms, direction_sin_rms, mean_error (mean - lambda),
                     # mean_se; anderson_direction_constant (RMS sin angle ~ it / sqrt(n))
    digits: dict     # ours against scikit-learn's PCA (fitted on the host, float64): components /
                     # sklearn_components (top compared), explained_variance_ratio (all) /
                     # sklearn_ratio, singular_values, projection / sklearn_projection (2-D),
                     # labels, reconstruct_ks, reconstruction_mse (ours) /
                     # sklearn_reconstruction_mse, reconstruction_mse_theory (discarded var.),
                     # total_variance, originals and reconstructions (the digits shown)


# ------------------------------------------------------------------------------ compute

def _anderson_direction_constant(lam: np.ndarray) -> np.ndarray:
    """Anderson (1963): RMS sin angle_i ~ sqrt(sum_(j != i) lambda_i lambda_j /
    (lambda_i - lambda_j)^2) / sqrt(n)."""
    off = ~np.eye(lam.size, dtype=bool)
    ratio = np.where(off, lam[:, None] * lam[None, :]
                     / np.where(off, lam[:, None] - lam[None, :], 1.0) ** 2, 0.0)
    return np.sqrt(ratio.sum(axis=1))


def _trial_errors(var: np.ndarray, comps: np.ndarray, lam: np.ndarray, Q: np.ndarray,
                  trials: int) -> dict:
    """Sampling errors over the trials of one size: (d,) arrays."""
    cos = np.einsum("tij,ji->ti", comps, Q)
    sin = np.linalg.norm(comps - cos[..., None] * Q.T[None], axis=-1)
    return {"eigenvalue_rel_rms": np.sqrt(np.mean(((var - lam) / lam) ** 2, axis=0)),
            "direction_sin_rms": np.sqrt(np.mean(sin**2, axis=0)),
            "mean_error": var.mean(axis=0) - lam,
            "mean_se": var.std(axis=0, ddof=1) / np.sqrt(trials)}


def _synthetic(cfg: Config, ctx: RunContext) -> dict:
    """PCA of many Gaussian samples with covariance Q diag(lambda) Q^T, at every sample size."""
    k_q, k_trials = jax.random.split(ctx.key)
    lam = np.sort(np.asarray(cfg.eigenvalues, np.float64))[::-1]
    Q = np.asarray(random_orthogonal(k_q, n=lam.size, dtype=ctx.dtype), np.float64)
    cov_sqrt = jnp.asarray(Q * np.sqrt(lam)[None, :], ctx.dtype)
    sizes = np.asarray(sorted(cfg.sample_sizes))
    rows = []
    for i, n in enumerate(sizes):
        keys = jax.random.split(jax.random.fold_in(k_trials, i), cfg.trials)
        var, comps = ctx.timed(f"pca_trials_n{n}", sampled_pca_spectra, keys, cov_sqrt,
                               num_samples=int(n))
        rows.append(_trial_errors(np.asarray(var, np.float64), np.asarray(comps, np.float64),
                                  lam, Q, cfg.trials))
        ctx.progress("sample sizes", i + 1, len(sizes))
    out = {key: np.array([row[key] for row in rows]) for key in rows[0]}  # (sizes, d)
    out.update(sample_sizes=sizes, eigenvalues=lam,
               anderson_direction_constant=_anderson_direction_constant(lam))
    return out


def _reconstructions(cfg: Config, X, X64: np.ndarray, full) -> dict:
    """Rebuilt digits at every k, their mean squared error and the discarded variance."""
    nd, dd = X64.shape
    ks = [k for k in cfg.reconstruct_ks if k <= dd]
    s2_all = np.asarray(lapack.svd(X - full.mean, compute_uv=False), np.float64) ** 2
    recs = np.asarray(pca_reconstruct_ranks(X, full, jnp.asarray(ks)), np.float64)
    sk_mse = []
    for k in ks:  # scikit-learn's rank-k reconstruction in float64: the independent reference
        sk = SklearnPCA(n_components=k, svd_solver="full").fit(X64)
        sk_mse.append(np.mean(np.sum((X64 - sk.inverse_transform(sk.transform(X64))) ** 2,
                                     axis=1)))
    return {"reconstruct_ks": np.asarray(ks),
            "reconstruction_mse": np.array([np.mean(np.sum((X64 - r) ** 2, axis=1))
                                            for r in recs]),
            "sklearn_reconstruction_mse": np.asarray(sk_mse),
            "reconstruction_mse_theory": np.array([s2_all[k:].sum() / nd for k in ks]),
            "total_variance": float(s2_all.sum() / nd),
            "originals": X64[:cfg.digits_shown],
            "reconstructions": recs[:, :cfg.digits_shown]}


def _digits(cfg: Config, ctx: RunContext) -> dict:
    """Our PCA of the digits, and scikit-learn's (the float64 reference, fitted here)."""
    X64, y = digits()
    X = jnp.asarray(X64, ctx.dtype)
    full = ctx.timed("pca_digits", pca, X, num_components=X64.shape[1])
    K = cfg.compare_components
    sk = SklearnPCA(n_components=K, svd_solver="full").fit(X64)
    two = pca(X, num_components=2)
    out = {"components": np.asarray(full.components[:K], np.float64),
           "sklearn_components": sk.components_,
           "explained_variance_ratio": np.asarray(full.explained_variance_ratio, np.float64),
           "sklearn_ratio": sk.explained_variance_ratio_,
           "singular_values": np.asarray(full.singular_values, np.float64),
           "projection": np.asarray(pca_transform(X, two), np.float64),
           "sklearn_projection": sk.transform(X64)[:, :2], "labels": np.asarray(y)}
    out.update(_reconstructions(cfg, X, X64, full))
    return out


def compute(cfg: Config, ctx: RunContext) -> Results:
    return Results(synthetic=_synthetic(cfg, ctx), digits=_digits(cfg, ctx))


# ------------------------------------------------------------------------------ claims

def _synthetic_claims(cfg: Config, r: Results) -> list[Claim]:
    s = r.synthetic
    sizes, lam = s["sample_sizes"], s["eigenvalues"]
    n = sizes[-1]
    names = [f"component {i + 1}" for i in range(lam.size)]
    at_n = f"n={n}, {cfg.trials} trials, {lam.size} components"
    z, where = tol.worst(np.abs(tol.z_score(s["mean_error"][-1], 0.0, s["mean_se"][-1])), names)
    # RMS over T trials of an approximately Gaussian error has relative SE ~ 1/sqrt(2T)
    slack = (tol.standard_errors(Z_BOUND, 1 / np.sqrt(2 * cfg.trials), what="SE of an RMS")
             + tol.absolute(0.1, "finite-n bias"))
    ratio_var = s["eigenvalue_rel_rms"][-1] / np.sqrt(2.0 / n)
    ratio_dir = s["direction_sin_rms"][-1] / (s["anderson_direction_constant"] / np.sqrt(n))
    out = [Claim.at_most("explained variances estimate the covariance eigenvalues at the largest "
                         "sample: largest |z| of the mean over trials", z, tol.sigmas(Z_BOUND),
                         id="eigenvalues_unbiased", worst=where,
                         reference="the covariance eigenvalues lambda the data was drawn with",
                         detail=f"{at_n}; z = (mean - lambda) / SE; bias O(1/n) included")]
    for key, ratio, what, ref in (
            ("eigenvalue_rms_anderson", ratio_var, "eigenvalue RMS relative error / sqrt(2/n)",
             "Anderson (1963): Var(lambda_hat_i) ~ 2 lambda_i^2 / n"),
            ("direction_rms_anderson", ratio_dir, "direction RMS sin(angle) / Anderson's "
             "asymptotic value", "Anderson (1963): E sin^2 angle_i ~ (1/n) sum_(j != i) "
             "lambda_i lambda_j / (lambda_i - lambda_j)^2")):
        dev, where = tol.worst(np.abs(ratio - 1), names)
        i = names.index(where)
        out.append(Claim.close(f"{what} at the largest sample, worst component", ratio[i], 1.0,
                               slack, id=key, reference=ref, worst=where, detail=at_n))
    for key, err, what in (("eigenvalue_error_slope", s["eigenvalue_rel_rms"], "eigenvalue"),
                           ("direction_error_slope", s["direction_sin_rms"], "direction")):
        out.append(Claim.close(f"{what} error shrinks as the sample grows: fitted slope vs n",
                               fitted_slope(sizes, err.mean(axis=1)), -0.5,
                               tol.absolute(cfg.slope_tol, "slope_tol (allowed |slope + 1/2|)"),
                               id=key, reference="Anderson's asymptotics: error ~ n^(-1/2)",
                               detail=f"RMS error, mean over components, n = {sizes.min()}.."
                                      f"{sizes.max()}"))
    return out


def _digits_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    """Against scikit-learn in float64, in one round-off unit: our SVD is an exact SVD of the
    centred data plus E, ||E|| <= u = sqrt(n) eps s_1 (a random-walk backward error; LAPACK on a
    CPU measures ~0.04 u). Wedin then turns direction i by at most u / gap_i, Weyl moves each
    s_i by at most u, and a subspace turned by sin(theta) loses sin^2(theta) s_1^2 of captured
    variance; the reconstruction adds sqrt(k) eps max|x| per entry, random in sign, and both
    mean squared errors are summed in float64."""
    d = r.digits
    K, nd = len(d["components"]), len(d["labels"])
    sv = d["singular_values"]
    u = float(np.sqrt(nd) * eps * sv[0])
    unit = f"u = sqrt(n) eps s_1 (n = {nd}, eps = {eps:.3g})"
    names = [f"component {i + 1}" for i in range(K)]
    gaps = np.array([min(abs(sv[i] - sv[j]) for j in range(K + 1) if j != i) for i in range(K)])
    cos = np.sum(d["components"] * d["sklearn_components"], axis=1)
    # sin(angle) as ||c - (c.s) s||: accurate to round-off (sqrt(1 - cos^2) is not)
    sin = np.linalg.norm(d["components"] - cos[:, None] * d["sklearn_components"], axis=1)
    comp, w_comp = tol.worst(sin / (u / gaps), names)
    tot2 = float(np.sum(sv**2))
    r_ours, skr = d["explained_variance_ratio"][:K], d["sklearn_ratio"]
    evr, w_evr = tol.worst(np.abs(r_ours - skr) / (2 * u * (sv[:K] + skr * sv.sum()) / tot2),
                           names)
    Z2, Zsk = d["projection"], d["sklearn_projection"]
    signs = np.sign(np.sum(Z2 * Zsk, axis=0))
    proj = float(np.abs(Z2 - Zsk * signs).max() / np.abs(Zsk).max()
                 / (u / gaps[:2].min() + d["originals"].shape[1] * eps))
    ks = np.asarray(d["reconstruct_ks"], int)
    total, mse = d["total_variance"], d["reconstruction_mse"]
    gap_k = np.maximum(sv[ks - 1] - np.append(sv, 0.0)[ks], 1e-300)
    dd = d["originals"].shape[1]
    rec_tol = (2 * np.sqrt(ks) * eps * np.abs(d["originals"]).max() * np.sqrt(mse / nd) / total
               + (u / gap_k) ** 2 * sv[0] ** 2 / tot2
               + 2 * np.log2(nd * dd) * np.finfo(np.float64).eps * mse / total)
    rec, w_rec = tol.worst(np.abs(mse - d["sklearn_reconstruction_mse"]) / total / rec_tol,
                           [f"k = {k}" for k in ks])
    sk_ref = "scikit-learn PCA (svd_solver='full') in float64"
    one = tol.absolute(1.0, f"one round-off unit of the model ({unit})")
    return [
        Claim.at_most("top components = scikit-learn's up to sign: max sin(angle) in units of "
                      "Wedin's u / gap_i", comp, one, id="components_match_sklearn",
                      reference=sk_ref, worst=w_comp, detail=f"top {K}"),
        Claim.at_most("explained variance ratios = scikit-learn's: max difference in units of "
                      "Weyl's 2 u (s_i + r_i sum s_j) / sum s_j^2", evr, one,
                      id="variance_ratios_match_sklearn", reference=sk_ref, worst=w_evr,
                      detail=f"top {K}"),
        Claim.at_most("2-D projection = scikit-learn's transform up to sign: max difference / "
                      "max |z|, in units of u / gap + d eps", proj, one,
                      id="projection_matches_sklearn", reference=sk_ref,
                      detail="components 1 and 2"),
        Claim.at_most("mean squared reconstruction error with k components = scikit-learn's "
                      "at every k shown: gap / total variance, in units of the round-off model",
                      rec, one, id="reconstruction_error_matches_sklearn", worst=w_rec,
                      reference=sk_ref + ": inverse_transform(transform(X)) with k components",
                      detail=f"k in {list(ks)} of {d['originals'].shape[1]} components; model: "
                             "2 sqrt(k) eps max|x| sqrt(mse / n) (rounding of the rebuilt "
                             "entries) + (u / (s_k - s_(k+1)))^2 s_1^2 (subspace) + 2 log2(n d) "
                             "eps_64 mse (both means of squares summed in float64)"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    return _synthetic_claims(cfg, r) + _digits_claims(cfg, r, ctx.eps)


def _components_for(cum: np.ndarray, fraction: float) -> int:
    return int(np.searchsorted(cum, fraction) + 1)


def metrics(cfg: Config, r: Results) -> dict:
    s = r.synthetic
    cum = np.cumsum(r.digits["explained_variance_ratio"])
    return {"eigenvalue_error_slope": fitted_slope(s["sample_sizes"],
                                                   s["eigenvalue_rel_rms"].mean(axis=1)),
            "direction_error_slope": fitted_slope(s["sample_sizes"],
                                                  s["direction_sin_rms"].mean(axis=1)),
            "components_for_90pct_variance": _components_for(cum, 0.9),
            # the identity: reconstruction error = discarded variance (same SVD), a metric
            "reconstruction_minus_discarded_variance": float(np.abs(
                r.digits["reconstruction_mse"] - r.digits["reconstruction_mse_theory"]).max()
                / r.digits["total_variance"]),
            "two_component_variance_ratio": float(cum[1])}


KEY_METRICS = ("eigenvalue_error_slope", "direction_error_slope",
               "components_for_90pct_variance")


# ------------------------------------------------------------------------------ figures

def sampling_error(cfg: Config, r: Results):
    """PCA's sampling errors shrink like 1/sqrt(n): the RMS relative error of each eigenvalue and
    the RMS sine of each direction's angle follow Anderson's asymptotics as the sample size n
    grows."""
    s = r.synthetic
    sizes, lam = s["sample_sizes"], s["eigenvalues"]
    fig, (a1, a2) = plotting.figure(r"PCA on Gaussian data: sampling errors shrink like "
                                    r"$1/\sqrt{n}$, as Anderson's asymptotics predict", ncols=2,
                                    width=4.9, height=4.3)
    colors = plotting.ordered_colors(lam.size)
    for i in range(lam.size):
        a1.loglog(sizes, s["eigenvalue_rel_rms"][:, i], "o-", color=colors[i],
                  label=rf"$\lambda_{i + 1}$ = {lam[i]:g}")
        a2.loglog(sizes, s["direction_sin_rms"][:, i], "o-", color=colors[i],
                  label=f"direction {i + 1}")
        a2.loglog(sizes, s["anderson_direction_constant"][i] / np.sqrt(sizes),
                  **{**plotting.THEORY_STYLE, "linewidth": 1.0},
                  label="Anderson, per direction" if i == 0 else "_")
    plotting.theory_line(a1, sizes, np.sqrt(2.0 / sizes), r"Anderson: $\sqrt{2/n}$")
    a1.set_ylabel(r"RMS relative error of $\hat\lambda_i$ (log scale)")
    a2.set_ylabel(r"RMS $\sin$(angle to true direction) (log scale)")
    for ax in (a1, a2):
        ax.set_xlabel(f"sample size $n$ (log scale; {cfg.trials} samples each)")
    a1.legend(loc="lower left")
    lo = min(s["direction_sin_rms"].min(),
             (s["anderson_direction_constant"] / np.sqrt(sizes.max())).min())
    a2.set_ylim(bottom=0.3 * lo)  # room below the data for the legend
    a2.legend(loc="lower left", ncols=2)
    return fig


def projection_2d(cfg: Config, r: Results):
    """Projected on their first two principal components, found without labels, the handwritten
    digits already fall into partly separated clusters by class."""
    Z2, y = r.digits["projection"], r.digits["labels"]
    fig, ax = plotting.figure("Digits projected on the first two principal components: "
                              "several classes already separate", width=6.5, height=5.5)
    # ten classes, not methods: a categorical map (its grey, for 7, swapped for navy)
    colors = [plotting.plt.get_cmap("tab10")(i) for i in range(10)]
    colors[7] = "#393b79"
    for digit in range(10):
        m = y == digit
        ax.scatter(Z2[m, 0], Z2[m, 1], s=6, color=colors[digit], label=str(digit), alpha=0.7)
    ax.set_xlabel("principal component 1")
    ax.set_ylabel("principal component 2")
    fig.legend(title="digit", markerscale=3, ncols=1, loc="outside right center")
    return fig


def explained_variance(cfg: Config, r: Results):
    """The explained variance of the digits climbs steeply over the first components and then
    flattens, and a reconstruction from k components has mean squared error equal to the
    variance left out."""
    d = r.digits
    cum = np.cumsum(d["explained_variance_ratio"])
    k90 = _components_for(cum, 0.9)
    fig, (a1, a2) = plotting.figure(f"Digits: {k90} of {cum.size} components keep 90% of the "
                                    "variance; what is dropped is the reconstruction error",
                                    ncols=2, width=4.9, height=4.2)
    a1.plot(np.arange(1, cum.size + 1), cum, "o-", markersize=3, color=plotting.color("pca"),
            label="our PCA")
    a1.axhline(0.9, color="black", linestyle=":", linewidth=1, label=f"90% at $k$ = {k90}")
    a1.axvline(k90, color="black", linestyle=":", linewidth=1)
    a1.set_xlabel("number of components $k$")
    a1.set_ylabel("fraction of variance explained")
    a1.legend(loc="lower right")
    ks = d["reconstruct_ks"]
    a2.semilogy(ks, d["reconstruction_mse"], "o-", color=plotting.color("pca"),
                label="our PCA: mean $\\|x - \\hat x_k\\|^2$")
    a2.semilogy(ks, d["sklearn_reconstruction_mse"], "x", color="black", markersize=9,
                label="scikit-learn (float64)")
    kk = np.arange(1, cum.size)
    plotting.theory_line(a2, kk, (1 - cum[kk - 1]) * d["total_variance"],
                         r"discarded variance $\sum_{i>k} s_i^2 / n$")
    a2.set_xlabel("number of components $k$")
    a2.set_ylabel("mean squared error (log scale)")
    a2.legend(loc="upper right")
    return fig


def reconstructions(cfg: Config, r: Results):
    """Digits rebuilt from their first k principal components go from a blur to the original as k
    grows, a handful of components already making them legible."""
    d = r.digits
    ks, originals, recs = d["reconstruct_ks"], d["originals"], d["reconstructions"]
    shown, cols = len(originals), len(ks) + 1
    mosaic = np.full((shown * 9 - 1, cols * 9 - 1), np.nan)
    for row in range(shown):
        for c, img in enumerate([originals[row], *recs[:, row]]):
            mosaic[row * 9:row * 9 + 8, c * 9:c * 9 + 8] = img.reshape(8, 8)
    fig, ax = plotting.figure("Digits rebuilt from $k$ principal components: about 10 "
                              "already read well", width=6.0, height=5.6)
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=16)
    ax.set_xticks(np.arange(cols) * 9 + 3.5, ["original", *[f"$k$ = {k}" for k in ks]])
    ax.xaxis.tick_top()
    ax.set_yticks([])
    ax.grid(False)
    for side in ax.spines.values():
        side.set_visible(False)
    return fig


FIGURES = (sampling_error, projection_2d, explained_variance, reconstructions)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: for the largest of
    sample_sizes, n, every trial's n samples of d = len(eigenvalues) coordinates at once (one
    vmap: the draws, the correlated and centred samples and the thin SVD's n x d factor, about
    5 copies of trials x n x d); the digits (1797 x 64, fixed) with len(reconstruct_ks)
    reconstructions."""
    from mathml_jax import budget as b

    d, n = len(cfg.eigenvalues), max(cfg.sample_sizes)
    return b.estimate(
        b.Part(5 * cfg.trials * n * d * target.itemsize, ("pca.sample_sizes", "pca.trials"),
               "trials x n samples of len(eigenvalues) coordinates, for the largest n"),
        b.Part(len(cfg.reconstruct_ks) * 1797 * 64 * (target.itemsize + 8) * 2,
               ("pca.reconstruct_ks",), "the digits' reconstructions"),
        seconds=cfg.trials * sum(cfg.sample_sizes) * d * (d * b.S_PER_SVD_MN2 + b.S_PER_DRAW),
        rate=f"thin SVDs at {b.S_PER_SVD_MN2:g} m n^2 s, {1 / b.S_PER_DRAW:.0e} normal draws/s",
        time_keys=("pca.sample_sizes", "pca.trials"))
