"""Differential tests: the columnar engine against ``Model.model_validate`` row by row.

Hypothesis draws models from the family issue 3 names (types, constraints,
Optional, aliases, defaults, extra modes, strict, field validators) and cells
from a mix of tricky literals and generated values. The bar is zero
disagreements: the same accepted rows with the same values as Pydantic, and the
same frames, quarantine and counts as the reference engine.

``HYPOTHESIS_PROFILE=thorough`` runs ~10x more examples than the default.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import os
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NaiveDatetime,
    StringConstraints,
    ValidationError,
    create_model,
    field_validator,
)

from pipeline.schema import validate
from pipeline.schema.values import plain_value

THOROUGH = os.environ.get("HYPOTHESIS_PROFILE") == "thorough"
MODEL_EXAMPLES = 1500 if THOROUGH else 150
TEXT_EXAMPLES = 400 if THOROUGH else 40
COMMON: dict[str, Any] = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


class Status(enum.Enum):
    PAID = "PAID"
    DENIED = "DENIED"
    PENDING = "pending"


class Code(str, enum.Enum):  # noqa: UP042 - the (str, Enum) form users write
    A = "A1"
    B = "b-2"


SPECIALS = [
    " 5", "5.0", "5.5", "1e3", "1_000", "0x1F", "+3", "-0", "-0.0", "0", "00", "007", "-12",
    "true", "yes", "on", "1", "t", "f", "True", "FALSE", "No", "off ", "", "NaN", "nan",
    "inf", "-inf", "Infinity", "\uff11\uff12\uff13", "\u0663", "2024-02-30", "2024-1-5",
    "2024-01-05",
    "2024-01-01T10:00:00+02:00", "2024-01-01T00:00:00", "2024-01-01 10:11:12",
    "2024-01-01T10:11:12.1234567", "2024-01-01T10:11:12Z", "2024-01-01t10:11:12z",
    "2024-01-01T24:00:00", "2024-01-01T23:59:60", "0001-01-01", "0000-01-01",
    "9999-12-31T23:59:59.999999", "1700000000", "1700000000.5", "20240105", "10:11:12",
    "10:11", "24:00:00", "10:11:12+02:00", "10:11:12.5", "12.50", "1.500", "0.001",
    ".5", "5.", "99999999999999999999", "-9223372036854775808", "9223372036854775808",
    "1" * 40 + ".5", "a0f1e2d3-c4b5-4a69-8877-665544332211",
    "A0F1E2D3-C4B5-4A69-8877-665544332211", "a0f1e2d3c4b54a698877665544332211",
    "{a0f1e2d3-c4b5-4a69-8877-665544332211}", "PAID", "paid", " PAID", "pending", "A1",
    "a1", "b-2", "C0001", "c0001", "C00012", "x" * 300, "é", "ß", "İ", "ǅ", "\t5\n",
    "\u00a05", "5\u2003", "\u3000", " ", "ab\ncd", "NULL", "None", "null",
]  # fmt: skip


def _pad(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from([text, f" {text}", f"{text} ", f"\t{text}", text.upper(), text.lower()])


def _datetimes() -> st.SearchStrategy[str]:
    naive = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 30))
    offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
        lambda m: dt.timezone(dt.timedelta(minutes=m))
    )
    aware = st.builds(lambda d, tz: d.replace(tzinfo=tz), naive, st.none() | offsets)
    return st.builds(
        lambda d, sep, spec: d.isoformat(sep=sep, timespec=spec),
        aware,
        st.sampled_from(["T", " "]),
        st.sampled_from(["auto", "seconds", "milliseconds", "minutes"]),
    )


CELLS: st.SearchStrategy[str | None] = st.one_of(
    st.none(),
    st.sampled_from(SPECIALS),
    st.integers(-(10**20), 10**20).map(str),
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e6, 1e6).map(lambda f: f"{f:.3f}"),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.dates().map(dt.date.isoformat),
    _datetimes(),
    st.times().map(dt.time.isoformat),
    st.uuids().map(str),
    st.sampled_from(["PAID", "DENIED", "pending", "A1", "b-2", "x", "y"]).flatmap(_pad),
    st.text(max_size=12),
    st.from_regex(r"[A-Z][0-9]{4}", fullmatch=True),
).map(lambda v: v)

PATTERNS = [
    r"^[A-Z][0-9]{4}$", r"^\d+$", r"[a-z]", r"^[0-9]{3,10}$", r"^(PAID|DENIED)$", r"^\w+$",
    r"\s", r"^C\d{4}$", r"^(?:[A-Z]|\d)+$", r"^.{2,5}$",
]  # fmt: skip


@st.composite
def field_types(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    """Draw one field's annotation and its Field(...) keywords."""
    kind = draw(
        st.sampled_from(
            ["str", "int", "float", "decimal", "bool", "date", "datetime", "aware", "naive",
             "time", "uuid", "enum", "strenum", "literal", "constr"]
        )
    )  # fmt: skip
    kwargs: dict[str, Any] = {}
    annotation: Any
    if kind == "str":
        annotation = str
        if draw(st.booleans()):
            kwargs["min_length"] = draw(st.integers(0, 3))
        if draw(st.booleans()):
            kwargs["max_length"] = draw(st.integers(1, 12))
        if draw(st.booleans()):
            kwargs["pattern"] = draw(st.sampled_from(PATTERNS))
    elif kind == "constr":
        annotation = Annotated[
            str,
            StringConstraints(
                strip_whitespace=draw(st.booleans()),
                to_lower=draw(st.booleans()),
                max_length=draw(st.none() | st.integers(1, 8)),
                pattern=draw(st.none() | st.sampled_from(PATTERNS)),
            ),
        ]
    elif kind in ("int", "float", "decimal"):
        annotation = {"int": int, "float": float, "decimal": Decimal}[kind]
        bound = st.integers(-100, 100) if kind != "float" else st.floats(-100, 100)
        for op in ("gt", "ge", "lt", "le"):
            if draw(st.integers(0, 3)) == 0:
                kwargs[op] = draw(bound)
        if kind == "decimal" and draw(st.booleans()):
            kwargs["decimal_places"] = draw(st.integers(0, 4))
            kwargs["max_digits"] = kwargs["decimal_places"] + draw(st.integers(1, 12))
        if kind == "int" and draw(st.integers(0, 4)) == 0:
            kwargs["multiple_of"] = draw(st.integers(1, 7))
        if kind == "float" and draw(st.integers(0, 4)) == 0:
            kwargs["allow_inf_nan"] = False
    elif kind == "date":
        annotation = dt.date
        if draw(st.booleans()):
            kwargs["ge"] = draw(st.dates())
    else:
        annotation = {
            "bool": bool, "datetime": dt.datetime, "aware": AwareDatetime,
            "naive": NaiveDatetime, "time": dt.time, "uuid": uuid.UUID, "enum": Status,
            "strenum": Code, "literal": Literal["PAID", "DENIED", "x"],
        }[kind]  # fmt: skip
    return annotation, kwargs


