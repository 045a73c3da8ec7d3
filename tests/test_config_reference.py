"""The README's configuration reference is generated from the schemas and is current."""

import dataclasses

import experiments
from experiments._reference import README, allowed, readme_block, reference


def test_readme_reference_is_current():
    assert readme_block(README.read_text()) == reference(), (
        "README's configuration reference is stale: run python -m experiments._reference --write")


def test_reference_lists_every_key_of_every_experiment():
    text = reference()
    for name in experiments.available():
        for f in dataclasses.fields(experiments.load(name).Config):
            assert f"| `{name}.{f.name}` |" in text, f"{name}.{f.name} missing"
    for key in ("seed", "strict", "figures.formats", "figures.dpi", "compilation_cache"):
        assert f"| `{key}` |" in text


def test_allowed_is_said_from_the_metadata():
    assert allowed({"ge": 1, "le": 10}, "int") == "≥ 1 and ≤ 10"
    assert allowed({"gt": 0, "le": 1000, "finite": False}, "list[float]") == (
        "> 0 and ≤ 1000, or inf; non-empty, no repeats")
    assert allowed({"length": 2}, "list[float]") == "exactly 2 entries"
    assert allowed({}, "bool") == "true or false"
    assert "claim's bound" in allowed({"gt": 0, "le": 20, "tolerance": True}, "float")


def test_every_test_the_fault_table_names_exists():
    """The README's fault table says which test shows each behaviour: each must exist."""
    import re

    text = README.read_text()
    table = text[text.index("## Faults and what the suite does"):]
    table = table[:table.index("\n## ")]
    named = re.findall(r"`(test_\w+\.py)::(\w+)(?:\[[^\]]*\])?`", table)
    assert len(named) >= 20, "the fault table names the tests that show each row"
    tests = README.parent / "tests"
    for path, func in named:
        source = (tests / path).read_text()
        assert f"def {func}(" in source, f"README fault table: {path}::{func} does not exist"
