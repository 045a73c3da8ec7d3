"""``svd``: the singular value decomposition A = U diag(s) V^T.

1. Rotate-scale-rotate: the unit circle under V^T (lengths kept), then diag(s) (an ellipse
   with semi-axes s_1, s_2 along the coordinate axes), then U, ends exactly at A x.
2. The singular values are the square roots of the eigenvalues of A^T A.
3. Low-rank approximation of matplotlib's sample photograph: for every rank k the error of the
   truncation, measured on the residual, equals the Eckart-Young value (Frobenius:
   sqrt(sum_{i>k} s_i^2); spectral: s_{k+1}, measured by NumPy in float64). The gap is
   round-off, bounded by a model of the SVD's accuracy in the unit of LAPACK's own SVD tests:
   backward error ||A - U diag(s) V^T|| <= c max(m, n) eps ||A|| and loss of orthonormality
   ||U^T U - I||, ||V^T V - I|| <= max(m, n) eps (LAPACK's tests accept c up to 35; LAPACK on a
   CPU measures c ~ 0.02 and orthonormality ~ 0.08 units; a GPU's SVD left a gap of ~1 unit on
   the 300 x 256 photo; we allow c = 2), plus one rounding per rank-one update of the
   residual.
4. A randomised SVD (Gaussian sketch, QR, small SVD, optional power iterations) for the top k
   of a tall matrix: its error against the exact truncation, and its cost against the full
   SVD, counted in its traced program (``mathml_jax.timing.traced_ops``): (2q + 2)(k + p)
   products of A with a vector, against the full SVD's O(m n min(m, n)) flops. Matrix products
   are counted exactly, each scan iteration once; the QRs and SVDs (LAPACK calls, opaque to
   XLA's cost analysis, which also counts a loop body only once) by their textbook counts
   (``mathml_jax.linalg.svd.DECOMPOSITION_FLOPS``). Wall-clock times are reported, never
   checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.linalg import (
    circle_image,
    eckart_young_errors,
    lapack,
    matrix_with_singular_values,
    rank_k_approximation,
    thin_svd,
    truncation_residual_norms,
)
from mathml_jax.linalg.datasets import sample_photograph
from mathml_jax.linalg.svd import DECOMPOSITION_FLOPS
from mathml_jax.linalg.svd import randomized_svd as rsvd
from mathml_jax.runtime import RunContext
from mathml_jax.timing import products_with, traced_flops, traced_ops

SECTION = "Linear algebra / Matrix decompositions: the singular value decomposition"


@dataclass
class Config:
    circle_singular_values: list[float] = param([2.0, 0.6], gt=0, length=2,
                                                help="singular values of the 2x2 matrix")
    circle_points: int = param(2000, ge=16, le=1_000_000)
    image_stride: int = param(2, ge=1, le=16, help="keep every stride-th pixel of the photo")
    show_ranks: list[int] = param([1, 5, 10, 20, 50], ge=1,
                                  le=100000, help="ranks drawn in the image figure")
    spectral_stride: int = param(1, ge=1, le=10000,
                                 help="spectral norm checked at every stride-th k")
    tall_rows: int = param(4000, ge=10, le=200_000)
    tall_cols: int = param(400, ge=10, le=20_000)
    decay: float = param(1.5, gt=0, le=10, help="tall matrix: s_i = (i+1)^(-decay)")
    rank: int = param(20, ge=1, le=100000, help="top k for the randomised SVD")
    oversample: int = param(10, ge=2, le=1000, help="extra sketch columns p")
    power_iters: int = param(2, ge=0, le=50)
    sketches: int = param(10, ge=3, le=1000, help="independent Gaussian sketches per q (the "
                          "error is random: its mean is checked against HMT's expectation)")
    backward_error_units: float = param(
        2.0, gt=0, le=35, tolerance=True,
        help="round-off model: the SVD's backward error is at most this many "
        "max(m, n) eps ||A|| (LAPACK's SVD tests accept 35)")
    timing_repeats: int = param(3, ge=1, le=100, help="wall time (reported only): best of")

    def __post_init__(self):
        if self.tall_rows < self.tall_cols:
            raise ConfigError("svd.tall_rows", self.tall_rows, "it must be >= svd.tall_cols")
        if self.rank + self.oversample > self.tall_cols:
            raise ConfigError("svd.rank", self.rank,
                              f"rank + oversample must be <= tall_cols ({self.tall_cols})")


@dataclass
class Results:
    """Everything the claims, metrics and figures need, as host arrays (the run's series)."""

    circle: dict        # x, rotate, scale, rotate_again: (points, 2); matrix, singular_values
    photo: dict         # image (the photo in the run dtype, as float64), singular_values,
                        # ata_eigenvalues (descending), approx_ranks, approximations (display),
                        # backward_error_units, orthonormality_units (LAPACK's unit)
    eckart_young: dict  # k, frobenius (measured), frobenius_theory, spectral_k, spectral
                        # (NumPy float64), spectral_theory
    randomized: dict    # per power-iteration count q: power_iters, spectral_error, matvecs,
                        # flops, run_s, top_error; the full SVD's flops, run_s, compile_s;
                        # sigma_next = s_(k+1), tail_frobenius, singular_values
    device: str         # where the wall times were measured (reported, never claimed)


# ------------------------------------------------------------------------------ compute

def _circle(cfg: Config, ctx: RunContext, key) -> dict:
    """The unit circle through V^T, diag(s) and U of a 2x2 matrix with given singular values."""
    dtype = ctx.dtype
    A2 = matrix_with_singular_values(key, jnp.asarray(cfg.circle_singular_values, dtype), rows=2)
    U2, s2, Vt2 = lapack.svd(A2)
    angles = jnp.linspace(0, 2 * np.pi, cfg.circle_points, endpoint=False, dtype=dtype)
    x = np.stack([np.cos(np.asarray(angles)), np.sin(np.asarray(angles))], axis=1)
    step1 = np.asarray(circle_image(Vt2, angles), np.float64)
    step2 = step1 * np.asarray(s2, np.float64)[None, :]
    step3 = step2 @ np.asarray(U2, np.float64).T
    return {"x": x, "rotate": step1, "scale": step2, "rotate_again": step3,
            "image": np.asarray(circle_image(A2, angles), np.float64),
            "matrix": np.asarray(A2, np.float64), "singular_values": np.asarray(s2, np.float64)}


def _factor_quality(img: np.ndarray, u: np.ndarray, s: np.ndarray, vt: np.ndarray,
                    unit: float) -> tuple[float, float]:
    """The round-off model's ingredients, measured in LAPACK's unit max(m, n) eps: backward
    error ||A - U diag(s) V^T||_F / ||A||_F and loss of orthonormality of U and V."""
    r = s.size
    backward = np.linalg.norm(img - (u * s) @ vt) / np.linalg.norm(img) / unit
    ortho = max(np.linalg.norm(u.T @ u - np.eye(r), 2), np.linalg.norm(vt @ vt.T - np.eye(r), 2))
    return float(backward), float(ortho / unit)


def _spectral_residuals(ctx: RunContext, img, u, s, vt, ks) -> np.ndarray:
    """||A - A_k||_2 by NumPy in float64 at the ranks ks (the factors of the run's SVD)."""
    out = np.empty(len(ks))
    for i, k in enumerate(ks):
        out[i] = np.linalg.norm(img - (u[:, :k] * s[:k]) @ vt[:k], 2)
        ctx.progress("spectral norms", i + 1, len(ks))
    return out


def _photo(cfg: Config, ctx: RunContext) -> tuple[dict, dict]:
    """The photograph: its SVD, A^T A's eigenvalues, rank-k truncations, Eckart-Young data."""
    img = jnp.asarray(sample_photograph(cfg.image_stride), ctx.dtype)
    m, n = img.shape
    r = min(m, n)
    U, s, Vt = ctx.timed("svd_image", thin_svd, img)
    img64, u64, s64, vt64 = (np.asarray(a, np.float64) for a in (img, U, s, Vt))
    backward, ortho = _factor_quality(img64, u64, s64, vt64, max(m, n) * ctx.eps)
    shown = [k for k in cfg.show_ranks if k <= r]
    approx = [np.asarray(rank_k_approximation(U, s, Vt, k=k), np.float32) for k in shown]
    photo = {"image": img64, "singular_values": s64,
             "ata_eigenvalues": np.asarray(lapack.eigvalsh(img.T @ img), np.float64)[::-1][:r],
             "approx_ranks": np.asarray(shown, np.int64),
             "approximations": np.asarray(approx, np.float32).reshape(len(shown), m, n),
             "backward_error_units": backward, "orthonormality_units": ortho}
    # the theory from NumPy's float64 singular values of the same photo (independent of the
    # run's SVD); the run's own values give the same identity to round-off (a metric)
    s_np = np.linalg.svd(img64, compute_uv=False)
    photo["singular_values_numpy"] = s_np
    tail = np.sqrt(np.append(np.cumsum((s_np ** 2)[::-1])[::-1], 0.0))
    own_f = np.asarray(eckart_young_errors(s)[0], np.float64)
    ks = np.arange(0, r + 1, cfg.spectral_stride)
    eckart = {"k": np.arange(r + 1),
              "frobenius": np.asarray(truncation_residual_norms(img, U, s, Vt), np.float64),
              "frobenius_theory": tail,
              "frobenius_own": own_f, "spectral_k": ks,
              "spectral": _spectral_residuals(ctx, img64, u64, s64, vt64, ks),
              "spectral_theory": np.append(s_np, 0.0)[ks]}
    return photo, eckart


def _spectral_norm(R: np.ndarray) -> float:
    """||R||_2 in float64 as sqrt(lambda_max(R^T R)) (a small eigenproblem, not an SVD)."""
    return float(np.sqrt(max(np.linalg.eigvalsh(R.T @ R)[-1], 0.0)))


def _randomized_row(cfg: Config, ctx: RunContext, T, T64, key, q: int, sf64) -> dict:
    """The randomised SVD with q power iterations on ``cfg.sketches`` independent sketches:
    spectral error of each (NumPy float64), top singular values and counted cost of the first."""
    static = dict(rank=cfg.rank, oversample=cfg.oversample, power_iters=q)
    errs = np.empty(cfg.sketches)
    for j in range(cfg.sketches):
        kj = jax.random.fold_in(key, j)
        if j == 0:
            Ur, sr, Vtr = ctx.timed(f"randomized_svd_q{q}", rsvd, T, kj,
                                    repeats=cfg.timing_repeats, **static)
            sr64 = np.asarray(sr, np.float64)
        else:
            Ur, sr, Vtr = rsvd(T, kj, **static)
        approx = (np.asarray(Ur, np.float64) * np.asarray(sr, np.float64)) @ np.asarray(
            Vtr, np.float64)
        errs[j] = _spectral_norm(T64 - approx)
        ctx.progress(f"sketches, q={q}", j + 1, cfg.sketches)
    ops = traced_ops(rsvd, T, key, **static)
    run_s = ctx.timer.timings[f"randomized_svd_q{q}"].run_s
    return {"spectral_errors": errs, "spectral_error": float(errs.mean()),
            "spectral_error_se": float(errs.std(ddof=1) / np.sqrt(errs.size)),
            "run_s": float(run_s),
            "matvecs": float(products_with(ops, (cfg.tall_rows, cfg.tall_cols))),
            "flops": float(traced_flops(rsvd, T, key, costs=DECOMPOSITION_FLOPS,
                                        **static)),
            "top_error": float(np.abs(sr64 - sf64[:cfg.rank]).max() / sf64[0])}


def _randomized(cfg: Config, ctx: RunContext, k_tall, k_sketch) -> dict:
    """Randomised SVD of a tall matrix with s_i = (i+1)^-decay, against its full SVD; the
    reference singular values by NumPy in float64 of the same (rounded) matrix."""
    sv = jnp.asarray((np.arange(cfg.tall_cols) + 1.0) ** -cfg.decay, ctx.dtype)
    T = matrix_with_singular_values(k_tall, sv, rows=cfg.tall_rows)
    _, sf, _ = ctx.timed("svd_full", thin_svd, T, repeats=cfg.timing_repeats)
    t_full = ctx.timer.timings["svd_full"]
    T64 = np.asarray(T, np.float64)
    s_np = np.linalg.svd(T64, compute_uv=False)
    qs = sorted({0, cfg.power_iters})
    rows = [_randomized_row(cfg, ctx, T, T64, k_sketch, q, s_np) for q in qs]
    out = {key: np.asarray([row[key] for row in rows]) for key in rows[0]}
    out.update(power_iters=np.asarray(qs, np.int64), singular_values=np.asarray(sf, np.float64),
               singular_values_numpy=s_np,
               full_svd_flops=float(traced_flops(thin_svd, T, costs=DECOMPOSITION_FLOPS)),
               full_svd_run_s=float(t_full.run_s), full_svd_compile_s=float(t_full.compile_s),
               sigma_next=float(s_np[cfg.rank]),
               tail_frobenius=float(np.sqrt(np.sum(s_np[cfg.rank:] ** 2))))
    return out


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_circ, k_tall, k_sketch = jax.random.split(ctx.key, 3)
    photo, eckart = _photo(cfg, ctx)
    return Results(circle=_circle(cfg, ctx, k_circ), photo=photo, eckart_young=eckart,
                   randomized=_randomized(cfg, ctx, k_tall, k_sketch),
                   device=str(ctx.runtime.device))


# ------------------------------------------------------------------------------ claims

def _circle_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    c = r.circle
    s_cfg = np.sort(np.asarray(cfg.circle_singular_values, np.float64))[::-1]
    s1, s2 = s_cfg
    h = 2 * np.pi / cfg.circle_points
    n_pts = f"{cfg.circle_points} points on the unit circle"
    dev, where = tol.worst(np.abs(np.linalg.norm(c["rotate"], axis=1) - 1))
    out = [Claim.at_most("step 1, V^T is a rotation/reflection: max | ||V^T x|| - 1 |", dev,
                         tol.roundoff(10, eps), id="rotate_keeps_length", worst=where,
                         reference="closed form: an orthogonal map keeps lengths (||x|| = 1)",
                         detail=n_pts)]
    # ||A x(theta)||^2 = s1^2 cos^2 phi + s2^2 sin^2 phi: a grid point within a full step h of
    # the extreme direction misses s1 by at most (s1 - s2) sin^2 h and s2 by at most
    # (s1^2 - s2^2) sin^2 h / (2 s2) (the nearest point is within h / 2: a 4x allowance)
    lengths = np.linalg.norm(c["image"], axis=1)
    for i, (measured, grid) in enumerate(((lengths.max(), (s1 - s2) * np.sin(h) ** 2),
                                          (lengths.min(), (s1**2 - s2**2) * np.sin(h) ** 2
                                           / (2 * s2)))):
        what = ("longest" if i == 0 else "shortest") + f" ||A x|| = s{i + 1}"
        out.append(Claim.close(
            f"the unit circle's image is an ellipse with semi-axes s1, s2: {what}", measured,
            s_cfg[i], tol.absolute(grid, "grid: the extreme direction is within one step h of "
                                   "a point") + tol.roundoff(10, eps, scale=s1),
            id=f"ellipse_semi_axis_{i + 1}",
            reference=f"closed form: the configured singular value s{i + 1} = {s_cfg[i]:g} "
                      "A was built with",
            detail=f"brute force: A x computed directly at {n_pts}"))
    dist, where = tol.worst(np.abs(c["rotate_again"] - c["image"]).max(axis=1) / s1)
    out.append(Claim.at_most("step 3, U diag(s) V^T x = A x: max distance / s1", dist,
                             tol.roundoff(20, eps), id="rotate_scale_rotate_is_a",
                             reference="A x computed directly", worst=where, detail=n_pts))
    return out


def _spectrum_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    """Both against the SVD round-off model of :func:`_eckart_young_claims`: by Weyl each
    computed s_i is within ||E|| <= c max(m, n) eps ||A|| of the exact one (eigvalsh of A^T A in
    the run dtype: the same unit on s_1^2)."""
    p = r.photo
    s = p["singular_values"]
    m, n = p["image"].shape
    s_ref = p["singular_values_numpy"]
    model = tol.roundoff(cfg.backward_error_units, eps, n=max(m, n))
    d_eig, w_eig = tol.worst(np.abs(s**2 - p["ata_eigenvalues"]) / s[0] ** 2)
    d_ref, w_ref = tol.worst(np.abs(s - s_ref) / s_ref[0])
    return [
        Claim.at_most("singular values = sqrt(eigenvalues of A^T A): max |s_i^2 - lambda_i| / "
                      "s_1^2", d_eig, model, id="singular_values_eig_ata",
                      reference="eigvalsh of A^T A in the run dtype (A^T A squares rounding)",
                      worst=w_eig, detail=f"{m}x{n} photograph"),
        Claim.at_most("singular values = NumPy svd (float64): max diff / s_1", d_ref,
                      model, id="singular_values_numpy",
                      reference="NumPy SVD in float64 of the same (rounded) photograph",
                      worst=w_ref, detail=f"{m}x{n} photograph"),
    ]


def _eckart_young_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    """The run's truncations against the optimum from NumPy's float64 SVD (the identity
    against the run's own singular values is a metric). Round-off model, in the unit of
    LAPACK's SVD tests (max(m, n) eps): the computed factors are an exact SVD of A + E,
    ||E|| <= c max(m, n) eps ||A||, with ||U^T U - I||, ||V^T V - I|| <= max(m, n) eps (and
    by Weyl the exact s_i move by at most ||E||). Then | ||A - A_k|| - EY_k | <= ||E|| +
    (w_U + w_V)/2 EY_k
    (in both norms), and the Frobenius residual, updated in working precision by r rank-one
    steps, adds at most one rounding of ||R_k|| + 2 s_k per step: (r + 2 sqrt(r)) eps ||A||_F."""
    e, p = r.eckart_young, r.photo
    m, n = p["image"].shape
    rank = p["singular_values"].size
    norm_f = float(np.linalg.norm(p["image"]))
    tol_s = tol.roundoff(cfg.backward_error_units + 1, eps, n=max(m, n))
    tol_f = tol_s + tol.roundoff(1, eps, n=rank) + tol.roundoff(2, eps, n=rank, power=0.5)
    gap_f, worst_f = tol.worst(np.abs(e["frobenius"] - e["frobenius_theory"]) / norm_f,
                               [f"k = {k}" for k in e["k"]])
    off_by_one = float(np.abs(np.diff(e["frobenius_theory"])).max() / norm_f)
    gap_s, worst_s = tol.worst(np.abs(e["spectral"] - e["spectral_theory"])
                               / p["singular_values"][0], [f"k = {k}" for k in e["spectral_k"]])
    model = (f"round-off model: SVD backward error {cfg.backward_error_units:g} max(m,n) eps "
             f"||A|| plus orthonormality; m, n = {m}, {n}")
    return [
        Claim.at_most("Eckart-Young, Frobenius: ||A - A_k||_F = sqrt(sum_(i>k) s_i^2) for every "
                      "rank k: max gap / ||A||_F", gap_f, tol_f, id="eckart_young_frobenius",
                      reference="sqrt(sum_(i>k) s_i^2) from NumPy's float64 singular values "
                      "(residual of the run's truncation measured directly)", worst=worst_f,
                      detail=f"{model}; a rank off by one gives {off_by_one:.2g}"),
        Claim.at_most("Eckart-Young, spectral: ||A - A_k||_2 = s_(k+1) at every checked rank k: "
                      "max gap / s_1", gap_s, tol_s, id="eckart_young_spectral",
                      reference="s_(k+1) from NumPy's float64 SVD of the photo (||A - A_k||_2 "
                      "of the run's truncation by NumPy in float64)",
                      worst=worst_s, detail=f"{model}; {len(e['spectral_k'])} ranks, every "
                                            f"{cfg.spectral_stride}-th"),
    ]


def hmt_expected_ratio(s: np.ndarray, k: int, p: int, q: int) -> float:
    """Halko-Martinsson-Tropp (2011) bound on E||A - A_k^rand||_2 / s_(k+1) for the rank-k
    truncation of Q Q^T A: Thm 10.6 (q = 0) / Cor 10.10 (q power iterations) bound
    E||(I - QQ^T) A|| <= [(1 + sqrt(k/(p-1))) s_(k+1)^(2q+1) + e sqrt(k+p)/p
    (sum_(j>k) s_j^(2(2q+1)))^(1/2)]^(1/(2q+1)); truncating Q^T A to rank k adds at most
    s_(k+1) (so 1 + that / s_(k+1))."""
    t = 2 * q + 1
    tail = np.sqrt(np.sum((s[k:] / s[k]) ** (2 * t)))
    return float(1 + ((1 + np.sqrt(k / (p - 1))) + np.e * np.sqrt(k + p) / p * tail) ** (1 / t))


def _randomized_claims_q(cfg: Config, r: Results, i: int) -> list[Claim]:
    """The claims of one randomised SVD: its mean error over independent sketches against
    HMT's expectation bound, its count of products with A, and its counted flops against the
    full SVD's."""
    d = r.randomized
    q, K, P, N = int(d["power_iters"][i]), cfg.rank, cfg.oversample, cfg.tall_cols
    tag, label = ("q0", "without power iterations") if q == 0 else ("power", "with power "
                                                                    "iterations")
    R = len(d["spectral_errors"][i])
    sizes = f"q={q}, k={K}, p={P}, {cfg.tall_rows}x{N}, {R} sketches"
    bound = hmt_expected_ratio(d["singular_values_numpy"], K, P, q)
    se = d["spectral_error_se"][i] / d["sigma_next"]
    expected = (2 * q + 2) * (K + P)
    ratio = d["flops"][i] / d["full_svd_flops"]
    theory = expected / (3 * N)
    return [
        Claim.at_most(f"randomised SVD {label}: mean ||A - A_k^rand||_2 / s_(k+1) over "
                      "independent sketches", d["spectral_error"][i] / d["sigma_next"],
                      tol.absolute(bound, "Halko-Martinsson-Tropp expectation bound")
                      + tol.standard_errors(3, se, what="SE of the mean over sketches"),
                      id=f"randomized_error_{tag}",
                      reference="s_j from NumPy's float64 SVD; Halko-Martinsson-Tropp (2011) "
                      "Thm 10.6 / Cor 10.10 plus s_(k+1) for the truncation", detail=sizes),
        Claim.holds(f"randomised SVD {label} multiplies A by (2q + 2)(k + p) vectors (sketch, "
                    "2 per power iteration, B = Q^T A), counted in its traced program",
                    d["matvecs"][i] == expected, d["matvecs"][i], id=f"randomized_matvecs_{tag}",
                    reference="hand count (2q + 2)(k + p)",
                    detail=f"{sizes}; expected {expected}; products with A (or A^T) over 2 m n "
                           "flops, each scan iteration counted"),
        Claim.at_most(f"randomised SVD {label} costs fewer flops than the full SVD: counted "
                      "flops ratio", ratio, tol.absolute(1.0, "the full SVD's flops"),
                      id=f"randomized_fewer_flops_{tag}",
                      reference="the full SVD's flops counted in its traced program (LAPACK "
                      "calls at Golub-Van Loan counts: the cheaper of Golub-Reinsch and R-SVD)",
                      detail=f"{sizes}; theory ~ (2q + 2)(k + p) 2 m n / (6 m n^2) = "
                             f"{theory:.2f}"),
    ]


def _optimum_claims(r: Results) -> list[Claim]:
    """Eckart-Young's other half: no rank-k matrix beats s_(k+1), so every sketch's error is at
    least the optimum; and power iterations bring the mean error closer to it."""
    d = r.randomized
    eps64 = float(np.finfo(np.float64).eps)
    m_rows = d["singular_values_numpy"].size
    ratios = d["spectral_errors"] / d["sigma_next"]
    low, where = tol.worst(ratios, [[f"q={q}, sketch {j}" for j in range(ratios.shape[1])]
                                    for q in d["power_iters"]], largest=False)
    # the float64 residual of a rank-k product: rounding of ||A|| = s_1 per entry, n terms
    slack = tol.roundoff(10, eps64, n=m_rows, scale=d["singular_values_numpy"][0]
                         / d["sigma_next"])
    out = [Claim.at_least("every sketch's error is at least the optimum: min ||A - A_k^rand||_2"
                          " / s_(k+1)", low, tol.absolute(1.0, "Eckart-Young: s_(k+1) is the "
                                                          "least rank-k error") + _minus(slack),
                          slack=float(slack), id="randomized_not_below_optimum", worst=where,
                          reference="s_(k+1) from NumPy's float64 SVD",
                          detail=f"{ratios.size} sketches; residuals in float64")]
    if len(d["power_iters"]) >= 2:
        e0, eq = d["spectral_error"]
        se = float(np.hypot(*d["spectral_error_se"]))
        out.append(Claim.at_most(
            "power iterations help: mean error(q) < mean error(q=0)", eq,
            tol.absolute(e0, "the mean error without power iterations")
            + tol.standard_errors(-3, se, what="SE of the difference"),
            id="power_iterations_help",
            reference="the same randomised SVD without power iterations, on the same sketches",
            detail=f"q=0: {e0 / d['sigma_next']:.3f} s_(k+1), q={d['power_iters'][1]}: "
                   f"{eq / d['sigma_next']:.3f} s_(k+1)"))
    return out


def _minus(t: tol.Tol) -> tol.Tol:
    """-t: an allowance subtracted from a lower bound."""
    return tol.Tol(-float(t), f"-({t.rule})")


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    eps = ctx.eps
    out = _circle_claims(cfg, r, eps) + _spectrum_claims(cfg, r, eps)
    out += _eckart_young_claims(cfg, r, eps)
    for i in range(len(r.randomized["power_iters"])):
        out += _randomized_claims_q(cfg, r, i)
    return out + _optimum_claims(r)


def metrics(cfg: Config, r: Results) -> dict:
    e, p, d = r.eckart_young, r.photo, r.randomized
    out = {"svd_backward_error_lapack_units": p["backward_error_units"],
           "svd_orthonormality_loss_lapack_units": p["orthonormality_units"],
           "eckart_young_frobenius_gap": float(np.abs(e["frobenius"] - e["frobenius_theory"]).max()
                                               / np.linalg.norm(p["image"])),
           # the identity ||A - A_k||_F = sqrt(sum_(i>k) s_i^2) with the run's own s_i
           "frobenius_residual_identity_gap": float(np.abs(e["frobenius"] - e["frobenius_own"])
                                                    .max() / np.linalg.norm(p["image"])),
           "eckart_young_spectral_gap": float(np.abs(e["spectral"] - e["spectral_theory"]).max()
                                              / p["singular_values"][0])}
    for i, q in enumerate(d["power_iters"]):
        out[f"randomized_error_ratio_q{q}"] = float(d["spectral_error"][i] / d["sigma_next"])
        out[f"randomized_top_singular_value_error_q{q}"] = float(d["top_error"][i])
        out[f"randomized_flops_q{q}"] = float(d["flops"][i])
        out[f"flops_ratio_vs_full_svd_q{q}"] = float(d["flops"][i] / d["full_svd_flops"])
        out[f"time_speedup_vs_full_svd_q{q}"] = float(d["full_svd_run_s"]
                                                      / max(d["run_s"][i], 1e-9))
        out[f"hmt_expected_error_ratio_bound_q{q}"] = hmt_expected_ratio(
            d["singular_values_numpy"], cfg.rank, cfg.oversample, int(q))
    out["full_svd_flops"] = float(d["full_svd_flops"])
    out["full_svd_run_s"] = float(d["full_svd_run_s"])
    return out


# the error ratio with power iterations is key (whatever q the config asks for)
KEY_METRICS = ("eckart_young_frobenius_gap",
               *(f"randomized_error_ratio_q{q}" for q in range(1, 51)))
#: the gallery's reproducibility check (mathml_jax.gallery.check): times and speed-ups measured
#: with a clock are not compared (None); every other number is, at the default tolerance
METRIC_TOLERANCES = {"full_svd_run_s": None,
                     **{f"time_speedup_vs_full_svd_q{q}": None for q in range(0, 51)}}


# ------------------------------------------------------------------------------ figures

def rotate_scale_rotate(cfg: Config, r: Results):
    """A = U Sigma V^T turns the plane, stretches it along the axes by the singular values and
    turns it again: the unit circle carried through V^T, Sigma and U lands exactly on A x."""
    c = r.circle
    s2 = c["singular_values"]
    fig, axes = plotting.figure(r"$A = U\Sigma V^\top$: rotate, scale along the axes, rotate "
                                "again", ncols=2, nrows=2, width=4.2, height=4.0)
    axes = np.asarray(axes).ravel()
    panels = [(c["x"], r"$x$ on the unit circle"), (c["rotate"], r"$V^\top x$ (rotated)"),
              (c["scale"], rf"$\Sigma V^\top x$: semi-axes $s_1$ = {s2[0]:.2g}, "
                           rf"$s_2$ = {s2[1]:.2g}"),
              (c["rotate_again"], r"$U \Sigma V^\top x = A x$")]
    lim = 1.15 * max(1.0, float(s2[0]))
    col = plotting.color("full svd")
    for ax, (pts, title) in zip(axes, panels, strict=True):
        ax.plot(pts[:, 0], pts[:, 1], color=col, label="the three factors in turn")
        i = len(pts) // 8  # two marked points, followed through the steps
        ax.plot(pts[0, 0], pts[0, 1], "o", color="black", markersize=6)
        ax.plot(pts[i, 0], pts[i, 1], "s", color="black", markersize=6)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    axes[2].annotate("", xy=(s2[0], 0), xytext=(0, 0), arrowprops=dict(arrowstyle="->", lw=1.5))
    axes[2].annotate("", xy=(0, s2[1]), xytext=(0, 0), arrowprops=dict(arrowstyle="->", lw=1.5))
    plotting.theory_line(axes[3], c["image"][:, 0], c["image"][:, 1], "$A x$ computed directly")
    axes[3].legend(loc="lower right", fontsize=9)
    for ax in axes[2:]:
        ax.set_xlabel("coordinate 1")
    for ax in axes[::2]:
        ax.set_ylabel("coordinate 2")
    return fig


def image_ranks(cfg: Config, r: Results):
    """Truncating a photograph's SVD at rank k keeps its coarse structure at small k and its
    detail as k grows, each truncation's relative error in its title."""
    p = r.photo
    img, ranks = p["image"], [int(k) for k in p["approx_ranks"]]
    norm_f = np.linalg.norm(img)
    ncols = min(3, len(ranks) + 1)
    nrows = -(-(len(ranks) + 1) // ncols)
    fig, axes = plotting.figure("Rank-$k$ truncations of a photograph: a few singular values "
                                "carry the picture", ncols=ncols, nrows=nrows, width=3.2,
                                height=3.5)
    axes = np.atleast_1d(axes).ravel()
    for ax in axes[len(ranks) + 1:]:
        ax.set_visible(False)
    shown = [(None, img), *zip(ranks, p["approximations"], strict=True)]
    for ax, (k, im) in zip(axes[:len(shown)], shown, strict=True):
        ax.imshow(im, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if k is None:
            ax.set_title(f"original ({img.shape[0]}×{img.shape[1]})", fontsize=10)
        else:
            err = r.eckart_young["frobenius"][k] / norm_f
            ax.set_title(f"rank {k}: relative error {err:.3f}", fontsize=10)
    return fig


def singular_values(cfg: Config, r: Results):
    """The singular values of a photograph fall over orders of magnitude, so a few carry most of
    the picture, beside the built-in power law recovered for the randomised SVD's test matrix."""
    s, sf = r.photo["singular_values"], r.randomized["singular_values"]
    fig, ax = plotting.figure("Singular values decay: most of the photo lives in a few",
                              width=6.5, height=4.2)
    i_f = np.arange(1, sf.size + 1)
    ax.loglog(np.arange(1, s.size + 1), s, color=plotting.color("photograph"),
              label="photograph")
    ax.loglog(i_f, sf, color=plotting.color("decaying spectrum"),
              label=f"{cfg.tall_rows}×{cfg.tall_cols} test matrix (randomised SVD)")
    plotting.theory_line(ax, i_f, i_f ** -cfg.decay, f"built in: $s_i = i^{{-{cfg.decay:g}}}$")
    ax.set_xlabel("index $i$ (log scale)")
    ax.set_ylabel("singular value $s_i$ (log scale)")
    ax.legend(loc="lower left")
    return fig


def eckart_young(cfg: Config, r: Results):
    """Truncating the SVD at rank k reaches the Eckart-Young optimum at every k: the measured
    errors lie on sqrt(sum of s_i^2 for i > k) (Frobenius) and on s_(k+1) (spectral)."""
    e = r.eckart_young
    meas_f, ey_f, ks = e["frobenius"], e["frobenius_theory"], e["spectral_k"]
    rank = r.photo["singular_values"].size
    fig, (a1, a2) = plotting.figure("Truncating the SVD at rank $k$ reaches the Eckart-Young "
                                    "optimum at every $k$", ncols=2, width=4.8, height=4.0)
    k_all = np.arange(meas_f.size)
    col = plotting.color("full svd")
    a1.semilogy(k_all[:-1], meas_f[:-1], color=col, label=r"$\|A - A_k\|_F$ measured")
    plotting.theory_line(a1, k_all[:-1], ey_f[:-1],
                         r"$\sqrt{\sum_{i>k} s_i^2}$ (NumPy float64)")
    keep = ks < rank
    a2.semilogy(ks[keep], e["spectral"][keep], "o", color=col, markersize=3,
                label=r"$\|A - A_k\|_2$ measured")
    plotting.theory_line(a2, ks[keep], e["spectral_theory"][keep], r"$s_{k+1}$ (NumPy float64)")
    for ax, what in ((a1, "Frobenius"), (a2, "spectral")):
        ax.set_xlabel("rank $k$")
        ax.set_ylabel(f"{what} error (log scale)")
        ax.legend(loc="upper right")
    return fig


def randomized_svd(cfg: Config, r: Results):
    """A randomised SVD finds the top k singular directions with error within a small factor of
    the optimum s_(k+1), power iterations closing the gap, for a fraction of the full SVD's
    flops."""
    d = r.randomized
    qs, full_flops = [int(q) for q in d["power_iters"]], d["full_svd_flops"]
    labels = [f"$q$ = {q}" for q in qs]
    col, col_full = plotting.color("randomized svd"), plotting.color("full svd")
    fig, (a1, a2, a3) = plotting.figure(
        f"Randomised SVD, top {cfg.rank} of a {cfg.tall_rows}×{cfg.tall_cols} matrix: "
        "near-optimal error for a fraction of the full SVD's flops", ncols=3, width=3.3,
        height=4.2)
    ratios = d["spectral_errors"] / d["sigma_next"]
    x = np.arange(len(qs))
    jitter = np.linspace(-0.15, 0.15, ratios.shape[1])
    for i in x:
        a1.plot(i + jitter, ratios[i], "o", color=col, alpha=0.5, markersize=4,
                label=f"one sketch ({ratios.shape[1]} per $q$)" if i == 0 else "_")
    a1.errorbar(x + 0.3, d["spectral_error"] / d["sigma_next"],
                yerr=plotting.SE_BAND * d["spectral_error_se"] / d["sigma_next"], fmt="D",
                color=col, markersize=5, capsize=3, label=f"mean ±{plotting.SE_BAND} SE")
    bounds = [hmt_expected_ratio(d["singular_values_numpy"], cfg.rank, cfg.oversample, q)
              for q in qs]
    a1.plot(x, bounds, "_", color="black", markersize=30, mew=2,
            label="HMT bound on the mean")
    a1.axhline(1.0, **plotting.THEORY_STYLE, label=r"optimum $s_{k+1}$")
    a1.set_xticks(x, labels)
    a1.set_xlim(-0.6, len(qs) - 0.4)
    a1.set_ylim(0, 1.1 * max(bounds))
    a1.set_ylabel(r"error $\|A - A_k\|_2\, /\, s_{k+1}$")
    a1.set_xlabel("power iterations")
    fig.legend(*a1.get_legend_handles_labels(), loc="outside lower center", ncols=4)
    names = ["full SVD", *labels]
    gflops = np.asarray([full_flops, *d["flops"]]) / 1e9
    y = np.arange(len(names))[::-1]
    a2.barh(y, gflops, color=[col_full] + [col] * len(qs), height=0.6)
    for yi, fl, mv in zip(y[1:], gflops[1:], d["matvecs"], strict=True):
        a2.text(fl + 0.03 * gflops[0], yi, f"{fl / gflops[0]:.0%}\n{mv:.0f} products",
                va="center", fontsize=9)
    a2.set_yticks(y, names)
    a2.set_xlim(0, 1.1 * gflops[0])
    a2.set_xlabel("Gflop counted in the program")
    times = np.asarray([d["full_svd_run_s"], *d["run_s"]])
    xs = np.arange(len(names))
    a3.semilogy(xs[1:], times[1:], "o", color=col, markersize=8)
    a3.semilogy(xs[:1], times[:1], "o", color=col_full, markersize=8)
    a3.set_xticks(xs, names)
    a3.set_xlim(-0.5, xs.max() + 0.5)
    a3.set_ylabel("wall time (s, log scale), best of repeats")
    a3.set_xlabel(f"measured on {r.device}, not a claim")
    return fig


FIGURES = (rotate_scale_rotate, image_ranks, singular_values, eckart_young,
           randomized_svd)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the tall matrix,
    tall_rows x tall_cols, about 10 times over (its construction's Haar factor, the matrix and
    its thin SVD's U in the run's dtype; the float64 copy, NumPy's SVD workspace, each
    sketch's rank-k approximation and the residual in float64); the photograph's factors and
    its len(show_ranks) truncations (fixed sizes: 600 x 512 pixels / image_stride^2)."""
    from mathml_jax import budget as b

    m, n, it = cfg.tall_rows, cfg.tall_cols, target.itemsize
    pixels = (600 // cfg.image_stride + 1) * (512 // cfg.image_stride + 1)
    k = cfg.rank + cfg.oversample
    r = min(600, 512) // cfg.image_stride + 1
    return b.estimate(
        b.Part(m * n * (5 * it + 5 * 8) + n * n * 8 * 3, ("svd.tall_rows", "svd.tall_cols"),
               "the tall_rows x tall_cols matrix, its SVD and float64 copies"),
        b.Part(pixels * (len(cfg.show_ranks) * 4 + 8 * 8), ("svd.image_stride",),
               "the photograph, its factors and truncations"),
        seconds=m * n * n * b.S_PER_SVD_MN2 * (cfg.timing_repeats + 2)
        + 2 * cfg.sketches * m * n * k * (2 * cfg.power_iters + 4) * b.S_PER_FLOP * 10
        + (r // cfg.spectral_stride + 1) * pixels * r * 2 * b.S_PER_FLOP * 10,
        rate=f"thin SVDs at {b.S_PER_SVD_MN2:g} m n^2 s, sketches at "
             f"{0.1 / b.S_PER_FLOP:.0e} flop/s",
        time_keys=("svd.tall_cols", "svd.tall_rows", "svd.sketches"))
