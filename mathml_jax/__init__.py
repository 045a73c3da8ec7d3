"""mathml-jax: the mathematics of machine learning as runnable, measured, checked experiments.

Kernels are grouped by the roadmap's parts (``optimization``, and more as they come); the
run-time pieces every experiment shares are ``report`` (Report, Claim), ``writer`` (atomic
outputs), ``runtime`` (platform, precision), ``timing`` (compile vs run), ``plotting`` (the house
style) and ``convergence`` (fitted orders and rates).
"""

from mathml_jax.report import Claim, Report, Timing

__all__ = ["Claim", "Report", "Timing", "run"]


def run(experiment: str, *overrides: str, **options):
    """Runs an experiment from Python as ``python run.py`` does and returns its Report:
    ``mathml_jax.run("gd", "gd.lr=0.5", precision="float64")``. See :func:`experiments._api.run`
    (the config, Hydra's composition and the runner live with the experiments)."""
    from experiments._api import run as _run

    return _run(experiment, *overrides, **options)
__version__ = "0.1.0"
