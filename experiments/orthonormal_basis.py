"""``orthonormal_basis``: Gram-Schmidt, classical and modified, against Householder QR.

Matrices A = U diag(s) V^T (m x n) with prescribed condition number kappa = s_1/s_n, from 3 to
1/eps, are orthonormalised by classical Gram-Schmidt (CGS), modified Gram-Schmidt (MGS) and
Householder QR (``jnp.linalg.qr``), in float32 and float64 in the same run (one ``vmap`` over
the matrices; each study runs at its own precision through ``runtime.at_precision``, whatever
the job's precision). Measured and checked:

1. every method spans the same space: A = Q R to round-off, and the columns of each Q lie in
   the span of Householder's Q (projections agree);
2. loss of orthogonality ||Q^T Q - I||_2 grows like eps kappa^2 for CGS (Giraud et al. 2005),
   like eps kappa for MGS (Bjorck 1967), and stays near eps for Householder: fitted exponents;
3. coordinates of a vector in an orthonormal basis are inner products: c = Q^T x solves
   Q c = x (NumPy least squares in float64 agrees) and ||c|| = ||x|| (Parseval).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import ConfigError, param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.convergence import fitted_slope
from mathml_jax.linalg import all_methods, matrix_with_singular_values, orthogonality_loss
from mathml_jax.runtime import RunContext, at_precision

SECTION = "Linear algebra / Basis and orthonormal basis: Gram-Schmidt"

METHODS = ("classical GS", "modified GS", "Householder")
METHOD_IDS = ("classical", "modified", "householder")
EXPECTED_EXPONENT = (2.0, 1.0, 0.0)
LAWS = ("eps kappa^2", "eps kappa", "eps")
#: the claims tell the three laws eps kappa^2, eps kappa and eps apart. Classical GS passes
#: when it is nearer its own law than the neighbouring one (half the gap of 1: its window is
#: short in float32; seeds 0-7: worst deviation 0.32, fast float32); modified GS within a
#: quarter of the gap (measured <= 0.05); Householder within a tenth (measured <= 0.002: over
#: 7 to 16 decades of kappa an exponent 0.1 would raise the loss 5 to 40-fold). Each bootstrap
#: standard error over the random matrices is reported beside it.
EXPONENT_TOL = (0.5, 0.25, 0.1)
EXPONENT_TOL_WHY = ("half the gap to the neighbouring law", "a quarter of the gap",
                    "a tenth of the gap to eps kappa")
#: the two studies of every run, whatever the job's precision
PRECISIONS = ("float32", "float64")


@dataclass
class Config:
    rows: int = param(60, ge=2, le=5000)
    cols: int = param(30, ge=2, le=2000)
    num_kappas: int = param(24, ge=6, le=1000, help="condition numbers per precision")
    per_kappa: int = param(8, ge=2, le=100,
                           help="random matrices per condition number (geometric mean)")

    def __post_init__(self):
        if self.rows < self.cols:
            raise ConfigError("orthonormal_basis.rows", self.rows,
                              "it must be >= orthonormal_basis.cols (full column rank)")

#: not finite by design (mathml_jax.finite): a fitted exponent and its bootstrap SE are NaN when
#: too few condition numbers fall in the fitting window (tiny matrices); the claim says so
NONFINITE_OK = {"studies/*/exponent*": "NaN when fewer than 2 condition numbers fall in the "
                                       "window where the loss of orthogonality is fitted"}


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series).

    ``studies["float32"]`` and ``studies["float64"]``, each: eps (its round-off unit), kappa
    (num_kappas,) measured condition numbers (geometric mean per kappa), kappa_each (N,),
    loss_all (N, 3) ||Q^T Q - I||_2 per matrix and method, loss (num_kappas, 3) its geometric
    mean per kappa, resid (N, 3) ||A - QR||_F / ||A||_F, span_gap (N, 3) ||(I - P_H) Q||_2 /
    ||Q||_2, basis (Householder Q of the best-conditioned A), x (a vector in its span), coords
    (Q^T x), exponents / exponent_se / window_sizes (3,) of the fitted laws."""

    studies: dict


# ------------------------------------------------------------------------------ compute

