"""Reproducibility: the same config, seed, platform and precision give bit-identical numbers;
``python -m mathml_jax.gallery --check`` reruns experiments and finds every number that drifted
from the committed gallery, and only those."""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
from conftest import ROOT, compose

import experiments
from mathml_jax.gallery.build import check
from mathml_jax.gallery.check import (
    DEFAULT_EPS_MULTIPLE,
    TIMING_KEYS,
    compare,
    drift_table,
    texts_agree,
)

GALLERY = ROOT / "results" / "gallery"
EPS32 = 2.0**-23

# --check against the committed gallery in the suite: the two cheapest default configs (a few
# seconds each), whose numbers are counts and float64 NumPy results: they reproduce on both CI
# lines (JAX 0.10 and 0.12), where a float32 round-off measurement (eigen's residuals, the
# chain rule's ulps) moves by more than 16 eps from one JAX to the next.
CHECKED = ("coin", "expected_value")
# The cheapest in the fast profile (1-3 s), each drawing random numbers (a PRNG stream, Monte
# Carlo games, random points through float32 kernels): run twice, compared bit for bit.
TWICE = ("coin", "expected_value", "chain_rule")


def _record() -> dict:
    """A metrics.json in the shape the writer gives, small."""
    return {
        "experiment": "x", "status": "ok", "claims_passed": 2, "claims_total": 2,
        "key_metrics": ["rate"], "seed": 0, "precision": "float32", "eps": EPS32,
        "matmul_precision": "highest", "profile": "default", "experiment_config": {"n": 10},
        "metrics": {"rate": 0.75, "count": 12, "name": "threefry", "table": [1.0, 2.0],
                    "flips_per_s": 3.1e8},
        "claims": [
            {"id": "order", "statement": "order 2", "measured": 1.98, "expected": "2",
             "tolerance": 0.1, "passed": True, "worst": "f = sin", "detail": "h in [0.1, 1]",
             "rule": "4 SE", "reference": "theory"},
            {"id": "bound", "statement": "error below", "measured": 1e-7,
             "expected": "<= 1.431e-05", "tolerance": 1.430511474609375e-05, "passed": True,
             "worst": "index 3", "detail": "", "rule": "2 n eps", "reference": "NumPy"}],
        "timings": {"k": {"compile_s": 0.5, "run_s": 0.1}}, "wall_s": 2.0, "compile_s": 0.5,
        "run_s": 0.1,
    }


TOLS = {"flips_per_s": None}


def _drifted(mutate) -> list[str]:
    a = _record()
    b = copy.deepcopy(a)
    mutate(b)
    return [d.key for d in compare("x", a, b, TOLS)]


def test_identical_records_do_not_drift():
    assert _drifted(lambda r: None) == []
    assert drift_table([]) == "no drift"


@pytest.mark.parametrize("mutate, keys", [
    # a float beyond the default tolerance, and one beyond it inside a list
    (lambda r: r["metrics"].update(rate=0.75 * (1 + 4 * DEFAULT_EPS_MULTIPLE * EPS32)),
     ["metrics.rate"]),
    (lambda r: r["metrics"]["table"].__setitem__(1, 2.001), ["metrics.table[1]"]),
    # a count, a type, a string, a list's length, a config value
    (lambda r: r["metrics"].update(count=13), ["metrics.count"]),
    (lambda r: r["metrics"].update(count=12.0), ["metrics.count"]),
    (lambda r: r["metrics"].update(name="rbg"), ["metrics.name"]),
    (lambda r: r["metrics"]["table"].append(3.0), ["metrics.table (length)"]),
    (lambda r: r["experiment_config"].update(n=11), ["experiment_config.n"]),
    (lambda r: r["metrics"].pop("rate"), ["metrics (names)"]),
    # a claim that flips, whatever its numbers; a claim's measured value; its expected text
    (lambda r: r["claims"][0].update(passed=False), ["claims.order.passed"]),
    (lambda r: r["claims"][0].update(measured=1.99), ["claims.order.measured"]),
    (lambda r: r["claims"][1].update(expected="<= 1.5e-05"), ["claims.bound.expected"]),
    (lambda r: r["claims"][1].update(worst="index 4"), ["claims.bound.worst"]),
    (lambda r: r["claims"].reverse(), ["claims (ids)"]),
])
def test_a_perturbed_record_is_reported_as_drift(mutate, keys):
    assert _drifted(mutate) == keys


