"""The experiment protocol: every experiment in three phases (compute, claims, figures), short
functions, claims with ids and references, redraw from saved files, the notebook API."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, no_kernels

import experiments
from experiments._runner import drawers

EXPERIMENTS = experiments.available()
MAX_FUNCTION_LINES = 60


def _functions(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


@pytest.mark.parametrize("path", sorted((ROOT / "experiments").glob("*.py")),
                         ids=lambda p: p.name)
def test_no_function_in_experiments_is_longer_than_60_lines(path):
    long = [(f.name, f.end_lineno - f.lineno + 1) for f in _functions(path)
            if f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_has_three_phases(name):
    mod = experiments.load(name)
    assert isinstance(mod.SECTION, str) and mod.SECTION
    assert mod.__doc__ and mod.__doc__.strip(), "the docstring's first line is its --help line"
    assert dataclasses.is_dataclass(mod.Config) and dataclasses.is_dataclass(mod.Results)
    assert callable(mod.compute) and callable(mod.claims)
    assert mod.FIGURES and all(callable(fn) for _, fn in drawers(mod))
    assert not hasattr(mod, "run"), "the runner runs the phases; no run() of its own"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_only_compute_calls_jax_and_nobody_builds_a_report(name):
    """Claims and figures read NumPy results: no jax/jnp name inside them; no experiment builds
    a Report, times by hand or flips JAX's precision flag."""
    path = ROOT / "experiments" / f"{name}.py"
    mod = experiments.load(name)
    text = path.read_text()
    for banned in ("Report(", "enable_x64", "perf_counter", "timing.timed", "import time\n"):
        assert banned not in text, f"{name}: {banned!r}"
    phase_fns = {fn.__name__ for _, fn in drawers(mod) + drawers(mod, "TEXTS")}
    phase_fns |= {"claims", "metrics"}
    for fn in _functions(path):
        if fn.name not in phase_fns:
            continue
        used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
        assert not used & {"jax", "jnp", "lax"}, f"{name}.{fn.name} uses {used & {'jax', 'jnp'}}"


def test_every_experiment_is_run_end_to_end_by_a_test():
    """The end-to-end test of each experiment goes through the ``run_experiment`` fixture,
    which redraws every figure from the saved run with every kernel raising."""
    texts = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py"))
    missing = [n for n in EXPERIMENTS if f'run_experiment("{n}"' not in texts]
    assert not missing, f"no end-to-end test through run_experiment for: {missing}"


def test_no_kernels_makes_a_kernel_raise():
    """The guard the redraw test relies on: a kernel on saved (host) data raises inside it."""
    import jax
    import jax.numpy as jnp

    f = jax.jit(lambda x: jnp.sin(x) * 2)
    x = np.ones(4, np.float32)
    f(x)  # compiled and cached: the guard must still refuse it
    for call in (lambda: f(x), lambda: jnp.cumsum(x), lambda: jax.jit(jnp.cos)(x)):
        with pytest.raises(Exception), no_kernels():  # noqa: B017, PT012
            np.asarray(call())


def test_series_round_trip_keeps_every_field(tmp_path):
    from mathml_jax import series

    @dataclasses.dataclass
    class R:
        a: np.ndarray
        s: float
        name: str
        nested: dict

    r = R(np.arange(6.0).reshape(2, 3), 1.5, "adam",
          {"sgd": {"loss": np.ones(3), "lr": 0.1}, "empty": {}, "labels": np.array(["a", "b"])})
    series.save(tmp_path / "s.npz", r)
    back = series.load(tmp_path / "s.npz", R)
    np.testing.assert_array_equal(back.a, r.a)
    assert back.s == 1.5 and back.name == "adam" and back.nested["sgd"]["lr"] == 0.1
    assert back.nested["empty"] == {} and list(back.nested["labels"]) == ["a", "b"]


def test_claims_carry_ids_and_references_in_metrics_json(run_experiment):
    status, report, job = run_experiment("determinant", figures=False)
    assert status == 0
    record = json.loads((job / "metrics.json").read_text())
    ids = [c["id"] for c in record["claims"]]
    assert ids and len(set(ids)) == len(ids)
    assert all(c["reference"] and c["statement"] for c in record["claims"])


def test_notebook_api_two_precisions_in_one_process(tmp_path, monkeypatch):
    """Two calls in one process at different precisions: each used its own (its results'
    dtype, its round-off unit), and write=False writes nothing."""
    import mathml_jax

    monkeypatch.chdir(tmp_path)
    r64 = mathml_jax.run("determinant", "profile=fast", precision="float64", write=False)
    r32 = mathml_jax.run("determinant", "profile=fast", precision="float32", write=False)
    assert r64.context["precision"] == "float64" and r32.context["precision"] == "float32"
    assert r64.context["eps"] == 2.0**-52 and r32.context["eps"] == 2.0**-23
    assert r64.results.area2.dtype == np.float64
    # the float32 run's shoelace areas are float32 numbers: rounding them to float32 is exact
    a32 = r32.results.area2
    np.testing.assert_array_equal(a32.astype(np.float32).astype(np.float64), a32)
    assert not np.array_equal(r64.results.area2.astype(np.float32).astype(np.float64),
                              r64.results.area2)
    assert r64.passed and r32.passed and not any(tmp_path.iterdir())
    assert "| id |" in r64._repr_markdown_()


def test_notebook_api_bad_input_raises_the_cli_message(tmp_path, monkeypatch):
    import mathml_jax
    from experiments._api import BadInput

    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInput, match=r"determinant\.num_matrices"):
        mathml_jax.run("determinant", "determinant.num_matrices=-3")
    assert not any(tmp_path.iterdir())


