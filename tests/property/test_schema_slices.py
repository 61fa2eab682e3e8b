"""Property: slicing a frame never changes the columnar engine's result.

Generated models and cells (the differential suite's strategies). Inside
``validate`` the result is identical for any slice size; chunk by chunk, as the
streaming runner calls it, the quarantine and counts concatenate to the whole
frame's (one :class:`Validator` serving every chunk, each chunk's result as a
fresh validation's), and so do the accepted rows whenever their values fit the fields' own
dtypes (values.py says exactly when a value changes a column's dtype).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from pydantic import BaseModel
from test_schema_differential import CELLS, COMMON, MODEL_EXAMPLES, models

from pipeline.schema import Validator, validate
from pipeline.schema.columnar.engine import validate_columnar
from pipeline.schema.fields import plan_model
from pipeline.schema.values import base_dtype


@settings(max_examples=MODEL_EXAMPLES, **COMMON)
@given(data=st.data(), spec=models(), size=st.integers(1, 6))
def test_slicing_changes_nothing(
    data: st.DataObject, spec: tuple[type[BaseModel], list[str]], size: int
) -> None:
    model, columns = spec
    n_rows = data.draw(st.integers(0, 20))
    cells: dict[str, Any] = {
        c: data.draw(st.lists(CELLS, min_size=n_rows, max_size=n_rows)) for c in columns
    }
    frame = pl.DataFrame(cells, schema=dict.fromkeys(columns, pl.String))
    whole = validate(frame, model)

    sliced = validate_columnar(frame, model, slice_rows=size)
    assert_frame_equal(sliced.valid, whole.valid)
    assert_frame_equal(sliced.rejected, whole.rejected)
    assert sliced.report == whole.report

    numbered = frame.with_columns(
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_row_number")
    )
    # One Validator for every chunk, as the streaming runner uses it: what it keeps
    # between frames (compiled fields, Pydantic's cache) must not change any result.
    validator = Validator(model)
    chunks = [numbered.slice(offset, size) for offset in range(0, max(frame.height, 1), size)]
    parts = [validator.validate(chunk) for chunk in chunks]
    for chunk, part in zip(chunks, parts, strict=True):
        fresh = validate(chunk, model)
        assert_frame_equal(part.valid, fresh.valid)
        assert_frame_equal(part.rejected, fresh.rejected)
        assert part.report == fresh.report
    assert_frame_equal(pl.concat([p.rejected for p in parts]), whole.rejected)
    counts: Counter[tuple[str | None, str]] = Counter()
    for part in parts:
        counts.update(part.report.error_counts)
    assert dict(counts) == dict(whole.report.error_counts)
    specs = {s.name: s for s in plan_model(model).fields}
    own = {name: base_dtype(specs.get(name)) for name in whole.valid.columns}
    if dict(whole.valid.schema) == own:
        # Values that fit the whole column fit every chunk: same dtypes, same rows.
        for part in parts:
            assert dict(part.valid.schema) == own
        assert_frame_equal(pl.concat([p.valid for p in parts]), whole.valid)
