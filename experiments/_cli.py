"""The Hydra glue behind ``run.py``: validate, set up the job, run the experiment, write.

- :func:`prevalidate` composes and validates the config of every job a command line asks for
  (one, or each job of a ``-m`` sweep) *before* Hydra creates any folder, so bad input gets a
  one-paragraph error and nothing is written.
- :func:`run_job` is the task function of every job.
- :class:`SweepSummary` is a Hydra callback that records a sweep's jobs when it starts and
  summarises them when it ends.
- :func:`main` is run.py's entry point: SIGTERM as an interrupt, and an interrupt as one line.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

import experiments
from experiments._runner import (
    EXIT_BAD_CONFIG,
    EXIT_FAILED,
    LAST_INTERRUPT,
    BadInput,
    execute,
    validate,
)

log = logging.getLogger("mathml_jax")

__all__ = ["EXIT_BAD_CONFIG", "EXIT_FAILED", "BadInput", "SweepSummary", "execute", "main",
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
# ${mathml_pid:} in the default run and sweep folders: the launching process's pid (cached
# like ${now:...}, so a sweep's jobs, in whatever process, see the launcher's)
OmegaConf.register_new_resolver("mathml_pid", lambda: os.getpid(), use_cache=True,
                                replace=True)


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


def _job_overrides(overrides: list[str], multirun: bool, config_loader=None,
                   sweeper: bool = False) -> list[list[str]]:
    """The overrides of every job of the command line (a sweep expanded as Hydra's basic
    sweeper expands it; ``glob(...)`` needs ``config_loader``, for a config group's options).

    Raises:
      BadInput: an interval sweep, which the basic sweeper cannot run (``sweeper``: another
      sweeper was chosen on the command line, which may).
    """
    if not multirun:
        return [overrides]
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ValueType

    parsed = OverridesParser.create(config_loader=config_loader).parse_overrides(overrides)
    for o in parsed:
        if o.value_type == ValueType.INTERVAL_SWEEP and not sweeper:
            raise BadInput(
                f"{o.input_line}: a sweep here runs a list of values (Hydra's basic sweeper) "
                f"and cannot sample an interval; give the values to run, e.g. "
                f"{o.key_or_group}=0.25,0.5,0.75 or {o.key_or_group}=range(START,STOP,STEP), "
                "or choose a sweeper that samples intervals (hydra/sweeper=...). Nothing was "
                "run.")
    return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]


#: the jobs of the sweep this process is about to launch (overrides of each, in Hydra's order)
SWEEP_JOBS: list[list[str]] = []
#: the folder given on the command line, locked by :func:`prevalidate`
CLAIMED: list[Path] = []


def _explicit_dirs(argv: list[str]) -> dict[str, str]:
    """hydra.run.dir / hydra.sweep.dir given on the command line without interpolations
    (a folder known before Hydra starts: it is locked before Hydra writes into it)."""
    out = {}
    for a in argv:
        key, eq, value = a.lstrip("+").partition("=")
        if eq and key in ("hydra.run.dir", "hydra.sweep.dir") and "${" not in value:
            out[key] = value.strip("'\"")
    return out


def _lock_explicit_dir(argv: list[str], multirun: bool, name: str) -> None:
    """Takes the INCOMPLETE marker (the lock) of a folder given on the command line, before
    Hydra writes into it; one another live run holds is refused (exit 2, nothing written)."""
    from mathml_jax import interrupts

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    folder = _explicit_dirs(argv).get(key)
    if folder is None:
        return
    try:
        CLAIMED.append(interrupts.claim(folder, "sweep" if multirun else name).parent)
    except interrupts.FolderInUse as e:
        raise BadInput(f"{key}={folder}: {e}; two runs in one folder would mix their files. "
                       "Give another folder, or wait for that run to end. Nothing was run."
                       ) from None


def prevalidate(argv: list[str] | None = None) -> None:
    """Composes and validates every job of the command line (a sweep's, ``glob(...)``
    included); on bad input prints one paragraph to stderr and exits with status 2 before
    any folder is created. A folder given on the command line (hydra.run.dir, or
    hydra.sweep.dir of a sweep) is then locked for this run.

    Errors Hydra reports itself (an unknown key, an unknown experiment) are left to Hydra,
    whose message lists the available options; this only adds what Hydra cannot know.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    argv = list(sys.argv[1:] if argv is None else argv)
    overrides, multirun, ok = _parse_argv(argv)
    SWEEP_JOBS.clear()
    CLAIMED.clear()
    if not ok:
        return
    sweeper = any(a.lstrip("+").startswith("hydra/sweeper=") for a in argv)
    with initialize_config_dir(config_dir=str(experiments.CONFIG_DIR), version_base="1.3"):
        try:
            try:
                jobs = _job_overrides(overrides, multirun,
                                      GlobalHydra.instance().config_loader(), sweeper)
            except (HydraException, OmegaConfBaseException):
                return  # a malformed override: Hydra's own parser error is the clearest
            for job in jobs:
                try:
                    cfg = compose("config", overrides=job, return_hydra_config=True)
                except (HydraException, OmegaConfBaseException) as e:
                    raise composition_error(e, job) from None
                name = cfg.hydra.runtime.choices["experiment"]
                validate(cfg, name)
                if cfg.get("platform") == "gpu":
                    _check_gpu()
            _lock_explicit_dir(argv, multirun, name)
        except BadInput as e:
            print(f"Error: {e}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_CONFIG) from None
        finally:
            GlobalHydra.instance().clear()
    if multirun:
        SWEEP_JOBS.extend(jobs)


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
    if parent and not isinstance(section, DictConfig):  # e.g. coin.p in a sweep's other job
        name = OmegaConf.select(node, "hydra.runtime.choices.experiment", default=None) or \
            next((o.split("=", 1)[1] for o in job if o.startswith("experiment=")), "?")
        top = ", ".join(k for k in node if k != "hydra")
        return BadInput(f"Unknown config key {key!r} for experiment {name} (overrides "
                        f"{' '.join(job)}): its config has no section {parent!r}; its top-level "
                        f"keys are: {top}. Nothing was run.")
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
    An interrupt (Ctrl-C, SIGTERM) stops a sweep too, even one a streamed count absorbed.
    """
    from mathml_jax import interrupts

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    status, _ = execute(cfg, _experiment_name(cfg), Path(hc.runtime.output_dir),
                        overrides=list(hc.overrides.task))
    if multirun and status in (interrupts.EXIT_SIGINT, interrupts.EXIT_SIGTERM):
        raise interrupts.Terminated() if status == interrupts.EXIT_SIGTERM \
            else KeyboardInterrupt()
    if status == EXIT_BAD_CONFIG or (status and not multirun):
        if status in (interrupts.EXIT_SIGINT, interrupts.EXIT_SIGTERM):
            print(LAST_INTERRUPT.get("line", "interrupted"), file=sys.stderr)
        raise SystemExit(status)
    return status


def main(task: Any) -> None:
    """``run.py``'s entry point: SIGTERM is an interrupt like Ctrl-C for the life of the
    process; bad input is refused before Hydra starts; an interrupt ends in one line on
    stderr (what was interrupted and where its partial folder is; a sweep writes the summary
    of the jobs that finished first) and exit status 130 (SIGINT) or 143 (SIGTERM)."""
    from mathml_jax import interrupts

    interrupts.install()
    try:
        prevalidate()
        task()
    except KeyboardInterrupt as e:
        sig = interrupts.signal_name(e)
        line = LAST_INTERRUPT.get("line") or f"interrupted ({sig}) before the run started."
        if SweepSummary.current is not None:
            line = SweepSummary.interrupted(e)
        for folder in CLAIMED:  # locked, then stopped before its run began
            if (interrupts.read_marker(folder) or {}).get("status") == "running":
                interrupts.mark(folder, "interrupted", f"{sig} before the run started")
                line = f"{line[:-1]}: {folder} is marked {interrupts.MARKER}."
        print(line, file=sys.stderr)
        raise SystemExit(interrupts.exit_status(e)) from None


# ------------------------------------------------------------------------------ sweep summary

class SweepSummary(Callback):
    """Records a sweep's jobs in its folder when it starts (``sweep.json``: the summary reads
    those jobs only, so a reused sweep folder shows no stale rows) and writes summary.csv /
    summary.md (and a plot) when it ends; the exit status is 1 if any job failed, or, with
    ``strict=true``, if any claim failed."""

    #: the sweep folder of the sweep this process is running
    current: Path | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from experiments._summary import start_sweep
        from mathml_jax import interrupts

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            interrupts.claim(sweep_dir, "sweep")
        except interrupts.FolderInUse as e:
            print(f"Error: hydra.sweep.dir={sweep_dir}: {e}; two sweeps in one folder would mix "
                  "their files. Give another folder, or wait for that sweep to end. Nothing "
                  "was run.", file=sys.stderr)
            raise SystemExit(EXIT_BAD_CONFIG) from None
        subdir = OmegaConf.to_container(config.hydra.sweep, resolve=False).get("subdir")
        start_sweep(sweep_dir, SWEEP_JOBS, str(subdir))
        SweepSummary.current = sweep_dir

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from experiments._summary import summarize
        from mathml_jax import interrupts

        sweep_dir = Path(str(config.hydra.sweep.dir))
        SweepSummary.current = None
        if not sweep_dir.exists():
            return
        result = summarize(sweep_dir)
        interrupts.release(sweep_dir)
        print(result.markdown)
        print(f"\nsummary written to {result.csv_path.parent}")
        if result.n_failed or result.n_strict_failed:
            if result.n_failed:
                print(f"{result.n_failed} of {result.n_jobs} job(s) failed", file=sys.stderr)
            if result.n_strict_failed:
                print(f"strict: {result.n_strict_failed} of {result.n_jobs} job(s) with failed "
                      "claims", file=sys.stderr)
            raise SystemExit(EXIT_FAILED)

    @staticmethod
    def interrupted(e: BaseException) -> str:
        """The summary of an interrupted sweep (its unfinished jobs shown as interrupted) and
        the one line that says so."""
        from experiments._summary import summarize
        from mathml_jax import interrupts

        sweep_dir, SweepSummary.current = SweepSummary.current, None
        sig = interrupts.signal_name(e)
        try:
            result = summarize(sweep_dir, interrupted=f"the sweep was interrupted ({sig})")
        except FileNotFoundError:
            return f"sweep interrupted ({sig}) before any job started: {sweep_dir}."
        interrupts.mark(sweep_dir, "interrupted", sig)
        done = sum(r.status == "ok" for r in result.rows)
        return (f"sweep interrupted ({sig}): {done} of {result.n_jobs} job(s) finished; the "
                f"summary in {sweep_dir} shows the others as interrupted.")
