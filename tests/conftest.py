"""Shared fixtures: run any experiment end to end, in-process, through the same code path as
``python run.py`` (Hydra composition, validation, runtime set-up, the writer)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's packages, before any installed copy

from mathml_jax.report import MIN_MARGIN  # noqa: E402

# The suite runs on the CPU (CI has no GPU); tools/gpu_check.sh sets MATHML_TEST_PLATFORM=auto
# to run it with the GPU visible.
if os.environ.get("MATHML_TEST_PLATFORM", "cpu") == "cpu":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


@pytest.fixture(scope="session", autouse=True)
def _compilation_cache_in_tmp(tmp_path_factory):
    """JAX's persistent compilation cache of the suite lives in a temporary folder (one per
    session, or per xdist worker), never in the user's ~/.cache; CLI subprocesses inherit it.
    A folder the user set with MATHML_JAX_CACHE_DIR is kept."""
    if "MATHML_JAX_CACHE_DIR" not in os.environ:
        os.environ["MATHML_JAX_CACHE_DIR"] = str(tmp_path_factory.mktemp("jax-cache"))
    yield


def compose(*overrides: str):
    """The config ``python run.py OVERRIDES...`` would get (with Hydra's own section)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    import experiments

    with initialize_config_dir(config_dir=str(experiments.CONFIG_DIR), version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides), return_hydra_config=True)


# ------------------------------------------------------------------ compilations of a run
# Counted from JAX's own logs (jax.log_compiles, jax.explain_cache_misses): every compilation
# logs "Finished XLA compilation of NAME" and, with a cache folder set, a persistent-cache miss
# or hit with the program's key. A program compiled twice in one run shows up as a second
# lookup of the same key (tests/test_startup.py explains more).

_COMPILED = re.compile(r"Finished XLA compilation of (.+?) in [0-9.e+-]+ sec")
_MISS = re.compile(r"PERSISTENT COMPILATION CACHE MISS for '([^']+)' with key '([^']+)'")
_HIT = re.compile(r"Persistent compilation cache hit for '([^']+)' with key '([^']+)'")


@dataclass
class CompileLog:
    compiled: list[str] = field(default_factory=list)  # "jit(train_seeds)", one per compile
    misses: list[tuple[str, str]] = field(default_factory=list)  # (module, cache key)
    hits: list[tuple[str, str]] = field(default_factory=list)

    def per_name(self) -> Counter:
        return Counter(self.compiled)

    def keys_seen_twice(self, names: set[str] | None = None) -> dict[str, int]:
        """Cache keys looked up more than once, for programs named ``jit_NAME`` with NAME in
        ``names`` (all programs if None)."""
        counts = Counter(key for module, key in self.misses + self.hits
                         if names is None or module.removeprefix("jit_") in names)
        return {k: n for k, n in counts.items() if n > 1}


@functools.cache
def kernel_names() -> frozenset[str]:
    """Names of the functions defined in mathml_jax/ and experiments/: a program named after
    one of them is one of this suite's kernels. (Eager operations outside any jit compile as
    programs named after a JAX primitive or jax.numpy function instead; JAX's in-memory cache
    may compile one of those twice with the same code, e.g. inside and outside
    ``jax.enable_x64``, or for a weakly and a strongly typed input; so a name that is also a
    jax.numpy, jax.lax or jax.nn function, e.g. a helper called ``add``, is left out.)"""
    import jax

    names = set()
    for path in [*(ROOT / "mathml_jax").rglob("*.py"), *(ROOT / "experiments").glob("*.py")]:
        names |= set(re.findall(r"^\s*def (\w+)", path.read_text(), re.M))
    eager = set(dir(jax.numpy)) | set(dir(jax.lax)) | set(dir(jax.nn))
    return frozenset(names - eager)


class _Collect(logging.Handler):
    def __init__(self, out: CompileLog):
        super().__init__(logging.DEBUG)
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if m := _COMPILED.search(msg):
            self.out.compiled.append(m.group(1))
        elif m := _MISS.search(msg):
            self.out.misses.append((m.group(1), m.group(2)))
        elif m := _HIT.search(msg):
            self.out.hits.append((m.group(1), m.group(2)))


