"""``hessian``: critical points found by Newton's method and classified by the Hessian.

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
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
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
from mathml_jax.runtime import RunContext, in_float64
from mathml_jax.sharding import device_mesh, timed_rows
from mathml_jax.status import Kind

SECTION = "Multivariable calculus / Higher-order derivatives: Hessian, minima, maxima, saddles"

FUNCTIONS = ("himmelblau", "saddle", "monkey_saddle", "quartic", "double_well")
SWITCH = switched(FUNCTIONS)  # one compiled kernel serves every test function
TYPE_MARKERS = {"minimum": "o", "maximum": "^", "saddle": "X", "degenerate": "D"}
TITLES = {"himmelblau": "Himmelblau", "saddle": "saddle $x^2 - y^2$",
          "monkey_saddle": "monkey saddle $x^3 - 3xy^2$", "quartic": "quartic $x^4 + y^4$",
          "double_well": "double well $(x^2 - 1)^2 + y^2$"}
# what the degenerate points really are (the Hessian test cannot tell; f's values can)
TRUE_TYPE_AT_DEGENERATE = {"quartic": "minimum", "monkey_saddle": "saddle"}
CIRCLE_POINTS = 64      # value probes on the circle around a degenerate point
CONTOUR_RESOLUTION = 120  # grid of f's values behind the critical points figure
EIG_K = 4  # eigenvalue round-off: EIG_K sqrt(d) eps x spectral radius


@dataclass
class Config:
    functions: list[str] = param(list(FUNCTIONS), choices=FUNCTIONS,
                                 help="two-variable test functions to analyse")
    grid: int = param(60, ge=4, le=2000, help="Newton starts per axis (grid x grid starts)")
    newton_steps: int = param(60, ge=1, le=10_000)
    xtol: float = param(1e-5, gt=0, le=1, help="Newton converged: last step <= xtol (1+|x|)")
    zero_tol: float = param(1e-3, gt=0, le=0.1,
                            help="an eigenvalue with |lambda| <= this counts as 0")
    dedup_tol: float = param(1e-2, gt=0, le=0.5, help="found points closer than this are one point")
    match_tol: float = param(1e-3, gt=0, le=0.1, tolerance=True,
                             help="distance to a known critical point")
    fd_step: float = param(1e-3, gt=0, le=0.1, help="step of the finite-difference Hessian")
    probe_radius: float = param(1e-2, gt=0, le=1, help="radius of the value probes")
    dim: int = param(200, ge=100, le=5000, help="dimension of the high-dimensional case")
    lanczos_steps: int = param(60, ge=2, le=5000, help="Hessian-vector products used")

    def __post_init__(self):
        if self.lanczos_steps > self.dim:
            raise ConfigError("hessian.lanczos_steps", self.lanczos_steps,
                              f"it must be at most hessian.dim={self.dim}")


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    # name -> x, y (n,): the start grid's axes; basin (n, n): index of the critical point each
    # start reaches (-1: none in the box); converged_starts; points (k, 2); codes (k,) (Kind);
    # eigenvalues (k, 2); hessians (k, 2, 2) (jax.hessian, run dtype); det_codes_fd (k,) (the
    # determinant test on fd_hessians); values (k,) f at the points; fd_hessians (k, 2, 2) (central
    # differences of f's values); curvature (k, 2) f(x + t v) + f(x - t v) - 2 f(x) along each
    # eigenvector v; circle (k, 64) f on the circle of radius t minus f(x); contour (R, R) f on
    # the drawing grid. All f values in float64.
    functions: dict
    grad_norm_origin: float      # ||grad f(0)|| of the d-dimensional function
    full_eigenvalues: np.ndarray  # (d,) eigenvalues of the full jax.hessian at 0
    reference: np.ndarray        # (d,) closed form: eigenvalues of A - I (NumPy, float64, of
                                 # the A the kernels were given, rounded to the run's dtype)
    lanczos_extremes: np.ndarray  # (2,) Lanczos lambda_min, lambda_max
    eps: float                   # unit round-off of the run's dtype (the claims' bound)
    lanczos_steps: np.ndarray    # (m,) steps 2..lanczos_steps
    error_min: np.ndarray        # (m,) |Ritz lambda_min after j steps - closed form|
    error_max: np.ndarray        # (m,) the same for lambda_max


# ------------------------------------------------------------------------------ compute

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
    out = in_float64(values_at, padded, np.asarray(index, np.int32), f=SWITCH)
    return np.asarray(out, np.float64)[:n]


def _circle(x, t, n=CIRCLE_POINTS):
    """n points on the circle of radius t around x (2,)."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.asarray(x, np.float64) + t * np.stack([np.cos(ang), np.sin(ang)], 1)


