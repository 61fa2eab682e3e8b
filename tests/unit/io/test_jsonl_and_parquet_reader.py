"""JSON Lines and Parquet sources: column order, nested values, unsupported columns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from pipeline import PipelineConfig, PipelineResult, run_pipeline
from pipeline.errors import InputError
from pipeline.io.base import ROW_NUMBER
from pipeline.io.files import FileSource


def test_jsonl_columns_in_first_appearance_order(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"z": 1, "a": 2, "m": 3}\n{"q": 4, "b": 5, "a": 6}\n')
    read = FileSource(path).read()
    assert read.columns == ["z", "a", "m", "q", "b"]
    assert read.frame.drop(ROW_NUMBER).rows() == [
        ("1", "2", "3", None, None),
        (None, "6", None, "4", "5"),
    ]


def test_jsonl_output_bytes_do_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    # New keys were ordered by a set difference, i.e. by string hash, which Python
    # seeds per process: the same input gave different output bytes from run to run.
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "obj": {"a": 1}, "list": [1, 2], "name": "x", "v": 1.50}\n')
    outputs = set()
    for seed in ("1", "2", "3", "4", "5", "6"):
        out = tmp_path / seed / "out.csv"
        subprocess.run(
            [sys.executable, "-m", "pipeline.run", "--input", str(source), "--output", str(out),
             "--audit", str(tmp_path / seed / "audit.jsonl")],
            check=True, capture_output=True, env={**os.environ, "PYTHONHASHSEED": seed},
        )  # fmt: skip
        outputs.add(out.read_bytes())
    assert len(outputs) == 1
    assert outputs.pop().decode().splitlines()[0] == "id,obj,list,name,v"


def test_jsonl_nested_values_keep_their_numbers_as_written(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"o": {"a": 1, "b": [1.50, 1e5, -0, "2"], "c": null, "d": true}, "n": 1.50}\n')
    row = FileSource(path).read().frame.drop(ROW_NUMBER).row(0)
    assert row == ('{"a":1,"b":[1.50,1e5,-0,"2"],"c":null,"d":true}', "1.50")


def _run(source: Path, out: Path, mode: str) -> PipelineResult:
    audit = source.parent / "audit.jsonl"
    return run_pipeline(
        PipelineConfig(input_path=source, output_path=out, audit_path=audit, mode=mode)
    )


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_duplicate_keys_and_lone_surrogates_are_malformed_lines(tmp_path: Path, mode: str) -> None:
    """Found by review: ``{"id":1,"id":2}`` was read as id 2 (the 1 silently lost), and a
    lone ``\\ud800`` escape ended the run as an internal UnicodeEncodeError."""
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id":1,"n":"a"}\n{"id":1,"id":2}\n{"id":3,"n":{"b":1,"b":2}}\n'
        '{"id":4,"n":"\\ud800x"}\n{"id":5,"n":"\\ud83d\\ude00"}\n'
    )
    result = _run(source, tmp_path / "out.csv", mode)
    assert result.success, result.errors
    assert (result.input_records, result.output_records, result.rejected_records) == (5, 2, 3)
    rejected = pl.read_csv(tmp_path / "out.rejected.csv", infer_schema=False)
    problems = [json.loads(e)[0]["message"] for e in rejected["_errors"]]
    assert "the key 'id' appears twice" in problems[0]
    assert "the key 'b' appears twice" in problems[1]
    assert "half a surrogate pair" in problems[2]
    assert (tmp_path / "out.csv").read_text(encoding="utf-8") == "id,n\n1,a\n5,\U0001f600\n"


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_lines_blank_only_in_unicode_are_malformed_not_dropped(tmp_path: Path, mode: str) -> None:
    """Found by review: a no-break space, RS, a form feed or U+2028 alone on a line was
    taken for a blank line (str.strip) and vanished, neither counted nor quarantined."""
    source = tmp_path / "in.jsonl"
    source.write_bytes(b'{"id":1}\n\xc2\xa0\n\x1e\n\x0c\n\xe2\x80\xa8\n \t\r\n{"id":2}\n')
    result = _run(source, tmp_path / "out.csv", mode)
    assert result.success, result.errors
    # The JSON-blank line (space, tab, CR) holds no record; the other four are malformed.
    assert (result.input_records, result.output_records, result.rejected_records) == (6, 2, 4)


@pytest.mark.parametrize("mode", ["read", "read_batches"])
def test_nested_binary_or_duration_parquet_columns_are_refused_by_name(
    tmp_path: Path, mode: str
) -> None:
    path = tmp_path / "in.parquet"
    pl.DataFrame(
        {"id": [1], "s": [{"a": 1}], "l": [[1, 2]], "b": [b"\xff"], "d": [timedelta(days=1)]}
    ).write_parquet(path)
    source = FileSource(path)
    with pytest.raises(InputError) as caught:
        if mode == "read":
            source.read()
        else:
            source.read_batches()
    message = caught.value.message
    assert "'s' (Struct), 'l' (List), 'b' (Binary), 'd' (Duration)" in message
    assert "'id'" not in message


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_nan_and_infinity_are_not_written_to_json_lines_as_null(tmp_path: Path, mode: str) -> None:
    """Found by review: JSON has no NaN or infinity, and Polars wrote them as null, so a
    "faithful" copy lost three values without a word."""
    source = tmp_path / "in.csv"
    source.write_text("id,v\n1,1.5\n2,NaN\n3,inf\n4,-inf\n")
    out = tmp_path / "out.jsonl"
    result = _run(source, out, mode)
    assert not result.success
    assert result.errors[0]["code"] == "OutputError"
    assert "JSON has no NaN or infinity" in result.errors[0]["message"]
    assert "'v' (3)" in result.errors[0]["message"]
    assert result.input_records == 4  # a one-pass run said 0 (its proof had not settled)
    assert not out.exists()
    kept = _run(source, tmp_path / "out.csv", mode)
    assert kept.success and (tmp_path / "out.csv").read_text() == source.read_text()