@contextmanager
def compile_log():
    """Collects every compilation (and persistent-cache miss/hit) JAX logs in the block."""
    import mathml_jax.runtime  # noqa: F401  its first import quiets JAX's loggers: before we open them

    out = CompileLog()
    handler = _Collect(out)
    root = logging.getLogger("jax")
    # runtime.py quiets the compiler's logger (backend probing noise); open it for the count
    quiet = logging.getLogger("jax._src.compiler")
    levels = (root.level, quiet.level)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    quiet.setLevel(logging.WARNING)
    try:
        import jax

        with jax.log_compiles(True), jax.explain_cache_misses(True):
            yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(levels[0])
        quiet.setLevel(levels[1])


@pytest.fixture
def run_experiment(tmp_path, monkeypatch):
    """``run_experiment(name, *overrides)`` runs experiment ``name`` in the fast profile with
    ``strict=true`` and returns ``(status, report, job_dir)``. A successful run is also
    checked: no kernel compiled twice, claims with references, the figure checklist, and every
    figure redrawn from the saved folder with kernels forbidden. ``figures=False`` draws
    nothing (for a second run of an experiment at another precision or seed, whose figures its
    first run has checked: its claims are the point). ``determinism=True`` (each experiment's
    end-to-end test) runs it twice more, reusing the compiled kernels: the same seed must give
    bit-identical metrics and series, and seed 1 must change every sampled array
    (``tests/determinism.py``)."""

    def _run(name: str, *overrides: str, figures: bool = True, determinism: bool = False,
             job: str | None = None):
        import experiments
        from experiments._cli import execute

        if not figures:
            monkeypatch.setattr(experiments.load(name), "FIGURES", ())
        job_dir = tmp_path / (job or name)
        cfg = compose(f"experiment={name}", "profile=fast", "strict=true", *overrides)
        with compile_log() as log:
            status, report = execute(cfg, name, job_dir, overrides=list(overrides))
        if status == 0 and report is not None and report.results is not None:
            twice = log.keys_seen_twice(kernel_names())
            assert not twice, ("kernels compiled more than once in one run (same cache key):\n"
                               + "\n".join(f"{n} x {k}" for k, n in twice.items()))
            missing = [c.id for c in report.claims if not (c.reference and c.statement)]
            assert not missing, f"claims without a reference or statement: {missing}"
            if figures:
                assert_figures_follow_checklist(report)
                assert_redrawn_without_kernels(report, job_dir)
                assert_tolerances_move_their_claims(name, report)
            if determinism:
                from determinism import assert_deterministic

                assert_deterministic(name, report, overrides, _run)
        return status, report, job_dir

    return _run




def assert_tolerances_move_their_claims(name: str, report) -> None:
    """Every key declared ``tolerance=True`` is a bound some claim is checked against: the
    claims re-made with it moved inside its range (NumPy only: no kernel) differ from the run's
    in at least one claim's bound, verdict or margin. Else the declaration is wrong, and a user
    changing that key would be told no claim moved."""
    import dataclasses

    import experiments
    from experiments._tolerances import _signature

    module, cfg = experiments.load(name), report.config
    base = {c.id: _signature(c) for c in report.claims}

    def inside(f, x) -> bool:  # the schema's own range check
        from experiments._schema import ConfigError, _check_value

        try:
            _check_value(f.name, x, dict(f.metadata))
        except ConfigError:
            return False
        return True

    for f in dataclasses.fields(cfg):
        if not f.metadata.get("tolerance"):
            continue
        value = getattr(cfg, f.name)
        # halved, then much tighter (a matching radius matters only near its edge), then wider
        low = f.metadata.get("gt") if f.metadata.get("gt") is not None else f.metadata.get("ge")
        high = f.metadata.get("lt") if f.metadata.get("lt") is not None else f.metadata.get("le")
        toward = [] if isinstance(value, list) else [(value + b) / 2 for b in (low, high)
                                                     if b is not None]
        tries = ([[value[0] * 1.02, *value[1:-1], value[-1] * 0.98]] if isinstance(value, list)
                 else [x for x in (value * 0.5, value * 0.01, value * 1.5, *toward)
                       if inside(f, x)])
        for moved in tries:
            again = module.claims(dataclasses.replace(cfg, **{f.name: moved}), report.results,
                                  report.run_context)
            if any(_signature(c) != base.get(c.id) for c in again):
                break
        else:
            raise AssertionError(f"{name}.{f.name} is declared a tolerance, but moving it from "
                                 f"{value!r} to any of {tries} changes no claim: it bounds "
                                 "nothing the claims check")


