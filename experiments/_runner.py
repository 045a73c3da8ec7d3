"""The runner: the whole life of one job, without Hydra.

It validates a composed config, sets up the job's runtime (platform, precision, matmul
precision, compilation cache), runs the experiment's three phases, builds the
:class:`~mathml_jax.report.Report` and writes the job folder. ``run.py`` (through
``experiments._cli``), the notebook API (:mod:`experiments._api`) and the tests all come here.

The three phases of an experiment module (see ``experiments/__init__.py``)::

    results = compute(cfg, ctx)          # the only phase that calls JAX kernels
    claims(cfg, results, ctx)            # NumPy/SciPy only: list of Claim
    metrics(cfg, results)                # optional: {name: scalar}; KEY_METRICS for sweeps
    for draw in FIGURES: draw(cfg, results)   # matplotlib only: a Figure (or an Animation)
    for write in TEXTS: write(cfg, results)   # optional: Markdown documents
"""

from __future__ import annotations

import logging
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, fields
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from omegaconf import DictConfig, OmegaConf

import experiments
from experiments._schema import ConfigError, Figures, RunSettings, build
from experiments._tolerances import mark_changed_tolerances
from mathml_jax.report import Report

log = logging.getLogger("mathml_jax")

EXIT_BAD_CONFIG = 2
EXIT_FAILED = 1


def _by_profile(default: Any, fast: Any, *, _root_: DictConfig) -> Any:
    """``${by_profile:DEFAULT,FAST}``: the value for the current ``profile``."""
    return fast if _root_.get("profile", "default") == "fast" else default


OmegaConf.register_new_resolver("by_profile", _by_profile, replace=True)


class BadInput(Exception):
    """Bad input found before any work: the message is the whole, user-facing explanation."""


_TOP_KEYS = tuple(f.name for f in fields(RunSettings))


def _shown(value: Any) -> str:
    """A value as the user typed it: YAML's null, strings quoted."""
    return "null" if value is None else repr(value)


def _check_shape(cfg: DictConfig, name: str) -> None:
    """What the typed schema cannot see: a top-level key nothing reads (``+no_such=1``, or
    another experiment's section), a section replaced by a scalar or null (``coin=abc``), and
    ``strict`` given as anything but true or false."""
    unknown = [k for k in cfg if k not in (*_TOP_KEYS, name, "hydra")]
    if unknown:
        raise BadInput(f"Unknown top-level key {unknown[0]!r}: experiment {name} reads only "
                       f"{', '.join(_TOP_KEYS)} and its own section {name}. Nothing was run.")
    for key, schema in (("figures", Figures), (name, experiments.load(name).Config)):
        if key in cfg and not isinstance(cfg.get(key), DictConfig):
            keys = [f.name for f in fields(schema)]
            raise BadInput(f"{key}={_shown(cfg.get(key))}: {key} is a section of keys "
                           f"({', '.join(keys)}), not a value; set a key of it instead, e.g. "
                           f"{key}.{keys[0]}=... Nothing was run.")
    if "strict" in cfg and not isinstance(cfg.get("strict"), bool):
        raise BadInput(f"strict={_shown(cfg.get('strict'))}: strict is true or false (true: a "
                       "failed claim makes the exit status 1). Nothing was run.")


def validate(cfg: DictConfig, name: str) -> tuple[RunSettings, Any, Any]:
    """Validates the whole composed config; returns (settings, experiment module, its config).

    Raises:
      BadInput: with a message naming the key, value and what is allowed.
    """
    names = experiments.available()
    if name not in names:
        raise BadInput(f"Unknown experiment {name!r}. Available experiments: {', '.join(names)}.")
    _check_shape(cfg, name)
    top = {k: cfg.get(k) for k in _TOP_KEYS if k in cfg}
    try:
        settings = build(RunSettings, OmegaConf.create(
            OmegaConf.to_container(OmegaConf.create(top), resolve=True)), prefix="")
        module = experiments.load(name)
        section = cfg.get(name)
        section = OmegaConf.create(OmegaConf.to_container(section, resolve=True)) if section else {}
        exp_cfg = build(module.Config, section, prefix=name)
    except ConfigError as e:
        raise BadInput(str(e)) from None
    _check_footprint(module, exp_cfg, settings)
    return settings, module, exp_cfg


