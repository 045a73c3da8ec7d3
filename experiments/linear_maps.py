"""``linear_maps``: linear transformations of the plane and the matrix product.

1. Rotation, reflection, shear, scaling and projection applied to a grid and a figure; the
   columns of each matrix are the images of the basis vectors e1, e2 (shown, and a metric:
   it is true by construction). Claimed against each map's geometry without its matrix:
   the images of random points, and the factor by which each map scales signed area.
2. Linearity f(a x + b y) = a f(x) + b f(y) holds to round-off on random batches for every
   matrix map, and fails for a translation (defect of order ||t||): metrics.
3. The product as composition: (A B) x = A (B x) and A B != B A (metrics, and the figure
   "rotate then shear" against "shear then rotate"); claimed: the element (i, j) of A B is
   the inner product of row i of A and column j of B (against NumPy in float64), and composing
   rotations adds their angles (against the angle-addition formulas).
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
    scale: list[float] = param([1.5, 0.5], help="axis scalings (sx, sy)", length=2)
    translation: list[float] = param([0.5, -0.25], length=2,
                                     help="the non-linear map x -> x + t")
    num_pairs: int = param(1000, ge=10, le=10_000_000, help="random (x, y, a, b) per check")
    product_size: int = param(5, ge=2, le=500, help="size of the matrices in the product checks")
    rotation_angles: int = param(24, ge=2, le=10_000, help="angle pairs (alpha, beta) composed")


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
    points: np.ndarray         # (num_pairs, 2) random points (the run dtype's values, float64)
    point_images: dict         # name -> (num_pairs, 2): M x computed in the run dtype
    shape_images: dict         # name -> (vertices, 2): the letter F mapped in the run dtype
    linearity_defects: dict    # name -> (num_pairs,) ||f(ax+by) - af(x) - bf(y)|| / (|a|||x||
                               #   + |b|||y||) of the matrix map
    translation_defects: np.ndarray  # (num_pairs,) the same for x -> x + t
    product: dict              # A, B (n, n); ab_x = (AB) x and a_bx = A (B x), (num_pairs, n);
                               # x_norms (num_pairs,); inner_products: (AB)_ij = <row i, col j>;
                               # alpha, beta (angles); rotation_products (angles, 2, 2):
                               # R(alpha) R(beta) by inner products in the run dtype


# ------------------------------------------------------------------------------ compute

def _maps(cfg: Config, ctx: RunContext, key) -> dict:
    """Basis images, images of random points and of the letter F, and linearity defects of
    every map of the plane, all computed in the run dtype."""
    maps = plane_maps(np.deg2rad(cfg.angle_deg), cfg.shear, tuple(cfg.scale))
    e = np.eye(2)
    pts = jax.random.normal(jax.random.fold_in(key, 99), (cfg.num_pairs, 2), ctx.dtype)
    shape = jnp.asarray(_figure_points(), ctx.dtype)
    on_rows = jax.vmap(apply_matrix, in_axes=(None, 0))
    out = {"maps": maps, "points": np.asarray(pts, np.float64), "basis_images": {},
           "point_images": {}, "shape_images": {}, "linearity_defects": {}}
    for i, (name, M) in enumerate(maps.items()):
        Mj = jnp.asarray(M, ctx.dtype)
        out["basis_images"][name] = np.stack(
            [np.asarray(apply_matrix(Mj, jnp.asarray(e[k], ctx.dtype)), np.float64)
             for k in range(2)], axis=1)
        out["point_images"][name] = np.asarray(on_rows(Mj, pts), np.float64)
        out["shape_images"][name] = np.asarray(on_rows(Mj, shape), np.float64)
        out["linearity_defects"][name] = np.asarray(linearity_defects(
            apply_matrix, Mj, jax.random.fold_in(key, i), num_pairs=cfg.num_pairs), np.float64)
    return out


def _product(cfg: Config, ctx: RunContext, key) -> dict:
    """(AB) x and A (B x) on random x, AB element by element as inner products, and products
    of rotations R(alpha) R(beta) on a grid of angles."""
    n, dtype = cfg.product_size, ctx.dtype
    ka, kb, kx = jax.random.split(key, 3)
    A = jax.random.normal(ka, (n, n), dtype)
    B = jax.random.normal(kb, (n, n), dtype)
    X = jax.random.normal(kx, (cfg.num_pairs, n), dtype)
    alpha = np.linspace(-np.pi, np.pi, cfg.rotation_angles, endpoint=False)
    beta = np.roll(alpha, cfg.rotation_angles // 3) * 0.7
    rot = [np.asarray(product_by_inner_products(
        jnp.asarray(plane_maps(a)["rotation"], dtype), jnp.asarray(plane_maps(b)["rotation"],
                                                                    dtype)), np.float64)
           for a, b in zip(alpha, beta, strict=True)]
    return {"A": np.asarray(A, np.float64), "B": np.asarray(B, np.float64),
            "ab_x": np.asarray(X @ (A @ B).T, np.float64),
            "a_bx": np.asarray((X @ B.T) @ A.T, np.float64),
            "x_norms": np.linalg.norm(np.asarray(X, np.float64), axis=1),
            "inner_products": np.asarray(product_by_inner_products(A, B), np.float64),
            "alpha": alpha, "beta": beta, "rotation_products": np.asarray(rot)}


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_lin, k_prod = jax.random.split(ctx.key)
    t = jnp.asarray(cfg.translation, ctx.dtype)
    d_t = np.asarray(linearity_defects(translate, t, k_lin, num_pairs=cfg.num_pairs), np.float64)
    return Results(**_maps(cfg, ctx, k_lin), translation_defects=d_t,
                   product=_product(cfg, ctx, k_prod))


# ------------------------------------------------------------------------------ claims

def geometric_images(cfg: Config, x: np.ndarray) -> dict:
    """Each map of the plane by its geometric description, in float64, without its matrix:
    rotation r(cos(phi + theta), sin(phi + theta)); reflection 2 (x.u) u - x and projection
    (x.u) u with u = (cos theta, sin theta); shear x + k y e1; scaling (sx x, sy y)."""
    th = np.deg2rad(cfg.angle_deg)
    u = np.array([np.cos(th), np.sin(th)])
    r, phi = np.hypot(x[:, 0], x[:, 1]), np.arctan2(x[:, 1], x[:, 0])
    along = (x @ u)[:, None] * u
    return {"rotation": np.stack([r * np.cos(phi + th), r * np.sin(phi + th)], axis=1),
            "reflection": 2 * along - x,
            "shear": np.stack([x[:, 0] + cfg.shear * x[:, 1], x[:, 1]], axis=1),
            "scaling": x * np.asarray(cfg.scale, np.float64),
            "projection": along}


def shoelace(p: np.ndarray) -> float:
    """Signed area of a closed polygon (first vertex repeated last)."""
    return 0.5 * float(np.sum(p[:-1, 0] * p[1:, 1] - p[1:, 0] * p[:-1, 1]))


def area_factors(cfg: Config) -> dict:
    """How each map scales signed area, from its geometry: rotations and shears keep area,
    a reflection flips orientation, axis scalings multiply by sx sy, a projection flattens."""
    sx, sy = cfg.scale
    return {"rotation": 1.0, "reflection": -1.0, "shear": 1.0, "scaling": sx * sy,
            "projection": 0.0}


def _map_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    names = list(r.maps)
    geo = geometric_images(cfg, r.points)
    norms = np.linalg.norm(r.points, axis=1)
    err = [np.max(np.linalg.norm(r.point_images[k] - geo[k], axis=1) / norms
                  / max(1.0, np.linalg.norm(r.maps[k], 2))) for k in names]
    g, w_g = tol.worst(err, names)
    F = _figure_points()
    area0 = shoelace(F)
    factors = area_factors(cfg)
    scale = max(1.0, max(np.abs(list(factors.values()))))
    a_err, w_a = tol.worst([abs(shoelace(r.shape_images[k]) / area0 - factors[k]) for k in names],
                           names)
    # the matrix is rounded to the run dtype (1 eps), then one 2-term dot product (2 eps); the
    # shoelace sum adds those vertex errors times max|F| over the vertices (random-walk sum),
    # relative to area(F), which cancels down from max|F|^2
    return [
        Claim.at_most("every matrix moves points as its geometry says: max ||M x - g(x)|| / "
                      "(||x|| ||M||)", g, tol.roundoff(4, eps), id="maps_match_geometry",
                      worst=w_g, reference="each map's geometric description in float64, "
                      "without its matrix (polar angle + theta; 2 (x.u) u - x; (x.u) u; "
                      "x + k y e1; (sx x, sy y))",
                      detail=f"{len(names)} maps x {cfg.num_pairs} random points"),
        Claim.at_most("each map scales signed area by its closed-form factor (rotation, shear "
                      "1; reflection -1; scaling sx sy; projection 0): max |area(M F) / "
                      "area(F) - factor|", a_err,
                      tol.roundoff(4, eps, n=len(F), power=0.5,
                                   scale=scale * float(np.abs(F).max()) ** 2 / abs(area0)),
                      id="area_scale_closed_form", worst=w_a,
                      reference="closed-form area factors of the geometry (not det M); the "
                      "letter F's area by the shoelace formula in float64",
                      detail=f"{len(F) - 1}-gon letter F mapped in the run dtype"),
    ]


def _product_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    p = r.product
    n = cfg.product_size
    A, B = p["A"], p["B"]
    scale = np.linalg.norm(A, 2) * np.linalg.norm(B, 2)
    inner, w_inner = tol.worst(np.abs(p["inner_products"] - A @ B) / scale)
    ab = p["alpha"] + p["beta"]
    closed = np.stack([np.stack([np.cos(ab), -np.sin(ab)], -1),
                       np.stack([np.sin(ab), np.cos(ab)], -1)], axis=1)
    rot, w_rot = tol.worst(np.abs(p["rotation_products"] - closed).max(axis=(1, 2)),
                           [f"alpha = {a:.2f}, beta = {b:.2f}"
                            for a, b in zip(p["alpha"], p["beta"], strict=True)])
    return [
        Claim.at_most("(AB)_ij = <row i of A, column j of B>: max |diff| vs NumPy float64 / "
                      "||A|| ||B||", inner, tol.roundoff(2, eps, n=n),
                      id="product_element_is_inner_product", worst=w_inner,
                      reference="NumPy matmul in float64", detail=f"{n}x{n} Gaussian A, B"),
        Claim.at_most("composing rotations adds angles: max |R(alpha) R(beta) - R(alpha + "
                      "beta)|", rot, tol.roundoff(6, eps), id="rotation_composition_adds_angles",
                      worst=w_rot, reference="closed form: cos, sin of alpha + beta in float64 "
                      "(the angle-addition formulas)",
                      detail=f"{len(ab)} angle pairs; entries rounded (2 eps) then a 2-term "
                             "dot product (2 eps)"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    return _map_claims(cfg, r, ctx.eps) + _product_claims(cfg, r, ctx.eps)


def metrics(cfg: Config, r: Results) -> dict:
    """The identities a learner should see (true by construction, so metrics, not claims)."""
    p = r.product
    ab, ba = p["A"] @ p["B"], p["B"] @ p["A"]
    Rz, Sh = r.maps["rotation"], r.maps["shear"]
    scale = np.linalg.norm(p["A"], 2) * np.linalg.norm(p["B"], 2)
    return {"translation_median_defect": float(np.median(r.translation_defects)),
            "matrix_map_max_linearity_defect": float(max(
                d.max() for d in r.linearity_defects.values())),
            "columns_minus_basis_images": float(max(
                np.abs(r.basis_images[k] - r.maps[k]).max() for k in r.maps)),
            "composition_gap": float((np.abs(p["ab_x"] - p["a_bx"]).max(axis=1)
                                      / p["x_norms"]).max() / scale),
            "noncommutativity": float(np.linalg.norm(ab - ba) / np.linalg.norm(ab)),
            "rotation_shear_commutator": float(np.linalg.norm(Rz @ Sh - Sh @ Rz))}


KEY_METRICS = ("translation_median_defect", "matrix_map_max_linearity_defect")


# ------------------------------------------------------------------------------ figures

def _draw_map(ax, M: np.ndarray, F: np.ndarray, color: str, image=None) -> None:
    """The grid and the letter F (faint) and their images under M, with M e1, M e2 as arrows."""
    g = np.linspace(-1, 1, 9)
    for v in g:
        line = np.stack([np.full_like(g, v), g], axis=1)
        for pts in (line, line[:, ::-1]):
            ax.plot(*(pts @ M.T).T, color="#c7c7c7", lw=0.8)
    ax.fill(*F.T, color="#c7c7c7", alpha=0.6)
    ax.fill(*(F @ M.T if image is None else image).T, color=color, alpha=0.7)
    for k in range(2):
        ax.annotate("", xy=M[:, k], xytext=(0, 0),
                    arrowprops=dict(arrowstyle="->", lw=2, color="black",
                                    linestyle="-" if k == 0 else "--"))
    ax.set_xlim(-1.8, 1.8)
    ax.set_ylim(-1.8, 1.8)
    ax.set_aspect("equal")


def maps_on_grid(cfg: Config, r: Results):
    """A linear map sends e1 and e2 to its columns, moves the whole grid with them and scales
    every area by one factor, and rotating then shearing differs from shearing then rotating."""
    maps, factors = r.maps, area_factors(cfg)
    fig, axes = plotting.figure("Each matrix moves the whole grid; its columns are where "
                                "$e_1$, $e_2$ go, and it scales area by a fixed factor",
                                ncols=3, nrows=2, width=3.3, height=3.4)
    axes = np.asarray(axes).ravel()
    F = _figure_points()
    for ax, (name, M) in zip(axes[:len(maps)], maps.items(), strict=True):
        _draw_map(ax, M, F, plotting.color(name), r.shape_images[name])
        ax.set_title(f"{name}: area × {factors[name]:g}\n"
                     f"[{M[0, 0]:.2f} {M[0, 1]:.2f}; {M[1, 0]:.2f} {M[1, 1]:.2f}]", fontsize=10)
    R, S = maps["rotation"], maps["shear"]
    ax = axes[len(maps)]
    ax.fill(*(F @ (S @ R).T).T, color=plotting.color("shear"), alpha=0.7,
            label="rotate, then shear")
    ax.fill(*(F @ (R @ S).T).T, color=plotting.color("rotation"), alpha=0.7,
            label="shear, then rotate")
    ax.fill(*F.T, color="#c7c7c7", alpha=0.6, label="original F")
    ax.set_xlim(-1.8, 1.8)
    ax.set_ylim(-1.8, 1.8)
    ax.set_aspect("equal")
    ax.set_title("order matters: $SR \\neq RS$", fontsize=10)
    ax.legend(loc="lower left", fontsize=9)
    axes[0].plot([], [], color="black", label="$M e_1$ (column 1)")
    axes[0].plot([], [], color="black", linestyle="--", label="$M e_2$ (column 2)")
    axes[0].legend(loc="lower left", fontsize=9)
    for ax in axes[3:]:
        ax.set_xlabel("$x_1$")
    for ax in axes[::3]:
        ax.set_ylabel("$x_2$")
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
    """The entry (i, j) of AB is the inner product of row i of A and column j of B: the row, the
    column and the entry framed in heat maps, with the first terms of the sum written out."""
    A, B = r.product["A"], r.product["B"]
    i, j = 1, 2
    C = A @ B
    fig, axes = plotting.figure(f"$(AB)_{{{i + 1}{j + 1}}}$ is row {i + 1} of $A$ times "
                                f"column {j + 1} of $B$, term by term",
                                ncols=3, width=3.4, height=3.9)
    for ax, (M, title, hl) in zip(axes, ((A, "$A$", ("row", i)), (B, "$B$", ("col", j)),
                                         (C, "$AB$", ("cell", (i, j)))), strict=True):
        ax.imshow(M, cmap="coolwarm", vmin=-np.abs(C).max(), vmax=np.abs(C).max())
        n = M.shape[0]
        _highlight(ax, *hl, n)
        for row in range(n):
            for c in range(n):
                ax.text(c, row, f"{M[row, c]:.1f}", ha="center", va="center", fontsize=9)
        ax.set_title(title)
        ax.set_xticks(range(n), [str(k + 1) for k in range(n)])
        ax.set_yticks(range(n), [str(k + 1) for k in range(n)])
        ax.set_xlabel("column")
        ax.grid(False)
    axes[0].set_ylabel("row")
    terms = " + ".join(f"({A[i, k]:.1f})({B[k, j]:.1f})" for k in range(min(2, A.shape[0])))
    axes[2].set_xlabel(f"column\n{terms} + ... = {C[i, j]:.2f}", fontsize=9)
    return fig


FIGURES = (maps_on_grid, product_element)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: the product checks'
    num_pairs random vectors of product_size entries, (AB) x and A (B x) in float64 on the
    host; the maps' images and linearity defects of num_pairs random points, kept for every
    map of the plane (about 250 bytes a pair)."""
    from mathml_jax import budget as b

    N, n = cfg.num_pairs, cfg.product_size
    return b.estimate(
        b.Part(N * n * (3 * target.itemsize + 4 * 8),
               ("linear_maps.num_pairs", "linear_maps.product_size"),
               "num_pairs vectors of product_size entries and their products, float64"),
        b.Part(250 * N, ("linear_maps.num_pairs",),
               "every map's images and linearity defects of num_pairs points"),
        seconds=N * (4 * n * n * b.S_PER_FLOP * 10 + 6 * 20 * b.S_PER_ELEMENT),
        rate=f"{1 / (120 * b.S_PER_ELEMENT):.2g} pairs/s through the maps")
