"""Every experiment: determinism (checked inside its end-to-end test, see tests/determinism.py)
and a float64 run that passes every claim (float32 is its end-to-end test; experiments whose own
tests already run float64 are not run again here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import experiments

NAMES = experiments.available()
TESTS = Path(__file__).parent


def _own_tests(name: str) -> str:
    return "\n".join(p.read_text() for p in TESTS.glob(f"test_{name}*.py"))


#: experiments whose own tests already run (and pass) in float64
FLOAT64_ELSEWHERE = [n for n in NAMES if "precision=float64" in _own_tests(n)]


def test_every_experiment_checks_its_determinism_in_its_end_to_end_test():
    for name in NAMES:
        call = re.search(rf'run_experiment\(\s*"{name}"[^)]*determinism=True', _own_tests(name))
        assert call, f'tests/test_{name}.py: no run_experiment("{name}", ..., determinism=True)'


@pytest.mark.parametrize("name", [n for n in NAMES if n not in FLOAT64_ELSEWHERE])
def test_float64_run_passes_every_claim(name, run_experiment):
    status, report, _ = run_experiment(name, "precision=float64", figures=False)
    assert status == 0 and report.passed, f"{name} in float64:\n{report.claims_text()}"
