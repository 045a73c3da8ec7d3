"""``linear_maps``: linear transformations of the plane and the matrix product.

1. Rotation, reflection, shear, scaling and projection applied to a grid and a figure; the
   columns of each matrix are the images of the basis vectors e1, e2.
2. Linearity f(a x + b y) = a f(x) + b f(y) holds to round-off on random batches for every
   matrix map, and fails for a translation (defect of order ||t||).
3. The product as composition: (A B) x = A (B x) on random batches; the element (i, j) of A B
   is the inner product of row i of A and column j of B (checked against the matmul and
   against NumPy); A B != B A.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import param
from mathml_jax import Claim, Report, plotting
from mathml_jax.linalg import apply_matrix, linearity_defects, plane_maps, translate
from mathml_jax.linalg.linear_maps import product_by_inner_products
from mathml_jax.runtime import RunContext

SECTION = "Linear algebra / Linear transformations, matrices and their operations"


@dataclass
class Config:
    angle_deg: float = param(30.0, ge=-360, le=360, help="angle of rotation/reflection/projection")
    shear: float = param(0.8, ge=-10, le=10)
    scale: list[float] = param([1.5, 0.5], help="axis scalings (sx, sy)")
    translation: list[float] = param([0.5, -0.25], help="the non-linear map x -> x + t")
    num_pairs: int = param(1000, ge=10, le=10_000_000, help="random (x, y, a, b) per check")
    product_size: int = param(5, ge=2, le=500, help="size of the matrices in the product checks")


def _figure_points():
    """A letter F: a shape with no symmetry, so every map's effect is visible."""
    return np.array([[0.2, 0.1], [0.2, 0.9], [0.7, 0.9], [0.7, 0.75], [0.35, 0.75],
                     [0.35, 0.55], [0.6, 0.55], [0.6, 0.4], [0.35, 0.4], [0.35, 0.1],
                     [0.2, 0.1]])


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("linear_maps", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    k_lin, k_prod = jax.random.split(ctx.key)
    maps = plane_maps(np.deg2rad(cfg.angle_deg), cfg.shear, tuple(cfg.scale))

    e = np.eye(2)
    worst_cols, worst_lin = 0.0, 0.0
    for i, (name, M) in enumerate(maps.items()):
        Mj = jnp.asarray(M, dtype)
        images = np.stack([np.asarray(apply_matrix(Mj, jnp.asarray(e[k], dtype)))
                           for k in range(2)], axis=1)
        worst_cols = max(worst_cols, float(np.abs(images - M).max()))
        d = np.asarray(linearity_defects(apply_matrix, Mj, jax.random.fold_in(k_lin, i),
                                         num_pairs=cfg.num_pairs), np.float64)
        worst_lin = max(worst_lin, float(d.max()) / max(1.0, np.linalg.norm(M, 2)))
        report.add_series(f"map_{name}", matrix=M)
    report.claim(Claim.at_most("columns of each matrix = images of e1, e2 (max difference, "
                               f"{len(maps)} maps)", worst_cols, 10 * eps))
    report.claim(Claim.at_most("every matrix map is linear: max ||f(ax+by) - af(x) - bf(y)|| / "
                               "(|a|||x|| + |b|||y||) / ||M||", worst_lin, 20 * eps,
                               detail=f"{len(maps)} maps x {cfg.num_pairs} random pairs; "
                                      "bound 20 eps"))
    t = jnp.asarray(cfg.translation, dtype)
    d_t = np.asarray(linearity_defects(translate, t, k_lin, num_pairs=cfg.num_pairs), np.float64)
    if np.linalg.norm(cfg.translation) > 0:
        report.claim(Claim.at_least("a translation x -> x + t is not linear: median defect",
                                    np.median(d_t), 1e3 * eps,
                                    detail=f"t = {cfg.translation}; f(ax+by) - af(x) - bf(y) = "
                                           "(1 - a - b) t"))
    report.metric("translation_median_defect", float(np.median(d_t)), key=True)

    # -- the product
    n = cfg.product_size
    ka, kb, kx = jax.random.split(k_prod, 3)
    A = jax.random.normal(ka, (n, n), dtype)
    B = jax.random.normal(kb, (n, n), dtype)
    X = jax.random.normal(kx, (cfg.num_pairs, n), dtype)
    lhs = np.asarray(X @ (A @ B).T, np.float64)
    rhs = np.asarray((X @ B.T) @ A.T, np.float64)
    scale = np.linalg.norm(np.asarray(A), 2) * np.linalg.norm(np.asarray(B), 2)
    report.claim(Claim.at_most("composition: (AB)x = A(Bx) on random x: max |diff| / "
                               "(||A|| ||B|| ||x||)", (np.abs(lhs - rhs).max(axis=1)
                                                      / np.linalg.norm(np.asarray(X), axis=1)).max()
                               / scale, 10 * n * eps, detail=f"{cfg.num_pairs} x; bound 10 n eps"))
    P = np.asarray(product_by_inner_products(A, B), np.float64)
    ref = np.asarray(A, np.float64) @ np.asarray(B, np.float64)
    report.claim(Claim.at_most("(AB)_ij = <row i of A, column j of B>: max |diff| vs NumPy "
                               "float64 / ||A|| ||B||", np.abs(P - ref).max() / scale,
                               10 * n * eps))
    BA = np.asarray(B, np.float64) @ np.asarray(A, np.float64)
    noncomm = np.linalg.norm(ref - BA) / np.linalg.norm(ref)
    report.claim(Claim.at_least("the product is not commutative: ||AB - BA|| / ||AB||", noncomm,
                                0.1, detail="random Gaussian A, B"))
    Rz, Sh = maps["rotation"], maps["shear"]
    noncomm2 = np.linalg.norm(Rz @ Sh - Sh @ Rz)
    report.claim(Claim.at_least("rotate-then-shear != shear-then-rotate: ||RS - SR||_F",
                                noncomm2, 1e-3))
    report.metric("noncommutativity", noncomm)
    _figures(report, maps, np.asarray(A), np.asarray(B), cfg)
    return report


def _figures(report, maps, A, B, cfg):
    g = np.linspace(-1, 1, 9)
    fig, axes = plotting.figure("Each matrix moves the grid; its columns are where e1, e2 go",
                                ncols=len(maps), width=3.4, height=3.8)
    F = _figure_points()
    for ax, (name, M) in zip(axes, maps.items(), strict=True):
        for v in g:
            line = np.stack([np.full_like(g, v), g], axis=1)
            for pts in (line, line[:, ::-1]):
                ax.plot(*(pts @ M.T).T, color="lightgray", lw=0.8)
        ax.fill(*F.T, color="gray", alpha=0.25)
        ax.fill(*(F @ M.T).T, color=plotting.color(name), alpha=0.6)
        ax.annotate("", xy=M[:, 0], xytext=(0, 0), arrowprops=dict(arrowstyle="->", lw=2,
                                                                  color="black"))
        ax.annotate("", xy=M[:, 1], xytext=(0, 0), arrowprops=dict(arrowstyle="->", lw=2,
                                                                  color="dimgray"))
        ax.set_title(f"{name}\n[[{M[0, 0]:.2f}, {M[0, 1]:.2f}], [{M[1, 0]:.2f}, {M[1, 1]:.2f}]]",
                     fontsize=9)
        ax.set_xlim(-1.8, 1.8)
        ax.set_ylim(-1.8, 1.8)
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    axes[0].plot([], [], color="black", label="A e1 (column 1)")
    axes[0].plot([], [], color="dimgray", label="A e2 (column 2)")
    axes[0].fill([], [], color="gray", alpha=0.25, label="original F")
    axes[0].legend(fontsize=7, loc="lower left")
    report.add_figure("maps_on_grid", fig)

    i, j = 1, 2
    C = A @ B
    fig, axes = plotting.figure(f"(AB)[{i},{j}] = row {i} of A . column {j} of B",
                                ncols=3, width=3.6, height=3.8)
    for ax, (M, title, hl) in zip(axes, ((A, "A", ("row", i)), (B, "B", ("col", j)),
                                         (C, "AB", ("cell", (i, j)))), strict=True):
        ax.imshow(M, cmap="coolwarm", vmin=-np.abs(C).max(), vmax=np.abs(C).max())
        n = M.shape[0]
        kind, k = hl
        if kind == "row":
            ax.add_patch(plotting.plt.Rectangle((-0.5, k - 0.5), n, 1, fill=False, lw=3))
        elif kind == "col":
            ax.add_patch(plotting.plt.Rectangle((k - 0.5, -0.5), 1, n, fill=False, lw=3))
        else:
            ax.add_patch(plotting.plt.Rectangle((k[1] - 0.5, k[0] - 0.5), 1, 1, fill=False,
                                                lw=3))
        for r in range(n):
            for c in range(n):
                ax.text(c, r, f"{M[r, c]:.1f}", ha="center", va="center", fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("column")
        ax.grid(False)
    axes[0].set_ylabel("row")
    terms = " + ".join(f"({A[i, k]:.1f})({B[k, j]:.1f})" for k in range(min(3, A.shape[0])))
    axes[2].set_xlabel(f"column\n{terms} + ... = {C[i, j]:.2f}", fontsize=8)
    report.add_figure("product_element", fig)
