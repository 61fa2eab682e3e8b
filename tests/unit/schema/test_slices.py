"""Slicing never changes the result: inside ``validate`` or chunk by chunk outside.

The columnar engine processes a frame in row slices; the streaming runner calls
``validate`` once per chunk. Both must give exactly what one call on the whole
frame gives: the same accepted rows, values and dtypes, the same quarantine
and the same counts.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import Counter
from decimal import Decimal
from typing import Annotated

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pydantic import BaseModel, Field, field_validator

from pipeline.schema import validate
from pipeline.schema.columnar.engine import validate_columnar
from pipeline.schema.fields import plan_model
from pipeline.schema.result import ValidationResult
from pipeline.schema.values import base_dtype


class Status(str, enum.Enum):  # noqa: UP042 - the (str, Enum) form users write
    PAID = "PAID"
    DENIED = "DENIED"


class Claim(BaseModel):
    claim_id: str = Field(pattern=r"^CLM[0-9]{3}$")
    amount: Decimal = Field(ge=0, max_digits=10, decimal_places=2)
    rate: Decimal  # no digit limits: the scale must not follow the data
    units: Annotated[int, Field(ge=1, le=999)]
    ratio: float | None = None
    status: Status
    service_date: dt.date
    paid_at: dt.datetime | None = None
    flag: bool = False


ROWS = [
    # claim_id, amount, rate, units, ratio, status, service_date, paid_at, flag
    ("CLM001", "12.50", "1.5", "3", "0.25", "PAID", "2024-01-05", "", "true"),
    ("CLM002", "7", "1.25", " 7 ", "", "DENIED", "2024-01-05T00:00:00", "2024-01-05 10:00:00", "1"),
    ("CLM003", "-1", "2", "5", "x", "VOID", "2024-02-30", "", "maybe"),
    ("CLM004", "1_000.00", "0.125", "5.0", "1e3", "PAID", "2024-1-5", "", ""),
    ("clm005", "3.00", "10", "1000", "nan", "paid", "2024-03-01", "2024-03-01T10:00:00", "no"),
    ("CLM006", " 12.50", "1e2", "+3", "inf", "PAID", "1704412800", "", "on"),
    ("CLM007", "12.345", "-0.5", "1", "-0", "DENIED", "2024-12-31", "", "f"),
    ("CLM008", "", "", "", "", "", "", "", ""),
    ("CLM009", "999.99", "3.14159", "999", "2.5", "PAID", "2024-06-30", "2024-06-30T23:59:59", "y"),
    ("CLM010", "0", "0", "1", "", "PAID", "2024-01-01", "", "0"),
]
COLUMNS = ["claim_id", "amount", "rate", "units", "ratio", "status", "service_date", "paid_at"]
COLUMNS.append("flag")


def claims(repeat: int = 3) -> pl.DataFrame:
    rows = [row for _ in range(repeat) for row in ROWS]
    frame = pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String), orient="row")
    return frame.with_columns(pl.when(pl.all() != "").then(pl.all()).name.keep())


def assert_same(expected: ValidationResult, actual: ValidationResult) -> None:
    assert_frame_equal(expected.valid, actual.valid)
    assert_frame_equal(expected.rejected, actual.rejected)
    assert expected.report == actual.report


def chunked(frame: pl.DataFrame, model: type[BaseModel], size: int) -> list[ValidationResult]:
    """Validate ``frame`` chunk by chunk as the streaming runner does."""
    numbered = frame.with_row_index("_row_number", offset=1).with_columns(
        pl.col("_row_number").cast(pl.Int64)
    )
    return [
        validate(numbered.slice(offset, size).select([*frame.columns, "_row_number"]), model)
        for offset in range(0, frame.height, size)
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 7, 10, 29, 1000])
def test_slices_inside_validate_change_nothing(size: int) -> None:
    frame = claims()
    assert_same(validate(frame, Claim), validate_columnar(frame, Claim, slice_rows=size))


@pytest.mark.parametrize("size", [1, 4, 10, 13])
def test_chunks_concatenate_to_the_whole_frame(size: int) -> None:
    frame = claims()
    whole = validate(frame, Claim)
    parts = chunked(frame, Claim, size)
    valid = pl.concat([p.valid for p in parts])
    rejected = pl.concat([p.rejected for p in parts])
    assert_frame_equal(valid, whole.valid)
    assert_frame_equal(rejected, whole.rejected)
    counts: Counter[tuple[str | None, str]] = Counter()
    for part in parts:
        counts.update(part.report.error_counts)
    assert dict(counts) == dict(whole.report.error_counts)
    assert sum(p.report.valid_count for p in parts) == whole.report.valid_count


def test_dtypes_are_the_fields_own_whatever_the_chunk() -> None:
    expected = {s.name: base_dtype(s) for s in plan_model(Claim).fields}
    assert expected["amount"] == pl.Decimal(38, 2)
    assert expected["rate"] == pl.Decimal(38, 19)
    for part in [*chunked(claims(1), Claim, 1), validate(claims(0), Claim)]:
        assert dict(part.valid.schema) == expected
    # "1.5" and "1.25" in different chunks: one scale, no rounding.
    rates = [p.valid.get_column("rate").to_list() for p in chunked(claims(1), Claim, 1)]
    assert [Decimal("1.5")] in rates and [Decimal("1.25")] in rates


class Wide(BaseModel):
    big: int
    when: dt.datetime
    rate: Decimal


def test_values_beyond_the_dtype_are_assembled_over_the_whole_frame() -> None:
    # The column's dtype then depends on the values (documented in values.py);
    # inside validate, slices still agree with the whole frame.
    frame = pl.DataFrame(
        {
            "big": ["1", "2", str(2**70), "4", "5", " 6"],
            "when": [
                "2024-01-01T00:00:00",
                "2024-01-01 10:00:00",
                "2024-01-02T00:00:00",
                "2024-01-03T00:00:00+02:00",
                "2024-01-04T00:00:00",
                "x",
            ],
            "rate": ["1.5", "1.25", "1e30", "2", "NaN", "3"],
        }
    )
    whole = validate_columnar(frame, Wide, slice_rows=10)
    assert whole.valid.schema["big"] == pl.Int128
    assert whole.valid.schema["when"] == pl.String
    assert whole.valid.schema["rate"] == pl.String
    assert whole.valid.get_column("rate").to_list()[:2] == ["1.5", "1.25"]
    for size in (1, 2, 4):
        assert_same(whole, validate_columnar(frame, Wide, slice_rows=size))
    reference = validate(frame, Wide, engine="reference")
    assert_frame_equal(whole.valid, reference.valid)
    assert_frame_equal(whole.rejected, reference.rejected)


class Checked(BaseModel):
    code: str

    @field_validator("code")
    @classmethod
    def no_z(cls, value: str) -> str:
        if "z" in value:
            raise ValueError("no z")
        return value.upper()


def test_fallback_fields_and_empty_frames_slice_alike() -> None:
    frame = pl.DataFrame({"code": ["a", "z", "b", None, "zz", "c", "d"]})
    whole = validate(frame, Checked)
    for size in (1, 2, 3):
        assert_same(whole, validate_columnar(frame, Checked, slice_rows=size))
    empty = frame.clear()
    assert_same(validate(empty, Checked), validate_columnar(empty, Checked, slice_rows=2))
    assert_same(validate(claims(0), Claim), validate_columnar(claims(0), Claim, slice_rows=2))


class Blank(str, enum.Enum):  # noqa: UP042 - the (str, Enum) form users write
    EMPTY = ""
    FULL = "x"


class Texts(BaseModel, extra="allow"):
    name: str
    note: str | None
    pattern: str | None = Field(default=None, pattern=r"^a*$")
    blank: Blank | None = None
    size: int | None = None


def test_cells_holding_empty_text_are_none_as_in_the_reference() -> None:
    # Readers give null for an empty cell, but a frame may hold "": never text.
    frame = pl.DataFrame(
        {
            "name": ["", "a", "", "b"],
            "note": ["", "n", None, ""],
            "pattern": ["", "aa", "", "b"],
            "blank": ["", "x", "", None],
            "size": ["", "1", "", " 2"],
            "other": ["", "o", None, "p"],
        }
    )
    reference = validate(frame, Texts, engine="reference")
    for size in (1, 3, 100):
        result = validate_columnar(frame, Texts, slice_rows=size)
        assert_frame_equal(result.valid, reference.valid)
        assert_frame_equal(result.rejected, reference.rejected)
    assert reference.valid.height == 1  # "" is a missing name, not an empty one


class Units(BaseModel):
    units: int
    code: str = Field(pattern=r"^[A-Z]+$")


def test_pydantic_sees_each_distinct_undecided_value_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.schema.fallback import FieldChecker

    seen: list[object] = []
    run = FieldChecker._run

    def counting(self: FieldChecker, payload: dict[str, str | None]) -> object:
        seen.extend(payload.values())
        return run(self, payload)

    monkeypatch.setattr(FieldChecker, "_run", counting)
    frame = pl.DataFrame(
        {"units": [" 7 ", "5", "5.0", " 7 ", "x"] * 40, "code": ["AB", "ab", "AB", "C", "ab"] * 40}
    )
    result = validate_columnar(frame, Units, slice_rows=7)
    assert sorted(map(str, seen)) == sorted([" 7 ", "5.0", "x", "ab"])
    assert result.report.valid_count == 120