def _check_footprint(module: ModuleType, exp_cfg: Any, settings: RunSettings,
                     platform: str | None = None) -> None:
    """The memory and time guard (:mod:`mathml_jax.budget`): a config whose arrays cannot fit
    this machine, or whose work would run past the time limit, is bad input."""
    from mathml_jax.budget import OverBudget, check_footprint

    try:
        check_footprint(module, exp_cfg, settings, platform=platform)
    except OverBudget as e:
        raise BadInput(str(e)) from None


# ------------------------------------------------------------------------------ the phases

def drawers(module: ModuleType, attr: str = "FIGURES") -> list[tuple[str, Callable]]:
    """(output name, function) of each entry of ``module.FIGURES`` (or ``TEXTS``): a function
    is saved under its own name; a ``(name, function)`` pair under ``name`` (an animation and
    a still figure of the same name, ``trajectories.gif`` and ``trajectories.png``)."""
    return [item if isinstance(item, tuple) else (item.__name__, item)
            for item in getattr(module, attr, ())]


def draw(module: ModuleType, cfg: Any, results: Any) -> tuple[dict, dict, dict]:
    """Every figure, animation and text of ``module`` from (cfg, results): matplotlib only.
    A drawing function that returns None has nothing to draw for this config (an optional
    animation).

    Returns:
      (figures, animations, texts), each keyed by output name.
    """
    from matplotlib.animation import Animation

    figures, animations, texts = {}, {}, {}
    for name, fn in drawers(module):
        out = fn(cfg, results)
        if out is not None:
            (animations if isinstance(out, Animation) else figures)[name] = out
    for name, fn in drawers(module, "TEXTS"):
        texts[name] = fn(cfg, results)
    return figures, animations, texts


def _checked_claims(name: str, claims: list) -> list:
    ids = [c.id for c in claims]
    if any(not i for i in ids):
        raise ValueError(f"{name}: every claim needs an id; missing for: "
                         + "; ".join(c.statement for c in claims if not c.id))
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"{name}: claim ids must be unique, repeated: {', '.join(dup)}")
    return claims


def run_phases(name: str, module: ModuleType, cfg: Any, ctx) -> Report:
    """Runs compute, claims, metrics and the figures of experiment ``name``: its Report.

    After compute, the results are scanned for non-finite values (:mod:`mathml_jax.finite`):
    each quantity holding any that the module does not declare in ``NONFINITE_OK`` is a failed
    claim ``finite_<quantity>`` naming its first offending index (axes from ``SERIES_AXES``);
    a non-finite metric is written as null; all of them are listed in metrics.json's
    ``faults``."""
    from mathml_jax.finite import explain_unmeasured, scan_results

    results = module.compute(cfg, ctx)
    report = Report(name, section=module.SECTION, results=results, config=cfg, run_context=ctx)
    report.faults = scan_results(results, getattr(module, "NONFINITE_OK", {}),
                                 getattr(module, "SERIES_AXES", {}))
    report.claims = _checked_claims(name, list(module.claims(cfg, results, ctx)))
    report.claims, changed = mark_changed_tolerances(name, module, cfg, results, ctx,
                                                     report.claims)
    if changed:
        report.context["tolerances_changed"] = changed
    report.claims = _checked_claims(name, explain_unmeasured(
        [*report.claims, *(f.claim() for f in report.faults)]))
    keys = set(getattr(module, "KEY_METRICS", ()))
    metrics = module.metrics(cfg, results) if hasattr(module, "metrics") else {}
    for k, v in metrics.items():
        report.metric(k, v, key=k in keys)
    if report.faults:
        log.warning("%s: non-finite values: %s", name,
                    "; ".join(f.message() for f in report.faults))
        report.context["faults"] = [f.as_dict() for f in report.faults]
    report.timings = dict(ctx.timer.timings)
    report.figures, report.animations, report.texts = draw(module, cfg, results)
    return report


