"""The memory and time guard (issue 15, requirement 2): every experiment's ``footprint`` and
:func:`mathml_jax.budget.check_footprint`.

The estimates are pure Python, so almost everything here runs in-process on configs alone; two
estimates are checked against the measured peak memory (the process's high-water mark, reset
through ``/proc/self/clear_refs``) of a small real run of the experiment's compute phase.
"""

from __future__ import annotations

import ast
import ctypes
import dataclasses
import gc
import logging
import math
import os
from pathlib import Path

import pytest
from conftest import compose
from omegaconf import OmegaConf

import experiments
from experiments import _runner  # noqa: F401  (registers the ${by_profile:...} resolver)
from experiments._schema import ConfigError, RunSettings, build, check_ranges
from mathml_jax import budget

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = experiments.available()
CPU32, CPU64 = budget.Target(4, "cpu"), budget.Target(8, "cpu")
GB = 1e9


def config(name: str, profile: str = "fast", **overrides):
    """The experiment's section as its YAML file sets it for ``profile``, with ``overrides``,
    validated by its schema (what the runner passes to ``footprint``)."""
    yaml = OmegaConf.load(experiments.CONFIG_DIR / "experiment" / f"{name}.yaml")
    root = OmegaConf.merge(OmegaConf.create({"profile": profile}), yaml)
    section = OmegaConf.to_container(root[name], resolve=True)
    section.update(overrides)
    return build(experiments.load(name).Config, OmegaConf.create(section), prefix=name)


@pytest.fixture
def no_budget_env(monkeypatch):
    monkeypatch.delenv("MATHML_MEMORY_BUDGET", raising=False)
    monkeypatch.delenv("MATHML_TIME_LIMIT", raising=False)
    budget._WARNED.clear()
    return monkeypatch


# ------------------------------------------------------------------ every experiment has one

def _guard_functions(name: str) -> list[ast.FunctionDef]:
    """``footprint`` and the helpers defined beside it, at the end of the module."""
    tree = ast.parse((ROOT / "experiments" / f"{name}.py").read_text())
    fns = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    first = next(i for i, f in enumerate(fns) if f.name == "footprint")
    helpers = {n.id for n in ast.walk(fns[first]) if isinstance(n, ast.Name)}
    return [fns[first]] + [f for f in fns if f.name in helpers]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_experiment_estimates_its_config_in_pure_python(name):
    """A footprint uses no JAX (it runs before any allocation, in a process that may only
    validate), names only keys of its own section, and says the suite's own configs fit a
    laptop: under 4 GB in the default profile, under 1 GB and a minute in the fast one."""
    for fn in _guard_functions(name):
        used = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)}
        assert not used & {"jax", "jnp", "lax"}, f"{name}.{fn.name} uses JAX"
    module = experiments.load(name)
    fields = {f"{name}.{f.name}" for f in dataclasses.fields(module.Config)}
    for profile, most_bytes, most_s in (("default", 4 * GB, math.inf), ("fast", GB, 60.0)):
        cfg = config(name, profile)
        fp32, fp64 = module.footprint(cfg, CPU32), module.footprint(cfg, CPU64)
        assert set(fp32.keys) <= fields and set(fp32.time_keys) <= fields, fp32
        assert fp32.what and (fp32.seconds == 0 or fp32.rate), fp32
        assert 0 < fp32.bytes <= fp64.bytes < most_bytes, (profile, fp32.bytes, fp64.bytes)
        assert 0 <= fp32.seconds < most_s, (profile, fp32.seconds)


