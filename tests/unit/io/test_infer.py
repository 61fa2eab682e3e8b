"""Without a schema, inference types a column only when no value would change."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.infer import infer_types


def test_types_only_lossless_columns() -> None:
    frame = pl.DataFrame(
        {
            "int": ["1", "-20", None],
            "zip": ["007", "12345", "1"],
            "float": ["1.5", "2.25", "-0.5"],
            "money": ["1.50", "2.00", "3.10"],
            "flag": ["true", "false", None],
            "day": ["2024-01-05", "2023-12-31", None],
            "loose_day": ["2024-1-5", "2024-01-05", None],
            "empty": pl.Series([None, None, None], dtype=pl.String),
        }
    )
    typed = infer_types(frame, frame.columns)
    assert typed.schema == pl.Schema(
        {
            "int": pl.Int64,
            "zip": pl.String,
            "float": pl.Float64,
            "money": pl.String,
            "flag": pl.Boolean,
            "day": pl.Date,
            "loose_day": pl.String,
            "empty": pl.String,
        }
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=8),
            st.integers().map(str),
            st.floats(allow_nan=False).map(str),
            st.sampled_from(["true", "false"]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_csv_of_typed_frame_reproduces_text(values: list[str | None]) -> None:
    frame = pl.DataFrame({"v": pl.Series(values, dtype=pl.String)})
    typed = infer_types(frame, ["v"])
    assert typed.write_csv() == frame.write_csv()
