"""Models the columnar engine must hand to Pydantic whole, or check field by field
with the model's own class: each found by review, where the columnar engine
accepted what Pydantic rejects, lost values, or crashed the run."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Annotated, Any, ClassVar, Literal

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    root_validator,
    validator,
)

from pipeline.schema import validate


def frame(columns: dict[str, list[str]]) -> pl.DataFrame:
    return pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))


def pydantic_accepts(model: type[BaseModel], data: pl.DataFrame) -> list[int]:
    accepted = []
    for number, row in enumerate(data.iter_rows(named=True), start=1):
        try:
            model.model_validate({k: (v or None) for k, v in row.items()})
        except ValidationError:
            continue
        accepted.append(number)
    return accepted


def agree(model: type[BaseModel], data: pl.DataFrame) -> pl.DataFrame:
    """Both engines give Pydantic's verdicts and the same frames; the accepted frame."""
    columnar = validate(data, model)
    reference = validate(data, model, engine="reference")
    rejected = set(columnar.rejected.get_column("_row_number").to_list())
    accepted = [n for n in range(1, data.height + 1) if n not in rejected]
    assert accepted == pydantic_accepts(model, data)
    assert_frame_equal(columnar.valid, reference.valid)
    assert_frame_equal(columnar.rejected, reference.rejected)
    return columnar.valid


# Deprecated, still supported by Pydantic 2, and in users' models.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)

    class V1Validator(BaseModel):
        x: int

        @validator("x")
        def positive_times_ten(cls, v: int) -> int:  # noqa: N805 - Pydantic v1's form
            if v < 0:
                raise ValueError("must not be negative")
            return v * 10

    class V1RootValidator(BaseModel):
        a: int
        b: int

        @root_validator(skip_on_failure=True)
        def ordered(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805
            if values["a"] > values["b"]:
                raise ValueError("a must not exceed b")
            return values


def test_pydantic_v1_validators_run() -> None:
    """They were skipped: -1 accepted and written as -1, not rejected, 1 not made 10."""
    valid = agree(V1Validator, frame({"x": ["1", "-1", " 2"]}))
    assert valid.get_column("x").to_list() == [10, 20]
    assert agree(V1RootValidator, frame({"a": ["1", "5"], "b": ["2", "3"]})).height == 1


class ClassVarValidator(BaseModel):
    ALLOWED: ClassVar[frozenset[str]] = frozenset({"PAID", "DENIED"})
    status: str

    @field_validator("status")
    @classmethod
    def known(cls, v: str) -> str:
        if v not in cls.ALLOWED:
            raise ValueError("unknown status")
        return v


class HelperValidator(BaseModel):
    code: str

    @staticmethod
    def _norm(v: str) -> str:
        return v.strip().upper()

    @field_validator("code")
    @classmethod
    def norm(cls, v: str) -> str:
        return cls._norm(v)


def test_a_field_validator_sees_its_own_class() -> None:
    """Rebound to a one-field model, `cls.ALLOWED` and `cls._norm` were missing: the
    run stopped with an unexpected AttributeError."""
    assert agree(ClassVarValidator, frame({"status": ["PAID", "VOID"]})).height == 1
    valid = agree(HelperValidator, frame({"code": [" ab", "c"]}))
    assert valid.get_column("code").to_list() == ["AB", "C"]


class DataFactory(BaseModel):
    a: int
    b: int = Field(default_factory=lambda data: data["a"] * 2)


def test_a_default_factory_given_the_data() -> None:
    """It was called with no data: an unexpected KeyError stopped the run."""
    valid = agree(DataFactory, frame({"a": ["1", "5"]}))
    assert valid.get_column("b").to_list() == [2, 10]


def _above_a(value: int, info: ValidationInfo) -> int:
    if value <= info.data["a"]:
        raise ValueError("b must exceed a")
    return value


class NestedInfoValidator(BaseModel):
    a: int
    b: Annotated[int, AfterValidator(_above_a)] | Literal["n/a"]


def test_an_info_validator_inside_a_union_member_sees_the_other_fields() -> None:
    """Only top-level metadata was looked at: the validator ran with info.data empty
    and `a=5, b=3` was accepted."""
    valid = agree(NestedInfoValidator, frame({"a": ["5", "1", "2"], "b": ["3", "3", "n/a"]}))
    assert valid.height == 2


class TypedExtras(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, int] = Field(init=False)
    a: str


def test_typed_extra_columns_are_validated() -> None:
    """Extras were passed through as text: `abc` accepted into an int extra."""
    valid = agree(TypedExtras, frame({"a": ["p", "q", "r"], "z": ["1", "abc", " 7"]}))
    assert valid.get_column("z").to_list() == [1, 7]


class SerializeByAlias(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)
    x: int = Field(alias="X")


def test_a_model_that_serializes_by_alias_keeps_its_values() -> None:
    """model_dump() was keyed by alias: values Pydantic decided became nulls."""
    valid = agree(SerializeByAlias, frame({"X": ["1", " 2", "3"]}))
    assert valid.get_column("x").to_list() == [1, 2, 3]


class OwnModelValidate(BaseModel):
    member_id: str
    amount: int

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> OwnModelValidate:  # type: ignore[override]
        if isinstance(obj, dict):
            obj = {str(k).strip().lower(): v for k, v in obj.items()}
        return super().model_validate(obj, **kwargs)


def test_an_overridden_model_validate_is_used() -> None:
    """It was ignored: the row was quarantined as missing both fields."""
    assert agree(OwnModelValidate, frame({"Member_ID": ["m1"], "AMOUNT": ["5"]})).height == 1


class Period(BaseModel):
    id: int
    valid_to: AwareDatetime


class PeriodPlain(BaseModel):
    id: int
    valid_to: dt.datetime


@pytest.mark.parametrize("model", [Period, PeriodPlain])
def test_aware_datetimes_at_the_calendars_ends(model: type[BaseModel]) -> None:
    """9999-12-31T23:59:59-05:00 (an open-ended sentinel) is an instant in year 10000
    UTC: the reference engine stopped with OverflowError (astimezone)."""
    data = frame(
        {
            "id": ["1", "2", "3"],
            "valid_to": [
                "2024-01-01T00:00:00Z",
                "9999-12-31T23:59:59-05:00",
                "0001-01-01T00:00:00+01:00",
            ],
        }
    )
    texts = []
    for engine in ("columnar", "reference"):
        result = validate(data, model, engine=engine)  # type: ignore[arg-type]
        assert result.rejected.height == 0
        texts.append(result.valid.get_column("valid_to").cast(pl.String).to_list())
    assert texts[0] == texts[1]
    assert texts[0][1].startswith("+10000-01-01 04:59:59")
    assert texts[0][2].startswith("0000-12-31 23:00:00")


class PlainFactories(BaseModel):
    tags: list[str] = Field(default_factory=list)
    note: str = Field(default_factory=str)
    seen: dt.datetime = Field(default_factory=lambda: dt.datetime(2024, 1, 1))


def test_a_default_factory_not_given_the_data_keeps_the_columnar_path() -> None:
    """Found by review: `list`, `str` (builtins show no signature) sent the model to the
    slow row-by-row path."""
    from pipeline.schema.fallback import model_fallback_reason
    from pipeline.schema.fields import plan_model

    assert model_fallback_reason(plan_model(PlainFactories)) is None
    assert model_fallback_reason(plan_model(DataFactory)) is not None