def _newton_points(cfg: Config, ctx: RunContext, name: str) -> dict:
    """Newton from the grid of starts: the de-duplicated critical points in the box and the
    basin map (which point each start reaches)."""
    tf, dtype = TEST_FUNCTIONS[name], ctx.dtype
    # an even grid never lands exactly on an axis, where some Hessians are singular
    n = cfg.grid + (cfg.grid % 2)
    gx, gy = np.linspace(*tf.xlim, n), np.linspace(*tf.ylim, n)
    X, Y = np.meshgrid(gx, gy)
    starts = jnp.asarray(np.stack([X.ravel(), Y.ravel()], axis=1), dtype)
    radius = 100.0 * max(map(abs, (*tf.xlim, *tf.ylim)))
    index = jnp.asarray(FUNCTIONS.index(name), jnp.int32)
    res = timed_rows(ctx.timer, f"newton_{name}", newton_from_starts, starts, index,
                     jnp.asarray(radius, dtype), jnp.asarray(cfg.xtol, dtype),
                     mesh=device_mesh(ctx.runtime.platform), f=SWITCH, steps=cfg.newton_steps)
    x = np.asarray(res.x, np.float64)
    ok = np.asarray(res.status) == CONVERGED
    inbox = ((x[:, 0] >= tf.xlim[0]) & (x[:, 0] <= tf.xlim[1])
             & (x[:, 1] >= tf.ylim[0]) & (x[:, 1] <= tf.ylim[1]))
    use = ok & inbox
    pts, members = _dedupe(x[use], np.asarray(res.grad_norm)[use], cfg.dedup_tol)
    label = -np.ones(len(x), int)
    idx_use = np.nonzero(use)[0]
    for j, mem in enumerate(members):
        label[idx_use[mem]] = j
    return {"x": gx, "y": gy, "basin": label.reshape(n, n), "converged_starts": int(ok.sum()),
            "points": pts}


def _classify(cfg: Config, ctx: RunContext, name: str, pts: np.ndarray) -> dict:
    """Types, eigenvalues and Hessians of ``jax.hessian`` at the points (the eigenvalue test)."""
    dtype, index = ctx.dtype, jnp.asarray(FUNCTIONS.index(name), jnp.int32)
    codes, lam, H = timed_rows(ctx.timer, f"classify_{name}", classify_points,
                               jnp.asarray(pts, dtype), index, jnp.asarray(cfg.zero_tol, dtype),
                               mesh=device_mesh(ctx.runtime.platform), f=SWITCH)
    return {"codes": np.asarray(codes, np.int32), "eigenvalues": np.asarray(lam, np.float64),
            "hessians": np.asarray(H, np.float64)}


def _determinant_test(cfg: Config, ctx: RunContext, fd_hessians: np.ndarray) -> np.ndarray:
    """The roadmap's determinant test D = f_xx f_yy - f_xy^2 (the JAX kernel) on the
    finite-difference Hessians: a second route to the types, sharing no derivative with the
    eigenvalue test of ``jax.hessian``."""
    H = jnp.asarray(fd_hessians.reshape(-1, 2, 2), ctx.dtype)
    return np.asarray(determinant_test_points(H, jnp.asarray(cfg.zero_tol ** 2, ctx.dtype)),
                      np.int32)


def _value_probes(cfg: Config, name: str, pts: np.ndarray, hessians: np.ndarray) -> dict:
    """f's values (float64, one call) around each point: the central-difference Hessian, the
    second differences along the Hessian's eigenvectors and f on a small circle."""
    t, h, k = cfg.probe_radius, cfg.fd_step, len(pts)
    eigvecs = [np.linalg.eigh(hessians[j])[1] for j in range(k)]
    groups = [(_fd_stencil(p, h), p[None] + t * eigvecs[j].T, p[None] - t * eigvecs[j].T,
               p[None], _circle(p, t)) for j, p in enumerate(pts)]
    sizes = [16, 2, 2, 1, CIRCLE_POINTS]
    flat = (np.concatenate([np.concatenate(g) for g in groups]) if groups
            else np.zeros((0, 2)))
    vals = _values64(FUNCTIONS.index(name), flat).reshape(k, sum(sizes))
    fd, curv, f0, circ = np.zeros((k, 2, 2)), np.zeros((k, 2)), np.zeros(k), \
        np.zeros((k, CIRCLE_POINTS))
    for j in range(k):
        v_fd, v_plus, v_minus, v0, v_circ = np.split(vals[j], np.cumsum(sizes)[:-1])
        fd[j] = _fd_hessian_from_values(v_fd, 2, h)
        curv[j] = v_plus + v_minus - 2 * v0[0]
        f0[j], circ[j] = v0[0], v_circ - v0[0]
    return {"fd_hessians": fd, "curvature": curv, "values": f0, "circle": circ}


