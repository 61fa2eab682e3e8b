"""Stable codes: the Pydantic type table and message redaction."""

from __future__ import annotations

import pytest

from pipeline import schema
from pipeline.schema.codes import CODES, code_for, error_entries


@pytest.mark.parametrize(
    ("pydantic_type", "code"),
    [
        ("missing", "missing"),
        ("int_parsing", "type"),
        ("float_type", "type"),
        ("string_pattern_mismatch", "pattern"),
        ("string_too_long", "too_long"),
        ("string_too_short", "too_short"),
        ("greater_than_equal", "out_of_range"),
        ("multiple_of", "out_of_range"),
        ("enum", "not_allowed"),
        ("literal_error", "not_allowed"),
        ("extra_forbidden", "extra_column"),
        ("value_error", "custom"),
        ("my_custom_error", "custom"),
    ],
)
def test_code_for(pydantic_type: str, code: str) -> None:
    assert code_for(pydantic_type) == code
    assert code in CODES


def test_codes_are_exported_for_the_reader() -> None:
    assert schema.MALFORMED_ROW == "malformed_row"
    assert set(CODES) == {
        "missing", "type", "pattern", "too_long", "too_short", "out_of_range",
        "not_allowed", "extra_column", "custom", "malformed_row",
    }  # fmt: skip


def test_custom_messages_never_carry_a_cell_value() -> None:
    errors = [
        {"type": "value_error", "loc": ("ssn",), "msg": "Value error, 123-45-6789 is blocked"},
        {"type": "value_error", "loc": ("x",), "msg": "Value error, e is not allowed"},
    ]
    entries = error_entries(errors, ["123-45-6789", "e"])
    assert entries[0] == {
        "column": "ssn",
        "code": "custom",
        "message": "Value error, *** is blocked",
    }
    # whole tokens only: the 'e' inside 'Value error' stays.
    assert entries[1]["message"] == "Value error, *** is not allowed"


def test_model_level_error_has_no_column() -> None:
    entries = error_entries([{"type": "value_error", "loc": (), "msg": "Value error, bad"}])
    assert entries == [{"column": None, "code": "custom", "message": "Value error, bad"}]
