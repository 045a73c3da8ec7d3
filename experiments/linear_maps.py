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
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
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


@dataclass
class Results:
    """Everything the claims, metrics and figures need, as host arrays (the run's series)."""

    maps: dict                 # name -> the 2x2 matrix (closed form, float64)
    basis_images: dict         # name -> (2, 2): columns are M e1, M e2 computed in the run dtype
    linearity_defects: dict    # name -> (num_pairs,) ||f(ax+by) - af(x) - bf(y)|| / (|a|||x||
                               #   + |b|||y||) of the matrix map
    translation_defects: np.ndarray  # (num_pairs,) the same for x -> x + t
    product: dict              # A, B (n, n); ab_x = (AB) x and a_bx = A (B x), (num_pairs, n);
                               # x_norms (num_pairs,); inner_products: (AB)_ij = <row i, col j>


# ------------------------------------------------------------------------------ compute

def _maps(cfg: Config, ctx: RunContext, key) -> tuple[dict, dict, dict]:
    """Basis images and linearity defects of every map of the plane."""
    maps = plane_maps(np.deg2rad(cfg.angle_deg), cfg.shear, tuple(cfg.scale))
    e = np.eye(2)
    images, defects = {}, {}
    for i, (name, M) in enumerate(maps.items()):
        Mj = jnp.asarray(M, ctx.dtype)
        images[name] = np.stack([np.asarray(apply_matrix(Mj, jnp.asarray(e[k], ctx.dtype)),
                                            np.float64) for k in range(2)], axis=1)
        defects[name] = np.asarray(linearity_defects(apply_matrix, Mj, jax.random.fold_in(key, i),
                                                     num_pairs=cfg.num_pairs), np.float64)
    return maps, images, defects


def _product(cfg: Config, ctx: RunContext, key) -> dict:
    """(AB) x and A (B x) on random x, and AB element by element as inner products."""
    n, dtype = cfg.product_size, ctx.dtype
    ka, kb, kx = jax.random.split(key, 3)
    A = jax.random.normal(ka, (n, n), dtype)
    B = jax.random.normal(kb, (n, n), dtype)
    X = jax.random.normal(kx, (cfg.num_pairs, n), dtype)
    return {"A": np.asarray(A, np.float64), "B": np.asarray(B, np.float64),
            "ab_x": np.asarray(X @ (A @ B).T, np.float64),
            "a_bx": np.asarray((X @ B.T) @ A.T, np.float64),
            "x_norms": np.linalg.norm(np.asarray(X, np.float64), axis=1),
            "inner_products": np.asarray(product_by_inner_products(A, B), np.float64)}


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_lin, k_prod = jax.random.split(ctx.key)
    maps, images, defects = _maps(cfg, ctx, k_lin)
    t = jnp.asarray(cfg.translation, ctx.dtype)
    d_t = np.asarray(linearity_defects(translate, t, k_lin, num_pairs=cfg.num_pairs), np.float64)
    return Results(maps=maps, basis_images=images, linearity_defects=defects,
                   translation_defects=d_t, product=_product(cfg, ctx, k_prod))


# ------------------------------------------------------------------------------ claims

def _map_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    names = list(r.maps)
    cols, w_cols = tol.worst([np.abs(r.basis_images[k] - r.maps[k]).max() for k in names], names)
    lin, w_lin = tol.worst([r.linearity_defects[k].max() / max(1.0, np.linalg.norm(r.maps[k], 2))
                            for k in names], names)
    out = [
        Claim.at_most("columns of each matrix = images of e1, e2: max difference", cols,
                      tol.roundoff(10, eps), id="columns_are_basis_images", worst=w_cols,
                      reference="the closed-form matrices' columns (float64)",
                      detail=f"{len(names)} maps"),
        Claim.at_most("every matrix map is linear: max ||f(ax+by) - af(x) - bf(y)|| / "
                      "(|a|||x|| + |b|||y||) / ||M||", lin, tol.roundoff(20, eps),
                      id="matrix_maps_are_linear", worst=w_lin,
                      reference="exact linearity: the defect of a matrix map is 0",
                      detail=f"{len(names)} maps x {cfg.num_pairs} random pairs"),
    ]
    if np.linalg.norm(cfg.translation) > 0:
        out.append(Claim.at_least("a translation x -> x + t is not linear: median defect",
                                  np.median(r.translation_defects), tol.roundoff(1000, eps),
                                  id="translation_not_linear",
                                  reference="closed form: f(ax+by) - af(x) - bf(y) = (1 - a - b) t",
                                  detail=f"t = {cfg.translation}; {cfg.num_pairs} random pairs"))
    return out