def _contour_grid(name: str) -> np.ndarray:
    """f on the grid the critical points figure draws its level sets on (float64)."""
    tf = TEST_FUNCTIONS[name]
    X, Y = np.meshgrid(np.linspace(*tf.xlim, CONTOUR_RESOLUTION),
                       np.linspace(*tf.ylim, CONTOUR_RESOLUTION))
    grid = np.stack([X.ravel(), Y.ravel()], axis=1)
    return _values64(FUNCTIONS.index(name), grid, chunk=4096).reshape(X.shape)


def _high_dim(cfg: Config, ctx: RunContext) -> dict:
    """The d-dimensional function: full Hessian spectrum, Lanczos on HVPs, closed form."""
    k_mat, k_lan = jax.random.split(ctx.key)
    d, dtype = cfg.dim, ctx.dtype
    M = np.asarray(jax.random.normal(k_mat, (d, d), dtype), np.float64)
    A64 = (M + M.T) / np.sqrt(8 * d) + 0.5 * np.eye(d)  # spectrum ~ semicircle on [-0.5, 1.5]
    A, x0 = jnp.asarray(A64, dtype), jnp.zeros(d, dtype)
    # closed form: the Hessian at 0 is A - I, for the A the kernels see (rounded to dtype)
    ref = np.linalg.eigvalsh(np.asarray(A, np.float64) - np.eye(d))
    g0 = float(jnp.linalg.norm(jax.grad(quadratic_plus_cosines)(x0, A)))
    lam_full = ctx.timed("full_hessian", hessian_eigenvalues, x0, A, f=quadratic_plus_cosines)
    lan = ctx.timed("lanczos", lanczos_extreme_eigenvalues, x0, A, k_lan,
                    f=quadratic_plus_cosines, num_steps=cfg.lanczos_steps)
    a, b = np.asarray(lan.alphas, np.float64), np.asarray(lan.betas, np.float64)
    ms = np.arange(2, cfg.lanczos_steps + 1)
    ritz = [scipy.linalg.eigh_tridiagonal(a[:m], b[: m - 1], eigvals_only=True) for m in ms]
    return {"grad_norm_origin": g0, "full_eigenvalues": np.asarray(lam_full, np.float64),
            "reference": ref, "lanczos_extremes": np.asarray(lan.extremes, np.float64),
            "lanczos_steps": ms, "error_min": np.array([abs(r[0] - ref[0]) for r in ritz]),
            "error_max": np.array([abs(r[-1] - ref[-1]) for r in ritz])}


def compute(cfg: Config, ctx: RunContext) -> Results:
    functions = {}
    for i, name in enumerate(cfg.functions):
        out = _newton_points(cfg, ctx, name)
        out.update(_classify(cfg, ctx, name, out["points"]))
        out.update(_value_probes(cfg, name, out["points"], out["hessians"]))
        out["det_codes_fd"] = _determinant_test(cfg, ctx, out["fd_hessians"])
        out["contour"] = _contour_grid(name)
        functions[name] = out
        ctx.progress("hessian: test functions", i + 1, len(cfg.functions))
    return Results(functions=functions, eps=float(ctx.eps), **_high_dim(cfg, ctx))


# ------------------------------------------------------------------------------ claims

def _type_from_values(diffs, tol=0.0):
    """Minimum if f rises in every direction, maximum if it falls in every one, else saddle."""
    if np.all(diffs > tol):
        return "minimum"
    if np.all(diffs < -tol):
        return "maximum"
    return "saddle"


def _type_counts(types) -> dict:
    return {t: list(types).count(t) for t in Kind.words() if t in types}


