"""The columnar engine: what compiles, what falls back, and why, with Pydantic's verdict."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Annotated

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyAddress,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pipeline.schema import validate


def both(frame: pl.DataFrame, model: type[BaseModel]) -> tuple[object, object]:
    columnar = validate(frame, model)
    reference = validate(frame, model, engine="reference")
    assert_frame_equal(columnar.valid, reference.valid)
    assert_frame_equal(columnar.rejected, reference.rejected)
    assert columnar.report.error_counts == reference.report.error_counts
    return columnar, reference


class Plain(BaseModel):
    n: int = Field(ge=0)
    when: dt.date
    amount: Decimal = Field(max_digits=8, decimal_places=2)
    ip: str | None = None


def test_common_types_compile_and_odd_text_is_still_pydantic_s() -> None:
    frame = pl.DataFrame(
        {
            "n": ["1", " 7 ", "5.0", "1_000", "-1", "x"],
            "when": [
                "2024-01-05",
                "2024-01-05T00:00:00",
                "1704412800",
                "2024-1-5",
                "2024-01-05",
                "2024-02-30",
            ],
            "amount": ["1.5", "2", "3.00", "4.555", "1e2", "0.10"],
            "ip": [None, "a", "", "b", "c", "d"],
        }
    )
    columnar, _ = both(frame, Plain)
    report = columnar.report  # type: ignore[attr-defined]
    assert report.columnar_fields == ("n", "when", "amount", "ip")
    assert report.fallback_fields == ()
    valid = columnar.valid  # type: ignore[attr-defined]
    assert valid.get_column("n").to_list() == [1, 7, 5]
    assert valid.get_column("when").to_list() == [dt.date(2024, 1, 5)] * 3
    assert valid.get_column("amount").to_list() == [Decimal("1.5"), Decimal(2), Decimal(3)]


class Fallbacks(BaseModel):
    wait: dt.timedelta
    ip: IPvAnyAddress
    ratio: Annotated[float, Field(multiple_of=0.5)]
    tag: Annotated[str, AfterValidator(str.upper)]


def test_unsupported_fields_fall_back_with_a_reason() -> None:
    frame = pl.DataFrame(
        {
            "wait": ["PT5M", "nope"],
            "ip": ["10.0.0.1", "::1"],
            "ratio": ["1.5", "0.3"],
            "tag": ["x", "y"],
        }
    )
    columnar, _ = both(frame, Fallbacks)
    report = columnar.report  # type: ignore[attr-defined]
    assert report.columnar_fields == ()
    assert set(report.fallback_fields) == {"wait", "ip", "ratio", "tag"}
    assert report.fallback_reasons["ratio"] == "multiple_of on float"


class RowLogic(BaseModel):
    low: int
    high: int

    @model_validator(mode="after")
    def ordered(self) -> RowLogic:
        if self.low > self.high:
            raise ValueError("low above high")
        return self


class ReadsOthers(BaseModel):
    low: int
    high: int

    @field_validator("high")
    @classmethod
    def above_low(cls, value: int, info: ValidationInfo) -> int:
        if value < info.data.get("low", value):
            raise ValueError("high below low")
        return value


@pytest.mark.parametrize("model", [RowLogic, ReadsOthers])
def test_row_level_logic_runs_row_by_row(model: type[BaseModel]) -> None:
    frame = pl.DataFrame({"low": ["1", "5", "x"], "high": ["2", "3", "1"]})
    columnar, _ = both(frame, model)
    report = columnar.report  # type: ignore[attr-defined]
    assert report.engine == "columnar"
    assert report.columnar_fields == ()
    assert report.valid_count == 1


class Wide(BaseModel):
    n: int
    when: dt.datetime


def test_values_beyond_the_compiled_dtype_widen_like_the_reference() -> None:
    frame = pl.DataFrame(
        {
            "n": ["1", "99999999999999999999", "3"],
            "when": ["2024-01-01T10:00:00", "2024-01-01T10:00:00+02:00", "2024-01-01 10:00:00"],
        }
    )
    columnar, _ = both(frame, Wide)
    valid = columnar.valid  # type: ignore[attr-defined]
    assert valid.schema["n"] == pl.Int128
    # A plain datetime column mixing naive and aware values is kept as ISO text.
    assert valid.get_column("when").to_list()[1] == "2024-01-01T10:00:00+02:00"


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int
    b: int = 5
    c: list[int] = Field(default_factory=list)


def test_absent_columns_take_defaults_or_are_missing() -> None:
    columnar, _ = both(pl.DataFrame({"a": ["1", "2"]}), Defaults)
    assert columnar.valid.get_column("b").to_list() == [5, 5]  # type: ignore[attr-defined]
    missing, _ = both(pl.DataFrame({"b": ["1"], "x": ["y"]}), Defaults)
    errors = json.loads(missing.rejected.get_column("_errors")[0])  # type: ignore[attr-defined]
    assert [(e["column"], e["code"]) for e in errors] == [("a", "missing"), ("x", "extra_column")]


class OnlyAbsent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int = 1


def test_no_field_present_only_an_extra_column() -> None:
    # Every row is undecided (the extra column is forbidden) while no field has a
    # column to gather: the slow path gathers nothing and still decides each row.
    columnar, _ = both(pl.DataFrame({"x": [None, "y"]}, schema={"x": pl.String}), OnlyAbsent)
    assert columnar.report.rejected_count == 2  # type: ignore[attr-defined]


class AllowShadow(BaseModel):
    model_config = ConfigDict(extra="allow")
    f0: str | None = Field(default=None, alias="c0")


def test_an_allowed_extra_named_like_an_aliased_field_is_pydantics_verdict() -> None:
    # Pydantic keeps column "f0" as an extra, and model_dump gives its text as "f0"
    # (found by a review's fuzzing: the compiled plan gave the aliased field's value).
    frame = pl.DataFrame(
        {"c0": [None, "a"], "f0": [" 5", None]}, schema=dict.fromkeys(["c0", "f0"], pl.String)
    )
    columnar, _ = both(frame, AllowShadow)
    expected = [AllowShadow.model_validate(r).model_dump() for r in frame.to_dicts()]
    assert columnar.valid.to_dicts() == expected  # type: ignore[attr-defined]
    assert "shadows" in columnar.report.fallback_reasons["f0"]  # type: ignore[attr-defined]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True)
    name: str
    n: int | None = None


def test_strict_models_reject_text_for_non_text_fields() -> None:
    columnar, _ = both(pl.DataFrame({"name": ["a", "b"], "n": [None, "1"]}), Strict)
    assert columnar.report.valid_count == 1  # type: ignore[attr-defined]
    assert columnar.report.fallback_reasons == {"n": "strict mode"}  # type: ignore[attr-defined]


def test_row_numbers_from_the_reader_are_kept() -> None:
    frame = pl.DataFrame(
        {"n": ["1", "x"], "when": ["2024-01-01", "2024-01-01"], "amount": ["1", "1"]}
    ).with_columns(pl.Series("_row_number", [10, 12], dtype=pl.Int64))
    columnar, _ = both(frame, Plain)
    assert columnar.rejected.get_column("_row_number").to_list() == [12]  # type: ignore[attr-defined]
    assert "_row_number" not in columnar.valid.columns  # type: ignore[attr-defined]
