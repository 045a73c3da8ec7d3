"""The command line exactly as a user types it: ``python run.py ...`` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN = [sys.executable, str(ROOT / "run.py")]


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([*RUN, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_default_experiment_end_to_end(tmp_path):
    """``python run.py profile=fast strict=true`` runs sgd and writes a complete job folder."""
    p = run_cli(tmp_path, "profile=fast", "strict=true")
    assert p.returncode == 0, p.stdout + p.stderr
    jobs = list((tmp_path / "results" / "runs" / "sgd").iterdir())
    assert len(jobs) == 1
    job = jobs[0]
    rec = json.loads((job / "metrics.json").read_text())
    assert rec["status"] == "ok" and rec["claims_passed"] == rec["claims_total"] > 0
    assert rec["precision"] == "float32" and rec["device"]["platform"] == "cpu"
    assert rec["config"]["sgd"]["epochs"] == 20  # the fast profile's value, resolved
    assert {"jax", "optax", "hydra-core"} <= set(rec["versions"])
    # the suite's cache folder (conftest), recorded like the other settings of the run
    assert rec["compilation_cache"] == str(Path(os.environ["MATHML_JAX_CACHE_DIR"]).absolute())
    assert all(t["compile_s"] >= 0 and t["run_s"] >= 0 for t in rec["timings"].values())
    for f in ("training.png", "unbiasedness.png", "variance.png", "claims.md", "run.log",
              ".hydra/config.yaml", ".hydra/overrides.yaml", "series.npz"):
        assert (job / f).is_file(), f
    out = p.stdout
    assert "claims passed" in out and "PASS" in out
    # start-up noise stays out of the run's output
    assert "TPU" not in out + p.stderr and "Unable to initialize backend" not in out + p.stderr
    # microsecond timestamps and the pid: two runs, even in the same microsecond, never share
    # a folder
    stamp, _, pid = job.name.rpartition("_p")
    assert len(stamp.split("-")[-1]) == 6 and pid.isdigit()
    assert not (job / "INCOMPLETE").exists()  # removed once metrics.json is in place


def test_strict_makes_a_failed_claim_a_nonzero_exit(tmp_path):
    """An impossible bound (0.01 SE) fails claims: strict exits 1, non-strict exits 0; both
    write. (coin: the cheapest experiment to run twice in a fresh process.)"""
    args = ["experiment=coin", "profile=fast", "coin.z=0.01"]
    strict = run_cli(tmp_path, *args, "strict=true")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "FAIL" in strict.stdout
    lenient = run_cli(tmp_path, *args)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert len(list((tmp_path / "results" / "runs" / "coin").iterdir())) == 2


#: one command line per kind of refusal, through a real ``python run.py`` process (each costs a
#: Python and JAX start-up): a wrong type, a range, a choice, an unknown experiment, an unknown
#: key, a cross-field check in __post_init__, the memory guard and a sweep. Every other bad
#: input goes through the same prevalidation in-process: the pinned messages below and the
#: property test over every key (tests/test_bad_input_property.py, which also checks that
#: nothing is created).
BAD_INPUTS = [
    (["sgd.batch_size=abc"], ["sgd.batch_size", "'abc'", "Integer"]),
    (["sgd.lr=-0.1"], ["sgd.lr", "-0.1", "> 0"]),
    (["sgd.optimizer=lbfgs"], ["sgd.optimizer", "lbfgs", "sgd, momentum, nesterov, adagrad"]),
    (["experiment=nope"], ["nope", "Available experiments", "sgd"]),
    (["compilation_cache=true"], ["compilation_cache", "True", "folder", "null, false or off"]),
    (["sgd.bogus=1"], ["sgd.bogus", "batch_size"]),
    (["sgd.num_batches=10000000", "sgd.num_paths=100000"], ["sgd.num_batches", "memory"]),
    (["-m", "sgd.batch_size=1,16,100000"], ["sgd.batch_size", "100000", "<= 569"]),
]


@pytest.mark.parametrize(("args", "expected"), BAD_INPUTS,
                         ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_clear_paragraph_and_writes_nothing(tmp_path, args, expected):
    (tmp_path / "results").mkdir()
    keep = tmp_path / "results" / "earlier.txt"
    keep.write_text("an earlier result")
    p = run_cli(tmp_path, *args)
    assert p.returncode == 2, p.stdout + p.stderr
    msg = p.stderr.strip()
    assert "Traceback" not in p.stdout + p.stderr
    assert len(msg.splitlines()) == 1, msg
    for word in expected:
        assert word in msg, (word, msg)
    # nothing was created, nothing earlier was damaged
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["earlier.txt"]
    assert keep.read_text() == "an earlier result"


def test_sweep_writes_one_folder_per_job_and_a_summary(tmp_path):
    p = run_cli(tmp_path, "-m", "experiment=sgd", "sgd.batch_size=8,32", "profile=fast",
                "sgd.seeds=2", "sgd.batch_sizes=[64]", "sgd.variance_batch_sizes=[8]")
    assert p.returncode == 0, p.stdout + p.stderr
    sweeps = list((tmp_path / "results" / "sweeps").iterdir())
    assert len(sweeps) == 1
    sweep = sweeps[0]
    for job in ("0", "1"):
        assert (sweep / job / "metrics.json").is_file()
    csv_text = (sweep / "summary.csv").read_text()
    assert "sgd.batch_size" in csv_text and "final_gap" in csv_text
    assert (sweep / "summary.md").read_text().count("| ok |") == 2
    assert list(sweep.glob("summary_*.png"))
    # each job ran with its own value
    sizes = {json.loads((sweep / j / "metrics.json").read_text())["experiment_config"]
             ["batch_size"] for j in ("0", "1")}
    assert sizes == {8, 32}


#: the exact one-paragraph messages users see for the bad inputs above (and two unknown keys),
#: kept in bad_input_messages.json: a Hydra or OmegaConf upgrade that changes what they say
#: fails here, not in front of a user
PINNED_MESSAGES = [(d["args"], d["message"]) for d in json.loads(
    (Path(__file__).parent / "bad_input_messages.json").read_text())]


@pytest.mark.parametrize(("args", "message"), PINNED_MESSAGES,
                         ids=[" ".join(a) for a, _ in PINNED_MESSAGES])
def test_bad_input_messages_are_pinned(args, message, capsys):
    """In-process (the same prevalidation run.py does before Hydra starts): exit status 2 and
    exactly this paragraph on stderr."""
    from experiments._cli import prevalidate

    with pytest.raises(SystemExit) as e:
        prevalidate(args)
    assert e.value.code == 2
    assert capsys.readouterr().err.strip() == message


def test_help_lists_every_experiment_with_its_section():
    """``python run.py --help`` is Hydra's help template filled with every experiment."""
    import experiments
    from experiments._cli import experiments_help

    text = experiments_help()
    for name in experiments.available():
        mod_section = f"{name:<18} ["
        assert mod_section in text, name
    p = subprocess.run([*RUN, "--help"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert p.returncode == 0 and "determinant" in p.stdout and "Linear algebra" in p.stdout
    assert "--multirun" in p.stdout  # Hydra's own flags are still listed
