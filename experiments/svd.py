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
from mathml_jax import Claim, Report, plotting
from mathml_jax.linalg import (
    circle_image,
    eckart_young_errors,
    lapack,
    matrix_with_singular_values,
    randomized_svd,
    rank_k_approximation,
    thin_svd,
    truncation_residual_norms,
)
from mathml_jax.linalg.datasets import sample_photograph
from mathml_jax.linalg.svd import DECOMPOSITION_FLOPS
from mathml_jax.runtime import RunContext
from mathml_jax.timing import products_with, timed, traced_flops, traced_ops

SECTION = "Linear algebra / Matrix decompositions: the singular value decomposition"


@dataclass
class Config:
    circle_singular_values: list[float] = param([2.0, 0.6], gt=0,
                                                help="singular values of the 2x2 matrix")
    circle_points: int = param(2000, ge=16, le=1_000_000)
    image_stride: int = param(2, ge=1, le=16, help="keep every stride-th pixel of the photo")
    show_ranks: list[int] = param([1, 5, 20, 50], ge=1, help="ranks drawn in the image figure")
    spectral_stride: int = param(1, ge=1, help="spectral norm checked at every stride-th k")
    tall_rows: int = param(4000, ge=10, le=200_000)
    tall_cols: int = param(400, ge=10, le=20_000)
    decay: float = param(1.5, gt=0, le=10, help="tall matrix: s_i = (i+1)^(-decay)")
    rank: int = param(20, ge=1, help="top k for the randomised SVD")
    oversample: int = param(10, ge=2, le=1000, help="extra sketch columns p")
    power_iters: int = param(2, ge=0, le=50)
    backward_error_units: float = param(
        2.0, gt=0, le=35, help="round-off model: the SVD's backward error is at most this many "
        "max(m, n) eps ||A|| (LAPACK's SVD tests accept 35)")
    timing_repeats: int = param(3, ge=1, le=100, help="wall time (reported only): best of")

    def __post_init__(self):
        if self.tall_rows < self.tall_cols:
            raise ConfigError("svd.tall_rows", self.tall_rows, "it must be >= svd.tall_cols")
        if self.rank + self.oversample > self.tall_cols:
            raise ConfigError("svd.rank", self.rank,
                              f"rank + oversample must be <= tall_cols ({self.tall_cols})")


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("svd", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    k_circ, k_tall, k_sketch = jax.random.split(ctx.key, 3)

    # -- 1. rotate, scale, rotate
    sv2 = jnp.asarray(cfg.circle_singular_values, dtype)
    A2 = matrix_with_singular_values(k_circ, sv2, rows=2)
    U2, s2, Vt2 = lapack.svd(A2)
    angles = jnp.linspace(0, 2 * np.pi, cfg.circle_points, endpoint=False, dtype=dtype)
    x = np.stack([np.cos(np.asarray(angles)), np.sin(np.asarray(angles))], axis=1)
    step1 = np.asarray(circle_image(Vt2, angles), np.float64)
    step2 = step1 * np.asarray(s2, np.float64)[None, :]
    step3 = step2 @ np.asarray(U2, np.float64).T
    ax_ = np.asarray(circle_image(A2, angles), np.float64)
    s_top = float(s2[0])
    report.claim(Claim.at_most("step 1, V^T is a rotation/reflection: max | ||V^T x|| - 1 |",
                               np.abs(np.linalg.norm(step1, axis=1) - 1).max(), 10 * eps))
    h = 2 * np.pi / cfg.circle_points
    for i in range(2):
        report.claim(Claim.close(f"step 2, diag(s) V^T x: ellipse semi-axis along e{i + 1} = "
                                 f"s{i + 1}", np.abs(step2[:, i]).max(), float(s2[i]),
                                 tol=float(s2[i]) * h**2 + 10 * eps * s_top,
                                 detail=f"brute force over {cfg.circle_points} points"))
    report.claim(Claim.at_most("step 3, U diag(s) V^T x = A x: max distance / s1",
                               np.abs(step3 - ax_).max() / s_top, 20 * eps))
    report.add_series("circle", x=x, rotate=step1, scale=step2, rotate_again=step3,
                      matrix=np.asarray(A2), singular_values=np.asarray(s2))

    # -- 2 and 3. the photograph: singular values, Eckart-Young at every k
    img64 = sample_photograph(cfg.image_stride)
    m, n = img64.shape
    r = min(m, n)
    img = jnp.asarray(img64, dtype)
    (U, s, Vt), t = timed(thin_svd, img)
    report.add_timing("svd_image", t)
    s64 = np.asarray(s, np.float64)
    lam = np.asarray(lapack.eigvalsh(img.T @ img), np.float64)[::-1][:r]
    report.claim(Claim.at_most("singular values = sqrt(eigenvalues of A^T A): "
                               "max |s_i^2 - lambda_i| / s_1^2", np.abs(s64**2 - lam).max()
                               / s64[0] ** 2, 10 * r * eps,
                               detail=f"{m}x{n} photo; A^T A squares rounding; bound 10 r eps"))
    s_ref = np.linalg.svd(img64.astype(np.asarray(img).dtype).astype(np.float64),
                          compute_uv=False)
    report.claim(Claim.at_most("singular values = NumPy svd (float64): max diff / s_1",
                               np.abs(s64 - s_ref).max() / s_ref[0], 10 * r * eps,
                               detail="bound 10 r eps"))
    ey_f, ey_s = (np.asarray(e, np.float64) for e in eckart_young_errors(s))
    meas_f = np.asarray(truncation_residual_norms(img, U, s, Vt), np.float64)
    norm_f = float(np.linalg.norm(img64))
    u64, vt64 = np.asarray(U, np.float64), np.asarray(Vt, np.float64)
    img32 = np.asarray(img, np.float64)
    # Round-off model, in the unit of LAPACK's SVD tests (max(m, n) eps): the computed factors
    # are an exact SVD of A + E, ||E|| <= c max(m, n) eps ||A||, with ||U^T U - I||,
    # ||V^T V - I|| <= max(m, n) eps. Then | ||A - A_k|| - EY_k | <= ||E|| + (w_U + w_V)/2 EY_k
    # (in both norms), and the Frobenius residual, updated in working precision by r rank-one
    # steps, adds at most one rounding of ||R_k|| + 2 s_k per step: (r + 2 sqrt(r)) eps ||A||_F.
    unit = max(m, n) * eps
    c_bw = cfg.backward_error_units
    tol_s = (c_bw + 1) * unit
    tol_f = tol_s + (r + 2 * np.sqrt(r)) * eps
    gap_f = np.abs(meas_f - ey_f).max() / norm_f
    worst_f = int(np.abs(meas_f - ey_f).argmax())
    # what the claim must still catch: a truncation off by one rank
    off_by_one = float(np.abs(np.diff(ey_f)).max() / norm_f)
    report.claim(Claim.at_most(f"Eckart-Young, Frobenius: ||A - A_k||_F = sqrt(sum_(i>k) "
                               f"s_i^2) for every k = 0..{r}: max gap / ||A||_F", gap_f, tol_f,
                               detail=f"residual measured directly; bound ({c_bw:g} + 1) "
                                      f"max(m,n) eps + (r + 2 sqrt(r)) eps, m, n = {m}, {n}; "
                                      f"worst k = {worst_f}; a rank off by one gives "
                                      f"{off_by_one:.2g}"))
    ks = np.arange(0, r + 1, cfg.spectral_stride)
    meas_s = np.array([np.linalg.norm(img32 - (u64[:, :k] * s64[:k]) @ vt64[:k], 2)
                       for k in ks])
    gap_s = np.abs(meas_s - ey_s[ks]).max() / s64[0]
    report.claim(Claim.at_most(f"Eckart-Young, spectral: ||A - A_k||_2 = s_(k+1) at {len(ks)} "
                               f"ranks k = 0, {cfg.spectral_stride}, ..: max gap / s_1", gap_s,
                               tol_s, detail=f"||.||_2 by NumPy in float64; bound ({c_bw:g} + "
                                             "1) max(m,n) eps (SVD backward error and "
                                             "orthonormality)"))
    # the model's ingredients, measured (in LAPACK's unit max(m, n) eps)
    report.metric("svd_backward_error_lapack_units",
                  np.linalg.norm(img32 - (u64 * s64) @ vt64) / norm_f / unit)
    report.metric("svd_orthonormality_loss_lapack_units",
                  max(np.linalg.norm(u64.T @ u64 - np.eye(r), 2),
                      np.linalg.norm(vt64 @ vt64.T - np.eye(r), 2)) / unit)
    report.metric("eckart_young_frobenius_gap", gap_f, key=True)
    report.metric("eckart_young_spectral_gap", gap_s)
    report.add_series("eckart_young", k=np.arange(r + 1), frobenius=meas_f,
                      frobenius_theory=ey_f, spectral_k=ks, spectral=meas_s,
                      spectral_theory=ey_s[ks], singular_values=s64)
    shown = [k for k in cfg.show_ranks if k <= r]
    approx = {k: np.asarray(rank_k_approximation(U, s, Vt, k=k), np.float64) for k in shown}

    # -- 4. randomised SVD of a tall matrix against the full SVD
    M, N, K, P = cfg.tall_rows, cfg.tall_cols, cfg.rank, cfg.oversample
    sv = jnp.asarray((np.arange(N) + 1.0) ** -cfg.decay, dtype)
    T = matrix_with_singular_values(k_tall, sv, rows=M)
    T64 = np.asarray(T, np.float64)
    (Uf, sf, Vtf), t_full = timed(thin_svd, T, repeats=cfg.timing_repeats)
    report.add_timing("svd_full", t_full)
    sf64 = np.asarray(sf, np.float64)
    sigma_next = sf64[K]
    tail_f = np.sqrt(np.sum(sf64[K:] ** 2))
    rows = {}
    full_flops = traced_flops(thin_svd, T, costs=DECOMPOSITION_FLOPS)
    for q in sorted({0, cfg.power_iters}):
        static = dict(rank=K, oversample=P, power_iters=q)
        (Ur, sr, Vtr), t_r = timed(randomized_svd, T, k_sketch, repeats=cfg.timing_repeats,
                                   **static)
        report.add_timing(f"randomized_svd_q{q}", t_r)
        err = np.linalg.norm(T64 - (np.asarray(Ur, np.float64) * np.asarray(sr, np.float64))
                             @ np.asarray(Vtr, np.float64), 2)
        matvecs = products_with(traced_ops(randomized_svd, T, k_sketch, **static), (M, N))
        rand_flops = traced_flops(randomized_svd, T, k_sketch, costs=DECOMPOSITION_FLOPS,
                                  **static)
        rows[q] = dict(err=err, run_s=t_r.run_s, matvecs=matvecs, flops=rand_flops,
                       top_error=np.abs(np.asarray(sr, np.float64) - sf64[:K]).max() / sf64[0])
        # HMT (2011) eq. (1.9) + truncation: ||A - A_k^rand|| <= s_{k+1} + ||(I - QQ^T) A||
        # <= (2 + 11 sqrt(k+p) sqrt(min(m,n))) s_{k+1}, failure probability <= 6 p^-p.
        bound = (2 + 11 * np.sqrt(K + P) * np.sqrt(N)) * sigma_next
        report.claim(Claim.at_most(f"randomised SVD (q={q} power iterations), rank {K}: "
                                   "||A - A_k^rand||_2 / s_(k+1)", err / sigma_next,
                                   bound / sigma_next,
                                   detail=f"Halko-Martinsson-Tropp deviation bound, p={P}, "
                                          f"failure prob <= 6 p^-p = {6 * P**-P:.1e}"))
        expected = (2 * q + 2) * (K + P)
        report.claim(Claim.holds(
            f"randomised SVD (q={q}) multiplies A by (2q + 2)(k + p) = {expected} vectors "
            "(sketch, 2 per power iteration, B = Q^T A), counted in its traced program",
            matvecs == expected, matvecs,
            detail="products with A (or A^T) over 2 m n flops, each scan iteration counted"))
        model = (2 * q + 2) * (K + P) / (3 * N)
        report.claim(Claim.at_most(
            f"randomised SVD (q={q}) costs fewer flops than the full SVD: counted flops "
            f"ratio (theory ~ (2q + 2)(k + p) 2 m n / (6 m n^2) = {model:.2f})",
            rand_flops / full_flops, 1.0,
            detail=f"{M}x{N}; products counted exactly, QR and SVD calls at Golub-Van Loan "
                   "counts (full SVD: the cheaper of Golub-Reinsch and R-SVD)"))
        report.metric(f"randomized_error_ratio_q{q}", err / sigma_next, key=(q > 0))
        report.metric(f"randomized_top_singular_value_error_q{q}", rows[q]["top_error"])
        report.metric(f"randomized_flops_q{q}", rand_flops)
        report.metric(f"flops_ratio_vs_full_svd_q{q}", rand_flops / full_flops)
        report.metric(f"time_speedup_vs_full_svd_q{q}", t_full.run_s / max(t_r.run_s, 1e-9))
    expect = (1 + np.sqrt(K / (P - 1))) * sigma_next + np.e * np.sqrt(K + P) / P * tail_f
    report.metric("hmt_expected_error_bound_q0", expect)
    report.metric("full_svd_flops", full_flops)
    if cfg.power_iters > 0:
        q = cfg.power_iters
        # each power iteration raises the spectrum to a higher odd power: the error factor
        # over s_{k+1} falls towards 1 (we claim it is closer to the optimum than q=0)
        report.claim(Claim.at_most(f"power iterations help: error(q={q}) <= error(q=0)",
                                   rows[q]["err"], rows[0]["err"] * (1 + 10 * eps),
                                   detail=f"q=0: {rows[0]['err'] / sigma_next:.3f} s_(k+1), "
                                          f"q={q}: {rows[q]['err'] / sigma_next:.3f} s_(k+1)"))
    qs = sorted(rows)
    report.add_series("randomized", power_iters=np.array(qs),
                      spectral_error=np.array([rows[q]["err"] for q in qs]),
                      matvecs=np.array([rows[q]["matvecs"] for q in qs]),
                      flops=np.array([rows[q]["flops"] for q in qs]),
                      run_s=np.array([rows[q]["run_s"] for q in qs]),
                      full_svd_flops=np.array(full_flops),
                      full_svd_run_s=np.array(t_full.run_s),
                      full_svd_compile_s=np.array(t_full.compile_s),
                      sigma_next=np.array(sigma_next), singular_values=sf64)
    report.metric("full_svd_run_s", t_full.run_s)

    _figures(report, x, step1, step2, step3, np.asarray(s2), img64, approx, s64, meas_f, ey_f,
             ks, meas_s, ey_s, norm_f, sf64, rows, sigma_next, t_full.run_s, full_flops, K, M,
             N, ctx.runtime.device)
    return report


def _figures(report, x, step1, step2, step3, s2, img, approx, s, meas_f, ey_f, ks, meas_s,
             ey_s, norm_f, sf, rows, sigma_next, full_s, full_flops, K, M, N, device):
    fig, axes = plotting.figure("A = U diag(s) V^T: rotate, scale along the axes, rotate",
                                ncols=4, width=3.6, height=3.8)
    panels = [(x, "x on the unit circle"), (step1, "V^T x (rotated)"),
              (step2, f"diag(s) V^T x, s = ({s2[0]:.2g}, {s2[1]:.2g})"),
              (step3, "U diag(s) V^T x = A x")]
    lim = 1.1 * max(1.0, float(s2[0]))
    for ax, (pts, title) in zip(axes, panels, strict=True):
        ax.plot(pts[:, 0], pts[:, 1], color=plotting.color("svd"))
        i = len(pts) // 8  # one marked point, followed through the steps
        ax.plot(pts[0, 0], pts[0, 1], "o", color="black", markersize=5)
        ax.plot(pts[i, 0], pts[i, 1], "s", color="gray", markersize=5)
        ax.set_title(title, fontsize=10)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("coordinate 1")
    axes[0].set_ylabel("coordinate 2")
    report.add_figure("rotate_scale_rotate", fig)

    ranks = sorted(approx)
    fig, axes = plotting.figure("Rank-k truncations of a photograph: few singular values "
                                "carry the picture", ncols=len(ranks) + 1, width=3.0,
                                height=3.6)
    for ax, (k, im) in zip(axes, [(None, img), *[(k, approx[k]) for k in ranks]],
                           strict=True):
        ax.imshow(im, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if k is None:
            ax.set_title(f"original ({img.shape[0]}x{img.shape[1]})", fontsize=10)
        else:
            ax.set_title(f"rank {k}: rel. err {meas_f[k] / norm_f:.3f}", fontsize=10)
    report.add_figure("image_ranks", fig)

    fig, ax = plotting.figure("Singular values decay: most of the photo lives in a few",
                              width=6.0)
    ax.semilogy(np.arange(1, s.size + 1), s, color=plotting.color("svd"), label="photograph")
    ax.semilogy(np.arange(1, sf.size + 1), sf, color=plotting.color("randomized"),
                label=f"tall {M}x{N} test matrix, s_i = i^(-decay)")
    ax.set_xlabel("index i")
    ax.set_ylabel("singular value s_i")
    ax.legend()
    report.add_figure("singular_values", fig)

    fig, (a1, a2) = plotting.figure("Truncation error = Eckart-Young value at every rank",
                                    ncols=2)
    k_all = np.arange(meas_f.size)
    a1.semilogy(k_all[:-1], meas_f[:-1], color=plotting.color("svd"),
                label="||A - A_k||_F measured")
    plotting.theory_line(a1, k_all[:-1], ey_f[:-1], "sqrt(sum_(i>k) s_i^2)")
    a2.semilogy(ks[ks < s.size], meas_s[ks < s.size], "o", color=plotting.color("svd"),
                markersize=4, label="||A - A_k||_2 measured (NumPy)")
    plotting.theory_line(a2, k_all[:-1], ey_s[:-1], "s_(k+1)")
    for ax, what in ((a1, "Frobenius"), (a2, "spectral")):
        ax.set_xlabel("rank k")
        ax.set_ylabel(f"{what} error")
        ax.legend()
    report.add_figure("eckart_young", fig)

    qs = sorted(rows)
    labels = [f"q={q}" for q in qs]
    fig, (a1, a2, a3) = plotting.figure(
        f"Randomised SVD (top {K} of a {M}x{N} matrix): near-optimal error for a fraction of "
        "the full SVD's flops", ncols=3, width=3.3, height=3.8)
    ratios = [rows[q]["err"] / sigma_next for q in qs]
    a1.bar(labels, ratios, color=plotting.color("randomized"))
    a1.axhline(1.0, **plotting.THEORY_STYLE, label="optimum s$_{k+1}$ (Eckart-Young)")
    a1.set_ylim(0, 1.4 * max(ratios))
    a1.set_ylabel("error $\\|A - A_k\\|_2$ / s$_{k+1}$")
    a1.set_xlabel("power iterations")
    a1.legend(loc="upper right", frameon=False)
    colors = [plotting.color("svd")] + [plotting.color("randomized")] * len(qs)
    bars = a2.bar(["full SVD", *labels], [full_flops, *[rows[q]["flops"] for q in qs]],
                  color=colors)
    for b, q in zip(bars[1:], qs, strict=True):
        a2.annotate(f"{rows[q]['matvecs']:.0f} A-products\n{rows[q]['flops'] / full_flops:.0%}",
                    (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                    va="bottom", fontsize=9)
    a2.set_ylim(0, 1.15 * full_flops)
    a2.set_ylabel("flops (counted in the program)")
    a2.set_title("counted work", fontsize=10)
    a3.bar(["full SVD", *labels], [full_s, *[rows[q]["run_s"] for q in qs]], color=colors)
    a3.set_ylabel("wall time (s), best of repeats")
    a3.set_title(f"measured on {device} (not a claim)", fontsize=10)
    report.add_figure("randomized_svd", fig)
