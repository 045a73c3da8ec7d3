"""Interrupts and concurrency (issue 15, requirement 4), with real processes and signals:
Ctrl-C, SIGTERM and SIGKILL during a run, two runs in one folder, a sweep with a crashed job,
a failed claim under strict, a reused sweep folder, Ctrl-C in a sweep, a joblib worker killed.

Cheap on purpose (CI time): coin in the fast profile, signals sent when a file shows the run
got where the test wants it (never after a fixed sleep), several checks per process, and
in-process checks (prevalidation, the summary, a rerun) wherever a process adds nothing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import compose

from mathml_jax import interrupts

ROOT = Path(__file__).resolve().parent.parent
FAST = ["experiment=coin", "profile=fast"]


def _env() -> dict:
    return {**os.environ, "JAX_PLATFORMS": "cpu", "HYDRA_FULL_ERROR": "0",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def _start(cwd: Path, *args: str, script: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(script or ROOT / "run.py"), *args], cwd=cwd,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 240) -> None:
    """Polls ``condition`` until it holds; fails if the process ends first or time runs out."""
    t0 = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the process ended (status {proc.returncode}) before {what}:\n"
                        f"{out[-2000:]}\n{err[-2000:]}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            pytest.fail(f"no {what} after {timeout} s")
        time.sleep(0.02)


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=240)
    return proc.returncode, out, err


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _wrapper(tmp_path: Path, body: str) -> Path:
    """A run.py with ``body`` (Python, run in the process before Hydra) injecting a fault."""
    path = tmp_path / "faulty_run.py"
    path.write_text(f"""\
import os, signal, sys
sys.path.insert(0, {str(ROOT)!r})
import hydra
from experiments._cli import main as entry, run_job
{body}
@hydra.main(version_base="1.3", config_path={str(ROOT / "configs")!r}, config_name="config")
def task(cfg):
    return run_job(cfg)

entry(task)
""")
    return path


# --------------------------------------------------------------------------------- one run

def test_a_folder_in_use_is_refused_and_ctrl_c_marks_it_incomplete(tmp_path):
    """A run holds its folder: a second run given the same hydra.run.dir refuses (exit 2,
    one paragraph, nothing written). Ctrl-C then stops the first run: one line naming the
    partial folder, exit 130, INCOMPLETE with the reason, no metrics.json, no temporary file."""
    from experiments._cli import prevalidate

    started = tmp_path / "compute-started"
    script = _wrapper(tmp_path, f"""
import time
import experiments
def compute(cfg, ctx):  # a run that is still running when the test signals it
    open({str(started)!r}, "w").close()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 120:
        time.sleep(0.02)
    raise SystemExit("never signalled")
experiments.load("coin").compute = compute
""")
    folder = tmp_path / "run"
    proc = _start(tmp_path, *FAST, f"hydra.run.dir={folder}", script=script)
    _wait_for(lambda: (folder / interrupts.MARKER).exists(), proc, "its INCOMPLETE marker")
    _wait_for(started.exists, proc, "its compute phase")  # a signal in set-up says "before"
    with pytest.raises(SystemExit) as e:  # exactly what run.py does before Hydra starts
        prevalidate([*FAST, f"hydra.run.dir={folder}"])
    assert e.value.code == 2
    assert interrupts.read_marker(folder)["pid"] == proc.pid  # the folder stays the first's
    proc.send_signal(signal.SIGINT)
    status, _, err = _finish(proc)
    assert status == interrupts.EXIT_SIGINT, err
    line = _one_line(err)
    assert "coin interrupted (SIGINT)" in line and str(folder) in line
    marker = interrupts.read_marker(folder)
    assert marker["status"] == "interrupted" and "SIGINT" in marker["reason"]
    assert not (folder / "metrics.json").exists()
    assert interrupts.stray_temporaries(folder) == []


def test_refusal_message_names_the_folder_and_its_run(tmp_path, capsys):
    """The refusal is one paragraph naming the folder, the other run and what to do; a
    marker of a dead process (a run killed with SIGKILL) is stale and taken over."""
    from experiments._cli import prevalidate

    folder = tmp_path / "busy"
    folder.mkdir()
    (folder / interrupts.MARKER).write_text(json.dumps(
        {"status": "running", "what": "coin", "pid": os.getppid(), "since": "then"}))
    with pytest.raises(SystemExit) as e:
        prevalidate([*FAST, f"hydra.run.dir={folder}"])
    msg = capsys.readouterr().err.strip()
    assert e.value.code == 2 and len(msg.splitlines()) == 1
    assert f"hydra.run.dir={folder}" in msg and f"pid {os.getppid()}" in msg
    assert "another run" in msg and "Nothing was run." in msg
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    (folder / interrupts.MARKER).write_text(json.dumps(
        {"status": "running", "what": "coin", "pid": int(dead.stdout)}))
    prevalidate([*FAST, f"hydra.run.dir={folder}"])  # taken over: no exit
    assert interrupts.read_marker(folder)["pid"] == os.getpid()


def test_sigterm_while_a_figure_is_written_then_a_rerun_clears_the_folder(tmp_path):
    """SIGTERM arriving while savefig writes a PNG (sent from inside savefig, so it lands
    there every time): exit 143, one line, the temporary file removed, INCOMPLETE says
    SIGTERM while writing. A rerun into the folder completes it and clears what was left
    (a stray temporary file of a run killed harder, the marker)."""
    from experiments._cli import execute

    script = _wrapper(tmp_path, """