def _factorise(key, sv, *, rows: int, timer_name: str, ctx: RunContext) -> dict:
    """The kernels of one study, at the precision of ``sv`` (the singular values, (N, n))."""
    keys = jax.random.split(key, sv.shape[0] + 1)
    A = jax.vmap(lambda k, s: matrix_with_singular_values(k, s, rows=rows))(keys[:-1], sv)
    A = jax.block_until_ready(A)  # its construction is not part of the QR timing below
    Q, R = ctx.timed(timer_name, jax.jit(jax.vmap(all_methods)), A)
    w = jax.random.normal(keys[-1], (sv.shape[1],), sv.dtype)
    x = A[0] @ w
    return {"A": A, "Q": Q, "R": R, "loss_all": jax.vmap(jax.vmap(orthogonality_loss))(Q),
            "x": x, "coords": Q[0, 2].T @ x}  # Householder basis of the best-conditioned A


def _measure(cfg: Config, out: dict, eps: float) -> dict:
    """Condition numbers, residuals and span gaps of the factorisations (NumPy float64)."""
    A64, Q64, R64 = (np.asarray(out[k], np.float64) for k in ("A", "Q", "R"))
    kappa_each = np.linalg.cond(A64)
    loss_all = np.asarray(out["loss_all"], np.float64)
    # the theory bounds the loss up to a constant that varies from matrix to matrix: average
    # log-loss over the matrices of one kappa (geometric mean)
    loss = np.exp(np.log(loss_all).reshape(cfg.num_kappas, cfg.per_kappa, 3).mean(axis=1))
    resid = (np.linalg.norm(A64[:, None] - Q64 @ R64, axis=(2, 3))
             / np.linalg.norm(A64, axis=(1, 2))[:, None])
    # columns of each Q inside span(Q_householder): ||(I - P_h) Q|| / ||Q||
    Qh = Q64[:, 2]
    outside = Q64 - Qh[:, None] @ (np.swapaxes(Qh, 1, 2)[:, None] @ Q64)
    span_gap = (np.linalg.norm(outside, ord=2, axis=(2, 3))
                / np.linalg.norm(Q64, ord=2, axis=(2, 3)))
    return {"eps": eps, "kappa_each": kappa_each, "loss_all": loss_all, "loss": loss,
            "kappa": np.exp(np.log(kappa_each).reshape(cfg.num_kappas, -1).mean(axis=1)),
            "resid": resid, "span_gap": span_gap, "basis": Q64[0, 2],
            "x": np.asarray(out["x"], np.float64),
            "coords": np.asarray(out["coords"], np.float64)}


def _fit_window(kappa, loss, eps, method):
    """Points in the regime the theory describes: well above the round-off floor
    (loss >= 100 eps) and before orthogonality is lost (loss <= 0.1; for CGS also
    eps kappa^2 <= 0.1, the condition of Giraud et al.'s bound). Householder: every kappa."""
    if method == 2:
        return np.ones(kappa.size, dtype=bool)
    ok = (loss >= 100 * eps) & (loss <= 0.1)
    if method == 0:
        ok &= eps * kappa**2 <= 0.1
    return ok


def _exponent_se(kappa, log_loss, window, rng, resamples: int = 200) -> float:
    """Bootstrap standard error of the fitted exponent: the matrices of each condition number
    (rows of ``log_loss``, shape (kappas, matrices)) resampled with replacement."""
    k, p = log_loss.shape
    slopes = []
    for _ in range(resamples):
        idx = rng.integers(0, p, (k, p))
        loss = np.exp(np.take_along_axis(log_loss, idx, axis=1).mean(axis=1))
        slopes.append(fitted_slope(kappa[window], loss[window]))
    return float(np.std(slopes, ddof=1))


def _fit_exponents(cfg: Config, s: dict, rng: np.random.Generator) -> dict:
    """Fitted exponent of loss against kappa per method, its bootstrap SE and window size."""
    kappa, loss, eps = s["kappa"], s["loss"], s["eps"]
    log_loss = np.log(s["loss_all"]).reshape(cfg.num_kappas, cfg.per_kappa, 3)
    wins = [_fit_window(kappa, loss[:, m], eps, m) for m in range(3)]
    return {"exponents": np.array([fitted_slope(kappa[w], loss[w, m])
                                   for m, w in enumerate(wins)]),
            "exponent_se": np.array([_exponent_se(kappa, log_loss[:, :, m], w, rng)
                                     for m, w in enumerate(wins)]),
            "window_sizes": np.array([int(w.sum()) for w in wins])}


