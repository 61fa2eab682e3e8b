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
    entries = error_entries(errors, {"ssn": "123-45-6789", "x": "e"})
    assert entries[0] == {
        "column": "ssn",
        "code": "custom",
        "message": "Value error, *** is blocked",
    }
    # whole tokens only: the 'e' inside 'Value error' stays.
    assert entries[1]["message"] == "Value error, *** is not allowed"


def test_model_level_error_has_no_column() -> None:
    entries = error_entries([{"type": "value_error", "loc": (), "msg": "Value error, bad"}], {})
    assert entries == [{"column": None, "code": "custom", "message": "Value error, bad"}]


def test_a_value_echoed_as_the_number_it_spells_is_redacted() -> None:
    """Found by review: a validator that formats the parsed int printed 1000 for
    `+1000` and 999 for ` 0999`, and only the cell's own text was redacted."""
    row = {"amount": " 0999", "big": "+1_000", "rate": "2.50", "name": "ada"}
    errors = [
        {"type": "value_error", "loc": ("amount",), "msg": "Value error, amount 999 too low"},
        {"type": "value_error", "loc": ("big",), "msg": "Value error, 1000 exceeds 500"},
        {"type": "value_error", "loc": ("rate",), "msg": "Value error, 2.5 is not 2.50"},
        {"type": "value_error", "loc": ("name",), "msg": "Value error, ADA is taken"},
    ]
    messages = [e["message"] for e in error_entries(errors, row)]
    assert messages == [
        "Value error, amount *** too low",
        "Value error, *** exceeds 500",  # the bound is not the value
        "Value error, *** is not ***",
        "Value error, *** is taken",
    ]


def test_a_field_message_is_redacted_of_its_own_cell_a_row_message_of_every_cell() -> None:
    """Both engines write the same message: the columnar engine's field check sees
    only the field's cell (found by review: the reference engine redacted words
    that matched another column's cell, the columnar one did not)."""
    row = {"amount": "500", "patient": "limit"}
    field = {"type": "value_error", "loc": ("amount",), "msg": "Value error, 500 over limit"}
    whole = {"type": "value_error", "loc": (), "msg": "Value error, 500 over limit"}
    entries = error_entries([field, whole], row)
    assert [e["message"] for e in entries] == [
        "Value error, *** over limit",
        "Value error, *** over ***",
    ]