def _known_points_claim(cfg: Config, name: str, f: dict) -> Claim:
    """Found = known: as many points, each known point matched by a found one of its type."""
    known, pts, types = TEST_FUNCTIONS[name].critical_points, f["points"], Kind.words(f["codes"])
    dists, matched = [], []
    for kp, ktype in known:
        dist = np.linalg.norm(pts - np.asarray(kp), axis=1) if len(pts) else np.array([np.inf])
        j = int(np.argmin(dist))
        dists.append(float(dist[j]))
        matched.append(bool(len(pts)) and dist[j] <= cfg.match_tol and types[j] == ktype)
    counts, kcounts = _type_counts(types), _type_counts([k for _, k in known])
    _, where = tol.worst(dists, [f"known {k} at ({p[0]:g}, {p[1]:g})" for p, k in known])
    n = len(f["x"])
    return Claim.holds(
        f"{name}: the critical points found are the known ones in number, each at its known "
        "place with its known type", len(pts) == len(known) and all(matched) and
        counts == kcounts, measured=len(pts), id=f"{name}_known_critical_points",
        reference="the literature's critical points (mathml_jax.optimization.test_functions)",
        worst=where, detail=f"found {len(pts)} ({', '.join(f'{v} {k}' for k, v in counts.items())}"
        f"), known {len(known)}; {n}x{n} Newton starts; match within {cfg.match_tol:g}")


def _degenerate_claim(cfg: Config, name: str, f: dict) -> Claim:
    """At the degenerate points the Hessian says nothing; f on a small circle decides."""
    truth = TRUE_TYPE_AT_DEGENERATE[name]
    deg = np.nonzero(f["codes"] == DEGENERATE)[0]
    vtypes = [_type_from_values(f["circle"][j]) for j in deg]
    where = ", ".join(f"({f['points'][j][0]:.2g}, {f['points'][j][1]:.2g}): {v}"
                      for j, v in zip(deg, vtypes, strict=True))
    return Claim.holds(
        f"{name}: the Hessian test is inconclusive at its critical point, and f on a small "
        f"circle around it shows the true type ({truth})",
        len(deg) > 0 and all(v == truth for v in vtypes),
        measured=float(np.max(np.abs(f["eigenvalues"][deg]))) if len(deg) else float("nan"),
        id=f"{name}_degenerate_decided_by_values", worst=where or "no degenerate point found",
        reference=f"f's values in float64 on {CIRCLE_POINTS} points of the circle (no "
        "derivatives); the known type from the literature",
        detail=f"measured: largest |eigenvalue| (degenerate: <= {cfg.zero_tol:g}); "
        f"radius {cfg.probe_radius:g}")


def _point_checks(cfg: Config, r: Results) -> dict:
    """Per critical point of every function: the independent checks' verdicts."""
    out = {k: [] for k in ("label", "fd_err", "fd_ok", "dir_ok")}
    for name, f in r.functions.items():
        for j, p in enumerate(f["points"]):
            code, H, Hfd = int(f["codes"][j]), f["hessians"][j], f["fd_hessians"][j]
            out["label"].append(f"{name} {Kind(code).word} at ({p[0]:.3g}, {p[1]:.3g})")
            out["fd_err"].append(float(np.max(np.abs(Hfd - H)) / max(1.0, np.max(np.abs(Hfd)))))
            lam_fd = np.linalg.eigvalsh(Hfd)
            pos, neg = np.any(lam_fd > cfg.zero_tol), np.any(lam_fd < -cfg.zero_tol)
            fd_code = SADDLE if pos and neg else (MINIMUM if pos else MAXIMUM)
            decided = code != DEGENERATE
            out["fd_ok"].append(None if not decided else bool(
                fd_code == code and np.all(np.abs(lam_fd) > cfg.zero_tol)))
            # along the eigenvectors: f(x + t v) + f(x - t v) - 2 f(x) ~ lambda t^2
            out["dir_ok"].append(None if not decided else bool(
                np.all(np.sign(f["curvature"][j]) == np.sign(f["eigenvalues"][j]))))
    return out


def _agreement_claim(checks: dict, key: str, statement: str, **about) -> Claim:
    """A yes/no check over the points it applies to (None: it does not apply)."""
    verdicts = [(lbl, ok) for lbl, ok in zip(checks["label"], checks[key], strict=True)
                if ok is not None]
    agree = sum(ok for _, ok in verdicts)
    bad = [lbl for lbl, ok in verdicts if not ok]
    return Claim.holds(statement, agree == len(verdicts) and len(verdicts) > 0,
                       measured=agree, worst=bad[0] if bad else "",
                       detail=f"{agree}/{len(verdicts)} points; " + about.pop("detail"),
                       **about)