def stderr_progress(label: str, done: int, total: int, *, _start: dict = {}) -> None:  # noqa: B006
    """The progress callback of a terminal run: a bar on stderr for work of several steps,
    with the seconds since the label's first report and the time left at the pace so far."""
    if total <= 1:
        return
    now = time.perf_counter()
    t0, d0 = _start.setdefault(label, (now, done))
    frac = done / total
    left = (now - t0) / (done - d0) * (total - done) if done > d0 else float("nan")
    eta = f", about {left:.0f} s left" if left == left and done < total else ""
    print(f"\r{label}: [{'#' * int(30 * frac):<30}] {100 * frac:5.1f}%  {now - t0:.1f} s{eta}   ",
          end="", file=sys.stderr, flush=True)
    if done >= total:
        print(file=sys.stderr)
        _start.pop(label, None)


# ------------------------------------------------------------------------------ one job

def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for pkg in ("jax", "jaxlib", "optax", "hydra-core", "numpy", "scipy", "matplotlib",
                "scikit-learn"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


#: the checkout whose code a run records (the folder holding ``experiments/``)
REPO_ROOT = Path(__file__).resolve().parent.parent


def code_version(root: Path = REPO_ROOT) -> dict[str, str | bool | None]:
    """The code a run was made with: ``{"commit": git rev-parse HEAD, "dirty": whether tracked
    files outside results/ differ from it}``; both None when ``root`` is not the top of a git
    checkout (an installed copy) or git cannot say. Outputs under ``results/`` are not code: a
    gallery being regenerated changes them while its runs go on."""
    import subprocess

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != Path(root).resolve():
            return {"commit": None, "dirty": None}
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                      ":(exclude)results")
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(changed)}


def _only_hydra_files(out_dir: Path) -> bool:
    return all(p.name == ".hydra" or p.suffix == ".log" for p in out_dir.iterdir())


def _discard(out_dir: Path) -> None:
    """Removes a job folder that holds nothing but what Hydra wrote at its start (and this
    run's INCOMPLETE marker)."""
    from mathml_jax import interrupts

    interrupts.release(out_dir)
    if out_dir.is_dir() and _only_hydra_files(out_dir):
        shutil.rmtree(out_dir, ignore_errors=True)


def _resolved_without_hydra(cfg: DictConfig) -> dict:
    plain = OmegaConf.to_container(cfg, resolve=False)
    plain.pop("hydra", None)
    root = OmegaConf.create(plain)
    return OmegaConf.to_container(root, resolve=True)


def _context(cfg, settings, info, ctx, cache_dir, overrides, exp_cfg) -> dict:
    return {
        "overrides": list(overrides or []),
        "seed": settings.seed,
        "profile": settings.profile,
        "device": info.as_dict(),
        "precision": settings.precision,
        "matmul_precision": settings.matmul_precision,
        "compilation_cache": cache_dir or "off",
        "eps": ctx.eps,
        "versions": _versions(),
        "code_version": code_version(),
        "config": _resolved_without_hydra(cfg),
        "experiment_config": asdict(exp_cfg),
    }


def _record_crash(out_dir: Path, name: str, e: Exception, context: dict) -> None:
    from mathml_jax.writer import write_json

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "error.txt").write_text(traceback.format_exc())
    write_json(out_dir / "metrics.json", {
        "experiment": name, "status": "error", "error": f"{type(e).__name__}: {e}",
        "claims_passed": 0, "claims_total": 0, "metrics": {}, **context})
    log.error("%s failed: %s: %s (traceback in %s)", name, type(e).__name__, e,
              out_dir / "error.txt")


#: what the last interrupted run of this process said (run.py prints it as its one line)
LAST_INTERRUPT: dict[str, Any] = {}


def _record_interrupt(out_dir: Path | None, name: str, e: BaseException, while_: str) -> None:
    """An interrupt (Ctrl-C, or SIGTERM through :mod:`mathml_jax.interrupts`) stopped the
    run: its folder stays marked INCOMPLETE, with why; no metrics.json is written."""
    from mathml_jax import interrupts

    sig = interrupts.signal_name(e)
    where = "nothing was written"
    if out_dir is not None and out_dir.is_dir():
        interrupts.mark(out_dir, "interrupted", f"{sig} while {while_}")
        for tmp in interrupts.stray_temporaries(out_dir):  # a second signal in atomic_write
            tmp.unlink(missing_ok=True)
        where = f"the partial folder {out_dir} is marked {interrupts.MARKER}"
    LAST_INTERRUPT.update(line=f"{name} interrupted ({sig}) while {while_}: {where}.",
                          status=interrupts.exit_status(e))


