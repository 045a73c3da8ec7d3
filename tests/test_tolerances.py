"""A tolerance the user changed is said beside every claim it moves, with the suite's verdict
under the default, and in metrics.json; the default run says nothing of the kind."""

from __future__ import annotations

import json

from experiments._tolerances import changed_tolerances


def test_a_changed_tolerance_is_noted_beside_the_claims_it_moves(run_experiment):
    status, report, job = run_experiment("coin", "coin.z=0.5", figures=False)
    record = json.loads((job / "metrics.json").read_text())
    changed = record["tolerances_changed"]
    assert changed["keys"] == [{"key": "coin.z", "given": 0.5, "default": 5.0}]
    moved = changed["claims_under_default"]
    assert moved, "z bounds coin's claims: some must move"
    by_id = {c["id"]: c for c in record["claims"]}
    for cid, verdict in moved.items():
        assert verdict in ("PASS", "FAIL")
        assert "tolerance changed by the user: coin.z = 0.5 (default 5.0)" in by_id[cid]["detail"]
        assert f"under the default this claim: {verdict}" in by_id[cid]["detail"]
    # a bound of 0.5 SE is tighter than the noise: a claim fails here that passes by default
    assert any(not by_id[c]["passed"] and v == "PASS" for c, v in moved.items())
    claims_md = (job / "claims.md").read_text()
    assert claims_md.count("tolerance changed by the user") == len(moved)
    untouched = [c for c in record["claims"] if c["id"] not in moved]
    assert all("tolerance changed" not in c["detail"] for c in untouched)


def test_the_default_run_records_no_changed_tolerance(run_experiment):
    status, report, job = run_experiment("coin", figures=False)
    record = json.loads((job / "metrics.json").read_text())
    assert "tolerances_changed" not in record
    assert changed_tolerances(report.config) == {}
