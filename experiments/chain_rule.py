"""``chain_rule``: the derivative of a composition is the product of the parts' derivatives.

Many random compositions F = f_k o ... o f_1 (depth 2..depth_max) of elementary functions are
drawn with ``jax.random``; at many points, F' is built three ways:

- by the chain rule, F'(x) = prod_j f_j'(v_{j-1}) from the table of derivative formulas;
- by ``jax.grad`` of F;
- by an independent high-accuracy difference in NumPy float64: the complex-step difference
  Im F(x + i h)/h with h = 1e-30 (no subtraction, so no cancellation: accurate to round-off),
  and, as a plain real difference, Richardson-extrapolated central differences.

Checked against references independent of JAX: the largest disagreement of the chain rule and
of jax.grad with the complex step, over all compositions and points, is at the round-off level
of the working dtype (at most 2 eps per function of the deepest composition, relative to
max(1, |F'|)); on the drawn composition both equal F' written out by hand. The rule against
jax.grad (two JAX computations from one derivative table) and Richardson against the complex
step (two float64 references) are metrics, not claims: neither involves an independent check
of the thing under study.

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
# Hand-written derivatives in NumPy (not JAX's table), for the drawn composition's closed form.
NUMPY_DERIVATIVES = {
    "sin": np.cos, "cos": lambda x: -np.sin(x), "exp": np.exp,
    "tanh": lambda x: 1 / np.cosh(x) ** 2,
    "sigmoid": lambda x: 0.25 / np.cosh(0.5 * x) ** 2, "log1p_sq": lambda x: 2 * x / (1 + x * x),
    "sqrt1p_sq": lambda x: x / np.sqrt(1 + x * x), "cube": lambda x: 3 * x * x,
    "atan": lambda x: 1 / (1 + x * x), "identity": np.ones_like,
}
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
    ulps_per_function: float = param(2.0, gt=0, le=1e4,
                                     tolerance=True,
                                     help="round-off bound, in eps times max(1, |F'|), per "
                                          "function of the deepest composition")
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


def showcase_closed_form(names, x: np.ndarray) -> np.ndarray:
    """F'(x) of the drawn composition written out by hand in NumPy float64 (for the default,
    d/dx sin(log(1 + x^2)) = cos(log(1 + x^2)) 2x / (1 + x^2)): the parts' derivatives from
    :data:`NUMPY_DERIVATIVES`, never from the JAX table."""
    d, v = np.ones_like(x), x
    for n in names:
        d, v = d * NUMPY_DERIVATIVES[n](v), NUMPY_FUNCTIONS[n](v)
    return d


def claims(cfg: Config, r: Results, ctx: RunContext) -> list[Claim]:
    eps, n_ok = ctx.eps, int(_finite(r).sum())
    e, labels = _errors(r), _labels(r)
    what = f"{n_ok} compositions x {cfg.num_points} points; relative to max(1, |F'|)"
    bound = tol.roundoff(cfg.ulps_per_function, eps, n=cfg.depth_max)
    out = [Claim.holds("all drawn compositions are finite at all points",
                       n_ok == cfg.num_compositions, measured=n_ok, id="compositions_finite",
                       reference="np.isfinite of the chain rule and the complex step",
                       detail=f"of {cfg.num_compositions} drawn")]
    for key, ident, stmt in (
            ("rule_cs", "rule_equals_complex_step", "chain rule prod f_j'(v_(j-1)) = "
             "complex-step difference Im F(x+ih)/h (float64): max disagreement"),
            ("grad_cs", "grad_equals_complex_step", "jax.grad = complex-step difference "
             "(float64): max disagreement")):
        err, where = tol.worst(e[key], labels)
        out.append(Claim.at_most(stmt, err, bound, id=ident, worst=where,
                                 reference="NumPy complex128 complex step",
                                 detail=f"{what}; h = {COMPLEX_STEP:g}; bound "
                                        f"{cfg.ulps_per_function:g} eps per function, depth "
                                        f"<= {cfg.depth_max}"))
    sc = r.showcase
    exact = showcase_closed_form(cfg.showcase, sc["x"])
    errs = np.stack([_mixed_error(sc["rule"], exact), _mixed_error(sc["grad"], exact)])
    err, where = tol.worst(errs, [[f"{m}, x = {v:.3g}" for v in sc["x"]]
                                  for m in ("chain rule", "jax.grad")])
    out.append(Claim.at_most(
        "the drawn composition: chain rule and jax.grad = its derivative written out by hand: "
        "max disagreement", err, tol.roundoff(cfg.ulps_per_function, eps,
                                              n=len(cfg.showcase)),
        id="showcase_closed_form", worst=where,
        reference="hand-derived F' in NumPy float64 (e.g. cos(log(1 + x^2)) 2x / (1 + x^2))",
        detail=f"F = {' o '.join(cfg.showcase[::-1])}, {len(sc['x'])} points in [-3, 3]"))
    return out


def metrics(cfg: Config, r: Results) -> dict:
    e = _errors(r)
    # the rule against jax.grad (two JAX computations, one derivative table) and the real
    # Richardson difference against the complex step (two references): shown, not claimed
    return {"compositions_finite": int(_finite(r).sum()),
            "max_ulps_rule_vs_grad": float(e["rule_grad"].max() / r.eps),
            "max_ulps_rule_vs_complex_step": float(e["rule_cs"].max() / r.eps),
            "max_ulps_grad_vs_complex_step": float(e["grad_cs"].max() / r.eps),
            "max_richardson_error": float(e["richardson_cs"].max()),
            "pairs_checked": int(e["rule_grad"].size)}


KEY_METRICS = ("max_ulps_rule_vs_grad", "max_ulps_rule_vs_complex_step")


# ------------------------------------------------------------------------------ figures

_MATH = {"sin": r"\sin", "cos": r"\cos", "tanh": r"\tanh", "exp": r"\exp", "atan": r"\arctan",
         "sigmoid": r"\sigma", "log1p_sq": r"\log(1 + x^2)", "sqrt1p_sq": r"\sqrt{1 + x^2}",
         "cube": "x^3", "identity": "x"}


def _math(name):
    """A function of the library in mathtext, applied to x."""
    m = _MATH[name]
    return m if "x" in m else m + " x"


def _parts_panels(cfg: Config, sc: dict, ax1, ax2):
    inner, outer = cfg.showcase[0], cfg.showcase[-1]
    label = (r"$F = f \circ g$" if len(cfg.showcase) == 2
             else r"$F = " + r" \circ ".join(_MATH[n] for n in cfg.showcase[::-1]) + "$")
    xs = sc["x"]
    ax1.plot(xs, sc["inner"], color=plotting.color(inner), label=f"inner $g(x) = {_math(inner)}$")
    ax1.plot(xs, sc["outer"], color=plotting.color(outer), linestyle=":",
             label=f"outer $f(x) = {_math(outer)}$")
    ax1.plot(xs, sc["composition"], color=plotting.color("composition"), label=label)
    ax1.set_xlabel("x")
    ax1.set_ylabel("value")
    ax1.set_title("the composition and its parts", fontsize=10)
    ax1.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18))
    if len(cfg.showcase) == 2:
        ax2.plot(xs, sc["inner_derivative"], color=plotting.color(inner), label="$g'(x)$")
        ax2.plot(xs, sc["outer_derivative_at_inner"], color=plotting.color(outer),
                 linestyle=":", label="$f'(g(x))$")
    ax2.plot(xs, sc["rule"], color=plotting.color("chain rule"),
             label="$f'(g(x))\\,g'(x)$ (chain rule)")
    ax2.plot(xs[::12], sc["grad"][::12], "o", color=plotting.color("autodiff"), markersize=4,
             label="jax.grad")
    ax2.set_xlabel("x")
    ax2.set_ylabel("derivative")
    ax2.set_title("the product of the parts' derivatives", fontsize=10)
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18))


def chain_rule(cfg: Config, r: Results):
    """The derivative of a composition is the product of its parts' derivatives: f'(g(x)) g'(x)
    for one example, then the rule and jax.grad within a few eps of a complex step on random
    compositions."""
    fig, axes = plotting.figure(
        r"Chain rule: $(f \circ g)' = f'(g(x))\,g'(x)$ matches a float64 complex-step "
        "difference to a few eps on every random composition", ncols=2, nrows=2,
        width=5.0, height=3.9)
    (ax1, ax2), (ax3, ax4) = axes
    _parts_panels(cfg, r.showcase, ax1, ax2)
    e = _errors(r)
    bins = np.arange(0, max(4.0, *(e[k].max() / r.eps for k in ("rule_cs", "grad_cs",
                                                                   "rule_grad"))) + 0.25, 0.25)
    for key, name, label in (("rule_cs", "chain rule", "chain rule vs complex step"),
                             ("grad_cs", "autodiff", "jax.grad vs complex step")):
        ax3.hist(e[key].ravel() / r.eps, bins=bins, color=plotting.color(name), alpha=0.6,
                 label=label)
    ulps = cfg.ulps_per_function * cfg.depth_max
    ax3.axvline(ulps, **plotting.THEORY_STYLE, label=f"claimed bound {ulps:g} eps")
    ax3.set_yscale("log")
    ax3.set_xlabel(r"$|\mathrm{error}|\ /\ (\mathrm{eps} \cdot \max(1, |F'|))$")
    ax3.set_ylabel("count, compositions x points (log)")
    ax3.set_title(f"{int(_finite(r).sum())} random compositions, float64 reference",
                  fontsize=10)
    ax3.legend(loc="upper center")
    depth = r.depth[_finite(r)]
    ds = np.unique(depth)
    for key, name, marker, label in (("rule_cs", "chain rule", "o", "chain rule"),
                                     ("grad_cs", "autodiff", "s", "jax.grad")):
        worst = [e[key][depth == d].max() / r.eps for d in ds]
        ax4.plot(ds, worst, marker=marker, color=plotting.color(name), label=label)
    ax4.axhline(ulps, **plotting.THEORY_STYLE, label="claimed bound")
    ax4.set_xticks(ds)
    ax4.set_xlabel("depth of the composition (number of functions)")
    ax4.set_ylabel("worst |error| / eps")
    ax4.set_title("worst error against the complex step, by depth", fontsize=10)
    ax4.legend(loc="center right")
    return fig


FIGURES = (chain_rule,)


# ------------------------------------------------------------------ memory and time guard

def footprint(cfg: Config, target):
    """What this config needs (mathml_jax.budget), before any allocation: every composition at
    every point, num_compositions x num_points: values, rule and grad on the device; rule,
    grad, complex-step and Richardson derivatives in float64 on the host; and the claims'
    label of each (composition, point), a Python string (about 100 bytes)."""
    from mathml_jax import budget as b

    cn = cfg.num_compositions * cfg.num_points
    return b.estimate(
        b.Part(cn * (3 * target.itemsize + 4 * 8 + 100),
               ("chain_rule.num_compositions", "chain_rule.num_points"),
               "num_compositions x num_points derivatives by four methods and their labels"),
        # NumPy's complex step and Richardson run row by row; labels are formatted one by one
        seconds=cn * (1e-6 + 6 * cfg.depth_max * b.S_PER_ELEMENT)
        + cfg.num_compositions * 40e-6,
        rate="about 1 us per labelled (composition, point) and 40 us per NumPy row")
