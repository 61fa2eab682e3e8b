"""Stable validation reason codes and the one table mapping Pydantic error types onto them.

The codes are the vocabulary of the quarantine file, reports and audit entries;
they never change meaning. Messages are Pydantic's own, with any cell value of
the row redacted so evidence never carries data (ARCHITECTURE.md invariant 5).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final, TypedDict

__all__ = [
    "CODES",
    "CUSTOM",
    "EXTRA_COLUMN",
    "MALFORMED_ROW",
    "MISSING",
    "NOT_ALLOWED",
    "OUT_OF_RANGE",
    "PATTERN",
    "PYDANTIC_TYPE_TO_CODE",
    "TOO_LONG",
    "TOO_SHORT",
    "TYPE",
    "ErrorEntry",
    "code_for",
    "error_entries",
]

MISSING: Final = "missing"
TYPE: Final = "type"
PATTERN: Final = "pattern"
TOO_LONG: Final = "too_long"
TOO_SHORT: Final = "too_short"
OUT_OF_RANGE: Final = "out_of_range"
NOT_ALLOWED: Final = "not_allowed"
EXTRA_COLUMN: Final = "extra_column"
CUSTOM: Final = "custom"
#: Used by the reader for rows the file format cannot parse; never by the validator.
MALFORMED_ROW: Final = "malformed_row"

CODES: Final = (
    MISSING,
    TYPE,
    PATTERN,
    TOO_LONG,
    TOO_SHORT,
    OUT_OF_RANGE,
    NOT_ALLOWED,
    EXTRA_COLUMN,
    CUSTOM,
    MALFORMED_ROW,
)

#: Pydantic error ``type`` → stable code. Types not listed map by suffix in
#: :func:`code_for` (``*_type``/``*_parsing`` are type errors), else ``custom``.
PYDANTIC_TYPE_TO_CODE: Final[Mapping[str, str]] = {
    "missing": MISSING,
    "extra_forbidden": EXTRA_COLUMN,
    "string_pattern_mismatch": PATTERN,
    "string_too_long": TOO_LONG,
    "too_long": TOO_LONG,
    "string_too_short": TOO_SHORT,
    "too_short": TOO_SHORT,
    "greater_than": OUT_OF_RANGE,
    "greater_than_equal": OUT_OF_RANGE,
    "less_than": OUT_OF_RANGE,
    "less_than_equal": OUT_OF_RANGE,
    "multiple_of": OUT_OF_RANGE,
    "finite_number": OUT_OF_RANGE,
    "decimal_max_digits": OUT_OF_RANGE,
    "decimal_max_places": OUT_OF_RANGE,
    "decimal_whole_digits": OUT_OF_RANGE,
    "date_past": OUT_OF_RANGE,
    "date_future": OUT_OF_RANGE,
    "datetime_past": OUT_OF_RANGE,
    "datetime_future": OUT_OF_RANGE,
    "literal_error": NOT_ALLOWED,
    "enum": NOT_ALLOWED,
    "value_error": CUSTOM,
    "assertion_error": CUSTOM,
    "int_from_float": TYPE,
    "date_from_datetime_inexact": TYPE,
    "timezone_aware": TYPE,
    "timezone_naive": TYPE,
    "timezone_offset": TYPE,
    "uuid_version": TYPE,
    "bool_parsing": TYPE,
    "int_parsing_size": TYPE,
    "time_delta_parsing": TYPE,
    "none_required": TYPE,
}


class ErrorEntry(TypedDict):
    """One reason a row was rejected, as written to ``_errors``."""

    column: str | None
    code: str
    message: str


def code_for(pydantic_type: str) -> str:
    """Return the stable code for a Pydantic error type."""
    code = PYDANTIC_TYPE_TO_CODE.get(pydantic_type)
    if code is not None:
        return code
    if pydantic_type.endswith(("_type", "_parsing")):
        return TYPE
    return CUSTOM


def _variants(values: Iterable[str]) -> set[str]:
    """A value and the forms a validator is likely to echo: stripped, and as the number
    Pydantic made of it (`+1000`, ` 0999` and `1_000` are echoed as 1000 and 999;
    found by review). Case is ignored where they are matched."""
    out: set[str] = set()
    for value in values:
        stripped = value.strip()
        if not stripped:
            continue
        out.update((value, stripped))
        out.update(_numbers(stripped))
    return out


#: The most digits a number's printed forms are tried with (an int64 has 19).
_LONGEST_NUMBER = 40


def _numbers(text: str) -> set[str]:
    """The ways Python prints the number ``text`` spells, if it spells one."""
    forms: set[str] = set()
    with contextlib.suppress(ValueError):
        if len(text) <= _LONGEST_NUMBER + 10:  # room for signs, underscores and spaces
            forms.add(str(int(text)))
    with contextlib.suppress(ArithmeticError, ValueError):
        number = Decimal(text)
        # Bounded: `Ne999999` printed in full is a million digits (found by review: two
        # seconds of redaction per such cell).
        if number.is_finite() and abs(number.adjusted()) <= _LONGEST_NUMBER:
            forms.update((str(number), f"{number.normalize():f}"))
    with contextlib.suppress(ValueError):
        real = float(text)
        if math.isfinite(real):
            forms.update((repr(real), str(real)))
    return forms


def _redact(message: str, values: Iterable[str]) -> str:
    # Only user-written messages (custom validators) can echo a value; match
    # whole tokens so a one-letter cell does not mangle ordinary words.
    for value in sorted(_variants(values), key=len, reverse=True):
        pattern = r"(?<![0-9A-Za-z_])" + re.escape(value) + r"(?![0-9A-Za-z_])"
        message = re.sub(pattern, "***", message, flags=re.IGNORECASE)
    return message


def error_entries(
    errors: Iterable[Mapping[str, Any]], row: Mapping[str, str | None]
) -> list[ErrorEntry]:
    """Turn Pydantic ``errors()`` into quarantine entries without any cell value.

    ``row``: the cells the validator saw, by input key; a custom message is redacted
    of every one of them. A field checked alone saw only its own cell; a model
    validated whole saw them all, and a validator taking ``info`` can quote another
    field's value in its own field's message (found by review, when only the
    field's cell was redacted).
    """
    out: list[ErrorEntry] = []
    shown = [cell for cell in row.values() if cell is not None]
    for err in errors:
        loc = err.get("loc", ())
        column = str(loc[0]) if loc else None
        code = code_for(str(err["type"]))
        message = str(err["msg"])
        if code == CUSTOM:
            seen = err.get("input")
            message = _redact(message, [*shown, *([seen] if isinstance(seen, str) else [])])
        out.append({"column": column, "code": code, "message": message})
    return out
