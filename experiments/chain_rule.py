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
from mathml_jax import Claim, Report, plotting
from mathml_jax.calculus import compositions_and_derivatives, random_compositions
from mathml_jax.calculus.chain_rule import IDENTITY, NAMES
from mathml_jax.runtime import RunContext
from mathml_jax.timing import timed

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


def numpy_compose(idx, x):
    for i in idx:
        x = NUMPY_FUNCTIONS[NAMES[i]](x)
    return x


def complex_step_derivative(idx, x: np.ndarray) -> np.ndarray:
    """Im F(x + i h) / h in complex128: F'(x) to round-off, with no subtraction."""
    return np.imag(numpy_compose(idx, x + 1j * COMPLEX_STEP)) / COMPLEX_STEP


def richardson_derivative(idx, x: np.ndarray, h: float = 2e-3) -> np.ndarray:
    """Central differences at h and h/2, extrapolated: (4 D(h/2) - D(h)) / 3, error O(h^4)."""
    def d(s):
        return (numpy_compose(idx, x + s) - numpy_compose(idx, x - s)) / (2 * s)

    return (4 * d(h / 2) - d(h)) / 3


def _mixed_error(a, b):
    return np.abs(a - b) / np.maximum(1.0, np.abs(b))


def run(cfg: Config, ctx: RunContext) -> Report:
    report = Report("chain_rule", section=SECTION)
    dtype, eps = ctx.dtype, ctx.eps
    k_comp, k_x = jax.random.split(ctx.key)
    allowed = jnp.asarray([NAMES.index(n) for n in dict.fromkeys(cfg.functions)])
    idx = random_compositions(k_comp, allowed, length=cfg.num_compositions,
                              depth_max=cfg.depth_max)
    x = jax.random.uniform(k_x, (cfg.num_points,), dtype, -cfg.x_max, cfg.x_max)
    (values, rule, grad), t = timed(compositions_and_derivatives, idx, x)
    report.add_timing("compositions", t)
    rule, grad = np.asarray(rule, np.float64), np.asarray(grad, np.float64)
    idx_np, xd = np.asarray(idx), np.asarray(x, np.float64)

    cs = np.stack([complex_step_derivative(row, xd) for row in idx_np])
    rich = np.stack([richardson_derivative(row, xd) for row in idx_np])
    finite = np.isfinite(cs).all(axis=1) & np.isfinite(rule).all(axis=1)
    report.metric("compositions_finite", int(finite.sum()))

    e_rule_grad = _mixed_error(rule, grad)[finite] / eps
    e_rule_cs = _mixed_error(rule, cs)[finite] / eps
    e_grad_cs = _mixed_error(grad, cs)[finite] / eps
    e_rich_cs = _mixed_error(rich, cs)[finite]
    n_pairs = e_rule_grad.size
    what = f"{int(finite.sum())} compositions x {cfg.num_points} points"
    report.claim(Claim.holds("all drawn compositions are finite at all points",
                             int(finite.sum()) == cfg.num_compositions,
                             measured=int(finite.sum()),
                             detail=f"{what}, of {cfg.num_compositions} drawn"))
    report.claim(Claim.at_most(
        "chain rule prod f_j'(v_(j-1)) = jax.grad of the composition: max disagreement / eps",
        e_rule_grad.max(), cfg.ulps, detail=f"{what}; relative to max(1, |F'|)"))
    report.claim(Claim.at_most(
        "chain rule = complex-step difference Im F(x+ih)/h (float64): max disagreement / eps",
        e_rule_cs.max(), cfg.ulps, detail=f"{what}; h = {COMPLEX_STEP:g}"))
    report.claim(Claim.at_most(
        "jax.grad = complex-step difference (float64): max disagreement / eps",
        e_grad_cs.max(), cfg.ulps, detail=what))
    report.claim(Claim.at_most(
        "real Richardson central difference (float64, h = 0.002) agrees with the complex step",
        e_rich_cs.max(), cfg.richardson_tol,
        detail="truncation O(h^4) + round-off eps/h: not round-off level, hence its own bound"))
    report.metric("max_ulps_rule_vs_grad", float(e_rule_grad.max()), key=True)
    report.metric("max_ulps_rule_vs_complex_step", float(e_rule_cs.max()), key=True)
    report.metric("max_richardson_error", float(e_rich_cs.max()))
    depth = (idx_np != IDENTITY).sum(axis=1)
    report.add_series("disagreements", depth=depth, rule=rule, grad=grad, complex_step=cs,
                      x=xd, compositions=idx_np)
    report.metric("pairs_checked", n_pairs)

    _figure(report, cfg, dtype, e_rule_grad, e_rule_cs)
    return report


def _figure(report, cfg, dtype, e_rule_grad, e_rule_cs):
    from mathml_jax.calculus import ELEMENTARY

    inner, outer = cfg.showcase[0], cfg.showcase[-1]
    g, dg = ELEMENTARY[inner]
    f, df = ELEMENTARY[outer]
    idx = jnp.asarray([NAMES.index(n) for n in cfg.showcase])
    xs = jnp.linspace(-3, 3, 400, dtype=dtype)
    _, rule, grad = compositions_and_derivatives(idx[None, :], xs)
    xs_np = np.asarray(xs)
    label = f"{outer}({inner}(x))" if len(cfg.showcase) == 2 else " o ".join(cfg.showcase[::-1])
    fig, (ax1, ax2, ax3) = plotting.figure(
        "Chain rule: (f o g)' = f'(g(x)) g'(x), equal to jax.grad to round-off", ncols=3,
        width=4.6)
    ax1.plot(xs_np, np.asarray(g(xs)), color=plotting.color(inner), label=f"inner g = {inner}")
    ax1.plot(xs_np, np.asarray(f(xs)), color=plotting.color(outer), linestyle=":",
             label=f"outer f = {outer} (of x)")
    ax1.plot(xs_np, np.asarray(jax.vmap(lambda t: f(g(t)))(xs)), color="black",
             label=f"F = {label}")
    ax1.set_xlabel("x")
    ax1.set_ylabel("value")
    ax1.set_title("the composition and its parts")
    ax1.legend(fontsize=8)
    if len(cfg.showcase) == 2:
        ax2.plot(xs_np, np.asarray(dg(xs)), color=plotting.color(inner), label="g'(x)")
        ax2.plot(xs_np, np.asarray(df(g(xs))), color=plotting.color(outer), linestyle=":",
                 label="f'(g(x))")
    ax2.plot(xs_np, np.asarray(rule[0]), color="black", label="product (chain rule)")
    ax2.plot(xs_np[::12], np.asarray(grad[0])[::12], "o", color=plotting.color("autodiff"),
             markersize=4, label="jax.grad")
    ax2.set_xlabel("x")
    ax2.set_ylabel("derivative")
    ax2.set_title("derivatives: the rule and autodiff")
    ax2.legend(fontsize=8)
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
    report.add_figure("chain_rule", fig)
