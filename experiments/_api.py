"""The notebook API: run an experiment from Python exactly as ``python run.py`` does.

    import mathml_jax
    report = mathml_jax.run("gd", "gd.lr=0.5", precision="float64")
    report                     # in Jupyter: the claims table, then the figures
    report.results             # the typed results (host arrays) the figures were drawn from

The config is composed by Hydra from the same files and overrides and validated by the same
schema as on the command line (a bad value raises :class:`BadInput` with the same message,
before any work); platform and precision are set on every call, so two calls in one process
at different precisions each use their own.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from experiments._runner import BadInput, execute

__all__ = ["BadInput", "ExperimentFailed", "compose", "run"]


class ExperimentFailed(RuntimeError):
    """The experiment crashed; the traceback is chained (``__cause__``)."""


def compose(experiment: str, *overrides: str, precision: str | None = None,
            platform: str | None = None):
    """The config ``python run.py experiment=EXPERIMENT OVERRIDES...`` would get."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    import experiments
    from experiments._cli import composition_error

    given = [f"experiment={experiment}", *overrides]
    given += [f"precision={precision}"] if precision is not None else []
    given += [f"platform={platform}"] if platform is not None else []
    with initialize_config_dir(config_dir=str(experiments.CONFIG_DIR), version_base="1.3"):
        try:
            return hydra_compose("config", overrides=given, return_hydra_config=True)
        except (HydraException, OmegaConfBaseException) as e:
            raise composition_error(e, given) from None


def run(experiment: str, *overrides: str, precision: str | None = None,
        platform: str | None = None, write: bool | str | Path = True, strict: bool = False):
    """Runs ``experiment`` with ``overrides`` (strings as on the command line) and returns its
    :class:`~mathml_jax.report.Report`.

    Args:
      experiment: an experiment name (``python run.py --help`` lists them).
      *overrides: e.g. ``"gd.lr=0.5"``, ``"profile=fast"``, ``"seed=3"``.
      precision, platform: "float32"/"float64" and "auto"/"cpu"/"gpu"; None takes the
        config's value (float32, auto). Set on every call.
      write: True writes the run folder where the CLI would (``results/runs/<name>/<time>``,
        relative to the working directory); a path writes there; False writes nothing.
      strict: raise :class:`ExperimentFailed` when a claim fails.

    Raises:
      BadInput: the config is invalid (nothing was run), with the CLI's message.
      ExperimentFailed: the experiment crashed (or, with ``strict``, a claim failed).
    """
    cfg = compose(experiment, *overrides, precision=precision, platform=platform)
    if write is True:
        stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
        out_dir = Path("results") / "runs" / experiment / stamp
    else:
        out_dir = Path(write) if write else None
    try:
        _, report = execute(cfg, experiment, out_dir, overrides=list(overrides),
                            raise_errors=True)
    except BadInput:
        raise
    except Exception as e:
        raise ExperimentFailed(f"{experiment} failed: {type(e).__name__}: {e}") from e
    if strict and not report.passed:
        raise ExperimentFailed(f"{experiment}: {report.n_failed} claim(s) failed:\n"
                               + report.claims_text())
    return report