def _study(cfg: Config, ctx: RunContext, key, precision: str, rng) -> dict:
    eps = ctx.eps_for(jnp.float32 if precision == "float32" else jnp.float64)
    top = np.log10(0.5 / eps)  # up to kappa ~ 1/eps: A stays numerically of full rank
    kappa_all = np.repeat(np.logspace(0.5, top, cfg.num_kappas), cfg.per_kappa)
    sv = np.stack([np.logspace(0, -np.log10(k), cfg.cols) for k in kappa_all])
    out = at_precision(precision, _factorise, key, sv, rows=cfg.rows,
                       timer_name=f"qr_{precision}", ctx=ctx)
    s = _measure(cfg, out, eps)
    s.update(_fit_exponents(cfg, s, rng))
    return s


def compute(cfg: Config, ctx: RunContext) -> Results:
    rng = np.random.default_rng(ctx.seed)  # the bootstrap of the fitted exponents
    keys = dict(zip(PRECISIONS, jax.random.split(ctx.key), strict=True))
    return Results(studies={p: _study(cfg, ctx, keys[p], p, rng) for p in PRECISIONS})


# ------------------------------------------------------------------------------ claims

def _factorisation_claims(cfg: Config, name: str, s: dict) -> list[Claim]:
    eps, n = s["eps"], cfg.cols
    labels = np.array([[f"matrix {i}, {m}" for m in METHODS] for i in range(len(s["resid"]))])
    resid, w_resid = tol.worst(s["resid"], labels)
    # the span of the computed Q is that of A to within eps kappa (the computed R inverts
    # with relative error ~ eps kappa); once orthogonality is lost it is still near-exact
    gap, w_gap = tol.worst(s["span_gap"][:, :2] / (eps * s["kappa_each"][:, None]),
                           labels[:, :2])
    house, w_house = tol.worst(s["loss_all"][:, 2] / eps)
    return [
        Claim.at_most(f"{name}: every method gives A = Q R: max ||A - QR||_F / ||A||_F", resid,
                      tol.roundoff(2, eps, n=n), id=f"{name}_a_equals_qr", worst=w_resid,
                      reference="the matrix A itself",
                      detail=f"all {len(s['resid'])} matrices x 3 methods"),
        Claim.at_most(f"{name}: Gram-Schmidt Q spans the same space as Householder's: max "
                      "||(I - P_H) Q||_2 / (eps kappa)", gap,
                      tol.absolute(2 * n, "2 n (the bound is 2 n eps kappa)"),
                      id=f"{name}_gram_schmidt_span", worst=w_gap,
                      reference="the projector onto Householder's Q (float64)",
                      detail="projections agree"),
        Claim.at_most(f"{name}: Householder stays near eps: max ||Q^T Q - I||_2 / eps", house,
                      tol.absolute(2 * n, "2 n (the bound is 2 n eps)"),
                      id=f"{name}_householder_near_eps", worst=w_house,
                      reference="the identity matrix",
                      detail=f"kappa up to {s['kappa'].max():.2g}"),
    ]


def _exponent_claims(cfg: Config, name: str, s: dict) -> list[Claim]:
    out = []
    for m, method in enumerate(METHODS):
        window = ("all kappas" if m == 2 else
                  f"{int(s['window_sizes'][m])} kappas with 100 eps <= loss <= 0.1"
                  + ("; eps kappa^2 <= 0.1" if m == 0 else ""))
        out.append(Claim.close(
            f"{name}: {method} loses orthogonality like {LAWS[m]}: fitted exponent",
            s["exponents"][m], EXPECTED_EXPONENT[m],
            tol.absolute(EXPONENT_TOL[m], EXPONENT_TOL_WHY[m]),
            id=f"{name}_exponent_{METHOD_IDS[m]}",
            reference=("Giraud et al. 2005: eps kappa^2", "Bjorck 1967: eps kappa",
                       "Householder backward stability: eps")[m],
            detail=f"bootstrap SE {s['exponent_se'][m]:.2f} over {cfg.per_kappa} matrices "
                   f"per kappa; {window}"))
    return out


def _coordinate_claims(cfg: Config, name: str, s: dict) -> list[Claim]:
    eps, n = s["eps"], cfg.cols
    xnorm = np.linalg.norm(s["x"])
    c_ls = np.linalg.lstsq(s["basis"], s["x"], rcond=None)[0]
    err, where = tol.worst(np.abs(s["coords"] - c_ls) / xnorm)
    return [
        Claim.at_most(f"{name}: coordinates in an orthonormal basis are inner products: max "
                      "|Q^T x - lstsq(Q, x)| / ||x||", err, tol.roundoff(1, eps, n=n),
                      id=f"{name}_coordinates_inner_products", worst=where,
                      reference="NumPy lstsq in float64"),
        Claim.close(f"{name}: Parseval ||Q^T x|| = ||x|| (relative)",
                    np.linalg.norm(s["coords"]) / xnorm, 1.0, tol.roundoff(1, eps, n=n),
                    id=f"{name}_parseval", reference="||x|| in NumPy float64"),
    ]


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    out = []
    for name in PRECISIONS:  # each study is checked against its own round-off unit
        s = r.studies[name]
        out += (_factorisation_claims(cfg, name, s) + _exponent_claims(cfg, name, s)
                + _coordinate_claims(cfg, name, s))
    return out


