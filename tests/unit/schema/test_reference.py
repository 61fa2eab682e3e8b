"""The reference engine: Pydantic's verdict row by row, the frames and the report."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from enum import Enum
from typing import Literal

import polars as pl
import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from pipeline.schema import validate

ENGINES = ["reference", "columnar"]


class Status(str, Enum):  # noqa: UP042 - the (str, Enum) form users write
    PAID = "PAID"
    DENIED = "DENIED"


class Claim(BaseModel):
    claim_id: str = Field(pattern=r"^C[0-9]{4}$")
    amount: Decimal = Field(ge=0, decimal_places=2)
    units: int = Field(ge=1, le=99)
    paid: bool
    service_date: dt.date
    status: Status
    note: str | None = None


def text_frame(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    columns = list(rows[0])
    return pl.DataFrame(
        {c: [r[c] for r in rows] for c in columns}, schema=dict.fromkeys(columns, pl.String)
    )


GOOD = {
    "claim_id": "C0001",
    "amount": "12.50",
    "units": "3",
    "paid": "true",
    "service_date": "2024-01-05",
    "status": "PAID",
    "note": None,
}


@pytest.mark.parametrize("engine", ENGINES)
def test_valid_rows_are_typed_in_field_order(engine: str) -> None:
    frame = text_frame([GOOD, {**GOOD, "units": " 7 ", "note": "x", "paid": "no"}])
    result = validate(frame, Claim, engine=engine)  # type: ignore[arg-type]
    assert result.rejected.height == 0
    assert result.valid.columns == list(Claim.model_fields)
    assert result.valid.schema == pl.Schema(
        {
            "claim_id": pl.String,
            "amount": pl.Decimal(38, 2),
            "units": pl.Int64,
            "paid": pl.Boolean,
            "service_date": pl.Date,
            "status": pl.String,
            "note": pl.String,
        }
    )
    assert result.valid.get_column("units").to_list() == [3, 7]
    assert result.valid.get_column("paid").to_list() == [True, False]
    assert result.valid.get_column("status").to_list() == ["PAID", "PAID"]
    assert result.valid.get_column("amount").to_list() == [Decimal("12.50")] * 2


@pytest.mark.parametrize("engine", ENGINES)
def test_rejected_rows_keep_text_row_numbers_and_codes(engine: str) -> None:
    frame = text_frame(
        [GOOD, {**GOOD, "units": "0", "claim_id": "X1"}, {**GOOD, "status": "VOID", "paid": ""}]
    ).with_columns(pl.Series("_row_number", [2, 5, 9], dtype=pl.Int64))
    result = validate(frame, Claim, engine=engine)  # type: ignore[arg-type]
    rejected = result.rejected
    assert rejected.columns == [*GOOD, "_row_number", "_errors"]
    assert rejected.get_column("_row_number").to_list() == [5, 9]
    assert rejected.get_column("units").to_list() == ["0", "3"]
    first = json.loads(rejected.get_column("_errors")[0])
    assert [(e["column"], e["code"]) for e in first] == [
        ("claim_id", "pattern"),
        ("units", "out_of_range"),
    ]
    second = json.loads(rejected.get_column("_errors")[1])
    assert [(e["column"], e["code"]) for e in second] == [
        ("paid", "type"),
        ("status", "not_allowed"),
    ]
    for entries in (first, second):
        for entry in entries:
            assert set(entry) == {"column", "code", "message"}
    report = result.report
    assert (report.total, report.valid_count, report.rejected_count) == (3, 1, 2)
    assert report.error_counts == {
        ("claim_id", "pattern"): 1,
        ("units", "out_of_range"): 1,
        ("paid", "type"): 1,
        ("status", "not_allowed"): 1,
    }
    assert report.engine == engine


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_column_and_defaults(engine: str) -> None:
    frame = pl.DataFrame({"claim_id": ["C0001"]})
    result = validate(frame, Claim, engine=engine)  # type: ignore[arg-type]
    errors = json.loads(result.rejected.get_column("_errors")[0])
    assert {(e["column"], e["code"]) for e in errors} == {
        (c, "missing") for c in ("amount", "units", "paid", "service_date", "status")
    }


class Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    a: int


class Allow(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


class Ignore(BaseModel):
    a: int


@pytest.mark.parametrize("engine", ENGINES)
def test_extra_columns(engine: str) -> None:
    frame = pl.DataFrame({"z": ["q", None], "a": ["1", "2"]})
    forbid = validate(frame, Forbid, engine=engine)  # type: ignore[arg-type]
    assert forbid.report.rejected_count == 2
    assert forbid.report.error_counts == {("z", "extra_column"): 2}
    allow = validate(frame, Allow, engine=engine)  # type: ignore[arg-type]
    assert allow.valid.to_dict(as_series=False) == {"a": [1, 2], "z": ["q", None]}
    ignore = validate(frame, Ignore, engine=engine)  # type: ignore[arg-type]
    assert ignore.valid.to_dict(as_series=False) == {"a": [1, 2]}


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")
    member_id: int = Field(alias="MemberID")


@pytest.mark.parametrize("engine", ENGINES)
def test_aliases_name_input_columns_output_uses_field_names(engine: str) -> None:
    result = validate(pl.DataFrame({"MemberID": ["1", "x"]}), Aliased, engine=engine)  # type: ignore[arg-type]
    assert result.valid.to_dict(as_series=False) == {"member_id": [1]}
    assert json.loads(result.rejected.get_column("_errors")[0])[0]["column"] == "MemberID"
    by_name = validate(pl.DataFrame({"member_id": ["4"]}), Aliased, engine=engine)  # type: ignore[arg-type]
    assert by_name.valid.to_dict(as_series=False) == {"member_id": [4]}


class Custom(BaseModel):
    ssn: str

    @field_validator("ssn")
    @classmethod
    def not_blocked(cls, value: str) -> str:
        if value.startswith("9"):
            raise ValueError(f"{value} is blocked")
        return value


@pytest.mark.parametrize("engine", ENGINES)
def test_custom_validator_message_is_redacted(engine: str) -> None:
    result = validate(pl.DataFrame({"ssn": ["123", "987-65-4321"]}), Custom, engine=engine)  # type: ignore[arg-type]
    assert result.valid.height == 1
    cell = result.rejected.get_column("_errors")[0]
    assert "987-65-4321" not in cell
    assert json.loads(cell) == [
        {"column": "ssn", "code": "custom", "message": "Value error, *** is blocked"}
    ]


class Kinds(BaseModel):
    when: AwareDatetime
    at: dt.time
    ident: uuid.UUID
    kind: Literal["a", "b"]
    ratio: float


@pytest.mark.parametrize("engine", ENGINES)
def test_aware_datetimes_uuid_literal_float(engine: str) -> None:
    frame = pl.DataFrame(
        {
            "when": ["2024-01-01T10:00:00+02:00", "2024-01-01T08:00:00Z"],
            "at": ["10:11:12", "00:00:00.5"],
            "ident": ["A0F1E2D3-C4B5-4A69-8877-665544332211", "a0f1e2d3c4b54a698877665544332211"],
            "kind": ["a", "b"],
            "ratio": ["1e3", "NaN"],
        }
    )
    result = validate(frame, Kinds, engine=engine)  # type: ignore[arg-type]
    valid = result.valid
    assert valid.schema["when"] == pl.Datetime("us", "UTC")
    assert valid.get_column("when").to_list() == [dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)] * 2
    assert valid.get_column("ident").to_list() == ["a0f1e2d3-c4b5-4a69-8877-665544332211"] * 2
    assert valid.get_column("at").to_list() == [dt.time(10, 11, 12), dt.time(0, 0, 0, 500000)]
    ratio = valid.get_column("ratio").to_list()
    assert ratio[0] == 1000.0
    assert ratio[1] != ratio[1]


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_cells_are_none_and_empty_frames_work(engine: str) -> None:
    frame = pl.DataFrame({"claim_id": []}, schema={"claim_id": pl.String})
    result = validate(frame, Claim, engine=engine)  # type: ignore[arg-type]
    assert result.valid.height == 0
    assert result.valid.columns == list(Claim.model_fields)
    assert result.rejected.columns == ["claim_id", "_row_number", "_errors"]
    empty_string = validate(pl.DataFrame({"a": [""]}), Ignore, engine=engine)  # type: ignore[arg-type]
    assert json.loads(empty_string.rejected.get_column("_errors")[0])[0]["code"] == "type"


def test_unknown_engine_is_config_error() -> None:
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown validation engine"):
        validate(pl.DataFrame({"a": ["1"]}), Ignore, engine="fast")  # type: ignore[arg-type]