def test_notebook_api_writes_the_run_folder(tmp_path):
    import mathml_jax

    out = tmp_path / "run"
    report = mathml_jax.run("determinant", "profile=fast", write=out)
    assert (out / "metrics.json").is_file() and (out / "series.npz").is_file()
    assert {p.stem for p in out.glob("*.png")} == set(report.figures)


def test_report_displays_claims_then_figures_in_jupyter(monkeypatch):
    """In Jupyter (IPython's display hook, stubbed here: IPython is not a dependency) a Report
    shows its claims table as Markdown, then each figure."""
    import sys
    import types

    import matplotlib.pyplot as plt

    from mathml_jax import Claim, Report

    fig, _ = plt.subplots()  # before IPython is stubbed: pyplot asks IPython about its shell
    shown = []
    display_mod = types.ModuleType("IPython.display")
    display_mod.Markdown = lambda text: ("markdown", text)
    display_mod.display = shown.append
    monkeypatch.setitem(sys.modules, "IPython", types.ModuleType("IPython"))
    monkeypatch.setitem(sys.modules, "IPython.display", display_mod)
    report = Report("demo", section="Calculus", claims=[
        Claim.close("one is one", 1.0, 1.0, 0.1, id="one", reference="arithmetic")],
        figures={"plot": fig})
    report._ipython_display_()
    assert shown[0][0] == "markdown" and "| one | one is one" in shown[0][1]
    assert shown[1] is fig
    plt.close(fig)


def test_redraw_command_redraws_every_job_of_a_sweep_in_another_format(tmp_path, capsys):
    """``python -m mathml_jax.redraw SWEEP_DIR --formats svg``: every job folder below the
    sweep is redrawn from its saved files, in the format asked for."""
    from conftest import compose

    from experiments._cli import execute
    from experiments._redraw import main

    sweep = tmp_path / "sweep"
    for job, seed in (("0", 1), ("1", 2)):
        cfg = compose("experiment=determinant", "profile=fast", f"seed={seed}")
        status, _ = execute(cfg, "determinant", sweep / job)
        assert status == 0
    with no_kernels():
        assert main([str(sweep), "--formats", "svg"]) == 0
    for job in ("0", "1"):
        assert {p.stem for p in (sweep / job).glob("*.svg")} == {"unit_square_images",
                                                                  "monte_carlo"}
    assert main([str(tmp_path / "nothing")]) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_has_a_mutation_test(name):
    """Issue 13: for every experiment a test perturbs the computed results and checks that the
    claims that should catch it fail, and that every claim is failed by some perturbation."""
    path = ROOT / "tests" / f"test_{name}.py"
    assert path.is_file() and "assert_mutations_catch(" in path.read_text(), \
        f"tests/test_{name}.py has no mutation test (conftest.assert_mutations_catch)"


FIGURE_POINT_MAX_CHARS = 200
ABBREVIATIONS = ("e.g.", "i.e.", "vs.", "cf.", "etc.")
NOT_A_POINT = ("plot", "draw", "figure", "show")


def figure_point(fn) -> str:
    """The first paragraph of a drawing function's docstring, its lines joined: the sentence the
    gallery shows under the figure."""
    doc = inspect.getdoc(fn) or ""
    return " ".join(doc.split("\n\n")[0].split())


def figure_point_problems(point: str) -> list[str]:
    """What keeps ``point`` from being one sentence stating a figure's point (empty: nothing)."""
    if not point:
        return ["no docstring"]
    problems = []
    if not point.endswith("."):
        problems.append("does not end with a full stop")
    body = point[:-1]
    for abbreviation in ABBREVIATIONS:
        body = body.replace(abbreviation, "")
    if ". " in body:
        problems.append("more than one sentence")
    if len(point) > FIGURE_POINT_MAX_CHARS:
        problems.append(f"{len(point)} characters, more than {FIGURE_POINT_MAX_CHARS}")
    if point.split()[0].lower().startswith(NOT_A_POINT):
        problems.append(f"starts with {point.split()[0]!r}: state the point, not the drawing")
    return problems


def test_figure_point_problems_catches_each_rule():
    good = "Central differences converge at order 2, e.g. for sin, until round-off takes over."
    assert figure_point_problems(good) == []
    assert figure_point_problems("") == ["no docstring"]
    assert figure_point_problems(good[:-1]) == ["does not end with a full stop"]
    assert figure_point_problems("Errors fall. Round-off wins.") == ["more than one sentence"]
    assert figure_point_problems("A" + " a" * 99 + ".") == []  # 200 characters
    assert figure_point_problems("A" + " a" * 100 + ".") == ["202 characters, more than 200"]
    for start in ("Plot", "Draws", "Figure", "Shows"):
        assert len(figure_point_problems(f"{start} of the error against h.")) == 1


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_figure_states_its_point_in_one_sentence(name):
    """Issue 14: the gallery shows under each figure the first paragraph of its drawing
    function's docstring; it is one sentence stating the figure's point, at most 200
    characters, and no two figures of an experiment share it."""
    points, bad = {}, {}
    for out, fn in drawers(experiments.load(name)):
        point = figure_point(fn)
        if problems := figure_point_problems(point):
            bad[f"{out} ({fn.__name__})"] = problems
        points.setdefault(point, []).append(fn.__name__)
    assert not bad, f"{name}: figures whose docstring does not state the point: {bad}"
    shared = [fns for fns in points.values() if len(fns) > 1]
    assert not shared, f"{name}: figures sharing one sentence: {shared}"
