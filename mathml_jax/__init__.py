"""mathml-jax: the mathematics of machine learning as runnable, measured, checked experiments.

Kernels are grouped by the roadmap's parts (``optimization``, and more as they come); the
run-time pieces every experiment shares are ``report`` (Report, Claim), ``writer`` (atomic
outputs), ``runtime`` (platform, precision), ``timing`` (compile vs run), ``plotting`` (the house
style) and ``convergence`` (fitted orders and rates).
"""

from mathml_jax.report import Claim, Report, Timing

__all__ = ["Claim", "Report", "Timing"]
__version__ = "0.1.0"
