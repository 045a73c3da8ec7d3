"""Start-up: JAX's persistent compilation cache (``compilation_cache``) and no kernel compiled
twice in one run.

Compilations are counted from JAX's own logs (``jax.log_compiles`` and
``jax.explain_cache_misses``), not from a private cache-size API: every compilation logs
"Finished XLA compilation of NAME", and, with a cache folder set, a cache miss or hit with the
program's cache key (a hash of the program, its compile options and the backend). In a run
that starts with empty in-memory caches (``jax.clear_caches``) and an empty cache folder, a
program compiled a second time shows up as a second event with the same key.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jax
import numpy as np
import pytest
from conftest import assert_all_claims_pass, compile_log, compose, kernel_names

ROOT = Path(__file__).resolve().parent.parent

def _cache_files(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*-cache")} if folder.is_dir() else set()


# ------------------------------------------------------------------ no kernel compiled twice

#: main kernels and how many distinct programs each run needs (fast profile): train_seeds
#: once per batch size (a static argument: B = 1, 16, 64 and full batch), the others once
MAIN_KERNELS = {
    "sgd": {"jit(train_seeds)": 4, "jit(running_mean_sq_errors_of_keys)": 1,
            "jit(minibatch_gradient_sq_errors)": 1},
}


@pytest.mark.parametrize("name", ["sgd"])
def test_no_kernel_is_compiled_twice_in_one_run(tmp_path, run_experiment, name):
    """From empty caches, with the expected count of each main kernel. (Every experiment's
    end-to-end test checks the same "never twice" through the ``run_experiment`` fixture.)"""
    cache = tmp_path / "cache"
    jax.clear_caches()  # every program of the run is compiled here, none is left from before
    with compile_log() as log:
        status, report, _ = run_experiment(name, f"compilation_cache={cache}", figures=False)
    assert status == 0
    assert_all_claims_pass(report)
    assert log.compiled and log.misses, "no compilation was logged: the counter is broken"
    # a program found in a cache folder that started empty was compiled earlier in this run
    twice = log.keys_seen_twice(kernel_names())
    assert not twice, ("kernels compiled more than once in one run (same cache key):\n"
                       + "\n".join(f"{n} x {k}" for k, n in twice.items()))
    # one persistent-cache lookup per compilation, so the keys account for every compile
    assert len(log.misses) + len(log.hits) == len(log.compiled)
    counts = log.per_name()
    for kernel, expected in MAIN_KERNELS.get(name, {}).items():
        assert counts[kernel] == expected, (kernel, counts[kernel], expected, counts)
    # what the run wrote is what it compiled: one entry per program
    assert _cache_files(cache) == {f"{k}-cache" for _, k in log.misses}


# --------------------------------------------------------------- the compilation_cache option

def run_cli(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HYDRA_FULL_ERROR": "0", **(env or {})}
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


SMALL = ["profile=fast", "sgd.seeds=2", "sgd.batch_sizes=[64]", "sgd.variance_batch_sizes=[8]"]


def _metrics(cwd: Path, name: str = "sgd") -> list[dict]:
    return [json.loads(p.read_text())
            for p in sorted((cwd / "results" / "runs" / name).glob("*/metrics.json"))]


COIN = ["experiment=coin", "profile=fast"]  # the cheapest run, where any experiment will do


def test_second_run_in_a_fresh_process_loads_every_kernel_from_the_cache(tmp_path):
    cache = tmp_path / "jax cache"  # a space in the path, created on demand
    first = run_cli(tmp_path, *SMALL, f"compilation_cache={cache}")
    assert first.returncode == 0, first.stdout + first.stderr
    written = _cache_files(cache)
    assert len(written) >= 5, written  # the kernels of the run, each in its own entry
    assert any("train_seeds" in f for f in written)
    assert f"compilation cache {cache}" in first.stdout  # the run header says where
    # a second process compiles nothing new: every program is found, no entry is added
    second = run_cli(tmp_path, *SMALL, f"compilation_cache={cache}")
    assert second.returncode == 0, second.stdout + second.stderr
    assert _cache_files(cache) == written
    recs = _metrics(tmp_path)
    assert [r["compilation_cache"] for r in recs] == [str(cache)] * 2
    assert recs[0]["claims_passed"] == recs[1]["claims_passed"] == recs[0]["claims_total"]
    # and the results do not depend on where the executables came from
    a, b = (np.load(p) for p in sorted((tmp_path / "results" / "runs" / "sgd")
                                       .glob("*/series.npz")))
    assert np.array_equal(a["variance/measured"], b["variance/measured"])


def test_cache_switched_off_writes_nothing(tmp_path):
    default = tmp_path / "default-cache"
    p = run_cli(tmp_path, *COIN, "compilation_cache=null",
                env={"MATHML_JAX_CACHE_DIR": str(default)})
    assert p.returncode == 0, p.stdout + p.stderr
    assert not default.exists()
    assert "compilation cache off" in p.stdout
    assert _metrics(tmp_path, "coin")[0]["compilation_cache"] == "off"


@pytest.mark.parametrize("off", ["null", "false", "off", "OFF", "none"])
def test_every_spelling_of_off_switches_the_cache_off(off):
    from experiments._cli import validate

    settings, _, _ = validate(compose(f"compilation_cache={off}"), "sgd")
    assert settings.compilation_cache is None


def test_default_folder_is_moved_by_the_environment(tmp_path, monkeypatch):
    from experiments._cli import validate

    monkeypatch.setenv("MATHML_JAX_CACHE_DIR", str(tmp_path / "elsewhere"))
    settings, _, _ = validate(compose(), "sgd")
    assert settings.compilation_cache == str(tmp_path / "elsewhere")
    monkeypatch.delenv("MATHML_JAX_CACHE_DIR")
    settings, _, _ = validate(compose(), "sgd")
    assert settings.compilation_cache == "~/.cache/mathml-jax/jax"
    monkeypatch.setenv("MATHML_JAX_CACHE_DIR", "off")
    assert validate(compose(), "sgd")[0].compilation_cache is None


def test_unusable_folder_warns_and_runs_without_cache(tmp_path, run_experiment, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="mathml_jax"):
        status, report, job = run_experiment("coin", f"compilation_cache={blocker / 'cache'}",
                                             figures=False)
    assert status == 0
    assert_all_claims_pass(report)
    assert "cannot be used" in caplog.text and "without a persistent compilation cache" in \
        caplog.text
    assert json.loads((job / "metrics.json").read_text())["compilation_cache"] == "off"


def test_a_sweep_may_change_the_folder_between_jobs(tmp_path):
    """JAX opens its cache folder once; a job with another folder (or none) resets it."""
    from mathml_jax.runtime import configure_compilation_cache

    def compile_one(scale: float) -> None:  # a program no other test compiles
        jax.jit(lambda x: x * scale + 0.123).lower(np.ones(3, np.float32)).compile()

    a, b = tmp_path / "a", tmp_path / "b"
    try:
        assert configure_compilation_cache(a) == str(a)
        compile_one(2.0)
        n_a = len(_cache_files(a))
        assert n_a >= 1
        assert configure_compilation_cache(b) == str(b)
        compile_one(3.0)
        assert len(_cache_files(b)) >= 1 and len(_cache_files(a)) == n_a
        assert configure_compilation_cache(None) is None
        compile_one(4.0)
        assert len(_cache_files(a)) == n_a and len(_cache_files(b)) == len(_cache_files(b))
    finally:
        configure_compilation_cache(os.environ["MATHML_JAX_CACHE_DIR"])


# ------------------------------------------------------------------------ start-up shortcuts

def test_breast_cancer_csv_equals_scikit_learns_loader():
    """data.breast_cancer reads the CSV scikit-learn ships instead of importing sklearn."""
    from sklearn.datasets import load_breast_cancer

    from mathml_jax.data import _breast_cancer_raw

    X, target = _breast_cancer_raw()
    ref = load_breast_cancer()
    np.testing.assert_array_equal(X, ref.data)
    np.testing.assert_array_equal(target, ref.target)


def test_mantissa_probe_compiles_one_program():
    from mathml_jax.runtime import matmul_mantissa_bits

    jax.clear_caches()
    with compile_log() as log:
        assert matmul_mantissa_bits(np.float32) == 23
    assert log.per_name() == Counter({"jit(matmul)": 1})
