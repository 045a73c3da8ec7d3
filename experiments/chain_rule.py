"""``chain_rule``: the derivative of a composition is the product of the parts' derivatives.

Many random compositions F = f_k o ... o f_1 (depth 2..depth_max) of elementary functions are
drawn with ``jax.random``; at many points, F' is built three ways:

- by the chain rule, F'(x) = prod_j f_j'(v_{j-1}) from the table of derivative formulas;
- by ``jax.grad`` of F;
- by an independent high-accuracy difference in NumPy float64: the complex-step difference
  Im F(x + i h)/h with h = 1e-30 (no subtraction, so no cancellation: accurate to round-off),
  and, as a plain real difference, Richardson-extrapolated central differences.

Checked: the largest disagreement over all compositions and points is at the round-off level
of the working dtype (a few eps, measured relative to max(1, |F'|)).

The default library holds functions with bounded derivatives; ``exp`` and ``cube`` may be
added, but their nested compositions overflow or become so ill-conditioned that no float32
computation of F' is accurate to a few eps, which is a property of F, not of the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from experiments._schema import param
from mathml_jax import Claim, plotting
from mathml_jax import tolerance as tol
from mathml_jax.calculus import ELEMENTARY, compositions_and_derivatives, random_compositions
from mathml_jax.calculus.chain_rule import IDENTITY, NAMES
from mathml_jax.runtime import RunContext

SECTION = "Calculus / Differentiation: the chain rule"

# Independent NumPy versions (they accept complex arguments, for the complex step).
NUMPY_FUNCTIONS = {
    "sin": np.sin, "cos": np.cos, "exp": np.exp, "tanh": np.tanh,
    "sigmoid": lambda x: 0.5 * (1 + np.tanh(0.5 * x)), "log1p_sq": lambda x: np.log1p(x * x),
    "sqrt1p_sq": lambda x: np.sqrt(1 + x * x), "cube": lambda x: x ** 3, "atan": np.arctan,
    "identity": lambda x: x,
}
LIBRARY = tuple(n for n in NAMES if n != "identity")
COMPLEX_STEP = 1e-30
RICHARDSON_STEP = 2e-3


@dataclass
class Config:
    functions: list[str] = param(["sin", "cos", "tanh", "sigmoid", "atan", "log1p_sq",
                                  "sqrt1p_sq"], choices=LIBRARY,
                                 help="the library compositions are drawn from")
    num_compositions: int = param(512, ge=1, le=1_000_000)
    depth_max: int = param(4, ge=2, le=32, help="compositions have depth 2..depth_max")
    num_points: int = param(32, ge=1, le=100_000)
    x_max: float = param(1.5, gt=0, le=100, help="points uniform in [-x_max, x_max]")
    ulps: float = param(8.0, gt=0, le=1e9,
                        help="round-off bound, in eps times max(1, |F'|)")
    richardson_tol: float = param(1e-9, gt=0, le=1,
                                  help="bound for the real Richardson difference (float64)")
    showcase: list[str] = param(["log1p_sq", "sin"], choices=LIBRARY,
                                help="composition drawn in the figure, innermost first")


@dataclass
class Results:
    """Everything the claims and figures need, as host arrays (saved as the run's series)."""

    compositions: np.ndarray  # (C, depth_max) indices into NAMES, IDENTITY-padded
    x: np.ndarray             # (n,) the points (run dtype values, as float64)
    rule: np.ndarray          # (C, n) chain-rule product prod f_j'(v_(j-1))
    grad: np.ndarray          # (C, n) jax.grad of the composition
    complex_step: np.ndarray  # (C, n) Im F(x + ih)/h in NumPy complex128
    richardson: np.ndarray    # (C, n) Richardson-extrapolated central difference (float64)
    depth: np.ndarray         # (C,) number of non-identity functions
    showcase: dict            # the composition drawn: x, inner g, outer f, F, g', f'(g),
                              # rule and grad on a grid
    eps: float                # round-off unit of the run


def numpy_compose(idx, x):
    for i in idx:
        x = NUMPY_FUNCTIONS[NAMES[i]](x)
    return x


def complex_step_derivative(idx, x: np.ndarray) -> np.ndarray:
    """Im F(x + i h) / h in complex128: F'(x) to round-off, with no subtraction."""
    return np.imag(numpy_compose(idx, x + 1j * COMPLEX_STEP)) / COMPLEX_STEP


def richardson_derivative(idx, x: np.ndarray, h: float = RICHARDSON_STEP) -> np.ndarray:
    """Central differences at h and h/2, extrapolated: (4 D(h/2) - D(h)) / 3, error O(h^4)."""
    def d(s):
        return (numpy_compose(idx, x + s) - numpy_compose(idx, x - s)) / (2 * s)

    return (4 * d(h / 2) - d(h)) / 3


def _mixed_error(a, b):
    return np.abs(a - b) / np.maximum(1.0, np.abs(b))


def _showcase(cfg: Config, dtype) -> dict:
    """The drawn composition on a grid: its parts, their derivatives, the rule and jax.grad."""
    inner, outer = cfg.showcase[0], cfg.showcase[-1]
    g, dg = ELEMENTARY[inner]
    f, df = ELEMENTARY[outer]
    idx = jnp.asarray([NAMES.index(n) for n in cfg.showcase])
    xs = jnp.linspace(-3, 3, 400, dtype=dtype)
    values, rule, grad = compositions_and_derivatives(idx[None, :], xs)
    host = {"x": xs, "inner": g(xs), "outer": f(xs), "composition": values[0],
            "inner_derivative": dg(xs), "outer_derivative_at_inner": df(g(xs)),
            "rule": rule[0], "grad": grad[0]}
    return {k: np.asarray(v, np.float64) for k, v in host.items()}


def compute(cfg: Config, ctx: RunContext) -> Results:
    k_comp, k_x = jax.random.split(ctx.key)
    allowed = jnp.asarray([NAMES.index(n) for n in dict.fromkeys(cfg.functions)])
    idx = random_compositions(k_comp, allowed, length=cfg.num_compositions,
                              depth_max=cfg.depth_max)
    x = jax.random.uniform(k_x, (cfg.num_points,), ctx.dtype, -cfg.x_max, cfg.x_max)
    _, rule, grad = ctx.timed("compositions", compositions_and_derivatives, idx, x)
    idx_np, xd = np.asarray(idx), np.asarray(x, np.float64)
    cs = np.stack([complex_step_derivative(row, xd) for row in idx_np])
    rich = np.stack([richardson_derivative(row, xd) for row in idx_np])
    return Results(compositions=idx_np, x=xd, rule=np.asarray(rule, np.float64),
                   grad=np.asarray(grad, np.float64), complex_step=cs, richardson=rich,
                   depth=(idx_np != IDENTITY).sum(axis=1), showcase=_showcase(cfg, ctx.dtype),
                   eps=float(ctx.eps))


# ------------------------------------------------------------------------------ claims

def _finite(r: Results) -> np.ndarray:
    return np.isfinite(r.complex_step).all(axis=1) & np.isfinite(r.rule).all(axis=1)


def _errors(r: Results) -> dict:
    """Mixed (relative to max(1, |F'|)) disagreements over the finite compositions (C', n)."""
    ok = _finite(r)
    return {"rule_grad": _mixed_error(r.rule, r.grad)[ok],
            "rule_cs": _mixed_error(r.rule, r.complex_step)[ok],
            "grad_cs": _mixed_error(r.grad, r.complex_step)[ok],
            "richardson_cs": _mixed_error(r.richardson, r.complex_step)[ok]}


def _labels(r: Results) -> np.ndarray:
    """'F = outer o ... o inner, x = ...' for every (finite composition, point)."""
    names = [" o ".join(NAMES[i] for i in row[::-1] if i != IDENTITY)
             for row in r.compositions[_finite(r)]]
    return np.array([[f"{n}, x = {v:.4g}" for v in r.x] for n in names], dtype=object)


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    eps, n_ok = ctx.eps, int(_finite(r).sum())
    e, labels = _errors(r), _labels(r)
    what = f"{n_ok} compositions x {cfg.num_points} points; relative to max(1, |F'|)"
    out = [Claim.holds("all drawn compositions are finite at all points",
                       n_ok == cfg.num_compositions, measured=n_ok, id="compositions_finite",
                       reference="np.isfinite of the chain rule and the complex step",
                       detail=f"of {cfg.num_compositions} drawn")]
    for key, ident, stmt, ref in (
            ("rule_grad", "rule_equals_grad", "chain rule prod f_j'(v_(j-1)) = jax.grad of the "
             "composition: max disagreement", "jax.grad of the composition"),
            ("rule_cs", "rule_equals_complex_step", "chain rule = complex-step difference "
             "Im F(x+ih)/h (float64): max disagreement", "NumPy complex128 complex step"),
            ("grad_cs", "grad_equals_complex_step", "jax.grad = complex-step difference "
             "(float64): max disagreement", "NumPy complex128 complex step")):
        err, where = tol.worst(e[key], labels)
        out.append(Claim.at_most(stmt, err, tol.roundoff(cfg.ulps, eps), id=ident, worst=where,
                                 reference=ref, detail=f"{what}; h = {COMPLEX_STEP:g}"))
    err, where = tol.worst(e["richardson_cs"], labels)
    out.append(Claim.at_most(
        "real Richardson central difference (float64) agrees with the complex step", err,
        tol.absolute(cfg.richardson_tol, "richardson_tol: truncation O(h^4) + round-off "
                     "eps/h, not round-off level"), id="richardson_equals_complex_step",
        worst=where, reference="NumPy complex128 complex step",
        detail=f"h = {RICHARDSON_STEP:g}; {what}"))
    return out


def metrics(cfg: Config, r: Results) -> dict:
    e = _errors(r)
    return {"compositions_finite": int(_finite(r).sum()),
            "max_ulps_rule_vs_grad": float(e["rule_grad"].max() / r.eps),
            "max_ulps_rule_vs_complex_step": float(e["rule_cs"].max() / r.eps),
            "max_richardson_error": float(e["richardson_cs"].max()),
            "pairs_checked": int(e["rule_grad"].size)}


KEY_METRICS = ("max_ulps_rule_vs_grad", "max_ulps_rule_vs_complex_step")


# ------------------------------------------------------------------------------ figures

def _parts_panels(cfg: Config, sc: dict, ax1, ax2):
    inner, outer = cfg.showcase[0], cfg.showcase[-1]
    label = f"{outer}({inner}(x))" if len(cfg.showcase) == 2 else " o ".join(cfg.showcase[::-1])
    xs = sc["x"]
    ax1.plot(xs, sc["inner"], color=plotting.color(inner), label=f"inner g = {inner}")
    ax1.plot(xs, sc["outer"], color=plotting.color(outer), linestyle=":",
             label=f"outer f = {outer} (of x)")
    ax1.plot(xs, sc["composition"], color="black", label=f"F = {label}")
    ax1.set_xlabel("x")
    ax1.set_ylabel("value")
    ax1.set_title("the composition and its parts")
    ax1.legend(fontsize=8)
    if len(cfg.showcase) == 2:
        ax2.plot(xs, sc["inner_derivative"], color=plotting.color(inner), label="g'(x)")
        ax2.plot(xs, sc["outer_derivative_at_inner"], color=plotting.color(outer),
                 linestyle=":", label="f'(g(x))")
    ax2.plot(xs, sc["rule"], color="black", label="product (chain rule)")
    ax2.plot(xs[::12], sc["grad"][::12], "o", color=plotting.color("autodiff"), markersize=4,
             label="jax.grad")
    ax2.set_xlabel("x")
    ax2.set_ylabel("derivative")
    ax2.set_title("derivatives: the rule and autodiff")
    ax2.legend(fontsize=8)


def chain_rule(cfg: Config, r: Results):
    fig, (ax1, ax2, ax3) = plotting.figure(
        "Chain rule: (f o g)' = f'(g(x)) g'(x), equal to jax.grad to round-off", ncols=3,
        width=4.6)
    _parts_panels(cfg, r.showcase, ax1, ax2)
    e = _errors(r)
    e_rule_grad, e_rule_cs = e["rule_grad"] / r.eps, e["rule_cs"] / r.eps
    bins = np.arange(0, max(4.0, e_rule_cs.max(), e_rule_grad.max()) + 0.25, 0.25)
    ax3.hist(e_rule_grad.ravel(), bins=bins, color=plotting.color("autodiff"), alpha=0.6,
             label="rule vs jax.grad")
    ax3.hist(e_rule_cs.ravel(), bins=bins, color=plotting.color("central"), alpha=0.6,
             label="rule vs complex step (float64)")
    ax3.axvline(cfg.ulps, **plotting.THEORY_STYLE, label=f"bound {cfg.ulps:g} eps")
    ax3.set_yscale("log")
    ax3.set_xlabel("|disagreement| / (eps max(1, |F'|))")
    ax3.set_ylabel("count (compositions x points)")
    ax3.set_title(f"{cfg.num_compositions} random compositions")
    ax3.legend(fontsize=8)
    return fig


FIGURES = (chain_rule,)