def assert_all_claims_pass(report) -> None:
    """Fails with the claims table when any claim failed, and with the margin table when a
    claim passed closer to its bound than ``MIN_MARGIN`` of its tolerance (it would fail on
    the next machine)."""
    assert report is not None, "the experiment did not produce a report"
    assert report.claims, "an experiment must check at least one claim"
    assert report.passed, "failed claims:\n" + report.claims_text()
    fragile = [c for c in report.claims if c.fragile]
    assert not fragile, (f"{len(fragile)} claim(s) passed with a margin under "
                         f"{MIN_MARGIN:.0%} of the tolerance:\n" + report.margins_text())


_COMPILES: list[str] = []
_WATCHING = [False]


def _on_jax_event(event: str, duration: float, **_: object) -> None:
    if _WATCHING[0] and "compile" in event:
        _COMPILES.append(event)


@contextlib.contextmanager
def no_kernels():
    """Inside, any JAX kernel raises: every transfer of data to or from a device is refused
    (``jax.transfer_guard("disallow_explicit")``: a kernel needs its inputs on the device),
    and any compilation is recorded and fails the block."""
    import jax

    if not getattr(no_kernels, "listening", False):
        jax.monitoring.register_event_duration_secs_listener(_on_jax_event)
        no_kernels.listening = True
    _COMPILES.clear()
    _WATCHING[0] = True
    try:
        with jax.transfer_guard("disallow_explicit"):
            yield
    finally:
        _WATCHING[0] = False
    assert not _COMPILES, f"JAX compiled while kernels were forbidden: {_COMPILES}"


def assert_redrawn_without_kernels(report, job_dir: Path) -> None:
    """Redraws every figure, animation and text of a finished job from its saved files alone
    (``python -m mathml_jax.redraw``'s code), with every kernel made to raise, and checks that
    each one the run made is written again."""
    from experiments._redraw import redraw

    for p in job_dir.iterdir():
        if p.suffix in (".png", ".gif", ".svg", ".pdf"):
            p.unlink()
    with no_kernels():
        written = redraw(job_dir)
    names = {p.name for p in written}
    expected = ({f"{n}.png" for n in report.figures} | {f"{n}.gif" for n in report.animations}
                | {f"{n}.md" for n in report.texts})
    assert expected <= names, f"not redrawn: {sorted(expected - names)}"
    for n in expected:
        assert (job_dir / n).stat().st_size > 0


# ------------------------------------------------------------------ FIGURES.md, checked


def _is_grey(rgb) -> bool:
    r, g, b = rgb[:3]
    return abs(r - g) < 0.02 and abs(g - b) < 0.02 and 0.15 < r < 0.9


MIN_PANEL_IN = 1.4  # a panel's plotting area, in inches a side: less is unreadable on a slide


def _figure_problems(name: str, fig) -> list[str]:
    """What of FIGURES.md's checkable lines ``fig`` breaks: width, panels in a row, text size,
    legend frames, a colour shared by two labelled curves, a grey method, an empty panel, a
    panel squeezed by its legend or title, no title."""
    import matplotlib.colors as mcolors
    from matplotlib.text import Text

    out = []
    w = fig.get_size_inches()[0]
    if w > 10.0 + 1e-6:
        out.append(f"{w:.1f} in wide (at most 10)")
    sup = fig._suptitle
    if sup is None or not sup.get_text().strip():
        out.append("no title stating its point")
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < 9 - 1e-6:
            out.append(f"text {t.get_text()[:30]!r} at {t.get_fontsize():.1f} pt (at least 9)")
            break
    for leg in [*fig.legends, *(ax.get_legend() for ax in fig.axes)]:
        if leg is not None and leg.get_frame_on():
            out.append("a legend with a frame")
            break
    fig.draw_without_rendering()  # the layout engine's final panel positions
    W, H = fig.get_size_inches()
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        box = ax.get_position()
        if (spec is not None and ax.get_visible() and ax.axison and not hasattr(ax, "_colorbar")
                and min(box.width * W, box.height * H) < MIN_PANEL_IN):
            out.append(f"panel {ax.get_title()[:30]!r} squeezed to {box.width * W:.1f} x "
                       f"{box.height * H:.1f} in (at least {MIN_PANEL_IN} in a side)")
        if spec is not None and spec.get_gridspec().ncols > 3:
            out.append(f"{spec.get_gridspec().ncols} panels in a row (at most 3)")
        if ax.get_visible() and ax.axison and not (ax.lines or ax.collections or ax.images
                                                   or ax.patches or ax.texts):
            out.append(f"an empty panel ({ax.get_title()!r})")
        seen = {}
        for line in ax.lines:
            label = line.get_label()
            if label.startswith("_") or not label:
                continue
            rgb = mcolors.to_rgb(line.get_color())
            if rgb == (0.0, 0.0, 0.0):
                continue  # theory
            if _is_grey(rgb):
                out.append(f"grey curve {label!r} (grey is never a method)")
            key = tuple(round(c, 3) for c in rgb)
            if key in seen and line.get_linestyle() == seen[key][1]:
                out.append(f"{label!r} and {seen[key][0]!r} share a colour in one panel")
            seen.setdefault(key, (label, line.get_linestyle()))
    return [f"{name}: {p}" for p in dict.fromkeys(out)]


