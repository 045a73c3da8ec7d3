"""``hessian``: finding critical points and classifying them by the Hessian.

For each two-variable test function, Newton's method on grad f = 0 runs from a dense grid of
starts (one ``vmap``); the converged points inside the box are de-duplicated and classified by
the eigenvalues of ``jax.hessian``: minimum, maximum, saddle, or degenerate (an eigenvalue
within ``zero_tol`` of zero: the second-order test is inconclusive). Checked:

1. the number and types of critical points equal the known ones (literature values, stored
   with the functions in ``mathml_jax.optimization.test_functions``);
2. the classification agrees with independent checks: a central-difference Hessian of f's
   values (float64, no autodiff), f's values along the eigenvector directions, and the
   roadmap's determinant test D = f_xx f_yy - f_xy^2 wherever it decides; at the degenerate
   points f's values on a small circle decide what the Hessian cannot;
3. in d >= 100 variables the extreme Hessian eigenvalues from Lanczos on Hessian-vector
   products (forward-over-reverse, no matrix) equal those of the full ``jax.hessian`` and the
   closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from experiments._schema import ConfigError, param
from mathml_jax import Claim, Report, plotting
from mathml_jax.optimization.critical_points import (
    CONVERGED,
    DEGENERATE,
    MAXIMUM,
    MINIMUM,
    SADDLE,
    classify_points,
    determinant_test_points,
    hessian_eigenvalues,
    lanczos_extreme_eigenvalues,
    newton_from_starts,
)
from mathml_jax.optimization.test_functions import (
    TEST_FUNCTIONS,
    quadratic_plus_cosines,
    switched,
    values_at,
)
from mathml_jax.runtime import RunContext
from mathml_jax.status import Kind
from mathml_jax.timing import timed

SECTION = "Multivariable calculus / Higher-order derivatives: Hessian, minima, maxima, saddles"

FUNCTIONS = ("himmelblau", "saddle", "monkey_saddle", "quartic", "double_well")
SWITCH = switched(FUNCTIONS)  # one compiled kernel serves every test function
TYPE_MARKERS = {"minimum": ("o", "tab:blue"), "maximum": ("^", "tab:red"),
                "saddle": ("X", "tab:orange"), "degenerate": ("D", "tab:purple")}


@dataclass
class Config:
    functions: list[str] = param(list(FUNCTIONS), choices=FUNCTIONS,
                                 help="two-variable test functions to analyse")
    grid: int = param(60, ge=4, le=2000, help="Newton starts per axis (grid x grid starts)")
    newton_steps: int = param(60, ge=1, le=10_000)
    xtol: float = param(1e-5, gt=0, le=1, help="Newton converged: last step <= xtol (1+|x|)")
    zero_tol: float = param(1e-3, gt=0, help="an eigenvalue with |lambda| <= this counts as 0")
    dedup_tol: float = param(1e-2, gt=0, help="found points closer than this are one point")
    match_tol: float = param(1e-3, gt=0, help="distance to a known critical point")
    fd_step: float = param(1e-3, gt=0, le=0.1, help="step of the finite-difference Hessian")
    probe_radius: float = param(1e-2, gt=0, le=1, help="radius of the value probes")
    dim: int = param(200, ge=100, le=5000, help="dimension of the high-dimensional case")
    lanczos_steps: int = param(60, ge=2, le=5000, help="Hessian-vector products used")
    eig_tol: float = param(1e-4, gt=0, help="|Lanczos - full| extreme eigenvalues, relative "
                           "to the spectral radius")

    def __post_init__(self):
        if self.lanczos_steps > self.dim:
            raise ConfigError("hessian.lanczos_steps", self.lanczos_steps,
                              f"it must be at most hessian.dim={self.dim}")


def _dedupe(points, grad_norms, tol):
    """Greedy clustering: each found point joins the first representative within ``tol``;
    the representative is the member with the smallest gradient norm."""
    reps, members = [], []
    for i in np.argsort(grad_norms):
        p = points[i]
        for j, r in enumerate(reps):
            if np.linalg.norm(p - r) < tol:
                members[j].append(i)
                break
        else:
            reps.append(p)
            members.append([i])
    return np.array(reps).reshape(-1, points.shape[1]), members


def _fd_stencil(x, h):
    """The 4 d^2 points of the central-difference Hessian at x (d,)."""
    d = x.size
    E = np.eye(d) * h
    return np.array([x + si * E[i] + sj * E[j] for i in range(d) for j in range(d)
                     for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1))])


def _fd_hessian_from_values(vals, d, h):
    """Central second differences (f(++) - f(+-) - f(-+) + f(--)) / (4 h^2)."""
    v = vals.reshape(d, d, 4)
    return (v[..., 0] - v[..., 1] - v[..., 2] + v[..., 3]) / (4 * h * h)


def _values64(index, pts, chunk=1024):
    """f_index at every row of ``pts`` in float64 (one vmap; rows padded to a multiple of
    ``chunk`` so every function shares one compilation): the independent checks' values."""
    n = len(pts)
    padded = np.zeros((-(-max(n, 1) // chunk) * chunk, 2))
    padded[:n] = pts
    with jax.enable_x64(True):
        out = values_at(jnp.asarray(padded), jnp.asarray(index, jnp.int32), f=SWITCH)
        return np.asarray(out, np.float64)[:n]


def _circle(x, t, n=64):
    """n points on the circle of radius t around x (2,)."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.asarray(x, np.float64) + t * np.stack([np.cos(ang), np.sin(ang)], 1)


def _type_from_values(diffs, tol=0.0):
    """Minimum if f rises in every direction, maximum if it falls in every one, else saddle."""
    if np.all(diffs > tol):
        return "minimum"
    if np.all(diffs < -tol):
        return "maximum"
    return "saddle"


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("hessian", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    found_all, basins = {}, {}
    det_agree, det_decided, fd_agree, fd_total, dir_agree, dir_total = 0, 0, 0, 0, 0, 0
    fd_err = 0.0

    for name in cfg.functions:
        tf = TEST_FUNCTIONS[name]
        # an even grid never lands exactly on an axis, where some Hessians are singular
        n = cfg.grid + (cfg.grid % 2)
        gx, gy = np.linspace(*tf.xlim, n), np.linspace(*tf.ylim, n)
        X, Y = np.meshgrid(gx, gy)
        starts = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1), dtype)
        radius = 100.0 * max(map(abs, (*tf.xlim, *tf.ylim)))
        index = jnp.asarray(FUNCTIONS.index(name), jnp.int32)
        res, t = timed(newton_from_starts, starts, index, jnp.asarray(radius, dtype),
                       jnp.asarray(cfg.xtol, dtype), f=SWITCH, steps=cfg.newton_steps)
        report.add_timing(f"newton_{name}", t)
        x = np.asarray(res.x, np.float64)
        ok = np.asarray(res.status) == CONVERGED
        inbox = ((x[:, 0] >= tf.xlim[0]) & (x[:, 0] <= tf.xlim[1])
                 & (x[:, 1] >= tf.ylim[0]) & (x[:, 1] <= tf.ylim[1]))
        use = ok & inbox
        pts, members = _dedupe(x[use], np.asarray(res.grad_norm)[use], cfg.dedup_tol)
        codes, lam, H = classify_points(jnp.asarray(pts, dtype), index,
                                        jnp.asarray(cfg.zero_tol, dtype), f=SWITCH)
        codes, lam, H = np.asarray(codes), np.asarray(lam, np.float64), np.asarray(H)
        types = Kind.words(codes)
        report.metric(f"{name}_converged_starts", int(ok.sum()))
        report.metric(f"{name}_critical_points", len(pts), key=name == "himmelblau")

        # basin map: which critical point each start reaches (-1: none in the box)
        label = -np.ones(len(x), int)
        idx_use = np.nonzero(use)[0]
        for j, mem in enumerate(members):
            label[idx_use[mem]] = j
        basins[name] = (gx, gy, label.reshape(n, n))

        for j, p in enumerate(pts):
            report.metric(f"{name}_point_{j}",
                          f"{types[j]} at ({p[0]:.6g}, {p[1]:.6g}): f = "
                          f"{float(tf.fn(jnp.asarray(p))):.6g}, Hessian eigenvalues "
                          f"({lam[j, 0]:.6g}, {lam[j, 1]:.6g})")
        report.add_series(f"critical_points_{name}", points=pts, eigenvalues=lam,
                          types=np.array(types), basin=label.reshape(n, n), x=gx, y=gy)

        # 1. against the known critical points
        known = tf.critical_points
        matched = []
        for kp, ktype in known:
            dist = np.linalg.norm(pts - np.asarray(kp), axis=1) if len(pts) else np.array([np.inf])
            j = int(np.argmin(dist))
            matched.append(dist[j] <= cfg.match_tol and types[j] == ktype)
        counts = {t_: types.count(t_) for t_ in Kind.words() if t_ in types}
        kcounts = {t_: [k for _, k in known].count(t_) for t_ in Kind.words()
                   if any(k == t_ for _, k in known)}
        report.claim(Claim.holds(
            f"{name}: found {len(pts)} critical points "
            f"({', '.join(f'{v} {k}' for k, v in counts.items())}) = the known "
            f"{len(known)}, each at its known place with its known type",
            len(pts) == len(known) and all(matched) and counts == kcounts,
            measured=len(pts),
            detail=f"{n}x{n} Newton starts; match within {cfg.match_tol:g}"))

        # 2. independent checks of each classification, all f evaluations in one float64 call
        t_, dcodes = cfg.probe_radius, np.asarray(determinant_test_points(
            jnp.asarray(H), jnp.asarray(cfg.zero_tol ** 2, H.dtype)))
        eigvecs = [np.linalg.eigh(H[j].astype(np.float64))[1] for j in range(len(pts))]
        groups = [(_fd_stencil(p, cfg.fd_step), p[None] + t_ * eigvecs[j].T,
                   p[None] - t_ * eigvecs[j].T, p[None], _circle(p, t_))
                  for j, p in enumerate(pts)]
        sizes = [len(g) for g in groups[0]] if groups else []
        vals = _values64(index, np.concatenate([np.concatenate(g) for g in groups])
                         ) if groups else np.zeros(0)
        vals = vals.reshape(len(pts), -1)
        for j, p in enumerate(pts):
            v_fd, v_plus, v_minus, v0, v_circ = np.split(vals[j], np.cumsum(sizes)[:-1])
            Hfd = _fd_hessian_from_values(v_fd, 2, cfg.fd_step)
            fd_err = max(fd_err, float(np.max(np.abs(Hfd - H[j]))
                                       / max(1.0, np.max(np.abs(Hfd)))))
            lam_fd = np.linalg.eigvalsh(Hfd)
            if codes[j] != DEGENERATE:
                fd_total += 1
                pos, neg = np.any(lam_fd > cfg.zero_tol), np.any(lam_fd < -cfg.zero_tol)
                fd_code = SADDLE if pos and neg else (MINIMUM if pos else MAXIMUM)
                fd_agree += int(fd_code == codes[j] and np.all(np.abs(lam_fd) > cfg.zero_tol))
                # values along the eigenvectors: f(x + t v) + f(x - t v) - 2 f(x) ~ lambda t^2
                curv = v_plus + v_minus - 2 * v0[0]
                dir_total += 1
                dir_agree += int(np.all(np.sign(curv) == np.sign(lam[j])))
            if dcodes[j] != DEGENERATE:
                det_decided += 1
                det_agree += int(dcodes[j] == codes[j])
            if codes[j] == DEGENERATE:
                vtype = _type_from_values(v_circ - v0[0])
                ktype = {"quartic": "minimum", "monkey_saddle": "saddle"}.get(name)
                report.claim(Claim.holds(
                    f"{name} at ({p[0]:.2g}, {p[1]:.2g}): Hessian test inconclusive (eigenvalues "
                    f"within {cfg.zero_tol:g} of 0); f on a circle of radius "
                    f"{cfg.probe_radius:g} says {vtype}",
                    ktype is None or vtype == ktype, measured=float(np.max(np.abs(lam[j]))),
                    detail=f"64 directions; known: {ktype}"))
        found_all[name] = (tf, pts, types)

    report.claim(Claim.holds(
        f"every non-degenerate classification agrees with the finite-difference Hessian "
        f"({fd_agree}/{fd_total})", fd_agree == fd_total and fd_total > 0, measured=fd_agree,
        detail=f"central differences of f's values, step {cfg.fd_step:g}, float64"))
    report.claim(Claim.at_most(
        "jax.hessian = finite-difference Hessian at every critical point (max relative error)",
        fd_err, 1e3 * eps + 10 * cfg.fd_step ** 2,
        detail="tolerance 1e3 eps + 10 h^2 (rounding of the point + O(h^2) truncation)"))
    report.claim(Claim.holds(
        f"f(x + t v) + f(x - t v) - 2 f(x) has the sign of each Hessian eigenvalue along its "
        f"eigenvector v ({dir_agree}/{dir_total} points)", dir_agree == dir_total,
        measured=dir_agree, detail=f"t = {cfg.probe_radius:g}, float64"))
    report.claim(Claim.holds(
        f"determinant test D = f_xx f_yy - f_xy^2 agrees with the eigenvalues wherever it "
        f"decides ({det_agree}/{det_decided})", det_agree == det_decided and det_decided > 0,
        measured=det_agree, detail=f"|D| <= zero_tol^2 = {cfg.zero_tol ** 2:g}: undecided"))

    # 3. high dimension: full Hessian against Hessian-vector products (Lanczos)
    k_mat, k_lan = jax.random.split(ctx.key)
    d = cfg.dim
    M = np.asarray(jax.random.normal(k_mat, (d, d), jnp.float32), np.float64)
    A64 = (M + M.T) / np.sqrt(8 * d) + 0.5 * np.eye(d)  # spectrum ~ semicircle on [-0.5, 1.5]
    ref = np.linalg.eigvalsh(A64 - np.eye(d))  # closed form: Hessian at 0 is A - I
    A = jnp.asarray(A64, dtype)
    x0 = jnp.zeros(d, dtype)
    g0 = float(jnp.linalg.norm(jax.grad(quadratic_plus_cosines)(x0, A)))
    report.claim(Claim.at_most(f"d={d}: the origin is a critical point, ||grad f(0)||", g0,
                               10 * eps))
    lam_full, t = timed(hessian_eigenvalues, x0, A, f=quadratic_plus_cosines)
    report.add_timing("full_hessian", t)
    lam_full = np.asarray(lam_full, np.float64)
    lan, t = timed(lanczos_extreme_eigenvalues, x0, A, k_lan, f=quadratic_plus_cosines,
                   num_steps=cfg.lanczos_steps)
    report.add_timing("lanczos", t)
    ext = np.asarray(lan.extremes, np.float64)
    scale = np.max(np.abs(ref))
    for which, i, full_v, ref_v in (("smallest", 0, lam_full[0], ref[0]),
                                    ("largest", 1, lam_full[-1], ref[-1])):
        report.claim(Claim.close(
            f"d={d}: {which} Hessian eigenvalue, Lanczos on {cfg.lanczos_steps} HVPs = full "
            "jax.hessian", ext[i], full_v, tol=cfg.eig_tol * scale,
            detail=f"tol {cfg.eig_tol:g} x spectral radius"))
        report.claim(Claim.close(f"d={d}: {which} eigenvalue of the full jax.hessian = closed form "
                                 "(NumPy eigvalsh of A - I, float64)", full_v, ref_v,
                                 tol=100 * d * eps * scale))
        report.metric(f"lanczos_{which}", float(ext[i]), key=True)
    report.claim(Claim.holds(f"d={d}: the origin is a saddle (eigenvalues of both signs)",
                             ext[0] < -cfg.zero_tol and ext[1] > cfg.zero_tol))
    a, b = np.asarray(lan.alphas, np.float64), np.asarray(lan.betas, np.float64)
    ms = np.arange(2, cfg.lanczos_steps + 1)
    ritz = [scipy.linalg.eigh_tridiagonal(a[:m], b[: m - 1], eigvals_only=True) for m in ms]
    err_min = np.array([abs(r[0] - ref[0]) for r in ritz])
    err_max = np.array([abs(r[-1] - ref[-1]) for r in ritz])
    report.add_series("lanczos", steps=ms, error_min=err_min, error_max=err_max,
                      full_eigenvalues=lam_full, reference=ref)

    _figures(report, cfg, found_all, basins, lam_full, ext, ms, err_min, err_max, d)
    return report


def _figures(report, cfg, found_all, basins, lam_full, ext, ms, err_min, err_max, d):
    names = list(found_all)
    ncols = min(3, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plotting.figure("Critical points found by Newton's method, typed by the Hessian",
                                ncols=ncols, nrows=nrows, width=4.6, height=4.4, squeeze=False)
    axes = axes.ravel()
    for ax, name in zip(axes, names, strict=False):
        tf, pts, types = found_all[name]
        index = FUNCTIONS.index(name)

        def grid_values(X, Y, i=index):
            grid = np.stack([np.ravel(X), np.ravel(Y)], axis=1)
            return _values64(i, grid, chunk=4096).reshape(np.shape(X))

        plotting.contour_with_trajectories(ax, grid_values, tf.xlim, tf.ylim, levels=25,
                                           log_levels=name == "himmelblau", resolution=120)
        seen = set()
        for p, t in zip(pts, types, strict=True):
            m, c = TYPE_MARKERS[t]
            ax.plot(p[0], p[1], m, color=c, markersize=9, markeredgecolor="black",
                    label=t if t not in seen else None)
            seen.add(t)
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="upper right", fontsize=8)
    for ax in axes[len(names):]:
        ax.axis("off")
    report.add_figure("critical_points", fig)

    show = [n for n in ("himmelblau", "double_well") if n in basins]
    if show:
        fig, axes = plotting.figure("Basins of Newton's method: which critical point each start "
                                    "reaches", ncols=len(show), width=5.2, height=4.8,
                                    squeeze=False)
        for ax, name in zip(axes.ravel(), show, strict=True):
            gx, gy, lab = basins[name]
            tf, pts, types = found_all[name]
            cmap = plotting.plt.get_cmap("tab10", max(len(pts), 1))
            img = np.ma.masked_less(lab, 0)
            ax.pcolormesh(gx, gy, img, cmap=cmap, vmin=-0.5, vmax=len(pts) - 0.5,
                          shading="nearest")
            for j, (p, t) in enumerate(zip(pts, types, strict=True)):
                m, _ = TYPE_MARKERS[t]
                ax.plot(p[0], p[1], m, color=cmap(j), markersize=10, markeredgecolor="black")
            ax.set_title(f"{name.replace('_', ' ')} (marker = type; white: no point)")
            ax.set_xlabel("x start")
            ax.set_ylabel("y start")
            ax.set_aspect("equal")
        report.add_figure("basins", fig)

    fig, (ax1, ax2) = plotting.figure(f"d={d}: Hessian-vector products find the extreme "
                                      "eigenvalues without the matrix", ncols=2)
    ax1.hist(lam_full, bins=40, color=plotting.color("full hessian"), alpha=0.7,
             label="full jax.hessian spectrum")
    for v, lbl in ((ext[0], "Lanczos lambda_min"), (ext[1], "Lanczos lambda_max")):
        ax1.axvline(v, color="black", linestyle="--", linewidth=1.2)
        ax1.annotate(lbl, (v, ax1.get_ylim()[1] * 0.9), fontsize=8, ha="center")
    ax1.set_xlabel("eigenvalue")
    ax1.set_ylabel("count")
    ax1.legend(loc="upper center")
    floor = 1e-12
    ax2.semilogy(ms, np.maximum(err_min, floor), color=plotting.color("lambda_min"),
                 label="|lambda_min error|")
    ax2.semilogy(ms, np.maximum(err_max, floor), color=plotting.color("lambda_max"),
                 label="|lambda_max error|")
    ax2.set_xlabel("Lanczos steps (Hessian-vector products)")
    ax2.set_ylabel("error against the closed form")
    ax2.legend()
    report.add_figure("hvp_spectrum", fig)