def _doubled(value):
    return [2 * v for v in value] if isinstance(value, list) else 2 * value


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_estimates_grow_with_the_keys_they_name(name):
    """Doubling a key that drives the estimate never lowers it, and doubling one of them
    raises it: the keys a refusal names are the ones that matter (default profile)."""
    module = experiments.load(name)
    cfg = config(name, "default")
    fp = module.footprint(cfg, CPU32)
    grew = []
    for key in fp.keys:
        field = key.split(".", 1)[1]
        try:
            bigger = dataclasses.replace(cfg, **{field: _doubled(getattr(cfg, field))})
            check_ranges(bigger, name)
        except (ConfigError, TypeError):
            continue  # beyond the schema's range: nothing to compare
        after = module.footprint(bigger, CPU32).bytes
        assert after >= fp.bytes, (key, fp.bytes, after)
        grew.append(after > fp.bytes)
    assert any(grew), f"{name}: doubling none of {fp.keys} raised the estimate {fp.bytes}"


# ------------------------------------------------------------------ against a real run

def _status_bytes(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _peak_bytes(fn) -> int:
    """Bytes the process's resident set rose to above its start while ``fn`` ran."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # give back what earlier tests freed
    start = _status_bytes("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    fn()
    return _status_bytes("VmHWM") - start


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK),
                    reason="needs Linux's /proc/self/clear_refs to reset the peak RSS")
@pytest.mark.parametrize("name, overrides", [
    ("coin", {"max_n": 5_000_000, "num_paths": 4}),            # kept paths: ~400 MB
    ("expected_value", {"num_samples": 10_000_000}),           # Monte Carlo values: ~280 MB
])
def test_estimate_matches_the_measured_peak_of_a_real_run(name, overrides):
    """The estimate of a config whose largest arrays are a few hundred MB is within a factor
    of 3 of the peak memory its compute phase really reaches (float32 on the CPU: device and
    host share the RAM)."""
    from mathml_jax import runtime

    module, cfg = experiments.load(name), config(name, **overrides)
    estimate = module.footprint(cfg, CPU32).bytes
    assert estimate > 200e6, "too small to stand out of the process's own noise"
    info = runtime.configure("cpu", "float32", "highest")
    ctx = runtime.RunContext(seed=0, profile="fast", runtime=info)
    measured = _peak_bytes(lambda: module.compute(cfg, ctx))
    assert estimate / 3 <= measured <= 3 * estimate, (measured / 1e6, estimate / 1e6)


# ------------------------------------------------------------------ refusals and messages

def test_a_config_that_cannot_fit_is_refused_with_the_keys_the_estimate_and_a_fix(
        no_budget_env):
    no_budget_env.setenv("MATHML_MEMORY_BUDGET", "1GB")
    module = experiments.load("determinant")
    cfg = config("determinant", mc_samples=100_000_000)
    with pytest.raises(budget.OverBudget) as e:
        budget.check_footprint(module, cfg, RunSettings())
    msg = str(e.value)
    assert "\n" not in msg and msg.endswith("Nothing was run.")
    for part in ("determinant.mc_samples=100000000", "needs about", "1 GB available",
                 "MATHML_MEMORY_BUDGET", "The largest determinant.mc_samples that fits is"):
        assert part in msg, (part, msg)
    # the suggested value fits, and a value a quarter larger does not (brute force)
    fit = int(msg.split("fits is about ")[1].split(";")[0].split(".")[0])
    at = [module.footprint(dataclasses.replace(cfg, mc_samples=v), CPU32).bytes
          for v in (fit, int(1.25 * fit))]
    assert at[0] <= GB < at[1], (fit, at)


def test_the_same_config_fits_a_larger_budget_and_float64_needs_more(no_budget_env):
    module = experiments.load("determinant")
    cfg = config("determinant", mc_samples=5_000_000)  # about 1.7 GB in float32
    no_budget_env.setenv("MATHML_MEMORY_BUDGET", "3GB")
    assert budget.check_footprint(module, cfg, RunSettings()) is not None
    with pytest.raises(budget.OverBudget):
        budget.check_footprint(module, cfg, RunSettings(precision="float64"))


def test_streamed_counts_are_never_refused_for_memory_only_for_time(no_budget_env, caplog):
    """coin's histogram counts stream: 1e12 tosses (5 TB at once) fit 1 GB; their time
    (hours) is logged up front; lln's 1e15 flips are refused on this CPU (about a day), unless
    the limit is raised, and only logged on a GPU, where they take minutes."""
    no_budget_env.setenv("MATHML_MEMORY_BUDGET", "1GB")
    coin = experiments.load("coin")
    cfg = config("coin", repetitions=100_000_000, num_tosses=10_000)
    with caplog.at_level(logging.WARNING, logger="mathml_jax"):
        fp = budget.check_footprint(coin, cfg, RunSettings())
    assert fp.streams and fp.bytes <= GB
    assert "coin.repetitions=100000000" in caplog.text and "estimated about" in caplog.text
    lln = experiments.load("lln")
    huge = config("lln", num_flips=1e15)
    no_budget_env.delenv("MATHML_MEMORY_BUDGET")
    with pytest.raises(budget.OverBudget, match=r"lln\.num_flips=1e\+15: this run would take "
                                                r"about .*MATHML_TIME_LIMIT"):
        budget.check_footprint(lln, huge, RunSettings())
    assert budget.check_footprint(lln, huge, RunSettings(), platform="gpu").seconds < 3600
    no_budget_env.setenv("MATHML_TIME_LIMIT", "inf")
    assert budget.check_footprint(lln, huge, RunSettings()).seconds > 24 * 3600


def test_lln_chunk_counts_beyond_int32_are_refused_with_the_smallest_chunk_that_works(
        no_budget_env):
    """num_flips=1e11 with 1-word chunks was an int32 OverflowError after the work started:
    3.125e9 chunks; the chunk counter allows 2^30, so chunk_words must be at least 3."""
    lln = experiments.load("lln")
    need = math.ceil(math.ceil(1e11 / 32) / 2**30)
    with pytest.raises(budget.OverBudget, match=f"lln.chunk_words to at least {need} "):
        budget.check_footprint(lln, config("lln", num_flips=1e11, chunk_words=1),
                               RunSettings())
    assert budget.check_footprint(lln, config("lln", num_flips=1e11, chunk_words=need),
                                  RunSettings()) is not None
    # the streak study's int32 counts: 2^31 tosses would wrap around (a big GPU holds them)
    no_budget_env.setenv("MATHML_MEMORY_BUDGET", "1TB")
    with pytest.raises(budget.OverBudget, match="32-bit integers"):
        budget.check_footprint(lln, config("lln", streak_tosses=2**16, streak_paths=2**15),
                               RunSettings())
    assert budget.check_footprint(lln, config("lln", streak_tosses=2**16,
                                              streak_paths=2**15 - 1), RunSettings())


def test_available_memory_and_the_overrides(no_budget_env):
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    available, source = budget.available_memory()
    assert 0 < available <= total and "RAM" in source
    for text, value in (("2GB", 2e9), ("512MiB", 2**29), ("1.5e9", 1.5e9), ("3 g", 3e9)):
        no_budget_env.setenv("MATHML_MEMORY_BUDGET", text)
        assert budget.available_memory() == (value, "MATHML_MEMORY_BUDGET")
    for text, value in (("90", 90), ("30m", 1800), ("12h", 43200), ("3d", 259200),
                        ("inf", math.inf)):
        assert budget.parse_seconds(text) == value
    with pytest.raises(ValueError, match="MATHML_MEMORY_BUDGET='lots'"):
        budget.parse_bytes("lots")


def test_the_runner_refuses_before_any_folder_with_exit_2(no_budget_env, tmp_path, capsys):
    """Through the runner: exit 2, the message on stderr, no job folder."""
    from experiments._cli import execute

    no_budget_env.setenv("MATHML_MEMORY_BUDGET", "10MB")
    job = tmp_path / "job"
    cfg = compose("experiment=coin", "profile=fast", "coin.max_n=1000000")  # ~80 MB
    status, report = execute(cfg, "coin", job)
    assert status == 2 and report is None and not job.exists()
    err = capsys.readouterr().err
    assert "coin.max_n=1000000" in err and "10 MB available" in err
