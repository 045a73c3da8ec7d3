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


def experiments_help() -> str:
    """``${mathml_experiments:}`` in Hydra's help template (``python run.py --help``): every
    experiment with its roadmap section and the first line of its docstring. Read from the
    modules' source (no import: help stays instant)."""
    import ast

    parts = ("Calculus", "Linear algebra", "Multivariable calculus", "Optimisation",
             "Probability theory")
    rows = []
    for name in experiments.available():
        path = Path(experiments.__file__).parent / f"{name}.py"
        tree = ast.parse(path.read_text())
        doc = (ast.get_docstring(tree) or "").strip().split("\n\n")[0].replace("\n", " ")
        summary = doc.split(":", 1)[1].strip() if doc.startswith(f"``{name}``:") else doc
        section = next((n.value.value for n in tree.body if isinstance(n, ast.Assign)
                        and any(getattr(t, "id", "") == "SECTION" for t in n.targets)
                        and isinstance(n.value, ast.Constant)), "")
        part = next((i for i, p in enumerate(parts) if section.startswith(p)), len(parts))
        rows.append((part, name, f"  {name:<18} [{section}]\n  {'':<18} {summary}"))
    return "\n".join(r[2] for r in sorted(rows)).replace("$", "$$")  # a string.Template


OmegaConf.register_new_resolver("mathml_experiments", experiments_help, replace=True)


def _experiment_name(cfg: DictConfig) -> str:
    try:
        return HydraConfig.get().runtime.choices["experiment"]
    except ValueError:  # HydraConfig not set (compose without hydra config)
        return cfg.hydra.runtime.choices["experiment"]


# ----------------------------------------------------------------------------- pre-validation

def _parse_argv(argv: list[str]) -> tuple[list[str], bool, bool]:
    """(overrides, multirun?, should prevalidate?) of a run.py command line, parsed by Hydra's
    own argument parser (so every flag Hydra knows is understood as Hydra understands it)."""
    from hydra._internal.utils import get_args_parser

    try:
        args = get_args_parser().parse_args(argv)
    except SystemExit:  # a malformed command line: Hydra's own message is the clearest
        return [], False, False
    informational = (args.help or args.hydra_help or args.cfg or args.info or args.resolve
                     or args.shell_completion or args.experimental_rerun)
    overrides = [o for o in args.overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))]
    return overrides, bool(args.multirun), not informational


def _job_overrides(overrides: list[str], multirun: bool) -> list[list[str]]:
    """The overrides of every job of the command line (a sweep expanded by Hydra's sweeper)."""
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

    overrides, multirun, ok = _parse_argv(list(sys.argv[1:] if argv is None else argv))
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


def _unknown_key(override, job: list[str]) -> BadInput | None:
    """BadInput naming ``override``'s key and the keys allowed beside it, when the config
    composed from the rest of the command line has no such key; else None."""
    from hydra import compose

    key = override.key_or_group
    rest = [o for o in job if o.split("=")[0].lstrip("+~") != key]
    try:
        node = compose("config", overrides=rest)
    except Exception:  # noqa: BLE001 - the rest does not compose either: not this key's fault
        return None
    if OmegaConf.select(node, key, default=_ABSENT) is not _ABSENT:
        return None
    parent, _, leaf = key.rpartition(".")
    section = OmegaConf.select(node, parent) if parent else node
    keys = ", ".join(k for k in section if k != "hydra") if isinstance(section, DictConfig) \
        else ""
    where = f"the keys of {parent} are" if parent else "the top-level keys are"
    return BadInput(f"Unknown config key {key!r} (no {leaf!r} under "
                    f"{parent or 'the top level'}); {where}: {keys}. Nothing was run.")


_ABSENT = object()


def composition_error(e: Exception, job: list[str]) -> BadInput:
    """Hydra's composition error ``e`` for the overrides ``job``, said in one paragraph with
    what is allowed. The cause is found from the parsed overrides (Hydra's override parser and
    the config without the override), not from the wording of Hydra's message."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(job)
    except Exception:  # noqa: BLE001 - an unparsable override: Hydra's message says why
        parsed = []
    for o in parsed:
        if o.key_or_group == "experiment" and o.value() not in experiments.available():
            return BadInput(f"Unknown experiment {o.value()!r}. Available experiments: "
                            f"{', '.join(experiments.available())} (python run.py --help "
                            "describes each). Nothing was run.")
    for o in parsed:
        if not (o.is_add() or o.is_delete() or o.key_or_group.startswith("hydra")):
            found = _unknown_key(o, job)
            if found is not None:
                return found
    text = str(e).strip()
    first = text.splitlines()[0] if text else type(e).__name__
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
        from experiments._summary import summarize

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.exists():
            return
        result = summarize(sweep_dir)
        print(result.markdown)
        print(f"\nsummary written to {result.csv_path.parent}")
        if result.n_failed:
            print(f"{result.n_failed} of {result.n_jobs} job(s) failed", file=sys.stderr)
            raise SystemExit(EXIT_FAILED)
