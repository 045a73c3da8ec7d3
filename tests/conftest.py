"""Shared fixtures: run any experiment end to end, in-process, through the same code path as
``python run.py`` (Hydra composition, validation, runtime set-up, the writer)."""

from __future__ import annotations

import contextlib
import os
import sys
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


@pytest.fixture
def run_experiment(tmp_path):
    """``run_experiment(name, *overrides)`` runs experiment ``name`` in the fast profile with
    ``strict=true`` and returns ``(status, report, job_dir)``."""

    def _run(name: str, *overrides: str):
        from experiments._cli import execute

        job_dir = tmp_path / name
        cfg = compose(f"experiment={name}", "profile=fast", "strict=true", *overrides)
        status, report = execute(cfg, name, job_dir, overrides=list(overrides))
        if status == 0 and report is not None and report.results is not None:
            missing = [c.id for c in report.claims if not (c.reference and c.statement)]
            assert not missing, f"claims without a reference or statement: {missing}"
            assert_redrawn_without_kernels(report, job_dir)
        return status, report, job_dir

    return _run


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
