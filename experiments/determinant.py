"""``determinant``: det A is the factor by which A scales area (volume), with a sign for
orientation.

1. For random 2x2 matrices the shoelace area of the image of the unit square equals det A
   (signed: its sign says whether the orientation of the square is kept or flipped; that the
   signs agree follows from the values agreeing, so it is a metric, not a claim).
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
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.linalg import (
    image_of_unit_square,
    lapack,
    monte_carlo_image_volumes,
    shoelace_signed_area,
)
from mathml_jax.linalg.volume import UNIT_SQUARE
from mathml_jax.runtime import RunContext, in_float64

SECTION = "Linear algebra / Determinants: volume scaling"


@dataclass
class Config:
    num_matrices: int = param(200, ge=2, le=1_000_000, help="random matrices per check")
    mc_matrices: int = param(12, ge=1, le=10_000, help="matrices measured by Monte Carlo")
    mc_samples: int = param(200_000, ge=100, le=100_000_000, help="points per Monte Carlo volume")
    z_bound: float = param(4.0, gt=0, le=20, tolerance=True,
                           help="Monte Carlo: |estimate - |det|| <= z_bound SE")


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    det2: np.ndarray         # (n,) det A of the random 2x2 matrices (LAPACK, run dtype)
    area2: np.ndarray        # (n,) shoelace signed area of A(unit square)
    scale2: np.ndarray       # (n,) max |a_ij|^2 of each 2x2 matrix
    monte_carlo: dict        # "2d"/"3d": abs_det (NumPy float64), estimate, standard_error
    det_ab: np.ndarray       # (n,) det(AB) of random 3x3 pairs
    det_a_det_b: np.ndarray  # (n,) det(A) det(B)
    norm_ab: np.ndarray      # (n,) (||A||_F ||B||_F)^3, the scale of both
    singular: np.ndarray     # (2, 2) a singular matrix
    singular_area: float     # shoelace area of its image of the unit square
    singular_image: np.ndarray  # (4, 2) the image corners (float64)


def compute(cfg: Config, ctx: RunContext) -> Results:
    dtype = ctx.dtype
    k2, k3, kmc2, kmc3, kab = jax.random.split(ctx.key, 5)
    A2 = jax.random.normal(k2, (cfg.num_matrices, 2, 2), dtype)
    area = jax.vmap(lambda a: shoelace_signed_area(image_of_unit_square(a)))(A2)
    mc = {}
    for d, key, kmc in ((2, k2, kmc2), (3, k3, kmc3)):
        A = jax.random.normal(jax.random.fold_in(key, d), (cfg.mc_matrices, d, d), dtype)
        keys = jax.random.split(kmc, cfg.mc_matrices)
        est, se = ctx.timed(f"monte_carlo_{d}d", monte_carlo_image_volumes, A, keys,
                            num_samples=cfg.mc_samples)
        mc[f"{d}d"] = {"abs_det": np.abs(np.linalg.det(np.asarray(A, np.float64))),
                       "estimate": np.asarray(est, np.float64),
                       "standard_error": np.asarray(se, np.float64)}
    ka, kb = jax.random.split(kab)
    A3 = jax.random.normal(ka, (cfg.num_matrices, 3, 3), dtype)
    B3 = jax.random.normal(kb, (cfg.num_matrices, 3, 3), dtype)
    frob = lambda m: np.linalg.norm(np.asarray(m, np.float64), axis=(1, 2))  # noqa: E731
    S = jnp.asarray([[1.0, 2.0], [0.5, 1.0]], dtype)
    return Results(
        det2=np.asarray(lapack.det(A2), np.float64), area2=np.asarray(area, np.float64),
        scale2=np.abs(np.asarray(A2, np.float64)).max(axis=(1, 2)) ** 2, monte_carlo=mc,
        det_ab=np.asarray(lapack.det(A3 @ B3), np.float64),
        det_a_det_b=np.asarray(lapack.det(A3) * lapack.det(B3), np.float64),
        norm_ab=(frob(A3) * frob(B3)) ** 3, singular=np.asarray(S, np.float64),
        singular_area=float(shoelace_signed_area(image_of_unit_square(S))),
        singular_image=in_float64(image_of_unit_square, S))


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    eps, n = ctx.eps, cfg.num_matrices
    err = np.abs(r.area2 - r.det2) / r.scale2.max()
    worst_err, worst_i = tol.worst(err)
    out = [
        Claim.at_most("shoelace area of A(unit square) = det A (signed), relative to "
                      "max|a_ij|^2", worst_err, tol.roundoff(4, eps),
                      id="shoelace_equals_det", reference="LAPACK det (LU) of the same matrix",
                      worst=worst_i, detail=f"{n} random 2x2"),
    ]
    for d, shape in ((2, "square"), (3, "cube")):
        m = r.monte_carlo[f"{d}d"]
        z = np.abs(tol.z_score(m["estimate"], m["abs_det"], m["standard_error"]))
        zmax, where = tol.worst(z)
        out.append(Claim.at_most(f"{d}x{d}: Monte Carlo volume of A(unit {shape}) = |det A|, "
                                 "largest |z|", zmax, tol.absolute(cfg.z_bound, "z_bound SE"),
                                 id=f"monte_carlo_volume_{d}d", worst=where,
                                 reference="NumPy float64 det (hit-or-miss never calls det)",
                                 detail=f"{cfg.mc_matrices} matrices x {cfg.mc_samples} points"))
    prod_err, where = tol.worst(np.abs(r.det_ab - r.det_a_det_b) / r.norm_ab)
    # LU of a 3x3 and of the product AB: a few eps each, relative to the Frobenius scale
    out.append(Claim.at_most("det(AB) = det(A) det(B), relative to (||A|| ||B||)^3", prod_err,
                             tol.roundoff(1, eps), id="det_multiplicative", worst=where,
                             reference="det(A) det(B) from separate LU factorisations",
                             detail=f"{n} random 3x3 pairs"))
    sv = np.linalg.svd(r.singular_image, compute_uv=False)
    out += [
        Claim.at_most("singular A (det 0): area of the image of the unit square",
                      abs(r.singular_area), tol.roundoff(10, eps), id="singular_zero_area",
                      reference="closed form: det [[1, 2], [0.5, 1]] = 0"),
        Claim.at_most("singular A: the image corners lie on a line (s_2/s_1 of the corner "
                      "matrix)", sv[1] / sv[0],
                      tol.roundoff(10, float(np.finfo(np.float64).eps)),
                      id="singular_rank_one",
                      reference="NumPy SVD of the image corners in float64 (computed in "
                                "float64, so float64 round-off)"),
    ]
    return out


def metrics(cfg: Config, r: Results) -> dict:
    out = {f"mc_max_z_{d}": float(np.abs(tol.z_score(m["estimate"], m["abs_det"],
                                                      m["standard_error"])).max())
           for d, m in r.monte_carlo.items()}
    # an identity of the shoelace formula, shown, not claimed: sign(area) = sign(det A)
    out["fraction_flipping_orientation"] = float((r.det2 < 0).mean())
    out["orientation_sign_agreement"] = float(np.mean((r.area2 < 0) == (r.det2 < 0)))
    return out


KEY_METRICS = ("mc_max_z_2d", "mc_max_z_3d")

EXAMPLES = {"$\\det A > 0$: orientation kept": np.asarray([[1.5, 0.5], [0.3, 1.0]]),
            "$\\det A < 0$: orientation flipped": np.asarray([[0.5, 1.2], [1.0, 0.4]])}


def unit_square_images(cfg: Config, r: Results):
    """A 2x2 matrix A scales the area of the unit square by |det A|: its image for det A > 0
    (orientation kept), det A < 0 (flipped) and det A = 0 (flattened onto a line)."""
    examples = dict(EXAMPLES, **{"$\\det A = 0$: flattened to a line": r.singular})
    fig, axes = plotting.figure("The unit square under $A$: its area scales by $|\\det A|$, and "
                                "$\\det A < 0$ flips its orientation", ncols=3, width=4.2,
                                height=4.8)
    sq = np.vstack([UNIT_SQUARE, UNIT_SQUARE[:1]])
    c = plotting.color("determinant")
    for ax, (title, M) in zip(axes, examples.items(), strict=True):
        im = sq @ M.T
        ax.fill(sq[:, 0], sq[:, 1], color="lightgray", alpha=0.6, label="unit square (area 1)")
        ax.fill(im[:, 0], im[:, 1], color=c, alpha=0.5,
                label=f"image, area $|\\det A|$ = {abs(np.linalg.det(M)):.2f}")
        ax.plot(im[:, 0], im[:, 1], color=c)
        # the first edge e1 -> A e1 and second edge e2 -> A e2 show the orientation
        ax.annotate("", xy=M[:, 0], xytext=(0, 0), arrowprops=dict(arrowstyle="->", lw=2))
        ax.annotate("", xy=M[:, 1], xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", lw=2, linestyle="--"))
        ax.plot([], [], color="black", label="$A e_1$")
        ax.plot([], [], color="black", linestyle="--", label="$A e_2$")
        ax.set_title(title + f"\n$\\det A$ = {np.linalg.det(M):.2f}", fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.28))
    axes[0].set_ylabel("$x_2$")
    return fig


def monte_carlo(cfg: Config, r: Results):
    """A hit-or-miss Monte Carlo volume of the image of the unit square or cube, which never
    calls det, lies on the line volume = |det A| for random 2x2 and 3x3 matrices."""
    k = plotting.SE_BAND
    fig, ax = plotting.figure("Monte Carlo volume of the image of the unit square (cube) "
                              "equals $|\\det A|$", width=6.5)
    for d, m in r.monte_carlo.items():
        ax.errorbar(m["abs_det"], m["estimate"], yerr=k * m["standard_error"],
                    fmt="o", color=plotting.color(d),
                    label=f"{d[0]}x{d[0]} (±{k} SE, {cfg.mc_samples} points)")
    top = max(m["abs_det"].max() for m in r.monte_carlo.values()) * 1.1
    plotting.theory_line(ax, [0, top], [0, top], "volume = $|\\det A|$")
    ax.set_xlabel("$|\\det A|$ (NumPy, float64)")
    ax.set_ylabel("Monte Carlo volume of the image")
    ax.legend(loc="upper left")
    return fig


FIGURES = (unit_square_images, monte_carlo)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the Monte Carlo
    volumes of the 3-D images hold every point of every matrix at once (one vmap): mc_matrices
    x mc_samples points of 3 coordinates, as drawn, scaled, solved and transposed (about six
    copies: measured 836 MB for 12 x 2e6 points in float32, tests/test_budget.py); the 2x2 and
    3x3 checks hold num_matrices small matrices."""
    from mathml_jax import budget as b

    mc = cfg.mc_matrices * cfg.mc_samples
    return b.estimate(
        b.Part(b.size(*[(mc, 3)] * 6, itemsize=target.itemsize) + 4 * mc,
               ("determinant.mc_samples", "determinant.mc_matrices"),
               "the Monte Carlo points of every 3x3 matrix: mc_matrices x mc_samples x 3, "
               "drawn and solved"),
        b.Part(b.size((cfg.num_matrices, 3, 3), itemsize=8) * 8,
               ("determinant.num_matrices",), "num_matrices random 2x2 and 3x3 matrices"),
        seconds=mc * 5 * b.S_PER_DRAW + cfg.num_matrices * 100 * b.S_PER_ELEMENT,
        rate=f"{1 / (5 * b.S_PER_DRAW):.2g} Monte Carlo points/s (3-D, drawn and solved)",
        time_keys=("determinant.mc_samples", "determinant.mc_matrices"))
