"""Integer columns parsed straight to Int64 in a plain run, proven by counting bytes.

A plain CSV run (no schema, steps or rules) to Parquet or JSON Lines parses the
columns its first rows predict to be integers straight to Int64, and proves the
read faithful by the file's byte count (pipeline.io.typed_ints). Whatever a
later row holds, the output must be the bytes the all-text read gives: each
test runs the job twice, once with the integer read switched off, and compares.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.execution.streaming as streaming
from pipeline import PipelineConfig, PipelineResult, run_pipeline
from pipeline.io.typed_ints import IntAccounting

HEADER = "id,code,units,name\n"
ROWS = 3000
LATE = 2500  # past the first rows (HEAD_ROWS is 100 here)


def _rows(late: str | None = None, *, at: int = LATE) -> list[str]:
    # Names long enough to put the late rows past the 64 KiB looked at for quotes.
    rows = [f"{i},{1000 + i % 900},{i % 7},claimant {i:08d}\n" for i in range(1, ROWS + 1)]
    if late is not None:
        rows[at - 1] = f"{at},{late},{at % 7},claimant {at:08d}\n"
    return rows


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """The byte count's verdicts, and the fallbacks to an all-text read."""
    seen: dict[str, list[Any]] = {"holds": [], "text": []}
    holds, read_text = IntAccounting.holds, streaming._NativeCsv.read_text

    def spy_holds(self: IntAccounting, *args: Any, **kwargs: Any) -> bool:
        seen["holds"].append(verdict := holds(self, *args, **kwargs))
        return verdict

    def spy_text(self: Any) -> bool:
        seen["text"].append(self.ints is not None)
        return read_text(self)

    monkeypatch.setattr(IntAccounting, "holds", spy_holds)
    monkeypatch.setattr(streaming._NativeCsv, "read_text", spy_text)
    monkeypatch.setattr(streaming, "HEAD_ROWS", 100)
    return seen


def _run(tmp: Path, data: Path, name: str, fmt: str = "parquet") -> tuple[PipelineResult, bytes]:
    out = tmp / name / f"out.{fmt}"
    result = run_pipeline(
        PipelineConfig(input_path=data, output_path=out, audit_path=tmp / "audit.jsonl")
    )
    assert result.success, result.errors
    assert result.conserved
    return result, out.read_bytes()


def _both(
    tmp: Path, monkeypatch: pytest.MonkeyPatch, text: str, fmt: str = "parquet"
) -> tuple[bytes, bytes, PipelineResult]:
    """The run's bytes, and those of the same run reading every column as text."""
    data = tmp / "in.csv"
    data.write_bytes(text.encode("utf-8"))
    result, typed = _run(tmp, data, "typed", fmt)
    with monkeypatch.context() as patch:
        patch.setattr(streaming._NativeCsv, "_read_ints", lambda self: None)
        _, as_text = _run(tmp, data, "text", fmt)
    return typed, as_text, result


def _schema(data: bytes, tmp: Path) -> dict[str, str]:
    path = tmp / "check.parquet"
    path.write_bytes(data)
    return {name: str(dtype) for name, dtype in pl.read_parquet_schema(path).items()}


def test_a_clean_file_is_proven_by_its_byte_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: dict[str, list[Any]]
) -> None:
    typed, as_text, result = _both(tmp_path, monkeypatch, HEADER + "".join(_rows()))
    assert typed == as_text
    assert spied["holds"] == [True] and spied["text"] == []  # one pass, no fallback
    assert _schema(typed, tmp_path) == {
        "id": "Int64",
        "code": "Int64",
        "units": "Int64",
        "name": "String",
    }
    assert result.output_records == ROWS


@pytest.mark.parametrize(
    ("late", "code_type", "caught_by"),
    [
        # Texts Polars' Int64 parser reads, printed back otherwise: only the count sees them.
        ("007", "String", "count"),
        ("+7", "String", "count"),
        ("-0", "String", "count"),
        (" 7", "String", "count"),
        ("\t7", "String", "count"),
        # Texts it refuses: the pass fails and the columns are read as text.
        ("N/A", "String", "parse"),
        ("1e3", "String", "parse"),
        ("7 ", "String", "parse"),
        ("99999999999999999999", "String", "parse"),
        # Integers, but more digits than the project types (see pipeline.infer).
        ("9223372036854775807", "String", "count"),
        ("-9223372036854775808", "String", "count"),
        # Integers: proven by the count.
        ("123456789012345678", "Int64", None),
        ("0", "Int64", None),
        ("-1234", "Int64", None),
        ("", "Int64", None),
    ],
)
def test_a_late_text_gets_what_the_text_read_gives(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spied: dict[str, list[Any]],
    late: str,
    code_type: str,
    caught_by: str | None,
) -> None:
    typed, as_text, _ = _both(tmp_path, monkeypatch, HEADER + "".join(_rows(late)))
    assert typed == as_text
    assert _schema(typed, tmp_path)["code"] == code_type
    if caught_by is None:
        assert spied["holds"] == [True] and spied["text"] == []
    elif caught_by == "count":
        assert spied["holds"] == [False] and spied["text"] == [True]
    else:
        assert spied["holds"] == [] and spied["text"][0] is True