from matplotlib.figure import Figure
_savefig = Figure.savefig
def savefig(self, f, *a, **k):
    f.write(b"a partial PNG")
    os.kill(os.getpid(), signal.SIGTERM)
    return _savefig(self, f, *a, **k)
Figure.savefig = savefig
""")
    folder = tmp_path / "run"
    status, _, err = _finish(_start(tmp_path, *FAST, f"hydra.run.dir={folder}", script=script))
    assert status == interrupts.EXIT_SIGTERM, err
    line = _one_line(err)
    assert "(SIGTERM) while writing its outputs" in line and str(folder) in line
    assert interrupts.read_marker(folder)["reason"] == "SIGTERM while writing its outputs"
    assert interrupts.stray_temporaries(folder) == []
    assert not list(folder.glob("*.png")) and not (folder / "metrics.json").exists()
    # what a SIGKILL in atomic_write would leave; then the rerun
    (folder / ".pmf.png.k1ll3d.tmp").write_bytes(b"partial")
    status, _ = execute(compose(*FAST), "coin", folder)
    assert status == 0
    assert read_status(folder) == "ok" and interrupts.read_marker(folder) is None
    assert interrupts.stray_temporaries(folder) == []
    assert {p.name for p in folder.glob("*.png")} == {"frequency.png", "pmf.png"}


def read_status(folder: Path) -> str:
    return json.loads((folder / "metrics.json").read_text())["status"]


def test_sigkill_leaves_a_folder_marked_incomplete(tmp_path):
    """SIGKILL runs no code: the marker written before any work stays, so the folder never
    looks complete; the summary says so, and a rerun takes the dead run's folder over."""
    from experiments._summary import read_job

    folder = tmp_path / "run"
    proc = _start(tmp_path, *FAST, f"hydra.run.dir={folder}")
    _wait_for(lambda: (folder / interrupts.MARKER).exists(), proc, "its INCOMPLETE marker")
    proc.send_signal(signal.SIGKILL)
    status, _, _ = _finish(proc)
    assert status == -signal.SIGKILL
    assert not (folder / "metrics.json").exists()
    row = read_job(folder)
    assert row.status == "incomplete" and "killed" in row.error
    assert interrupts.holder(folder) is None  # stale: a rerun may take it
    interrupts.claim(folder, "coin")
    assert interrupts.read_marker(folder)["pid"] == os.getpid()


def test_a_streamed_count_cut_short_finishes_as_interrupted(tmp_path, monkeypatch):
    """A run whose streamed count absorbed an interrupt (lln's Ctrl-C path: the partial count
    is kept and checked) writes every output, with status "interrupted" in metrics.json and
    exit status 130; and lln's speed comparison, interrupted by a real SIGINT during the
    NumPy baseline, withholds the rates it did not finish instead of reporting a speed-up."""
    import jax

    import experiments
    from experiments import lln
    from experiments._cli import execute
    from mathml_jax.timing import Timer

    coin = experiments.load("coin")
    real = coin.metrics
    monkeypatch.setattr(coin, "metrics", lambda c, r: {**real(c, r), "stream_interrupted": True})
    monkeypatch.setattr(coin, "FIGURES", ())
    status, _ = execute(compose(*FAST), "coin", tmp_path / "coin")
    assert status == interrupts.EXIT_SIGINT
    rec = json.loads((tmp_path / "coin" / "metrics.json").read_text())
    assert rec["status"] == "interrupted" and rec["interrupted"] == ["stream_interrupted"]
    assert interrupts.read_marker(tmp_path / "coin") is None

    def numpy_baseline(fn, rng, n, **kw):
        if fn is lln.numpy_die:  # the second baseline: a real SIGINT while it runs
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        return None, 0.5

    monkeypatch.setattr(lln, "_streamed", lambda *a: (None, 100, 0.25, False))
    monkeypatch.setattr(lln, "wall", numpy_baseline)

    class Ctx:
        seed, timer = 0, Timer()

    cfg = lln.Config(benchmark_samples=1e6)
    with interrupts.signals_as_interrupts():
        key = jax.random.key(0)
        b = lln._benchmark(cfg, Ctx(), key, key, 8, None)
    out = lln._benchmark_metrics(b)
    assert b["interrupted"] and out["benchmark_interrupted"] is True
    assert "benchmark_numpy_coin_per_s" in out
    assert not any(k in out for k in ("benchmark_die_speedup", "benchmark_numpy_die_per_s",
                                      "benchmark_numpy_raw_coin_per_s"))
    assert out["benchmark_coin_speedup"] == pytest.approx((1e6 / 0.25) / (1e6 / 0.5))


