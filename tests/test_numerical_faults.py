"""Numerical faults (issue 15, requirement 3): a non-finite value is reported, never written.

The runner's guard (:mod:`mathml_jax.finite`) against brute force on tiny arrays, and the
divergent settings the configs allow, end to end in-process at the smallest sizes that still
diverge: gd (a step above 2/L, and on Rosenbrock), optimizers (every tuning lr far too large),
sgd (step 100 with a strong L2 term) and kl (Adam at lr = 10). Each run must write a
metrics.json with no NaN or infinity in any form, its series free of undeclared non-finite
values, a divergence status, the claim about convergence failed naming the divergence (the claim
about divergence passed), and its figures drawn without a NaN point.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from mathml_jax import Claim
from mathml_jax.finite import (
    cut_at_divergence,
    explain_unmeasured,
    fails_on_divergence,
    finite_metrics,
    scan_results,
)
from mathml_jax.report import Report
from mathml_jax.status import describe_divergence, divergence_summary

# ------------------------------------------------------------------------ the guard, in-process


@dataclasses.dataclass
class _Res:
    path: np.ndarray
    fits: dict
    label: str = "x"


def test_scan_names_each_nonfinite_quantity_and_its_first_index():
    path = np.zeros((3, 5))
    path[1, 3], path[2, 0] = np.inf, np.nan   # row-major: (1, 3) comes first
    fits = {"a": np.ones(4), "never": np.array([1.0, np.inf]), "b": np.array(-np.inf)}
    faults = scan_results(_Res(path, fits), allowed={"fits/nev*": "inf: never reached"},
                          axes={"path": ("start", "step")})
    by = {f.quantity: f for f in faults}
    assert set(by) == {"path", "fits/b"}                       # declared and finite ones skipped
    assert (by["path"].count, by["path"].size, by["path"].first) == (2, 15, (1, 3))
    assert by["path"].kind == "+infinity" and by["path"].where == "start 1, step 3"
    assert by["fits/b"].first == () and by["fits/b"].kind == "-infinity"
    claim = by["path"].claim()
    assert not claim.passed and claim.id == "finite_path" and "step 3" in claim.worst
    assert claim.measured == 2 and "path" in claim.statement
    # a pattern covers the keys below it; with nothing non-finite there is nothing to say
    assert scan_results(_Res(path, fits), allowed={"path": "x", "fits": "y"}) == []
    assert scan_results(_Res(np.zeros(2), {"a": np.ones(1)})) == []


def test_metrics_are_null_never_nan_with_a_fault_per_metric():
    clean, faults = finite_metrics({"ok": 1.5, "n": 3, "s": "word", "bad": float("nan"),
                                    "table": [1.0, {"x": float("-inf")}], "none": None})
    assert clean == {"ok": 1.5, "n": 3, "s": "word", "bad": None, "table": [1.0, {"x": None}],
                     "none": None}
    assert [f.quantity for f in faults] == ["metric bad", "metric table"]
    assert faults[1].where == "entry 1/x" and faults[1].kind == "-infinity"
    r = Report("demo")
    r.metric("m", np.float32("inf"))
    r.metric("given_none", None)   # an experiment that knows why: null, not a fault
    assert r.metrics == {"m": None, "given_none": None} and len(r.faults) == 1
    text = json.dumps(Claim.at_most("c", float("nan"), float("nan")).as_dict(), allow_nan=False)
    assert '"measured": null' in text and '"tolerance": null' in text and '"margin": null' in text


def test_cut_at_divergence_against_a_loop():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 6, 2)), rng.normal(size=(4, 6))
    a[1, 3, 0], b[1, 2] = np.nan, np.inf     # run 1: b first, at step 2
    a[2, 5, 1] = -np.inf                     # run 2: a, at the last step
    a[3, 0, 0] = np.nan                      # run 3: at step 0, nothing finite to keep
    cut, k, which = cut_at_divergence({"a": a, "b": b})
    np.testing.assert_array_equal(k, [-1, 2, 5, 0])
    assert which == ["", "b", "a", "a"]
    for run in range(3):                      # by hand: the last finite step repeated
        stop = k[run] if k[run] >= 0 else 6
        for name, x in (("a", a), ("b", b)):
            want = np.concatenate([x[run, :stop], np.repeat(x[run, stop - 1:stop], 6 - stop, 0)])
            np.testing.assert_array_equal(cut[name][run], want)
    assert np.isnan(cut["a"][3]).all()        # a run bad from its start stays a fault
    assert np.isfinite(cut["a"][:3]).all() and np.isfinite(cut["b"][:3]).all()


def test_a_claim_about_runs_fails_naming_their_divergence():
    ok = Claim.at_most("runs end near x*", 0.1, 1.0, id="near")
    assert fails_on_divergence(ok, [-1, -1], ["a", "b"]) is ok
    bad = fails_on_divergence(ok, [-1, 7], ["seed 0", "seed 1"], unit="epoch")
    assert not bad.passed and bad.worst == "seed 1: diverged at epoch 7"
    assert "1 of 2 runs diverged: seed 1 at epoch 7" in bad.detail
    assert describe_divergence(3, "sd") == "diverged at step 3 (sd)"
    assert divergence_summary([-1, -1], ["a", "b"]) == "no run diverged"
    assert divergence_summary(range(6), list("abcdef")).endswith("and 2 more")
    [said] = explain_unmeasured([Claim.close("c", float("nan"), 1.0, tol=0.1)])
    assert not said.passed and "not finite (not a number)" in said.detail


# ------------------------------------------------------------------ divergent runs, end to end

def _nonfinite_lines(report) -> list[str]:
    out = []
    for name, fig in report.figures.items():
        for ax in fig.axes:
            for ln in ax.lines:
                xy = [np.asarray(v, np.float64) for v in (ln.get_xdata(), ln.get_ydata())]
                if any(v.size and not np.isfinite(v).all() for v in xy):
                    out.append(f"{name}: {ln.get_label()}")
    return out


def _leaves(x):
    if isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    elif isinstance(x, list):
        for v in x:
            yield from _leaves(v)
    else:
        yield x


def _check_written(report, job_dir, module) -> dict:
    """No NaN or infinity anywhere in metrics.json (as a number or a string), series free of
    undeclared non-finite values, every claim with a tolerance measured or saying why not,
    figures drawn without a NaN point."""
    from mathml_jax.finite import scan_results as scan
    from mathml_jax.series import load

    def refuse(token):
        raise AssertionError(f"metrics.json holds the bare number {token}")

    rec = json.loads((job_dir / "metrics.json").read_text(), parse_constant=refuse)
    spelled = [v for v in _leaves(rec) if isinstance(v, str)
               and v.strip().lower().lstrip("+-") in ("nan", "inf", "infinity")]
    assert not spelled, f"metrics.json spells a non-finite number as a string: {spelled}"
    saved = load(job_dir / "series.npz", type(report.results))
    assert scan(saved, getattr(module, "NONFINITE_OK", {})) == []
    for c in rec["claims"]:
        assert c["measured"] is not None or c["tolerance"] is None or "no measured value" in \
            c["detail"], c
    assert report.figures and all((job_dir / f"{n}.png").stat().st_size > 0
                                  for n in report.figures)
    assert not _nonfinite_lines(report)
    from tests.conftest import assert_figures_follow_checklist

    assert_figures_follow_checklist(report)
    return rec


def _claim(rec, cid) -> dict:
    return next(c for c in rec["claims"] if c["id"] == cid)


# Mostly only the settings that make runs diverge change: kl's and gd's shapes are those of
# tests/test_<name>.py, so in one process their kernels are compiled once (a step size is
# traced: no recompilation); sgd trains one minibatch size, optimizers runs a small comparison.
@pytest.mark.parametrize("name, overrides", [
    ("kl", ["kl.lr=10"]),
    ("sgd", ["sgd.lr=100", "sgd.l2=1", "sgd.full_batch_lr=100", "sgd.batch_sizes=[16]"]),
    ("optimizers", ["optimizers.lr_min=10", "optimizers.lr_max=100", "optimizers.steps=200",
                    "optimizers.starts=4", "optimizers.lr_points=2", "optimizers.tune_starts=1",
                    "optimizers.optimizers=[sgd,adam]", "optimizers.rate_steps=40"]),
    ("gd", ["gd.lr=2.5", "gd.rosenbrock_lr=0.01", "gd.kappas=[5,50]", "gd.sweep_points=8",
            "gd.rosenbrock_steps=12000"]),   # the shapes of tests/test_gd.py's second job
])
def test_a_divergent_setting_is_reported_never_written_as_nan(run_experiment, name, overrides):
    import experiments

    status, report, job_dir = run_experiment(name, *overrides, figures=True)
    assert status == 1  # strict: a claim failed, and the run still wrote everything
    rec = _check_written(report, job_dir, experiments.load(name))
    m = rec["metrics"]
    failed = {c["id"] for c in rec["claims"] if not c["passed"]}
    if name == "kl":
        assert m["reverse_fit_diverged"] == 3 and m["reverse_fit_sd"] is None
        assert all("diverged at step" in s for s in m["reverse_fit_status"])
        c = _claim(rec, "reverse_kl_locks_onto_bump")
        assert not c["passed"] and "3 of 3 runs diverged" in c["detail"]
        assert _claim(rec, "kl_matches_scipy")["passed"]   # the non-iterative part still holds
    elif name == "sgd":
        assert m["diverged_runs"] == 2 * 4 and m["final_gap"] is None   # B = 16, full; 4 seeds
        for cid in ("minibatch_final_gap", "full_batch_linear_rate"):
            assert "diverged at epoch" in _claim(rec, cid)["worst"]
        assert _claim(rec, "jax_loss_matches_numpy")["passed"]   # not iterative: holds
    elif name == "optimizers":
        assert m["rosenbrock.sgd.reached"] == 0 and m["rosenbrock.sgd.diverged"] == 4
        assert m["rosenbrock.sgd.steps_median"] is None          # no median over no run
        assert m["rosenbrock.sgd.held_out_median_distance"] is None
        c = _claim(rec, "rosenbrock_median_reaches_minimiser")
        assert not c["passed"] and "4 of 4 runs of sgd diverged" in c["detail"]
        assert "no measured value" in c["detail"]
    else:  # gd: past 2/L divergence is the mathematics: that claim passes, Rosenbrock's fails
        assert m["status"].startswith("diverged at step") and m["diverged"] == 1
        assert _claim(rec, "steps_above_2_over_L_diverge")["passed"]
        assert _claim(rec, "configured_step_outcome")["passed"]
        c = _claim(rec, "rosenbrock_local_rate")
        assert not c["passed"] and "diverged at step" in c["detail"]
        assert m["rosenbrock_local_rate"] is None
    assert not any(f.startswith("finite_") for f in failed), failed   # all declared or cut


def test_the_runner_reports_an_undeclared_nonfinite_as_a_failed_claim_and_a_fault():
    """run_phases on a stand-in experiment (no kernel): its series hold a declared +inf and an
    undeclared NaN, one metric is NaN and one claim has no measurement."""
    import types

    from experiments._runner import run_phases

    @dataclasses.dataclass
    class Res:
        steps: np.ndarray
        loss: np.ndarray

    module = types.SimpleNamespace(
        SECTION="test", NONFINITE_OK={"steps": "+inf: never reached"},
        SERIES_AXES={"loss": ("seed", "step")},
        compute=lambda cfg, ctx: Res(np.array([3.0, np.inf]),
                                     np.array([[1.0, 0.5, np.nan], [1.0, 0.4, 0.2]])),
        claims=lambda cfg, r, ctx: [Claim.at_most("loss falls", np.nan, 1.0, id="falls")],
        metrics=lambda cfg, r: {"final": float(r.loss[0, -1]), "steps": 3})
    @dataclasses.dataclass
    class Cfg:  # no keys
        pass

    ctx = types.SimpleNamespace(timer=types.SimpleNamespace(timings={}))
    report = run_phases("stand_in", module, Cfg(), ctx)
    by = {c.id: c for c in report.claims}
    assert set(by) == {"falls", "finite_loss"} and not report.passed
    assert by["finite_loss"].worst == "first not a number at seed 0, step 2"
    assert "no measured value" in by["falls"].detail
    assert report.metrics["final"] is None and report.metrics["steps"] == 3
    assert [f["quantity"] for f in report.context["faults"]] == ["loss", "metric final"]


def test_neural_network_edge_of_stability_past_its_range_is_cut_and_drawn_with_a_mark():
    """Full-batch GD at eta = 1000 (eos_lrs allows up to 1000) overflows: the compute phase's
    edge-of-stability part cuts each path where it diverged, the figure stops there with an x
    and says so in its legend, and the claims about the plateau fail naming the run (only this
    part of the experiment: its whole run is the suite's costliest)."""
    import types

    from experiments import neural_network as nn
    from mathml_jax import runtime

    cfg = nn.Config(activation="relu", eos_lrs=[1.0, 1000.0], eos_starts=2, eos_steps=100,
                    eos_record_every=25, eos_train=64, eos_matvecs=4)
    ctx = runtime.RunContext(seed=0, profile="fast",
                             runtime=runtime.configure("cpu", "float32", "highest"))
    edge = nn._edge(cfg, ctx, {"moons": (2, *cfg.moons_hidden, 2)}, ctx.key)
    assert (edge["diverged_at"][:, 0] == -1).all() and (edge["diverged_at"][:, 1] > 0).all()
    for k in ("loss", "sharpness", "bound"):
        assert np.isfinite(edge[k]).all(), k
    r = types.SimpleNamespace(edge=edge)
    fig = nn.edge_of_stability(cfg, r)
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert any("1000" in t and "diverged" in t for t in labels), labels
    assert any(ln.get_marker() == "x" for ax in fig.axes for ln in ax.lines)
    assert not _nonfinite_lines(types.SimpleNamespace(figures={"edge": fig}))
    eos = [f"eta={eta:g}, start {s}" for s in range(2) for eta in cfg.eos_lrs]
    slope = nn._plateau_slope_claim(cfg, r, {k: types.SimpleNamespace(median=1.0) for k in eos})
    failed = fails_on_divergence(slope, edge["diverged_at"].ravel(), eos)
    assert not failed.passed and "eta=1000, start 0: diverged at step" in failed.worst