@pytest.mark.parametrize(
    "shape",
    ["no final line feed", "blank lines", "a quote late", "a long name", "a short record"],
)
def test_a_file_of_another_shape_gets_what_the_text_read_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: dict[str, list[Any]], shape: str
) -> None:
    rows = _rows()
    if shape == "no final line feed":
        rows[-1] = rows[-1].rstrip("\n")
    elif shape == "blank lines":
        rows[LATE] = "\n\n" + rows[LATE]
    elif shape == "a quote late":
        rows[LATE] = f'{LATE + 1},"0{LATE}",1,"n,{LATE}"\n'
    elif shape == "a long name":
        rows[LATE] = f"{LATE + 1},{LATE},1,{'é' * 5000}\n"
    else:
        # A record one field short: padded with a blank by Polars, quarantined by the
        # exact reader (the separator count tells); never typed by a count.
        rows[LATE] = f"{LATE + 1},{LATE},1\n"
    typed, as_text, _ = _both(tmp_path, monkeypatch, HEADER + "".join(rows))
    assert typed == as_text
    if shape == "a quote late":
        assert len(HEADER + "".join(rows[:LATE])) > 1 << 16
        # The pass reads `0{LATE}` as an integer; the quotes the scan found refuse the count.
        assert spied["holds"] == [] and spied["text"][0] is True
        assert spied["text"].count(True) == 1  # (later calls find the text read in place)


def test_json_lines_output_is_proven_the_same_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: dict[str, list[Any]]
) -> None:
    typed, as_text, _ = _both(tmp_path, monkeypatch, HEADER + "".join(_rows("+12")), "jsonl")
    assert typed == as_text
    assert json.loads(typed.splitlines()[LATE - 1])["code"] == "+12"
    assert spied["holds"] == [False]


def test_a_csv_output_is_a_copy_and_reads_no_integers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: dict[str, list[Any]]
) -> None:
    typed, as_text, _ = _both(tmp_path, monkeypatch, HEADER + "".join(_rows("007")), "csv")
    assert typed == as_text
    assert spied["holds"] == []  # the columns pass through as text


_INTEGERISH = st.text(alphabet="+- \t0123456789", min_size=0, max_size=8)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lates=st.lists(_INTEGERISH, min_size=1, max_size=3))
def test_any_integer_like_text_gets_what_the_text_read_gives(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, lates: list[str]
) -> None:
    tmp = tmp_path_factory.mktemp("lates")
    monkeypatch.setattr(streaming, "HEAD_ROWS", 100)
    rows = _rows()
    for offset, late in enumerate(lates):
        at = LATE + 100 * offset
        rows[at - 1] = f"{at},{late},{late},n{at}\n"
    typed, as_text, _ = _both(tmp, monkeypatch, HEADER + "".join(rows))
    assert typed == as_text


def test_a_crlf_file_streamed_is_read_as_text_from_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: dict[str, list[Any]]
) -> None:
    # Streaming mode reads a CRLF file natively. Polars drops each CR, so the count would
    # always fail, at the cost of another pass: such a file is never read as integers
    # (found by review: three passes where the text read took one).
    data = tmp_path / "in.csv"
    data.write_bytes((HEADER + "".join(_rows())).replace("\n", "\r\n").encode())
    out = tmp_path / "out.parquet"
    result = run_pipeline(
        PipelineConfig(
            input_path=data, output_path=out, audit_path=tmp_path / "a.jsonl", mode="streaming"
        )
    )
    assert result.success, result.errors
    assert spied["holds"] == [] and spied["text"] == []
    assert _schema(out.read_bytes(), tmp_path)["code"] == "Int64"


def test_a_column_named_like_a_proof_key_does_not_upset_the_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spied: dict[str, list[Any]]
) -> None:
    # The count's keys were built from names: a column `code n` beside `code` collided
    # with them, and every run fell back to the text read (found by review).
    text = "id,code,code n,id min\n" + "".join(
        f"{i},{1000 + i},name {i:08d},x{i}\n" for i in range(1, ROWS + 1)
    )
    typed, as_text, _ = _both(tmp_path, monkeypatch, text)
    assert typed == as_text
    assert spied["holds"] == [True] and spied["text"] == []