def _output_names(*names: str) -> list[str]:
    """The figure and text names experiments ``names`` write (to clear a reused folder)."""
    out = []
    for n in names:
        if n in experiments.available():
            module = experiments.load(n)
            out += [f for f, _ in drawers(module)] + [t for t, _ in drawers(module, "TEXTS")]
    return out


def _take_folder(out_dir: Path, name: str) -> None:
    """Marks ``out_dir`` INCOMPLETE for this run (the lock: refuses while another live run
    holds it) and clears what an earlier run in it left.

    Raises:
      interrupts.FolderInUse: another live run uses the folder.
    """
    import json

    from mathml_jax import interrupts

    before = interrupts.read_marker(out_dir) or {}
    try:
        earlier = json.loads((out_dir / "metrics.json").read_text()).get("experiment", "")
    except (OSError, ValueError, AttributeError):
        earlier = ""
    interrupts.claim(out_dir, name)
    gone = interrupts.clear_previous(out_dir, _output_names(name, earlier, before.get("what", "")))
    if gone:
        log.info("cleared %d file(s) an earlier run left in %s", len(gone), out_dir)


def _refuse(e: Exception, out_dir: Path | None, raise_errors: bool) -> int:
    """Bad input found before any work: no job folder is left, the message is printed (or
    raised, for the notebook API). A folder another run holds is left alone."""
    from mathml_jax.interrupts import FolderInUse

    if isinstance(e, FolderInUse):
        e = BadInput(f"{out_dir}: {e}; two runs in one folder would mix their files. Give "
                     "another folder (hydra.run.dir=...), or wait for that run to end. Nothing "
                     "was run.")
    elif out_dir is not None:
        _discard(out_dir)
    if raise_errors:
        raise e if isinstance(e, BadInput) else BadInput(str(e))
    print(f"Error: {e}", file=sys.stderr)
    return EXIT_BAD_CONFIG


def _setup(cfg: DictConfig, settings, overrides, exp_cfg, progress):
    """Applies the job's compilation cache, platform and precisions: (context, run context)."""
    from mathml_jax import distributed, runtime

    try:  # several processes (MATHML_* variables or a Slurm step): before any backend starts
        distributed.initialize()
    except distributed.ClusterError as e:
        raise BadInput(f"{e}. Nothing was run.") from None
    # before the first compilation of the job (the mantissa probe in configure compiles)
    cache_dir = runtime.configure_compilation_cache(settings.compilation_cache)
    info = runtime.configure(settings.platform, settings.precision, settings.matmul_precision)
    ctx = runtime.RunContext(seed=settings.seed, profile=settings.profile, runtime=info,
                             progress=progress)
    return _context(cfg, settings, info, ctx, cache_dir, overrides, exp_cfg), ctx


def execute(cfg: DictConfig, name: str, out_dir: Path | None, overrides: list[str] | None = None,
            *, progress=stderr_progress, raise_errors: bool = False):
    """Validates, sets up the runtime, runs experiment ``name`` and writes its job folder
    (``out_dir=None``: nothing is written).

    The folder is marked INCOMPLETE (:mod:`mathml_jax.interrupts`) from before any work until
    its metrics.json is in place; SIGTERM is an interrupt like Ctrl-C for the life of the run.
    An interrupt leaves the folder marked, with why, and is raised again (run.py turns it
    into one line and exit status 130, or 143 for SIGTERM).

    Returns:
      (status, report): status 0 (done), 1 (crashed, or a claim failed under ``strict``),
      2 (bad input, or a folder another live run holds: nothing was run and the job folder
      is removed) or 130/143 (a streamed count was interrupted and the run finished on the
      partial count: metrics.json says "interrupted"); report is None unless the experiment
      ran. With ``raise_errors`` (the notebook API), bad input raises :class:`BadInput` and
      a crash re-raises its exception instead.
    """
    from mathml_jax import interrupts

    out_dir = None if out_dir is None else Path(out_dir)
    interrupts.reset()
    LAST_INTERRUPT.clear()
    with interrupts.signals_as_interrupts():
        try:
            return _execute(cfg, name, out_dir, overrides, progress, raise_errors)
        except KeyboardInterrupt as e:
            if out_dir is not None and out_dir.is_dir() and not (
                    out_dir / interrupts.MARKER).exists():  # finished: only the logging was cut
                raise
            if not LAST_INTERRUPT:
                _record_interrupt(out_dir, name, e, "running")
            raise


