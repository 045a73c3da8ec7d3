"""The report, its claims, the atomic writer, the sweep summary and the runtime settings."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
import pytest

from experiments._summary import main as summary_main
from experiments._summary import summarize
from mathml_jax import Claim, Report, Timing
from mathml_jax.writer import atomic_write_text, write_report


def test_claim_constructors_decide_pass_and_fail():
    assert Claim.close("a", 1.05, 1.0, tol=0.1).passed
    assert not Claim.close("a", 1.2, 1.0, tol=0.1).passed
    assert Claim.relative("r", 101, 100, rtol=0.02).passed
    assert not Claim.relative("r", 103, 100, rtol=0.02).passed
    assert Claim.at_most("m", 1.0, 1.0).passed and not Claim.at_most("m", 1.01, 1.0).passed
    assert Claim.at_least("m", 2, 1).passed and not Claim.at_least("m", 0, 1).passed
    assert Claim.within("w", 0.5, 0, 1).passed and not Claim.within("w", 2, 0, 1).passed
    assert Claim.holds("h", True).passed and not Claim.holds("h", False).passed


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_nan_or_inf_measurement_always_fails(bad):
    for c in (Claim.close("c", bad, 0.0, tol=1e300), Claim.at_most("m", bad, math.inf),
              Claim.at_least("l", bad, -math.inf), Claim.within("w", bad, -math.inf, math.inf)):
        assert not c.passed


@dataclasses.dataclass
class _Curve:
    x: np.ndarray
    y: np.ndarray


def _report() -> Report:
    import matplotlib.pyplot as plt

    r = Report("demo", section="Calculus")
    r.metric("x", np.float32(1.5), key=True)
    r.metric("nan_metric", float("nan"))
    r.claim(Claim.close("one is one", 1.0, 1.0, tol=0.0), Claim.at_most("fails", 2.0, 1.0))
    r.results = _Curve(x=np.arange(3), y=np.ones(3))
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    r.figures["plot"] = fig
    r.timings["kernel"] = Timing(compile_s=0.5, run_s=0.1)
    return r


def test_write_report_writes_every_part(tmp_path):
    r = _report()
    assert not r.passed and r.n_failed == 1
    write_report(r, tmp_path, formats=("png", "svg"), seed=3)
    rec = json.loads((tmp_path / "metrics.json").read_text())
    assert rec["claims_passed"] == 1 and rec["claims_total"] == 2
    assert rec["metrics"] == {"x": 1.5, "nan_metric": None}  # null, never the string "nan"
    assert rec["timings"]["kernel"] == {"compile_s": 0.5, "run_s": 0.1}
    assert rec["seed"] == 3
    assert (tmp_path / "plot.png").stat().st_size > 1000 and (tmp_path / "plot.svg").exists()
    np.testing.assert_array_equal(np.load(tmp_path / "series.npz")["x"], np.arange(3))
    assert "FAIL" in (tmp_path / "claims.md").read_text()
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary files left behind
    text = r.claims_text()
    assert "1 of 2 claims passed" in text and "PASS" in text and "FAIL" in text


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "metrics.json"
    atomic_write_text(target, '{"old": true}')

    class Boom(Exception):
        pass

    from mathml_jax.writer import atomic_write

    def half_then_crash(f):
        f.write(b'{"new": ')
        raise Boom

    with pytest.raises(Boom):
        atomic_write(target, half_then_crash)
    assert json.loads(target.read_text()) == {"old": True}
    assert os.listdir(tmp_path) == ["metrics.json"]


def _fake_job(sweep, num, lr, gap=None, status="ok", broken=False):
    job = sweep / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(f"- experiment=gd\n- gd.lr={lr}\n")
    if broken:
        (job / "metrics.json").write_text('{"status": "ok", "metr')  # truncated
    elif gap is not None or status != "ok":
        (job / "metrics.json").write_text(json.dumps({
            "status": status, "metrics": {"final_gap": gap} if gap is not None else {},
            "key_metrics": ["final_gap"], "claims_passed": 2, "claims_total": 3,
            "claims": [{"id": "converges", "passed": True}, {"id": "rate", "passed": lr < 1},
                       {"id": "bound", "passed": True}],
            "error": "" if status == "ok" else "ValueError: boom"}))


def test_sweep_summary_with_failed_and_missing_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    _fake_job(sweep, 0, 0.01, gap=1.0)
    _fake_job(sweep, 1, 0.1, gap=0.1)
    _fake_job(sweep, 2, 1.0, status="error")
    _fake_job(sweep, 3, 10.0)  # crashed before writing metrics.json
    _fake_job(sweep, 10, 20.0, broken=True)
    s = summarize(sweep, metric="final_gap", param="gd.lr")
    assert [r.job for r in s.rows] == ["0", "1", "2", "3", "10"]
    assert [r.status for r in s.rows] == ["ok", "ok", "error", "missing", "corrupt"]
    assert s.n_failed == 3
    csv_lines = (sweep / "summary.csv").read_text().splitlines()
    assert csv_lines[0].startswith("job,status,experiment,gd.lr,final_gap,claims")
    assert len(csv_lines) == 6
    md = (sweep / "summary.md").read_text()
    assert "| 3 | missing |" in md and "5 jobs, 3 failed" in md
    # one column per claim id, lined up across jobs (empty where a job made no claims)
    assert s.columns[-4:] == ["converges", "rate", "bound", "error"]
    assert [s.rows[i].by_id.get("rate", "") for i in range(5)] == ["pass", "pass", "FAIL", "",
                                                                    ""]
    assert s.plot_path is not None and s.plot_path.stat().st_size > 1000
    # the command: non-zero exit because jobs failed, still writes everything
    assert summary_main([str(sweep), "--metric", "final_gap"]) == 1


def test_sweep_summary_of_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert summary_main([str(tmp_path / "nope")]) == 2
    assert "no sweep folder" in capsys.readouterr().err


def test_precision_is_set_per_job_and_does_not_leak():
    import jax
    import jax.numpy as jnp

    from mathml_jax.runtime import configure

    assert configure("cpu", "float64").precision == "float64"
    assert jnp.ones(2).dtype == jnp.float64
    configure("cpu", "float32")
    assert jnp.ones(2).dtype == jnp.float32
    assert jax.devices()[0].platform == "cpu"


def test_matmul_precision_is_set_per_job_recorded_and_measured():
    import jax

    from mathml_jax.runtime import RunContext, configure

    info = configure("cpu", "float32", "default")
    assert jax.config.jax_default_matmul_precision == "default"
    assert info.matmul_precision == "default"
    info = configure("cpu", "float32", "highest")
    assert jax.config.jax_default_matmul_precision == "highest"
    # a CPU keeps every float32 mantissa bit in a matrix product: eps is float32's
    assert dict(info.matmul_bits) == {"float32": 23}
    ctx = RunContext(seed=0, profile="fast", runtime=info)
    assert ctx.eps == float(np.finfo(np.float32).eps)
    info64 = configure("cpu", "float64")
    assert dict(info64.matmul_bits) == {"float32": 23, "float64": 52}
    assert RunContext(seed=0, profile="fast", runtime=info64).eps == np.finfo(np.float64).eps
    assert info64.as_dict()["matmul_bits"] == {"float32": 23, "float64": 52}
    configure("cpu", "float32")
    with pytest.raises(ValueError, match="matmul_precision"):
        configure("cpu", "float32", "fastest")


@pytest.mark.parametrize(("dtype", "bits"), [("float16", 10), ("bfloat16", 7)])
def test_matmul_mantissa_probe_sees_reduced_arithmetic(dtype, bits):
    """The probe that finds TF32 (10 bits) or bfloat16 (7 bits) products on an accelerator,
    checked on a CPU with inputs that really have 10 and 7 mantissa bits (float16, bfloat16):
    it must report their mantissa, so a reduced arithmetic cannot pass for float32."""
    import jax.numpy as jnp

    from mathml_jax.runtime import RuntimeInfo, matmul_mantissa_bits

    assert matmul_mantissa_bits(jnp.dtype(dtype)) == bits
    info = RuntimeInfo("gpu", "test", 1, "float32", "x", "default", (("float32", bits),))
    assert info.eps_for(np.float32) == 2.0**-bits  # the TF32 / bfloat16 unit, not float32's


def test_claim_margin_is_the_fraction_of_the_tolerance_left():
    assert Claim.close("c", 1.05, 1.0, tol=0.1).margin == pytest.approx(0.5)
    assert Claim.close("c", 1.0, 1.0, tol=0.1).margin == pytest.approx(1.0)
    assert Claim.relative("r", 101, 100, rtol=0.02).margin == pytest.approx(0.5)
    assert Claim.at_most("m", 0.95, 1.0).margin == pytest.approx(0.05)
    assert Claim.at_most("m", 0.95, 1.0).fragile
    assert Claim.at_least("m", 3.0, 2.0).margin == pytest.approx(0.5)
    assert Claim.within("w", 0.9, 0.0, 1.0).margin == pytest.approx(0.2)
    failed = Claim.at_most("m", 2.0, 1.0)
    assert failed.margin < 0 and not failed.fragile  # failed, not fragile: it is a failure
    assert Claim.holds("h", True).margin is None
    assert Claim.at_most("count", 0, 0).margin is None  # an exact count has no tolerance
    assert Claim.close("n", float("nan"), 1.0, tol=1).margin == -math.inf
    report = Report("x")
    report.claim(Claim.close("safe", 1.0, 1.0, tol=0.1), Claim.at_most("edge", 0.99, 1.0))
    lines = report.margins_text().splitlines()
    assert "FRAGILE" in lines[1] and "edge" in lines[1] and "PASS" in lines[2]
    assert json.loads(json.dumps(report.claims[1].as_dict()))["margin"] == pytest.approx(0.01)


def test_every_yaml_has_a_module_and_every_module_a_yaml():
    from pathlib import Path

    import experiments

    here = Path(experiments.__file__).parent
    modules = {p.stem for p in here.glob("*.py") if not p.stem.startswith("_")}
    yamls = {p.stem for p in (experiments.CONFIG_DIR / "experiment").glob("*.yaml")}
    assert modules == yamls
    for name in experiments.available():
        mod = experiments.load(name)
        assert isinstance(mod.SECTION, str) and mod.SECTION
        assert hasattr(mod, "Config")


def test_code_version_names_the_commit_and_whether_code_differs(tmp_path):
    """The commit a run records is git's HEAD of the checkout; "dirty" says whether a tracked
    file outside results/ differs from it; outside a checkout both are None, never an error."""
    import subprocess

    from experiments._runner import code_version

    def git(*args):
        return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c",
                               "user.email=t@t", *args], capture_output=True, text=True,
                              check=True).stdout.strip()

    assert code_version(tmp_path) == {"commit": None, "dirty": None}
    repo = tmp_path / "repo"
    (repo / "results").mkdir(parents=True)
    (repo / "code.py").write_text("x = 1\n")
    (repo / "results" / "out.txt").write_text("a\n")
    git("init", "-q")
    git("add", "code.py", "results/out.txt")
    git("commit", "-q", "-m", "one")
    head = git("rev-parse", "HEAD")
    assert code_version(repo) == {"commit": head, "dirty": False}
    (repo / "results" / "out.txt").write_text("b\n")  # an output, not code
    (repo / "new.py").write_text("")  # untracked: not part of the commit's code
    assert code_version(repo) == {"commit": head, "dirty": False}
    (repo / "code.py").write_text("x = 2\n")
    assert code_version(repo) == {"commit": head, "dirty": True}
    # a folder inside a checkout that is not its top (an installed copy in a venv): unknown
    assert code_version(repo / "results") == {"commit": None, "dirty": None}