def _independent_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    checks = _point_checks(cfg, r)
    h = cfg.fd_step
    fd_err, where = tol.worst(checks["fd_err"], checks["label"]) if checks["label"] else \
        (float("nan"), "no critical point")
    return [
        _agreement_claim(
            checks, "fd_ok", "every non-degenerate classification agrees with the "
            "finite-difference Hessian's", id="finite_difference_types_agree",
            reference="central-difference Hessian of f's values in float64 (no autodiff)",
            detail=f"step {h:g}"),
        Claim.at_most(
            "jax.hessian = finite-difference Hessian at every critical point (max relative "
            "error)", fd_err, tol.roundoff(20, eps) + tol.absolute(
                10 * h ** 2, "10 h^2 (O(h^2) truncation of central differences)"),
            id="hessian_equals_finite_differences", worst=where,
            reference="central-difference Hessian of f's values in float64 (no autodiff)",
            detail=f"step h = {h:g}; round-off allowance for the point's rounding"),
        _agreement_claim(
            checks, "dir_ok", "f(x + t v) + f(x - t v) - 2 f(x) has the sign of each Hessian "
            "eigenvalue along its eigenvector v", id="eigenvector_second_differences",
            reference="f's values in float64 along the eigenvectors (no derivatives)",
            detail=f"t = {cfg.probe_radius:g}"),
        _determinant_claim(cfg, r),
    ]


def _determinant_claim(cfg: Config, r: Results) -> Claim:
    """The determinant test on the finite-difference Hessian gives each known point its
    literature type (degenerate: the test does not decide)."""
    checked, bad = 0, []
    for name, f in r.functions.items():
        for kp, ktype in TEST_FUNCTIONS[name].critical_points:
            dist = np.linalg.norm(f["points"] - np.asarray(kp), axis=1) if len(f["points"]) \
                else np.array([np.inf])
            j = int(np.argmin(dist))
            got = Kind(int(f["det_codes_fd"][j])).word if dist[j] <= cfg.match_tol else "none"
            checked += 1
            if got != ktype:
                bad.append(f"{name} {ktype} at ({kp[0]:g}, {kp[1]:g}): test says {got}")
    return Claim.holds(
        "the determinant test D = f_xx f_yy - f_xy^2 on the finite-difference Hessian gives "
        "every known critical point its known type (degenerate: D = 0, the test is silent)",
        not bad and checked > 0, measured=checked - len(bad), worst=bad[0] if bad else "",
        id="determinant_test_on_finite_differences",
        reference="the literature's types (mathml_jax.optimization.test_functions); the "
        "Hessian from f's float64 values by central differences, not jax.hessian",
        detail=f"{checked - len(bad)}/{checked} known points; |D| <= zero_tol^2 = "
        f"{cfg.zero_tol ** 2:g}: undecided; step {cfg.fd_step:g}")


def _high_dim_claims(cfg: Config, r: Results, eps: float) -> list[Claim]:
    d, ext, full = cfg.dim, r.lanczos_extremes, r.full_eigenvalues
    scale = float(np.max(np.abs(r.reference)))
    rule = tol.roundoff(EIG_K, eps, n=d, power=0.5, scale=scale)
    out = []
    for which, i, j in (("smallest", 0, 0), ("largest", 1, -1)):
        out += [
            Claim.close(f"{which} Hessian eigenvalue at the origin from Lanczos on "
                        "Hessian-vector products (no matrix) = closed form", ext[i],
                        r.reference[j], rule, id=f"lanczos_{which}_equals_closed_form",
                        reference="closed form: the Hessian at 0 is A - I (NumPy eigvalsh, "
                        "float64)", detail=f"d = {d}, {cfg.lanczos_steps} HVPs (converged: "
                        "error at round-off, see hvp_spectrum); k sqrt(d) eps x spectral radius"),
            Claim.close(f"{which} eigenvalue of the full jax.hessian = closed form",
                        full[j], r.reference[j], rule,
                        id=f"full_{which}_equals_closed_form", detail=f"d = {d}",
                        reference="closed form: the Hessian at 0 is A - I (NumPy eigvalsh, "
                        "float64)"),
        ]
    out.append(Claim.holds("the origin is a saddle: Lanczos finds Hessian eigenvalues of both "
                           "signs", bool(ext[0] < -cfg.zero_tol and ext[1] > cfg.zero_tol),
                           id="origin_is_saddle", detail=f"d = {d}; zero_tol {cfg.zero_tol:g}",
                           measured=float(min(-ext[0], ext[1])),
                           reference="closed form: A - I has eigenvalues of both signs"))
    return out


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    out = []
    for name, f in r.functions.items():
        out.append(_known_points_claim(cfg, name, f))
        if name in TRUE_TYPE_AT_DEGENERATE:
            out.append(_degenerate_claim(cfg, name, f))
    return out + _independent_claims(cfg, r, ctx.eps) + _high_dim_claims(cfg, r, ctx.eps)


