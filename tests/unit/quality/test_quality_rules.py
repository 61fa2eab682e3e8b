"""Declaring rules: the spec's list form parses, and every mistake names the rule and key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.errors import SpecError
from pipeline.quality import (
    RULE_TYPES,
    NotNullRule,
    QualitySection,
    RangeRule,
    UniqueRule,
    parse_quality,
    parse_rules,
)

# The `quality:` list of ARCHITECTURE.md's spec example, verbatim.
SPEC_EXAMPLE = [
    {"id": "member_present", "rule": "not_null", "column": "member_id", "severity": "error"},
    {"id": "claim_unique", "rule": "unique", "columns": ["claim_id"], "severity": "error"},
    {"id": "amount_range", "rule": "range", "column": "amount", "min": 0, "max": 1000000,
     "mostly": 0.99, "severity": "warn"},
    {"id": "status_known", "rule": "accepted_values", "column": "status",
     "values": ["PAID", "DENIED", "PENDING"], "quarantine": True},
    {"id": "npi_shape", "rule": "pattern", "column": "npi", "pattern": "^[0-9]{10}$",
     "severity": "warn"},
]  # fmt: skip


def test_spec_example_parses() -> None:
    rules = parse_rules(SPEC_EXAMPLE)
    assert [r.rule for r in rules] == ["not_null", "unique", "range", "accepted_values", "pattern"]
    assert rules[2].mostly == 0.99 and rules[2].severity == "warn"
    assert rules[3].quarantine and rules[3].severity == "error"


def test_every_rule_type_parses() -> None:
    rules = parse_rules(
        [
            {"id": "a", "rule": "not_null", "column": "x"},
            {"id": "b", "rule": "unique", "column": "x"},
            {"id": "c", "rule": "accepted_values", "column": "x", "values": [1, 2]},
            {"id": "d", "rule": "range", "column": "x", "min": 0, "strict_min": True},
            {"id": "e", "rule": "pattern", "column": "x", "pattern": "^a"},
            {"id": "f", "rule": "length", "column": "x", "max": 3},
            {"id": "g", "rule": "row_count", "min": 1},
            {"id": "h", "rule": "freshness", "column": "t", "max_age": "PT6H"},
            {"id": "i", "rule": "reference", "column": "x", "dataset": "m.csv"},
            {"id": "j", "rule": "expression", "expression": "x > 0"},
            {"id": "k", "rule": "aggregate", "expression": "avg(x)", "max": 9},
            {"id": "l", "rule": "schema", "columns": ["x"], "types": {"x": "int64"}},
        ]
    )
    assert sorted(r.rule for r in rules) == list(RULE_TYPES)
    assert isinstance(rules[1], UniqueRule) and rules[1].columns == ["x"]
    assert rules[7].max_age == timedelta(hours=6)  # type: ignore[union-attr]
    assert rules[11].types == {"x": "Int64"}  # type: ignore[union-attr]


def test_models_pass_through() -> None:
    declared = NotNullRule(id="a", column="x")  # in Python the type is implied by the class
    assert parse_rules([declared]) == [declared] and declared.rule == "not_null"


@pytest.mark.parametrize(
    ("raw", "key", "words"),
    [
        ({"id": "m", "rule": "not_null", "colum": "x"}, "colum", ["'m'", "did you mean 'column'"]),
        ({"id": "m", "rule": "range", "column": "x", "minimum": 0}, "minimum", ["'min'"]),
        ({"id": "m", "rule": "uniq", "column": "x"}, "rule", ["'uniq'", "'unique'"]),
        ({"id": "m", "column": "x"}, "rule", ["no `rule` key"]),
        ({"id": "m", "rule": "not_null"}, "column", ["needs the key 'column'"]),
        ({"id": "m", "rule": "row_count", "min": 1, "mostly": 0.9}, "mostly", ["unknown key"]),
        ({"id": "m", "rule": "freshness", "column": "t", "max_age": "P1D", "quarantine": True},
         "quarantine", ["unknown key"]),
        ({"id": "m", "rule": "not_null", "column": "x", "mostly": 1.5}, "mostly", ["less than"]),
        ({"id": "m", "rule": "not_null", "column": "x", "severity": "fatal"}, "severity", ["'m'"]),
        ({"id": "m", "rule": "pattern", "column": "x", "pattern": "(["}, "pattern", ["regular"]),
        ({"id": "m", "rule": "expression", "expression": "x >"}, "expression", ["does not parse"]),
        ({"id": "m", "rule": "expression", "expression": "x IN (SELECT a FROM read_csv('p'))"},
         "expression", ["subquery (SELECT"]),
        ({"id": "m", "rule": "aggregate", "expression": "max(t) < now()", "min": 0},
         "expression", ["now(), which would put the clock"]),
        ({"id": "m", "rule": "range", "column": "x"}, None, ["needs `min`, `max`"]),
        ({"id": "m", "rule": "freshness", "column": "t", "max_age": "P1D", "timezone": "Mars/X"},
         "timezone", ["unknown time zone"]),
        ({"id": "m", "rule": "schema", "types": {"x": "integer"}}, "types", ["unknown type"]),
        ({"id": "bad id!", "rule": "not_null", "column": "x"}, "id", ["should match pattern"]),
    ],
)  # fmt: skip
def test_mistakes_name_the_rule_and_key(
    raw: dict[str, object], key: str | None, words: list[str]
) -> None:
    with pytest.raises(SpecError) as caught:
        parse_rules([{"id": "ok", "rule": "not_null", "column": "x"}, raw])
    error = caught.value
    assert error.key == key
    text = str(error)
    assert "quality[1]" in text
    for word in words:
        assert word in text
    assert error.exit_code == 2


def test_duplicate_ids_are_refused() -> None:
    with pytest.raises(SpecError, match=r"already used by quality\[0\]"):
        parse_rules([{"id": "a", "rule": "not_null", "column": "x"}] * 2)


def test_not_a_list_or_not_a_mapping() -> None:
    with pytest.raises(SpecError, match="must be a list"):
        parse_rules("not_null")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="not a mapping"):
        parse_rules(["not_null"])  # type: ignore[list-item]


def test_section_forms() -> None:
    assert parse_quality(None) == QualitySection()
    listed = parse_quality(SPEC_EXAMPLE)
    assert listed.stage == "output" and len(listed.rules) == 5
    mapped = parse_quality({"stage": "input", "rules": SPEC_EXAMPLE})
    assert mapped.stage == "input" and mapped.rules == listed.rules
    with pytest.raises(SpecError, match="did you mean 'stage'"):
        parse_quality({"stag": "input", "rules": []})
    with pytest.raises(SpecError, match="'input' or 'output'"):
        parse_quality({"stage": "middle", "rules": []})


def test_python_declaration_forbids_unknown_keys() -> None:
    with pytest.raises(ValueError, match="Extra inputs"):
        RangeRule(id="r", rule="range", column="x", min=0, maxx=3)  # type: ignore[call-arg]