def metrics(cfg: Config, r: Results) -> dict:
    out = {}
    for name in PRECISIONS:
        s = r.studies[name]
        for m, method in enumerate(METHOD_IDS):
            # NaN (see NONFINITE_OK): no window to fit in; null, and its claim says why
            for key, field in ((f"exponent_{method}_{name}", "exponents"),
                               (f"exponent_se_{method}_{name}", "exponent_se")):
                v = float(s[field][m])
                out[key] = v if np.isfinite(v) else None
    return out


KEY_METRICS = tuple(f"exponent_{m}_float64" for m in METHOD_IDS)


# ------------------------------------------------------------------------------ figures

def loss_of_orthogonality(cfg: Config, r: Results):
    """Classical Gram-Schmidt loses orthogonality like eps kappa^2, modified Gram-Schmidt like
    eps kappa, and Householder QR stays near eps: ||Q^T Q - I|| against condition number
    kappa."""
    fig, axes = plotting.figure(r"Loss of orthogonality: classical GS $\sim \epsilon\kappa^2$, "
                                r"modified GS $\sim \epsilon\kappa$, Householder $\sim \epsilon$",
                                ncols=2, height=4.6)
    for ax, name in zip(axes, PRECISIONS, strict=True):
        s = r.studies[name]
        kappa, loss, eps = s["kappa"], s["loss"], s["eps"]
        for m, method in enumerate(METHODS):
            ax.loglog(kappa, loss[:, m], "o-", markersize=3, color=plotting.color(method),
                      label=f"{method} (slope {s['exponents'][m] + 0.0:.2f})".replace("-0.00",
                                                                                       "0.00"))
        k2 = kappa[eps * kappa**2 <= 10]  # the law holds until orthogonality is lost
        ax.loglog(k2, eps * k2**2, **{**plotting.THEORY_STYLE, "linewidth": 1},
                  label=r"$\epsilon\kappa^2$")
        ax.loglog(kappa, eps * kappa, color="black", linestyle=":", lw=1.2,
                  label=r"$\epsilon\kappa$")
        ax.axhline(eps, color="black", lw=1, linestyle="-.", label=r"$\epsilon$")
        ax.set_ylim(eps / 10, 1e6)  # room for the legend above the plateau
        ax.set_title(rf"{name} ($\epsilon$ = {eps:.1e}), geometric mean of {cfg.per_kappa} "
                     "matrices", fontsize=10)
        ax.set_xlabel(r"condition number $\kappa(A)$ (log scale)")
        ax.set_ylabel(r"$\|Q^T Q - I\|_2$ (log scale)")
        ax.legend(loc="upper left", ncols=2)
    return fig


FIGURES = (loss_of_orthogonality,)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: per precision study,
    N = num_kappas x per_kappa matrices of rows x cols, factorised three ways at once (A, Q of
    each method on the device; A, Q, QR, the span residuals in float64 on the host: about 15
    copies of N x rows x cols), and NumPy's condition numbers and 2-norms (an SVD of each)."""
    from mathml_jax import budget as b

    N = cfg.num_kappas * cfg.per_kappa
    entries = N * cfg.rows * cfg.cols
    return b.estimate(
        b.Part(entries * (4 * 8 + 11 * 8),
               ("orthonormal_basis.rows", "orthonormal_basis.cols",
                "orthonormal_basis.num_kappas", "orthonormal_basis.per_kappa"),
               "num_kappas x per_kappa matrices of rows x cols, factorised three ways"),
        seconds=2 * entries * cfg.cols * (60 * b.S_PER_FLOP + 7 * b.S_PER_SVD_MN2),
        rate=f"QR at {0.1 / b.S_PER_FLOP:.0e} flop/s, NumPy's SVDs at {b.S_PER_SVD_MN2:g} m n^2 s",
        time_keys=("orthonormal_basis.cols", "orthonormal_basis.rows",
                   "orthonormal_basis.num_kappas"))
