"""The colour registry: one fixed colour per method, optimiser, rule, distribution and function,
the same in every figure of the suite (``FIGURES.md``, "one colour per thing").

Names are matched case-insensitively. A name that is not here is an error (never a colour
hashed from the name, which collided: ``sin`` and ``jax.grad`` shared a blue): add it, in
alphabetical order, with a colour that differs from every name it is drawn beside. Greys are
never a method's colour; theory is always black and dashed (:data:`THEORY`). Things that form
a sequence (paths, players, step sizes, batch sizes, p of a p-norm) take
:func:`mathml_jax.plotting.ordered_colors` instead: their colour says "further along".
"""

from __future__ import annotations

#: theory and exact references: black, dashed, everywhere
THEORY = {"color": "black", "linestyle": "--", "linewidth": 1.5}

REGISTRY = {
    "2d": "#1f77b4",
    "3d": "#ff7f0e",
    "adagrad": "#9467bd",
    "adam": "#e377c2",
    "adamw": "#17becf",
    "atan": "#843c39",
    "autodiff": "#1f77b4",
    "backward difference": "#8c564b",
    "binomial": "#17becf",
    "bisection": "#ff7f0e",
    "bowl": "#393b79",
    "cauchy": "#d62728",
    "central difference": "#2ca02c",
    "chain rule": "#31a354",
    "class 0": "#1f77b4",
    "class 1": "#d62728",
    "classical gs": "#d62728",
    "coin": "#1f77b4",
    "complex step": "#9467bd",
    "composition": "#6b6ecf",
    "cos": "#17becf",
    "decaying spectrum": "#e6550d",
    "degenerate": "#9467bd",
    "dense eigvalsh": "#2ca02c",
    "determinant": "#9467bd",
    "die": "#ff7f0e",
    "eigen": "#17becf",
    "entropy": "#1f77b4",
    "exp": "#bcbd22",
    "exp_sin": "#17becf",
    "exponential": "#8c564b",
    "faster": "#2ca02c",
    "first derivative": "#ff7f0e",
    "forward difference": "#ff7f0e",
    "forward kl": "#1f77b4",
    "forward mode": "#e6550d",
    "full batch": "#1f77b4",
    "full hessian": "#1f77b4",
    "full svd": "#1f77b4",
    "function": "#1f77b4",
    "gauss": "#8c564b",
    "gaussian": "#9467bd",
    "gd": "#1f77b4",
    "heavy_ball": "#2ca02c",
    "householder": "#2ca02c",
    "huffman": "#2ca02c",
    "jitted step in a python loop": "#bcbd22",
    "lambda_max": "#d62728",
    "lambda_min": "#2ca02c",
    "lanczos": "#ff7f0e",
    "left": "#1f77b4",
    "lion": "#bcbd22",
    "log1p_sq": "#bcbd22",
    "maximum": "#d62728",
    "midpoint": "#2ca02c",
    "minimum": "#2ca02c",
    "modified gs": "#ff7f0e",
    "momentum": "#2ca02c",
    "monte carlo": "#e377c2",
    "nesterov": "#d62728",
    "numpy baseline": "#ff7f0e",
    "ours": "#1f77b4",
    "pareto": "#2ca02c",
    "pca": "#2ca02c",
    "pcg64 raw bits": "#8c564b",
    "photograph": "#5254a3",
    "poisson": "#e377c2",
    "projection": "#9467bd",
    "randomized svd": "#ff7f0e",
    "rbg": "#9467bd",
    "reflection": "#d62728",
    "reverse kl": "#d62728",
    "reverse mode": "#3182bd",
    "richardson": "#8c564b",
    "right": "#ff7f0e",
    "rmsprop": "#8c564b",
    "rosenbrock": "#d62728",
    "rotation": "#1f77b4",
    "runge": "#637939",
    "saddle": "#ff7f0e",
    "scaling": "#ff7f0e",
    "scipy baseline": "#d62728",
    "second derivative": "#8c564b",
    "sgd": "#ff7f0e",
    "shear": "#2ca02c",
    "signed": "#7b4173",
    "simpson": "#9467bd",
    "sin": "#d62728",
    "slower": "#d62728",
    "slq": "#9467bd",
    "tanh": "#17becf",
    "threefry2x32": "#17becf",
    "translation": "#8c564b",
    "trapezoid": "#d62728",
    "uniform": "#bcbd22",
    "unsafe_rbg": "#393b79",
    "vectors": "#1f77b4",
    "wave": "#8c6d31",
    "within noise": "#ff7f0e",
}


class UnknownColorName(KeyError):
    """A name without a colour in :data:`REGISTRY`."""


def color(name: str) -> str:
    """The registry's colour of ``name`` (case-insensitive).

    Raises:
      UnknownColorName: ``name`` is not registered (add it to :data:`REGISTRY`; a sequence
        takes ``plotting.ordered_colors`` instead).
    """
    key = str(name).strip().lower()
    if key in ("theory", "reference"):
        return THEORY["color"]
    try:
        return REGISTRY[key]
    except KeyError:
        raise UnknownColorName(
            f"no colour registered for {name!r}: add it to mathml_jax.colors.REGISTRY (one colour "
            "per thing across the suite), or use plotting.ordered_colors for a sequence") from None
