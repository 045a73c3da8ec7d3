"""The Hydra glue behind ``run.py``: validate, set up the job, run the experiment, write.

- :func:`prevalidate` composes and validates the config of every job a command line asks for
  (one, or each job of a ``-m`` sweep) *before* Hydra creates any folder, so bad input gets a
  one-paragraph error and nothing is written.
- :func:`run_job` is the task function of every job.
- :class:`SweepSummary` is a Hydra callback that summarises a sweep when it ends.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

import experiments
from experiments._runner import EXIT_BAD_CONFIG, EXIT_FAILED, BadInput, execute, validate

log = logging.getLogger("mathml_jax")

__all__ = ["EXIT_BAD_CONFIG", "EXIT_FAILED", "BadInput", "SweepSummary", "execute",
           "prevalidate", "run_job", "validate"]


def _experiment_name(cfg: DictConfig) -> str:
    try:
        return HydraConfig.get().runtime.choices["experiment"]
    except ValueError:  # HydraConfig not set (compose without hydra config)
        return cfg.hydra.runtime.choices["experiment"]


# ----------------------------------------------------------------------------- pre-validation

_HYDRA_FLAGS_WITH_VALUE = {"--config-path", "-cp", "--config-name", "-cn", "--config-dir", "-cd",
                           "--experimental-rerun", "--info", "-i"}
_NO_PREVALIDATION = {"--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "-i",
                     "--shell-completion", "-sc", "--resolve", "--version",
                     "--experimental-rerun"}


def _split_argv(argv: list[str]) -> tuple[list[str], bool, bool]:
    """(overrides, multirun?, should prevalidate?) from a run.py command line."""
    overrides, multirun, skip = [], False, False
    it = iter(argv)
    for a in it:
        if a in _NO_PREVALIDATION:
            skip = True
        if a in ("-m", "--multirun"):
            multirun = True
        elif a in _HYDRA_FLAGS_WITH_VALUE:
            next(it, None)
        elif a.startswith("-"):
            if "=" not in a:
                skip = True  # an option we do not know: let Hydra handle it
        elif not (a.startswith("hydra.") or a.startswith("hydra/") or a.startswith("+hydra")):
            overrides.append(a)
    return overrides, multirun, not skip


def _job_overrides(overrides: list[str], multirun: bool) -> list[list[str]]:
    if not multirun:
        return [overrides]
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides)
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


def prevalidate(argv: list[str] | None = None) -> None:
    """Composes and validates every job of the command line; on bad input prints one paragraph
    to stderr and exits with status 2 before any folder is created.

    Errors Hydra reports itself (an unknown key, an unknown experiment) are left to Hydra,
    whose message lists the available options; this only adds what Hydra cannot know.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    overrides, multirun, ok = _split_argv(list(sys.argv[1:] if argv is None else argv))
    if not ok:
        return
    try:
        jobs = _job_overrides(overrides, multirun)
    except (HydraException, OmegaConfBaseException):
        return  # a malformed override: Hydra's own parser error is the clearest message
    with initialize_config_dir(config_dir=str(experiments.CONFIG_DIR), version_base="1.3"):
        try:
            for job in jobs:
                try:
                    cfg = compose("config", overrides=job, return_hydra_config=True)
                except (HydraException, OmegaConfBaseException) as e:
                    raise composition_error(e, job) from None
                name = cfg.hydra.runtime.choices["experiment"]
                validate(cfg, name)
                if cfg.get("platform") == "gpu":
                    _check_gpu()
        except BadInput as e:
            print(f"Error: {e}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_CONFIG) from None
        finally:
            GlobalHydra.instance().clear()


def composition_error(e: Exception, job: list[str]) -> BadInput:
    """Hydra's composition errors, said in one paragraph with what is allowed."""
    import re

    from hydra import compose

    text = f"{e}\n{e.__cause__ or ''}"
    if "Could not find" in text and "experiment" in text:
        return BadInput(f"Unknown experiment in {' '.join(job)!r}. Available experiments: "
                        f"{', '.join(experiments.available())}.")
    m = re.search(r"Could not override '([^']+)'", text)
    if m and "not in struct" in text:
        key = m.group(1)
        parent, _, leaf = key.rpartition(".")
        rest = [o for o in job if not o.split("=")[0].lstrip("+~").startswith(key)]
        try:
            node = compose("config", overrides=rest)
            node = OmegaConf.select(node, parent) if parent else node
            keys = ", ".join(k for k in node if k != "hydra") if isinstance(node, DictConfig) \
                else ""
        except Exception:  # noqa: BLE001 - the listing is a courtesy only
            keys = ""
        where = f"the keys of {parent} are" if parent else "the top-level keys are"
        return BadInput(f"Unknown config key {key!r} (no {leaf!r} under "
                        f"{parent or 'the top level'}); {where}: {keys}. Nothing was run.")
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return BadInput(f"The command line could not be composed into a config: {first}. "
                    "Nothing was run.")


def _check_gpu() -> None:
    from mathml_jax.runtime import quiet_startup

    quiet_startup("gpu")
    import jax

    try:
        jax.devices("gpu")
    except RuntimeError:
        raise BadInput(
            "Invalid config value platform='gpu': JAX finds no GPU on this machine (it sees: "
            f"{', '.join(sorted({d.platform for d in jax.devices()}))}). Install a CUDA-enabled "
            'JAX (pip install -U "jax[cuda12]") or use platform=cpu or platform=auto. '
            "Nothing was run.") from None


# ------------------------------------------------------------------------------------ one job

def run_job(cfg: DictConfig) -> int:
    """The task function of one job (``run.py``'s ``main``). Returns 0 on success.

    A single run exits with a non-zero status when the job fails; in a sweep the status is
    recorded in the job's metrics.json and the sweep goes on (the summary shows failed jobs).
    """
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    status, _ = execute(cfg, _experiment_name(cfg), Path(hc.runtime.output_dir),
                        overrides=list(hc.overrides.task))
    if status == EXIT_BAD_CONFIG or (status and not multirun):
        raise SystemExit(status)
    return status


# ------------------------------------------------------------------------------ sweep summary

class SweepSummary(Callback):
    """Writes summary.csv / summary.md (and a plot) into the sweep folder when a sweep ends,
    and makes the exit status non-zero if any job failed."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from mathml_jax.sweep_summary import summarize

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists():
            return
        result = summarize(sweep_dir)
        print(result.markdown)
        print(f"\nsummary written to {result.csv_path.parent}")
        if result.n_failed:
            print(f"{result.n_failed} of {result.n_jobs} job(s) failed", file=sys.stderr)
            raise SystemExit(EXIT_FAILED)