def metrics(cfg: Config, r: Results) -> dict:
    out = {}
    for name, f in r.functions.items():
        out[f"{name}_converged_starts"] = int(f["converged_starts"])
        out[f"{name}_critical_points"] = len(f["points"])
        for j, (p, t) in enumerate(zip(f["points"], Kind.words(f["codes"]), strict=True)):
            lam = f["eigenvalues"][j]
            out[f"{name}_point_{j}"] = (f"{t} at ({p[0]:.6g}, {p[1]:.6g}): f = "
                                        f"{f['values'][j]:.6g}, Hessian eigenvalues "
                                        f"({lam[0]:.6g}, {lam[1]:.6g})")
    out["grad_norm_origin"] = float(r.grad_norm_origin)  # 0: every term of f is even
    out["lanczos_smallest"] = float(r.lanczos_extremes[0])
    out["lanczos_largest"] = float(r.lanczos_extremes[1])
    return out


KEY_METRICS = ("himmelblau_critical_points", "lanczos_smallest", "lanczos_largest")


# ------------------------------------------------------------------------------ figures

def _mark_points(ax, pts, types, colors=None, size=9, legend=True):
    seen = set()
    for j, (p, t) in enumerate(zip(pts, types, strict=True)):
        c = plotting.color(t) if colors is None else colors(j)
        ax.plot(p[0], p[1], TYPE_MARKERS[t], color=c, markersize=size, linestyle="none",
                markeredgecolor="black", label=t if legend and t not in seen else None)
        seen.add(t)


def critical_points(cfg: Config, r: Results):
    """Newton's method on grad f = 0 finds the critical points of each two-variable test
    function, and the signs of the Hessian's eigenvalues type each as minimum, maximum, saddle
    or degenerate."""
    names = list(r.functions)
    ncols = min(3, len(names))
    nrows = int(np.ceil(len(names) / ncols))
    fig, axes = plotting.figure("Newton's method finds the critical points; the Hessian's "
                                "eigenvalues give their type", ncols=ncols, nrows=nrows,
                                width=4.6, height=4.4, squeeze=False)
    axes = axes.ravel()
    for ax, name in zip(axes, names, strict=False):
        tf, f = TEST_FUNCTIONS[name], r.functions[name]
        plotting.contour_with_trajectories(ax, lambda X, Y, Z=f["contour"]: Z, tf.xlim, tf.ylim,
                                           levels=25, log_levels=name == "himmelblau",
                                           resolution=CONTOUR_RESOLUTION)
        _mark_points(ax, f["points"], Kind.words(f["codes"]))
        ax.set_title(TITLES.get(name, name), fontsize=11)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    handles = {t: plotting.plt.Line2D([], [], marker=m, color=plotting.color(t), linestyle="none",
                                      markeredgecolor="black", markersize=9)
               for t, m in TYPE_MARKERS.items()}
    if len(axes) > len(names):
        for ax in axes[len(names):]:
            ax.axis("off")
        axes[-1].legend(handles.values(), handles.keys(), loc="center", title="type (Hessian)")
    else:
        fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=4)
    return fig