def _product_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    p = r.product
    n = cfg.product_size
    A, B = p["A"], p["B"]
    scale = np.linalg.norm(A, 2) * np.linalg.norm(B, 2)
    comp, w_comp = tol.worst(np.abs(p["ab_x"] - p["a_bx"]).max(axis=1) / p["x_norms"] / scale)
    ref = A @ B
    inner, w_inner = tol.worst(np.abs(p["inner_products"] - ref) / scale)
    Rz, Sh = r.maps["rotation"], r.maps["shear"]
    return [
        Claim.at_most("composition: (AB)x = A(Bx) on random x: max |diff| / (||A|| ||B|| ||x||)",
                      comp, tol.roundoff(10, eps, n=n), id="product_is_composition",
                      worst=w_comp, reference="A (B x): two matrix-vector products in turn",
                      detail=f"{cfg.num_pairs} random x, {n}x{n} Gaussian A, B"),
        Claim.at_most("(AB)_ij = <row i of A, column j of B>: max |diff| vs NumPy float64 / "
                      "||A|| ||B||", inner, tol.roundoff(10, eps, n=n),
                      id="product_element_is_inner_product", worst=w_inner,
                      reference="NumPy matmul in float64", detail=f"{n}x{n} Gaussian A, B"),
        Claim.at_least("the product is not commutative: ||AB - BA|| / ||AB||",
                       np.linalg.norm(ref - B @ A) / np.linalg.norm(ref),
                       tol.absolute(0.1, "clearly non-zero (random Gaussian A, B)"),
                       id="product_not_commutative", reference="NumPy AB and BA in float64",
                       detail=f"{n}x{n} Gaussian A, B"),
        Claim.at_least("rotate-then-shear != shear-then-rotate: ||RS - SR||_F",
                       np.linalg.norm(Rz @ Sh - Sh @ Rz),
                       tol.absolute(1e-3, "clearly non-zero"),
                       id="rotation_shear_not_commutative",
                       reference="the closed-form rotation and shear matrices in float64",
                       detail=f"angle {cfg.angle_deg:g} deg, shear {cfg.shear:g}"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    return _map_claims(cfg, r, ctx.eps) + _product_claims(cfg, r, ctx.eps)


def metrics(cfg: Config, r: Results) -> dict:
    ab = r.product["A"] @ r.product["B"]
    ba = r.product["B"] @ r.product["A"]
    return {"translation_median_defect": float(np.median(r.translation_defects)),
            "noncommutativity": float(np.linalg.norm(ab - ba) / np.linalg.norm(ab))}


KEY_METRICS = ("translation_median_defect",)


# ------------------------------------------------------------------------------ figures

def maps_on_grid(cfg: Config, r: Results):
    maps = r.maps
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
    return fig


def _highlight(ax, kind: str, k, n: int) -> None:
    """A frame around row k, column k or cell k = (i, j) of an n x n heat map."""
    if kind == "row":
        ax.add_patch(plotting.plt.Rectangle((-0.5, k - 0.5), n, 1, fill=False, lw=3))
    elif kind == "col":
        ax.add_patch(plotting.plt.Rectangle((k - 0.5, -0.5), 1, n, fill=False, lw=3))
    else:
        ax.add_patch(plotting.plt.Rectangle((k[1] - 0.5, k[0] - 0.5), 1, 1, fill=False, lw=3))


def product_element(cfg: Config, r: Results):
    A, B = r.product["A"], r.product["B"]
    i, j = 1, 2
    C = A @ B
    fig, axes = plotting.figure(f"(AB)[{i},{j}] = row {i} of A . column {j} of B",
                                ncols=3, width=3.6, height=3.8)
    for ax, (M, title, hl) in zip(axes, ((A, "A", ("row", i)), (B, "B", ("col", j)),
                                         (C, "AB", ("cell", (i, j)))), strict=True):
        ax.imshow(M, cmap="coolwarm", vmin=-np.abs(C).max(), vmax=np.abs(C).max())
        n = M.shape[0]
        _highlight(ax, *hl, n)
        for row in range(n):
            for c in range(n):
                ax.text(c, row, f"{M[row, c]:.1f}", ha="center", va="center", fontsize=7)
        ax.set_title(title)
        ax.set_xlabel("column")
        ax.grid(False)
    axes[0].set_ylabel("row")
    terms = " + ".join(f"({A[i, k]:.1f})({B[k, j]:.1f})" for k in range(min(3, A.shape[0])))
    axes[2].set_xlabel(f"column\n{terms} + ... = {C[i, j]:.2f}", fontsize=8)
    return fig


FIGURES = (maps_on_grid, product_element)