def _reject_z(cls: type, value: Any) -> Any:
    if isinstance(value, str) and "z" in value:
        raise ValueError(f"{value} must not contain z")
    return value


def _strip_before(cls: type, value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


@st.composite
def models(draw: st.DrawFn) -> tuple[type[BaseModel], list[str]]:
    """Draw a model and the frame columns to feed it (some absent, maybe extras)."""
    n_fields = draw(st.integers(1, 5))
    definitions: dict[str, Any] = {}
    validators: dict[str, Any] = {}
    columns: list[str] = []
    for i in range(n_fields):
        name = f"f{i}"
        annotation, kwargs = draw(field_types())
        if draw(st.booleans()):
            annotation = annotation | None
        if draw(st.integers(0, 3)) == 0:
            kwargs["alias"] = f"Col{i}"
        if draw(st.integers(0, 3)) == 0:
            kwargs["default"] = None
        definitions[name] = (annotation, Field(**kwargs))
        if draw(st.integers(0, 5)) == 0:
            mode = draw(st.sampled_from(["after", "before"]))
            func = _reject_z if mode == "after" else _strip_before
            validators[f"v{i}"] = field_validator(name, mode=mode)(classmethod(func))
        present = "default" not in kwargs or draw(st.booleans())
        if draw(st.integers(0, 9)) == 0:
            present = False  # a required column that is absent: 'missing'
        if present:
            columns.append(kwargs.get("alias", name))
    if draw(st.integers(0, 3)) == 0:
        columns.append("extra_col")
    named = f"f{draw(st.integers(0, n_fields - 1))}"
    if named not in columns and draw(st.integers(0, 4)) == 0:
        # A column named like a field that reads its alias: an extra to Pydantic (or
        # the field's own input under populate_by_name), shadowing it in model_dump.
        columns.append(named)
    config = ConfigDict(
        extra=draw(st.sampled_from(["ignore", "forbid", "allow"])),
        strict=draw(st.sampled_from([False] * 7 + [True])),
        populate_by_name=draw(st.booleans()),
    )
    if draw(st.integers(0, 4)) == 0:
        config["str_strip_whitespace"] = True
    if draw(st.integers(0, 5)) == 0:
        config["str_max_length"] = draw(st.integers(1, 6))
    model = create_model(  # type: ignore[call-overload]
        "Generated", __config__=config, __validators__=validators, **definitions
    )
    return model, draw(st.permutations(columns))


def _same(expected: Any, actual: Any) -> bool:
    expected = plain_value(expected)
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(actual, str) and not isinstance(expected, str):
        text = expected.isoformat() if hasattr(expected, "isoformat") else str(expected)
        return actual == text
    if isinstance(expected, float):
        if math.isnan(expected):
            return isinstance(actual, float) and math.isnan(actual)
        return expected == actual and math.copysign(1, expected) == math.copysign(1, actual)
    if isinstance(expected, dt.datetime):
        aware = expected.tzinfo is not None
        return (
            isinstance(actual, dt.datetime)
            and (actual.tzinfo is not None) == aware
            and (expected == actual)
        )
    return type(expected) is type(actual) and expected == actual


def check_against_pydantic(model: type[BaseModel], frame: pl.DataFrame) -> None:
    """Assert zero disagreements between the columnar engine and Pydantic."""
    columnar = validate(frame, model)
    reference = validate(frame, model, engine="reference")
    expected_ok: list[int] = []
    dumps: list[dict[str, Any]] = []
    for number, row in enumerate(frame.iter_rows(named=True), start=1):
        try:
            dumped = model.model_validate({k: (v or None) for k, v in row.items()}).model_dump()
        except ValidationError:
            continue
        expected_ok.append(number)
        dumps.append(dumped)
    rejected_numbers = set(columnar.rejected.get_column("_row_number").to_list())
    accepted = [n for n in range(1, frame.height + 1) if n not in rejected_numbers]
    assert accepted == expected_ok, "accepted rows differ from Pydantic"
    assert columnar.valid.height == len(dumps)
    for position, dumped in enumerate(dumps):
        row = columnar.valid.row(position, named=True)
        assert list(row) == list(dumped)
        for name, value in dumped.items():
            assert _same(value, row[name]), (name, value, row[name])
    assert_frame_equal(columnar.valid, reference.valid)
    assert_frame_equal(columnar.rejected, reference.rejected)
    assert dict(columnar.report.error_counts) == dict(reference.report.error_counts)
    assert columnar.report.valid_count == reference.report.valid_count


@settings(max_examples=MODEL_EXAMPLES, **COMMON)
@given(data=st.data(), spec=models())
def test_generated_models_agree_with_pydantic(
    data: st.DataObject, spec: tuple[type[BaseModel], list[str]]
) -> None:
    model, columns = spec
    n_rows = data.draw(st.integers(0, 25))
    cells = {c: data.draw(st.lists(CELLS, min_size=n_rows, max_size=n_rows)) for c in columns}
    frame = pl.DataFrame(cells, schema=dict.fromkeys(columns, pl.String))
    check_against_pydantic(model, frame)


ONE_FIELD_TYPES: list[Any] = [
    int, float, Decimal, bool, dt.date, dt.datetime, AwareDatetime, NaiveDatetime, dt.time,
    uuid.UUID, Status, Code, str, Literal["PAID", "DENIED"],
    Annotated[Decimal, Field(max_digits=6, decimal_places=2, ge=0)],
    Annotated[int, Field(ge=-5, lt=1000, multiple_of=5)],
    Annotated[float, Field(gt=-1.5, le=1e6)],
    Annotated[str, Field(min_length=2, max_length=8, pattern=r"^\w+$")],
    Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=5)],
]  # fmt: skip


@pytest.mark.parametrize("annotation", ONE_FIELD_TYPES, ids=repr)
@pytest.mark.parametrize("nullable", [False, True])
@settings(max_examples=TEXT_EXAMPLES, **COMMON)
@given(cells=st.lists(CELLS, min_size=1, max_size=60))
def test_each_type_agrees_on_tricky_text(
    annotation: Any, nullable: bool, cells: list[str | None]
) -> None:
    field_type = annotation | None if nullable else annotation
    model = create_model("One", value=(field_type, ...))  # type: ignore[call-overload]
    check_against_pydantic(model, pl.DataFrame({"value": cells}, schema={"value": pl.String}))


@pytest.mark.parametrize("annotation", ONE_FIELD_TYPES, ids=repr)
def test_every_special_literal_agrees(annotation: Any) -> None:
    model = create_model("One", value=(annotation | None, ...))  # type: ignore[call-overload]
    frame = pl.DataFrame({"value": SPECIALS}, schema={"value": pl.String})
    check_against_pydantic(model, frame)
