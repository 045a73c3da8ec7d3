"""Beyond one machine (issue 15, requirement 7): sweeps through Hydra's submitit launcher
(``hydra/launcher=local`` run for real, ``hydra/launcher=slurm`` down to its batch script) and
lln's streamed counter over two ``jax.distributed`` processes on the CPU."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mathml_jax import distributed

ROOT = Path(__file__).resolve().parent.parent
PREALLOCATE = "XLA_PYTHON_CLIENT_PREALLOCATE"


def _child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in (PREALLOCATE, *distributed._ENV) and not k.startswith("SLURM_")}
    env.update(JAX_PLATFORMS="cpu", HYDRA_FULL_ERROR="0", PYTHONUNBUFFERED="1", **extra)
    return env


# ------------------------------------------------------------------------- launcher configs

def _compose_launcher(*overrides: str):
    from conftest import compose

    return compose("experiment=coin", *overrides).hydra


def test_slurm_launcher_config_becomes_the_batch_script(tmp_path, monkeypatch):
    """hydra/launcher=slurm, through its launcher's launch() and submitit's SlurmExecutor (no
    Slurm here: only the submission is intercepted): partition, GPUs, CPUs, memory and time are
    config values that reach sbatch, and the batch script turns JAX's GPU preallocation off
    before the job starts."""
    import submitit
    from omegaconf import OmegaConf
    from submitit.slurm.slurm import SlurmExecutor

    from hydra_plugins.mathml_submitit.launcher import SlurmLauncher

    hydra = _compose_launcher("hydra/launcher=slurm", "hydra.launcher.partition=gpu-long",
                              "hydra.launcher.gpus_per_node=2", "hydra.launcher.timeout_min=30",
                              f"hydra.sweep.dir={tmp_path / 'sweep'}")
    params = OmegaConf.to_container(hydra.launcher, resolve=True)
    assert params.pop("_target_") == "hydra_plugins.mathml_submitit.launcher.SlurmLauncher"
    assert (params["mem_gb"], params["cpus_per_task"]) == (32, 8)  # the file's defaults

    captured = []

    def intercept(executor, fn, *iterables):
        captured.append(executor)
        raise RuntimeError("intercepted")

    monkeypatch.setattr(SlurmExecutor, "affinity", classmethod(lambda cls: 1))  # "srun exists"
    monkeypatch.setattr(submitit.AutoExecutor, "map_array", intercept)
    launcher = SlurmLauncher(**params)
    launcher.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}})
    with pytest.raises(RuntimeError, match="intercepted"):
        launcher.launch([["experiment=coin", "seed=0"], ["experiment=coin", "seed=1"]], 0)
    script = captured[0]._executor._make_submission_file_text("python -m job", "uid")
    for flag in ("--partition=gpu-long", "--gpus-per-node=2", "--cpus-per-task=8", "--mem=32GB",
                 "--time=30"):
        assert f"#SBATCH {flag}\n" in script, (flag, script)
    lines = script.splitlines()
    setup = lines.index(f"export {PREALLOCATE}=false")
    assert setup < next(i for i, line in enumerate(lines) if line.startswith("srun "))


def test_local_launcher_config():
    """hydra/launcher=local: submitit's local executor with the same GPU-memory setup, each job
    seeing GPU 0."""
    launcher = _compose_launcher("hydra/launcher=local").launcher
    assert launcher._target_ == "hydra_plugins.mathml_submitit.launcher.LocalLauncher"
    assert list(launcher.setup) == [f"export {PREALLOCATE}=false"]
    assert launcher.gpus_per_node == 1


# ------------------------------------------------------------- a sweep through submitit_local

#: imported by every Python process of the sweep (PYTHONPATH): experiments.coin's compute notes
#: what the job's process saw of the launcher's environment, then the process of the job whose
#: seed is MATHML_TEST_FAIL_SEED dies (as a killed or out-of-memory job does: no Python error,
#: no metrics.json)
_INJECT = """
import importlib.abc, importlib.util, os, pathlib, sys

