"""Stable codes: the Pydantic type table and message redaction."""

from __future__ import annotations

import pytest

from pipeline import schema
from pipeline.schema.codes import CODES, _numbers, code_for, error_entries


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


def test_a_message_is_redacted_of_every_cell_the_validator_saw() -> None:
    """A validator taking `info` can quote another field in its own field's message
    (found by review: `member *** does not match ssn 987-65-4321`)."""
    row = {"member": "M1", "ssn": "987-65-4321"}
    field = {
        "type": "value_error",
        "loc": ("member",),
        "msg": "Value error, member M1 does not match ssn 987-65-4321",
    }
    entries = error_entries([field], row)
    assert entries[0]["message"] == "Value error, member *** does not match ssn ***"


def test_a_huge_exponent_is_not_printed_in_full() -> None:
    """Found by review: `Ne999999` made a million-digit form to redact (seconds per cell)."""
    assert _numbers("1e999999") <= {"inf"}  # no printed form of the Decimal
    assert max(len(form) for form in _numbers("1e39")) <= 45
    entries = error_entries(
        [{"type": "value_error", "loc": ("code",), "msg": "Value error, bad code"}],
        {"code": "1e999999", "other": "-5E-999999"},
    )
    assert entries[0]["message"] == "Value error, bad code"
