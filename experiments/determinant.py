"""``determinant``: det A is the factor by which A scales area (volume), with a sign for
orientation.

1. For random 2x2 matrices the shoelace area of the image of the unit square equals det A
   (signed: its sign says whether the orientation of the square is kept or flipped).
2. For random 2x2 and 3x3 matrices a hit-or-miss Monte Carlo volume of the image of the unit
   square (cube), which never calls det, is within k standard errors of |det A|.
3. det(AB) = det(A) det(B) on random batches.
4. A singular matrix flattens the square onto a line: zero area, image points of rank 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import param
from mathml_jax import Claim, Report, plotting
from mathml_jax.linalg import (
    image_of_unit_square,
    lapack,
    monte_carlo_image_volumes,
    shoelace_signed_area,
)
from mathml_jax.linalg.volume import UNIT_SQUARE
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

SECTION = "Linear algebra / Determinants: volume scaling"


@dataclass
class Config:
    num_matrices: int = param(200, ge=2, le=1_000_000, help="random matrices per check")
    mc_matrices: int = param(12, ge=1, le=10_000, help="matrices measured by Monte Carlo")
    mc_samples: int = param(200_000, ge=100, le=100_000_000, help="points per Monte Carlo volume")
    z_bound: float = param(4.0, gt=0, help="Monte Carlo: |estimate - |det|| <= z_bound SE")


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("determinant", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    k2, k3, kmc2, kmc3, kab = jax.random.split(ctx.key, 5)

    # -- 1. shoelace area of the image of the unit square = det A (signed)
    A2 = jax.random.normal(k2, (cfg.num_matrices, 2, 2), dtype)
    det2 = np.asarray(lapack.det(A2), np.float64)
    area = np.asarray(jax.vmap(lambda a: shoelace_signed_area(image_of_unit_square(a)))(A2),
                      np.float64)
    scale = np.abs(np.asarray(A2, np.float64)).max(axis=(1, 2)) ** 2
    report.claim(Claim.at_most("shoelace area of A(unit square) = det A (signed): max |area - "
                               "det| / max|a_ij|^2", np.abs(area - det2).max() / scale.max(),
                               20 * eps, detail=f"{cfg.num_matrices} random 2x2; bound 20 eps"))
    flipped = det2 < 0
    report.claim(Claim.holds("det A < 0 exactly when A flips the orientation (the image is "
                             "traversed clockwise)", bool(np.all((area < 0) == flipped)),
                             measured=float(flipped.mean()),
                             detail="measured: fraction of matrices that flip"))

    # -- 2. Monte Carlo volume of the image (2x2 and 3x3) within z_bound standard errors
    zs = {}
    for d, key, kmc in ((2, k2, kmc2), (3, k3, kmc3)):
        A = jax.random.normal(jax.random.fold_in(key, d), (cfg.mc_matrices, d, d), dtype)
        keys = jax.random.split(kmc, cfg.mc_matrices)
        (est, se), t = timed(monte_carlo_image_volumes, A, keys, num_samples=cfg.mc_samples)
        report.add_timing(f"monte_carlo_{d}d", t)
        est, se = np.asarray(est, np.float64), np.asarray(se, np.float64)
        absdet = np.abs(np.linalg.det(np.asarray(A, np.float64)))
        z = np.abs(est - absdet) / se
        zs[d] = (absdet, est, se)
        shape = "square" if d == 2 else "cube"
        report.claim(Claim.at_most(f"{d}x{d}: Monte Carlo volume of A(unit {shape}) = |det A|: "
                                   "largest |z|", z.max(), cfg.z_bound,
                                   detail=f"{cfg.mc_matrices} matrices x {cfg.mc_samples} points; "
                                          "z = (estimate - |det|)/SE; det by NumPy float64"))
        report.metric(f"mc_max_z_{d}d", float(z.max()), key=True)
        report.add_series(f"monte_carlo_{d}d", abs_det=absdet, estimate=est, standard_error=se)

    # -- 3. det(AB) = det(A) det(B)
    ka, kb = jax.random.split(kab)
    A3 = jax.random.normal(ka, (cfg.num_matrices, 3, 3), dtype)
    B3 = jax.random.normal(kb, (cfg.num_matrices, 3, 3), dtype)
    lhs = np.asarray(lapack.det(A3 @ B3), np.float64)
    rhs = np.asarray(lapack.det(A3) * lapack.det(B3), np.float64)
    norm = (np.linalg.norm(np.asarray(A3, np.float64), axis=(1, 2))
            * np.linalg.norm(np.asarray(B3, np.float64), axis=(1, 2))) ** 3
    report.claim(Claim.at_most("det(AB) = det(A) det(B): max |difference| / (||A|| ||B||)^3",
                               (np.abs(lhs - rhs) / norm).max(),
                               100 * eps, detail=f"{cfg.num_matrices} random 3x3 pairs"))

    # -- 4. a singular matrix flattens the square onto a line
    S = jnp.asarray([[1.0, 2.0], [0.5, 1.0]], dtype)
    img_s = np.asarray(image_of_unit_square(S), np.float64)
    report.claim(Claim.at_most("singular A (det 0): area of the image of the square",
                               abs(float(shoelace_signed_area(image_of_unit_square(S)))),
                               10 * eps))
    sv = np.linalg.svd(img_s, compute_uv=False)
    report.claim(Claim.at_most("singular A: the image corners lie on a line (s_2/s_1 of the "
                               "corner matrix)", sv[1] / sv[0], 10 * eps))

    examples = {"det > 0 (orientation kept)": np.asarray([[1.5, 0.5], [0.3, 1.0]]),
                "det < 0 (orientation flipped)": np.asarray([[0.5, 1.2], [1.0, 0.4]]),
                "det = 0 (flattened to a line)": np.asarray(S, np.float64)}
    fig, axes = plotting.figure("The unit square under A: area scales by |det A|, sign = "
                                "orientation", ncols=3, width=4.2, height=4.4)
    for ax, (title, M) in zip(axes, examples.items(), strict=True):
        sq = np.vstack([UNIT_SQUARE, UNIT_SQUARE[:1]])
        im = sq @ M.T
        ax.fill(sq[:, 0], sq[:, 1], color="lightgray", alpha=0.6, label="unit square (area 1)")
        ax.fill(im[:, 0], im[:, 1], color=plotting.color("determinant"), alpha=0.5,
                label=f"image, area {abs(np.linalg.det(M)):.2f}")
        ax.plot(im[:, 0], im[:, 1], color=plotting.color("determinant"))
        # the first edge e1 -> A e1 and second edge e2 -> A e2 show the orientation
        ax.annotate("", xy=M[:, 0], xytext=(0, 0), arrowprops=dict(arrowstyle="->", lw=2))
        ax.annotate("", xy=M[:, 1], xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", lw=2, color="gray"))
        ax.plot([], [], color="black", label="A e1")
        ax.plot([], [], color="gray", label="A e2")
        ax.set_title(f"{title}\ndet A = {np.linalg.det(M):.2f}", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
        ax.legend(fontsize=7, loc="upper left")
    axes[0].set_ylabel("x2")
    report.add_figure("unit_square_images", fig)

    fig, ax = plotting.figure("Monte Carlo volume of the image = |det A| (error bars: "
                              f"{cfg.z_bound:g} SE)")
    for d, (absdet, est, se) in zs.items():
        ax.errorbar(absdet, est, yerr=cfg.z_bound * se, fmt="o", label=f"{d}x{d}",
                    color=plotting.color(f"{d}d"))
    top = max(v[0].max() for v in zs.values()) * 1.1
    plotting.theory_line(ax, [0, top], [0, top], "volume = |det A|")
    ax.set_xlabel("|det A| (NumPy)")
    ax.set_ylabel("Monte Carlo volume of the image")
    ax.legend()
    report.add_figure("monte_carlo", fig)
    return report