class _FailOneSeed(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "experiments.coin":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            compute = module.compute

            def noting(cfg, ctx):
                seen = pathlib.Path(os.environ["MATHML_TEST_SEEN"]) / f"seed{ctx.seed}"
                seen.write_text(str(os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE")))
                if ctx.seed == int(os.environ["MATHML_TEST_FAIL_SEED"]):
                    os._exit(9)
                return compute(cfg, ctx)
            module.compute = noting
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, _FailOneSeed())
"""


def test_submitit_local_sweep_summary_shows_the_failed_job(tmp_path):
    """A 2-job sweep of coin through hydra/launcher=local (separate processes started by
    submitit): the job that runs is summarised with its claims; the job whose process dies
    leaves no metrics.json and is a failed row (the sweep is not stopped by it: the stock
    launcher raised and wrote no summary), the command exits 1 and says which job failed and
    why; and the launcher's setup reached both jobs' processes (GPU preallocation off)."""
    inject, seen, sweep = tmp_path / "inject", tmp_path / "seen", tmp_path / "sweep"
    inject.mkdir()
    seen.mkdir()
    (inject / "sitecustomize.py").write_text(_INJECT)
    env = _child_env(PYTHONPATH=os.pathsep.join([str(inject), str(ROOT)]),
                     MATHML_TEST_FAIL_SEED="1", MATHML_TEST_SEEN=str(seen))
    p = subprocess.run([sys.executable, str(ROOT / "run.py"), "-m", "hydra/launcher=local",
                        "experiment=coin", "profile=fast", "seed=0,1",
                        f"hydra.sweep.dir={sweep}", "hydra.launcher.timeout_min=5"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "Submitit 'local' sweep output dir" in out  # it was submitit that ran the jobs
    assert "job #1 (experiment=coin profile=fast seed=1) failed: UncompletedJobError" in out
    assert "Traceback" not in out
    assert len([d for d in (sweep / ".submitit").iterdir() if d.name.isdigit()]) == 2
    rows = {r["job"]: r for r in csv.DictReader((sweep / "summary.csv").open())}
    assert sorted(rows) == ["0", "1"], rows  # .submitit/ is not a job
    assert (rows["0"]["status"], rows["0"]["claims"]) == ("ok", "4/4")
    # the dead job's folder keeps its INCOMPLETE marker: "incomplete (killed)", no metrics.json
    assert rows["1"]["status"] == "incomplete" and "no metrics.json" in rows["1"]["error"]
    assert not (sweep / "1" / "metrics.json").exists()
    assert "2 jobs, 1 failed" in (sweep / "summary.md").read_text()
    # from the launcher's setup, not from this process (_child_env drops the variable)
    assert {f.name: f.read_text() for f in seen.iterdir()} == {"seed0": "false",
                                                              "seed1": "false"}


class _Job:
    """A finished submitit job, as ``settle`` sees one."""

    def __init__(self, outcome):
        self.outcome = outcome

    def results(self):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return [self.outcome]


def test_settle_turns_every_failure_into_a_failed_row(caplog):
    """A job whose exception Hydra caught (submitit: completed), or whose process left no
    result, is handed to the sweep as completed with value 1 and logged with its reason (so
    Hydra's sweeper does not re-raise it and the summary runs); a completed job is unchanged."""
    from hydra.core.utils import JobReturn, JobStatus

    from hydra_plugins.mathml_submitit.launcher import FAILED, settle

    ok = JobReturn(overrides=["seed=0"], status=JobStatus.COMPLETED, _return_value=0)
    assert settle(_Job(ok), ["seed=0"], 0) is ok
    caught = JobReturn(overrides=["seed=1"], status=JobStatus.FAILED,
                       _return_value=OSError("disk full"))
    died = RuntimeError("Job 7 has not produced any output\n(state: FINISHED)\nmore")
    for number, job, reason in ((1, _Job(caught), "OSError: disk full"),
                                (2, _Job(died), "RuntimeError: Job 7 has not produced any "
                                                "output (state: FINISHED)")):
        ret = settle(job, [f"seed={number}"], number)
        assert (ret.status, ret.return_value) == (JobStatus.COMPLETED, FAILED)
        assert f"job #{number} (seed={number}) failed: {reason}" in caplog.text


# ------------------------------------------------------------ one stream over two processes

def test_spec_from_env():
    env = {"MATHML_COORDINATOR": "node001:12355", "MATHML_NUM_PROCESSES": "4",
           "MATHML_PROCESS_ID": "3"}
    assert distributed.spec_from_env(env) == distributed.ClusterSpec(
        "MATHML_*", "node001:12355", 4, 3)
    assert distributed.spec_from_env({**env, "MATHML_NUM_PROCESSES": "1",
                                      "MATHML_PROCESS_ID": "0"}) is None
    for bad, match in (({"MATHML_PROCESS_ID": "4"}, "MATHML_PROCESS_ID=4: a process id is in "
                                                   "0..3"),
                       ({"MATHML_COORDINATOR": "node001"}, "is not host:port"),
                       ({"MATHML_NUM_PROCESSES": "two"}, "'two' is not an integer"),
                       ({"MATHML_PROCESS_ID": ""}, "set but not MATHML_PROCESS_ID")):
        with pytest.raises(distributed.ClusterError, match=match):
            distributed.spec_from_env({**env, **bad})
    slurm = {"SLURM_JOB_ID": "77", "SLURM_STEP_NODELIST": "node[001-002]", "SLURM_NTASKS": "2",
             "SLURM_STEP_NUM_TASKS": "2", "SLURM_PROCID": "1", "SLURM_LOCALID": "0"}
    assert distributed.spec_from_env(slurm) == distributed.ClusterSpec("slurm")
    one_task = {**slurm, "SLURM_NTASKS": "1", "SLURM_STEP_NUM_TASKS": "1"}  # a sweep job
    assert distributed.spec_from_env(one_task) is None
    batch_shell = {k: v for k, v in slurm.items() if k != "SLURM_STEP_NUM_TASKS"}
    assert distributed.spec_from_env(batch_shell) is None  # not a step of several tasks
    assert distributed.spec_from_env({**slurm, **env}).source == "MATHML_*"  # explicit wins
    assert distributed.spec_from_env({}) is None


def test_chunk_shares_partition_the_stream_and_counts_add_up():
    """Process shares are disjoint and cover every chunk (brute force over small cases), and
    the counts and words of n shares, each counted alone, add up exactly to one process
    counting everything (n = 3 with a short last chunk; n = 5 > chunks: an empty share)."""
    import jax

    from mathml_jax.probability.streaming import stream

    for total in range(8):
        for n in range(1, 6):
            chunks = [c for i in range(n) for c in range(*distributed.chunk_range(total, i, n))]
            assert chunks == list(range(total))
    key = jax.random.key(11)
    for kind, num_words, n in (("coin", 4 * 64 + 13, 3), ("die", 3 * 64 + 1, 5)):
        kw = dict(kind=kind, chunk_words=64, block_chunks=2, mesh=None, label=kind)
        whole, words, _, _ = stream(key, num_words, **kw)
        parts = [stream(key, num_words, share=(i, n), **kw) for i in range(n)]
        assert words == num_words
        assert [w for _, w, _, _ in parts].count(0) == (1 if n == 5 else 0)
        assert sum(w for _, w, _, _ in parts) == num_words
        assert list(sum(c for c, _, _, _ in parts)) == list(whole)


def test_exact_limbs_and_sums_alone():
    big = [0, 1, 2**32 - 1, 2**32, 10**15 + 7, 2**100 + 3]
    assert distributed._from_limbs(distributed._limbs(big)) == big
    assert distributed.sum_exact(big) == big  # one process: its own values
    with pytest.raises(ValueError, match="2\\^128"):
        distributed._limbs([2**128])


_WORKER = '''
import json, sys
from mathml_jax import distributed
assert distributed.initialize(timeout_s=60)  # from MATHML_COORDINATOR/NUM_PROCESSES/PROCESS_ID
import jax
from mathml_jax.probability.streaming import device_mesh, stream, stream_all
out = {"share": list(distributed.share()), "devices": jax.device_count()}
for kind, num_words, chunk_words in json.loads(sys.argv[1]):
    kw = dict(kind=kind, chunk_words=chunk_words, block_chunks=2, mesh=device_mesh(), label=kind)
    key = jax.random.key(7)
    _, own, _, _ = stream(key, num_words, share=distributed.share(), **kw)
    counts, words, _, stopped = stream_all(key, num_words, **kw)
    out[kind] = {"counts": [int(c) for c in counts], "words": words, "own": own,
                 "interrupted": stopped}
print("RESULT " + json.dumps(out), flush=True)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamed_counter_over_two_processes_equals_one_process(tmp_path):
    """Two local processes under jax.distributed (a localhost coordinator, from the MATHML_*
    variables), each counting its share of the chunks of lln's coin and die streams: every
    process ends with exactly the counts one process gets counting all chunks, and each
    counted only part of the words."""
    import jax

    from mathml_jax.probability.streaming import stream

    streams = [("coin", 37 * 1000 + 5, 1000), ("die", 5003, 256)]
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    address = f"127.0.0.1:{_free_port()}"
    procs = [subprocess.Popen([sys.executable, str(script), json.dumps(streams)],
                              env=_child_env(PYTHONPATH=str(ROOT), MATHML_COORDINATOR=address,
                                             MATHML_NUM_PROCESSES="2", MATHML_PROCESS_ID=str(i)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    try:
        outs = [p.communicate(timeout=120)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    results = []
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out
        results.append(json.loads(out.split("RESULT ", 1)[1]))
    assert [r["share"] for r in results] == [[0, 2], [1, 2]]
    for kind, num_words, chunk_words in streams:
        counts, words, _, _ = stream(jax.random.key(7), num_words, kind=kind,
                                     chunk_words=chunk_words, block_chunks=2, mesh=None,
                                     label=kind)
        for r in results:
            assert r[kind]["counts"] == [int(c) for c in counts], kind
            assert (r[kind]["words"], r[kind]["interrupted"]) == (num_words, False)
        own = [r[kind]["own"] for r in results]
        assert sum(own) == num_words and 0 < own[0] < num_words


def test_without_the_slurm_extra_the_launcher_module_is_empty_and_silent(monkeypatch):
    """Hydra's plugin scan imports hydra_plugins.mathml_submitit in every run: without
    hydra-submitit-launcher installed it defines no launcher and warns nothing."""
    import importlib.util
    import warnings

    monkeypatch.setitem(sys.modules, "hydra_plugins.hydra_submitit_launcher", None)
    spec = importlib.util.find_spec("hydra_plugins.mathml_submitit.launcher")
    module = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec.loader.exec_module(module)
    assert not hasattr(module, "LocalLauncher") and not hasattr(module, "SlurmLauncher")
    assert callable(module.settle)