def _determinant_plane(ax, r: Results):
    """Each point at (f_xx, D) of its finite-difference Hessian, both scaled by ||H||."""
    lim = 0.55
    ax.axhspan(-lim, 0, color=plotting.color("saddle"), alpha=0.12, linewidth=0)
    ax.fill_between([0, 1.05], 0, lim, color=plotting.color("minimum"), alpha=0.12, lw=0)
    ax.fill_between([-1.05, 0], 0, lim, color=plotting.color("maximum"), alpha=0.12, lw=0)
    for txt, xy in (("saddle: $D < 0$", (0.3, -0.25)), ("minimum:\n$D > 0$, $f_{xx} > 0$",
                    (0.35, 0.12)), ("maximum:\n$D > 0$, $f_{xx} < 0$", (-0.5, 0.12))):
        ax.text(*xy, txt, ha="center", va="center", fontsize=9)
    counts = {}
    for f in r.functions.values():
        for H, code in zip(f["fd_hessians"], f["det_codes_fd"], strict=True):
            t = Kind(int(code)).word
            nrm = np.linalg.norm(H)
            x, y = (0.0, 0.0) if t == "degenerate" else (H[0, 0] / nrm,
                                                          np.linalg.det(H) / nrm ** 2)
            counts[t] = counts.get(t, 0) + 1
            ax.plot(x, y, TYPE_MARKERS[t], color=plotting.color(t), markeredgecolor="black",
                    markersize=9, linestyle="none", label=t if counts[t] == 1 else None)
    for h in ax.get_legend_handles_labels()[0]:
        h.set_label(f"{h.get_label()} ({counts[h.get_label()]})")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-lim, lim)
    ax.set_xlabel(r"$f_{xx} / \|H\|_F$")
    ax.set_ylabel(r"$D / \|H\|_F^2$,  $D = f_{xx} f_{yy} - f_{xy}^2$")
    ax.set_title("determinant test ($D = 0$: silent)", fontsize=11)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2,
              title="verdict of the test (points)")


def _curvature_panel(ax, r: Results, t: float, zero_tol: float):
    """Second differences of f along each eigenvector / t^2 against the eigenvalue."""
    lam = np.concatenate([f["eigenvalues"].ravel() for f in r.functions.values()])
    curv = np.concatenate([f["curvature"].ravel() for f in r.functions.values()]) / t ** 2
    span = 1.2 * max(np.max(np.abs(lam)), np.max(np.abs(curv)), 1.0)
    grid = np.linspace(-span, span, 400)
    plotting.theory_line(ax, grid, grid, r"$f''$ along $v$ = eigenvalue")
    zero = np.abs(lam) <= zero_tol
    for sign, name in ((1, "minimum"), (-1, "maximum")):
        m = (np.sign(lam) == sign) & ~zero
        ax.plot(lam[m], curv[m], "o", color=plotting.color(name), markeredgecolor="black",
                label=f"{'positive' if sign > 0 else 'negative'} eigenvalue ({m.sum()})")
    if zero.any():
        ax.plot(lam[zero], curv[zero], "D", color=plotting.color("degenerate"),
                markeredgecolor="black",
                label=f"zero eigenvalue, $|\\lambda| \\leq {zero_tol:g}$ ({zero.sum()})")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel(r"Hessian eigenvalue $\lambda$ (jax.hessian, symlog)")
    ax.set_ylabel(r"$[f(x+tv) + f(x-tv) - 2f(x)] / t^2$ (symlog)")
    ax.set_title(r"curvature of $f$ along each eigenvector $v$", fontsize=11)
    ax.legend(loc="upper left")


def hessian_test(cfg: Config, r: Results):
    """The determinant test places each critical point by D = f_xx f_yy - f_xy^2 and f_xx, and
    the curvature of f along each Hessian eigenvector, from values of f alone, equals its
    eigenvalue."""
    fig, (ax1, ax2) = plotting.figure("The second-derivative test, drawn: $D$ and $f_{xx}$ place "
                                      "each critical point, and $f$ curves along each "
                                      "eigenvector as its eigenvalue says", ncols=2,
                                      width=5.0, height=4.6)
    _determinant_plane(ax1, r)
    _curvature_panel(ax2, r, cfg.probe_radius, cfg.zero_tol)
    return fig