def assert_figures_follow_checklist(report) -> None:
    """Every figure of the run passes the checkable lines of ../shared/FIGURES.md."""
    problems = [p for name, fig in report.figures.items() for p in _figure_problems(name, fig)]
    assert not problems, "figures break the checklist:\n" + "\n".join(problems)


# ------------------------------------------------------------------ mutation tests


def recheck(report, mutate) -> dict[str, bool]:
    """The claims of a finished run re-checked on a perturbed copy of its results: ``mutate``
    changes the copy in place (or returns a new one). Returns {claim id: passed}."""
    import copy

    import experiments

    module = experiments.load(report.experiment)
    results = copy.deepcopy(report.results)
    results = mutate(results) or results
    return {c.id: c.passed for c in module.claims(report.config, results, report.run_context)}


def assert_mutations_catch(report, mutations: dict) -> None:
    """``mutations``: {label: (mutate, ids that must fail)}. Checks that each perturbation of
    the results fails the claims it should, and that every claim of the run is failed by some
    perturbation (a claim nothing can fail is a defect)."""
    base = recheck(report, lambda r: None)
    assert all(base.values()), f"unperturbed results fail: {[k for k, v in base.items() if not v]}"
    caught: set[str] = set()
    for label, (mutate, ids) in mutations.items():
        failed = {k for k, ok in recheck(report, mutate).items() if not ok}
        missing = set(ids) - failed
        assert not missing, (f"mutation {label!r} should fail {sorted(missing)}; "
                             f"failed: {sorted(failed)}")
        caught |= failed
    uncovered = set(base) - caught
    assert not uncovered, f"claims no perturbation fails: {sorted(uncovered)}"


# ------------------------------------------------------------------ scheduling under xdist
# CI runs the suite on 2 cores with pytest-xdist's worksteal scheduler, which first hands each
# worker an equal, contiguous share of the collection (then idle workers steal from the tail
# of busy ones). In file order, a share can hold several of the long end-to-end tests while the
# other holds short ones, and the run ends with one worker busy on a long test. So the
# collection is reordered: tests sorted longest first (seconds from tests/durations.json, made
# by tools/test_durations.py) and dealt out longest-processing-time first into as many shares
# as there are workers, each share sized as xdist will cut it and ordered longest first, so a
# stolen tail holds short tests. The order is a function of the collection and the file alone,
# the same in every worker (xdist requires it). A test not in the file counts as the median.

DURATIONS = Path(__file__).with_name("durations.json")


def _shares(n: int, workers: int) -> list[int]:
    """The sizes of the contiguous shares xdist's worksteal scheduler cuts ``n`` tests into."""
    sizes, left = [], n
    for i in range(workers):
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    return sizes


def schedule(ids: list[str], seconds: dict[str, float], workers: int) -> list[str]:
    """``ids`` reordered for ``workers`` xdist workers (see above)."""
    import statistics

    default = statistics.median(seconds.values()) if seconds else 1.0
    cost = {i: seconds.get(i, default) for i in ids}
    order = sorted(ids, key=lambda i: -cost[i])
    if workers <= 1:
        return order
    sizes = _shares(len(ids), workers)
    shares: list[list[str]] = [[] for _ in sizes]
    load = [0.0] * workers
    for i in order:
        open_ = [k for k in range(workers) if len(shares[k]) < sizes[k]]
        k = min(open_, key=lambda k: load[k])
        shares[k].append(i)
        load[k] += cost[i]
    return [i for share in shares for i in share]


def pytest_collection_modifyitems(config, items):
    import json

    if not DURATIONS.exists():
        return
    seconds = json.loads(DURATIONS.read_text())
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    by_id = {it.nodeid: it for it in items}
    items[:] = [by_id[i] for i in schedule(list(by_id), seconds, workers)]