# ------------------------------------------------------------------------------- sweeps

def test_every_sweep_is_validated_before_any_folder(tmp_path, capsys):
    """glob(...) is expanded from the config group, and every job validated, before a
    folder exists; an interval (which the basic sweeper cannot run) is one paragraph."""
    from experiments._cli import prevalidate

    sweep = tmp_path / "sweep"
    cases = [(["experiment=glob(c*)", "seed=-1"], "seed=-1"),
             (["experiment=glob(c*)", "coin.p=abc"], "coin.p"),
             (["experiment=coin", "coin.p=abc,0.5"], "coin.p='abc'"),
             (["experiment=coin", "coin.p=interval(0,2)"], "cannot sample an interval")]
    for args, named in cases:
        with pytest.raises(SystemExit) as e:
            prevalidate(["-m", *args, f"hydra.sweep.dir={sweep}"])
        msg = capsys.readouterr().err.strip()
        assert e.value.code == 2 and len(msg.splitlines()) == 1 and named in msg, (args, msg)
        assert not sweep.exists()


def test_sweep_with_a_crash_a_failed_claim_under_strict_in_a_reused_folder(tmp_path):
    """One sweep, into a folder an earlier sweep used: the crashed job does not stop the
    other, the summary shows it with its reason and shows this sweep's jobs only (no stale
    row, no stale plot), and strict=true makes the failed claim a non-zero exit."""
    script = _wrapper(tmp_path, """
import experiments
coin = experiments.load("coin")
_compute = coin.compute
def compute(cfg, ctx):
    if ctx.seed == 7:
        raise RuntimeError("injected fault")
    return _compute(cfg, ctx)
coin.compute = compute
""")
    sweep = tmp_path / "sweep"
    (sweep / "5").mkdir(parents=True)  # the earlier sweep's job and plot
    (sweep / "5" / "metrics.json").write_text(json.dumps({"status": "ok", "claims_total": 1,
                                                          "claims_passed": 1}))
    (sweep / "summary_old_vs_x.png").write_bytes(b"old")
    status, out, err = _finish(_start(tmp_path, "-m", *FAST, "seed=7,1", "coin.z=0.01",
                                      "strict=true", f"hydra.sweep.dir={sweep}",
                                      script=script))
    assert status == 1, out + err
    assert "Traceback" not in err and "strict: 1 of 2 job(s) with failed claims" in err
    md = (sweep / "summary.md").read_text()
    rows = [r for r in md.splitlines() if r.startswith("| ") and not r.startswith("| job")]
    assert [r.split(" | ")[0] for r in rows] == ["| 0", "| 1"], md
    assert "| error |" in rows[0] and "RuntimeError: injected fault" in rows[0]
    assert "| ok |" in rows[1] and "FAIL" in rows[1]
    assert not (sweep / "summary_old_vs_x.png").exists()
    assert interrupts.read_marker(sweep) is None
    listed = json.loads((sweep / "sweep.json").read_text())["jobs"]
    assert [[o for o in j["overrides"] if o.startswith("seed=")] for j in listed] \
        == [["seed=7"], ["seed=1"]]


def test_ctrl_c_in_a_sweep_prints_one_line_and_summarises_what_finished(tmp_path):
    sweep = tmp_path / "sweep"
    proc = _start(tmp_path, "-m", *FAST, "seed=1,2,3", f"hydra.sweep.dir={sweep}")
    job0 = sweep / "0"
    _wait_for(lambda: (job0 / "metrics.json").exists() and interrupts.read_marker(job0) is None,
              proc, "the first job's output")
    proc.send_signal(signal.SIGINT)
    status, _, err = _finish(proc)
    assert status == interrupts.EXIT_SIGINT, err
    line = _one_line(err)
    assert line.startswith("sweep interrupted (SIGINT)") and str(sweep) in line
    md = (sweep / "summary.md").read_text()
    rows = [r for r in md.splitlines() if r.startswith("| ") and not r.startswith("| job")]
    assert len(rows) == 3 and "| ok |" in rows[0], md
    assert all("| interrupted |" in r or "| ok |" in r for r in rows[1:]), md
    assert "| interrupted |" in rows[2], md
    assert interrupts.read_marker(sweep)["status"] == "interrupted"