def _execute(cfg, name, out_dir, overrides, progress, raise_errors):
    from mathml_jax import interrupts
    from mathml_jax.runtime import PlatformUnavailable

    try:
        settings, module, exp_cfg = validate(cfg, name)
        if out_dir is not None:
            _take_folder(out_dir, name)
        context, ctx = _setup(cfg, settings, overrides, exp_cfg, progress)
        if ctx.runtime.platform != "cpu":  # an accelerator's own memory, now that JAX runs
            _check_footprint(module, exp_cfg, settings, platform=ctx.runtime.platform)
    except (BadInput, PlatformUnavailable, interrupts.FolderInUse) as e:
        return _refuse(e, out_dir, raise_errors), None
    log.info("%s | %s | %s on %s (%d device(s)) | matmul precision %s (eps %.3g) | seed %d | "
             "profile %s | compilation cache %s", name, module.SECTION, settings.precision,
             ctx.runtime.platform, ctx.runtime.device_count, settings.matmul_precision,
             ctx.eps, settings.seed, settings.profile, context["compilation_cache"])
    t0 = time.perf_counter()
    try:
        report = run_phases(name, module, exp_cfg, ctx)
    except KeyboardInterrupt as e:
        _record_interrupt(out_dir, name, e, "running")
        raise
    except Exception as e:  # a crash is recorded in the job folder, then reported
        if out_dir is not None:
            _record_crash(out_dir, name, e, context)
            interrupts.release(out_dir)
        if raise_errors or out_dir is None:
            raise
        return EXIT_FAILED, None
    return _finish(report, settings, context, out_dir, t0)


def _finish(report, settings, context, out_dir, t0):
    """Writes the job folder of a finished run (metrics.json last, then the marker goes)."""
    from mathml_jax import interrupts
    from mathml_jax.writer import write_report

    times = {"wall_s": time.perf_counter() - t0,
             "compile_s": sum(t.compile_s for t in report.timings.values()),
             "run_s": sum(t.run_s for t in report.timings.values())}
    report.context = {**context, **times, **report.context}
    # a streamed count stopped by Ctrl-C: the run finished on the partial count
    cut = sorted(k for k, v in report.metrics.items() if k.endswith("_interrupted") and v is True)
    extra = {"status": "interrupted", "interrupted": cut} if cut else {}
    if out_dir is not None:
        try:
            write_report(report, out_dir, formats=settings.figures.formats,
                         dpi=settings.figures.dpi, **report.context, **extra)
        except KeyboardInterrupt as e:
            _record_interrupt(out_dir, report.experiment, e, "writing its outputs")
            raise
        interrupts.release(out_dir)
    log.info("\n%s\n", report.claims_text())
    log.info("compile %.2fs, run %.2fs, total %.2fs | outputs in %s", times["compile_s"],
             times["run_s"], times["wall_s"], out_dir or "(not written)")
    if cut:
        sig = interrupts.signal_name()
        LAST_INTERRUPT.update(
            line=f"{report.experiment} interrupted ({sig}): {', '.join(cut)}; the run finished "
                 f"on the partial count, metrics.json says \"interrupted\" "
                 f"({out_dir or 'not written'}).", status=interrupts.exit_status())
        return LAST_INTERRUPT["status"], report
    if settings.strict and not report.passed:
        failed = [f"{c.id or c.statement} (measured {c.measured:.4g}, expected {c.expected})"
                  for c in report.claims if not c.passed]
        log.error("strict: %d claim(s) failed: %s", report.n_failed, "; ".join(failed))
        return EXIT_FAILED, report
    return 0, report