def basins(cfg: Config, r: Results):
    """Newton's method on grad f = 0 converges to saddles and maxima as well as minima: each
    start is coloured by the critical point it reaches, with tangled basin borders on
    Himmelblau."""
    show = [n for n in ("himmelblau", "double_well") if n in r.functions] or list(r.functions)[:1]
    fig, axes = plotting.figure("Basins of Newton's method: which critical point each start "
                                "reaches", ncols=len(show), width=5.2, height=4.8, squeeze=False)
    for ax, name in zip(axes.ravel(), show, strict=True):
        f = r.functions[name]
        k = len(f["points"])
        cmap = plotting.plt.get_cmap("tab10", max(k, 1))
        ax.pcolormesh(f["x"], f["y"], np.ma.masked_less(f["basin"], 0), cmap=cmap, vmin=-0.5,
                      vmax=k - 0.5, shading="nearest")
        _mark_points(ax, f["points"], Kind.words(f["codes"]), colors=cmap, size=10,
                     legend=False)
        lost = int(np.sum(f["basin"] < 0))
        ax.set_title(f"{TITLES.get(name, name)}\nwhite: {lost} of {f['basin'].size} starts "
                     "reach no point", fontsize=11)
        ax.set_xlabel("x of the start")
        ax.set_ylabel("y of the start")
        ax.set_aspect("equal")
    return fig


def hvp_spectrum(cfg: Config, r: Results):
    """Lanczos on Hessian-vector products finds the extreme eigenvalues of a large Hessian
    without forming it: they sit at the edges of the full spectrum, the error falling to
    round-off with the steps."""
    fig, (ax1, ax2) = plotting.figure(f"$d = {cfg.dim}$: Hessian-vector products find the "
                                      "extreme eigenvalues without the matrix", ncols=2)
    ax1.hist(r.full_eigenvalues, bins=40, color=plotting.color("full hessian"), alpha=0.7,
             label="spectrum of the full jax.hessian")
    ext = r.lanczos_extremes
    for v, name, lbl in ((ext[0], "lambda_min", r"Lanczos $\lambda_{\min}$"),
                         (ext[1], "lambda_max", r"Lanczos $\lambda_{\max}$")):
        ax1.axvline(v, color=plotting.color(name), linestyle="-.", linewidth=1.5,
                    label=f"{lbl} = {v:.4f}")
    ax1.set_xlabel(r"eigenvalue of the Hessian at $0$")
    ax1.set_ylabel("count")
    ax1.set_ylim(top=ax1.get_ylim()[1] * 1.45)
    ax1.legend(loc="upper left")
    for err, name, lbl in ((r.error_min, "lambda_min", r"$|\lambda_{\min}$ error$|$"),
                           (r.error_max, "lambda_max", r"$|\lambda_{\max}$ error$|$")):
        ax2.semilogy(r.lanczos_steps, np.where(err > 0, err, np.nan), color=plotting.color(name),
                     label=lbl)
    bound = EIG_K * np.sqrt(cfg.dim) * r.eps * np.max(np.abs(r.reference))
    ax2.axhline(bound, label=r"claims' bound $4\sqrt{d}\,\varepsilon\,\rho$",
                **plotting.THEORY_STYLE)
    ax2.set_xlabel("Lanczos steps (Hessian-vector products)")
    ax2.set_ylabel("error against the closed form (log)")
    ax2.legend(loc="upper right")
    return fig


FIGURES = (critical_points, hessian_test, basins, hvp_spectrum)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: Newton from grid x
    grid starts keeps each start's last iterate, status and gradient norm, and its basin label
    (a grid batch that streams; about 64 bytes a start with the host copies); the
    high-dimensional case holds about 8 dim x dim matrices (the random matrix, A in float64
    and in the run's dtype, the Hessian and its eigenvectors) and the lanczos_steps Krylov
    vectors."""
    from mathml_jax import budget as b

    n = cfg.grid + cfg.grid % 2
    d = cfg.dim
    return b.estimate(
        b.Part(b.streamed(n * n * 8 * target.itemsize) + n * n * 40, ("hessian.grid",),
               "grid x grid Newton starts, their results and basin labels"),
        b.Part(8 * 8 * d * d + cfg.lanczos_steps * d * 8, ("hessian.dim",),
               "about 8 dim x dim matrices of the high-dimensional case"),
        seconds=len(cfg.functions) * n * n * cfg.newton_steps * 30 * b.S_PER_ELEMENT
        + 3 * d**3 * b.S_PER_EIGH_N3 + cfg.lanczos_steps * 2 * d * d * b.S_PER_FLOP,
        rate=f"{1 / (30 * b.S_PER_ELEMENT):.2g} 2-D Newton steps/s, eigh at "
             f"{b.S_PER_EIGH_N3:g} n^3 s",
        time_keys=("hessian.grid", "hessian.newton_steps", "hessian.dim"), streams=True)