def test_a_killed_joblib_worker_does_not_lose_the_sweep(tmp_path):
    """A job whose worker process dies (SIGKILL, each time it runs) is rerun once alone,
    then recorded as failed with the reason; the other job finishes; the summary is written.
    (Hydra's joblib launcher lost the whole sweep with TerminatedWorkerError.)"""
    script = _wrapper(tmp_path, "")
    script.write_text(script.read_text().replace(
        "    return run_job(cfg)",
        "    if cfg.seed == 13:\n        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return run_job(cfg)"))
    sweep = tmp_path / "sweep"
    status, out, err = _finish(_start(
        tmp_path, "-m", *FAST, "seed=13,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        "hydra.launcher._target_=hydra_plugins.mathml_jax_launcher.robust_joblib."
        "RobustJoblibLauncher", f"hydra.sweep.dir={sweep}", script=script))
    assert status == 1, out + err
    assert "Traceback" not in err and "1 of 2 job(s) failed" in err
    md = (sweep / "summary.md").read_text()
    rows = [r for r in md.splitlines() if r.startswith("| ") and not r.startswith("| job")]
    assert "| error |" in rows[0] and "worker process died again, running alone" in rows[0]
    assert "SIGKILL" in rows[0]
    assert "| ok |" in rows[1] and "4/4" in rows[1], md


def test_ctrl_c_during_lln_keeps_the_partial_count_and_checks_it(tmp_path):
    """What held before must hold with the new handlers: a real SIGINT while lln streams its
    coin flips (sent at the third block, so it lands there every time) stops that stream
    only; the run checks its claims on the partial count and writes every output, with
    status "interrupted" in metrics.json; one line says so; exit 130."""
    script = _wrapper(tmp_path, """
from mathml_jax.probability import streaming
_combine, _calls = streaming.combine_counts, []
def combine_counts(parts):
    _calls.append(1)
    if len(_calls) == 3:
        os.kill(os.getpid(), signal.SIGINT)
    return _combine(parts)
streaming.combine_counts = combine_counts
""")
    folder = tmp_path / "lln"
    status, out, err = _finish(_start(tmp_path, "experiment=lln", "profile=fast",
                                      "lln.block_chunks=1", f"hydra.run.dir={folder}",
                                      script=script))
    assert status == interrupts.EXIT_SIGINT, out + err
    assert "Traceback" not in err
    assert "lln interrupted (SIGINT): coin_interrupted" in err.splitlines()[-1]
    rec = json.loads((folder / "metrics.json").read_text())
    assert rec["status"] == "interrupted" and rec["interrupted"] == ["coin_interrupted"]
    m = rec["metrics"]
    assert m["coin_interrupted"] is True and m["die_interrupted"] is False
    assert 0 < m["coin_flips"] < 1e8  # the partial count, kept
    assert rec["claims_total"] > 0 and "stream_coin_fair" in {c["id"] for c in rec["claims"]}
    assert interrupts.read_marker(folder) is None and (folder / "series.npz").is_file()


def test_default_folders_are_unique_per_process():
    """Two runs (or sweeps) started in the same microsecond differ in their pid, which the
    default folder names end with; the sweep's jobs, in other processes, resolve the
    launcher's (the resolver is cached like ${now:...})."""
    from omegaconf import OmegaConf

    import experiments._cli  # noqa: F401  registers ${mathml_pid:}

    cfg = OmegaConf.load(ROOT / "configs" / "config.yaml")
    for key in ("run", "sweep"):
        raw = OmegaConf.to_container(cfg.hydra[key], resolve=False)["dir"]
        assert raw.endswith("${now:%Y-%m-%d_%H-%M-%S-%f}_p${mathml_pid:}"), raw
    node = OmegaConf.create({"d": "x_p${mathml_pid:}"})
    assert node.d == f"x_p{os.getpid()}"


def test_an_interrupt_swallowed_in_a_destructor_is_delivered_again():
    """A signal that lands in a garbage-collection callback or a ``__del__`` raises there,
    where Python can only print "Exception ignored" (it happened: SIGTERM inside JAX's
    gc callback, and the run went on to finish): it is delivered again, as a real signal,
    and raised where the run is."""

    class Dying:
        def __del__(self):
            raise interrupts.Terminated("SIGTERM")

    t0 = time.monotonic()
    with pytest.raises(interrupts.Terminated), interrupts.signals_as_interrupts():
        Dying()
        while time.monotonic() - t0 < 60:
            time.sleep(0.01)
    assert time.monotonic() - t0 < 60