@pytest.mark.parametrize("mutate", [
    # timings and declared clock rates are never compared
    lambda r: r.update(wall_s=99.0, compile_s=50.0, run_s=49.0),
    lambda r: r["timings"]["k"].update(run_s=7.0),
    lambda r: r["metrics"].update(flips_per_s=1.0),
    # last-bit differences of an undeclared float are within the default tolerance
    lambda r: r["metrics"].update(rate=0.75 * (1 + 2 * EPS32)),
    # a number printed to 4 digits may move by one unit in its last digit
    lambda r: r["claims"][1].update(expected="<= 1.432e-05"),
    # the margin is derived from measured and tolerance, which are compared
    lambda r: r["claims"][0].update(margin=0.3),
])
def test_timings_and_round_off_are_not_drift(mutate):
    assert _drifted(mutate) == []


def test_texts_with_numbers_compare_their_numbers():
    assert texts_agree("h in [10 x 3.5e-04, 0.2]", "h in [10 x 3.5e-04, 0.2]", 0.0)
    assert texts_agree("in [-1, 1.000]", "in [-1, 1.001]", 0.0)  # one unit in the last digit
    assert not texts_agree("index 3", "index 4", 0.5)  # integers exactly
    assert not texts_agree("in [-1, 1.000]", "in [-1, 1.002]", 1e-6)
    assert not texts_agree("f = sin", "f = cos", 1.0)


def test_every_experiment_declares_only_known_metrics():
    """METRIC_TOLERANCES names metrics or claim ids of the experiment (a typo would silently
    compare the real one at the default), checked against the committed gallery's records;
    a family over a config value (``..._q0``, ``..._q2``) is known by its shape."""
    assert "wall_s" in TIMING_KEYS and "timings" in TIMING_KEYS

    def shape(key):
        return re.sub(r"\d+", "#", key)

    for name in experiments.available():
        declared = getattr(experiments.load(name), "METRIC_TOLERANCES", {})
        assert all(v is None or 0 < v < 1 for v in declared.values()), name
        path = GALLERY / name / "metrics.json"
        if declared and path.is_file():
            record = json.loads(path.read_text())
            known = {shape(k) for k in [*record["metrics"], *(c["id"] for c in record["claims"])]}
            unknown = sorted(k for k in declared if shape(k) not in known)
            assert not unknown, f"{name}: METRIC_TOLERANCES names unknown metrics {unknown}"


def test_check_reruns_experiments_and_finds_what_drifted_from_the_committed_gallery(
        tmp_path, capsys):
    """The check on copies of the committed folders, one number of the last one moved by
    1e-3: that number is the only drift found (the rest reproduces), and the status is 1."""
    gallery = tmp_path / "gallery"
    for name in CHECKED:
        shutil.copytree(GALLERY / name, gallery / name)
    path = gallery / CHECKED[-1] / "metrics.json"
    record = json.loads(path.read_text())
    key = next(k for k, v in record["metrics"].items() if isinstance(v, float) and v != 0
               and k not in getattr(experiments.load(CHECKED[-1]), "METRIC_TOLERANCES", {}))
    record["metrics"][key] *= 1 + 1e-3
    path.write_text(json.dumps(record))
    status, drifts, _ = check(gallery, CHECKED)
    assert [(d.experiment, d.key) for d in drifts] == [(CHECKED[-1], f"metrics.{key}")], \
        drift_table(drifts)
    assert status == 1
    err = capsys.readouterr().err
    assert f"[1/{len(CHECKED)}] {CHECKED[0]} ..." in err and "; no drift" in err


@pytest.mark.parametrize("name", TWICE)
def test_same_config_seed_and_platform_give_bit_identical_metrics(name, tmp_path, monkeypatch):
    """The experiment run twice in one process (fast profile, through the runner and the
    writer): every metric and claim equal bit for bit, timings excluded; each run records the
    commit it was made with. Figures are not drawn (they are drawn from these numbers)."""
    from experiments._runner import execute

    monkeypatch.setattr(experiments.load(name), "FIGURES", ())
    records = []
    for i in range(2):
        out = tmp_path / str(i)
        status, _ = execute(compose(f"experiment={name}", "profile=fast"), name, out,
                            progress=lambda *_: None)
        assert status == 0
        records.append(json.loads((out / "metrics.json").read_text()))
    assert set(records[0]["code_version"]) == {"commit", "dirty"}
    assert records[0]["metrics"] and records[0]["claims"]
    drifts = compare(name, *records, exact=True)
    assert not drifts, drift_table(drifts)
