"""A plain copy (no schema, steps or rules; CSV file to CSV file) copies the bytes.

A well-formed CSV without quotes, CRs or a BOM, ending in LF, is byte for byte
what Polars' CSV writer prints for its text frame, so such a run writes the
source's bytes as it hashes them (no frame in memory, no serializing, no second
hash) while one streaming aggregate proves the types and counts the rows. Every
test compares with the same run made without the copy: the bytes, the hashes,
the counts and the typed evidence must not tell the two apart.
"""

from __future__ import annotations

import errno
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pipeline.execution.streaming as streaming
import pipeline.io.files as files
from pipeline import PipelineConfig, PipelineResult, run_pipeline

Fields = dict[str, dict[str, str]]
"""What the ``evidence`` fixture (conftest.py) records per run."""


@pytest.fixture
def copies(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The record count of every copy that became a staged output."""
    seen: list[int] = []
    original = files._StagedCopy.finish

    def spy(self: Any, digest: str, size: int, records: int) -> Any:
        seen.append(records)
        return original(self, digest, size, records)

    monkeypatch.setattr(files._StagedCopy, "finish", spy)
    return seen


def _run(
    data: Path, out: Path, mode: str = "batch", *, plain: bool = True, **kw: Any
) -> PipelineResult:
    """One run; ``plain=False`` makes it as before plain runs were told apart (batch
    mode in memory, streaming mode through its output plan, never a copy)."""
    original = streaming.plain_csv
    if not plain:
        streaming.plain_csv = lambda plan: False  # type: ignore[assignment]
    try:
        result = run_pipeline(
            PipelineConfig(
                input_path=data,
                output_path=out,
                audit_path=out.parent / "audit.jsonl",
                mode=mode,  # type: ignore[arg-type]
                **kw,
            )
        )
    finally:
        streaming.plain_csv = original  # type: ignore[assignment]
    assert result.success, result.errors
    assert result.conserved
    assert hashlib.sha256(out.read_bytes()).hexdigest() == result.output_hash
    return result


def _same_run(a: PipelineResult, b: PipelineResult) -> None:
    for name in ("input_hash", "output_hash", "input_records", "output_records"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.rejected_records == b.rejected_records
    assert a.filtered_records == b.filtered_records


def _reads(directory: Path) -> list[tuple[str | None, bool | None]]:
    """How each read of the runs audited in ``directory`` went: its mode and whether
    record by record (batch names neither)."""
    entries = [json.loads(line) for line in (directory / "audit.jsonl").read_text().splitlines()]
    return [
        (e["details"].get("mode"), e["details"].get("exact"))
        for e in entries
        if e["stage"] == "read" and e["status"] == "started"
    ]


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


ROWS = "".join(f"{i},{i % 7},2024-01-{i % 28 + 1:02d},x{i}\n" for i in range(1, 400))
HEADER = "id,code,day,name\n"
PROVEN = {"id": "Int64", "code": "Int64", "day": "Date", "name": "String"}
"""The types the evidence records for HEADER + ROWS, copied or not."""


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_a_plain_copy_writes_the_source_bytes_with_the_same_evidence(
    tmp_path: Path, mode: str, copies: list[int], evidence: list[Fields]
) -> None:
    data = tmp_path / "in.csv"
    data.write_text(HEADER + ROWS)
    copied = _run(data, tmp_path / "a" / "out.csv", mode)
    assert copies == [399]
    written = _run(data, tmp_path / "b" / "out.csv", mode, plain=False)
    assert copies == [399]  # the second run wrote through Polars
    _same_run(copied, written)
    assert (tmp_path / "a" / "out.csv").read_bytes() == data.read_bytes()
    assert copied.output_hash == copied.input_hash
    assert evidence[0] == evidence[1]
    assert evidence[0]["output"] == PROVEN
    assert _leftovers(tmp_path / "a") == []


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_a_plain_run_to_another_format_streams_in_batch_mode_with_the_same_bytes(
    tmp_path: Path, fmt: str, copies: list[int], evidence: list[Fields]
) -> None:
    data = tmp_path / "in.csv"
    data.write_text(HEADER + ROWS)
    streamed = _run(data, tmp_path / "a" / f"out.{fmt}")
    in_memory = _run(data, tmp_path / "b" / f"out.{fmt}", plain=False)
    assert copies == []
    _same_run(streamed, in_memory)
    assert _reads(tmp_path / "a") == [("streaming", False)]
    assert _reads(tmp_path / "b") == [(None, None)]  # read whole, in memory
    assert evidence[0] == evidence[1]
    assert evidence[0]["output"] == PROVEN
    assert _leftovers(tmp_path / "a") == []


_CELL = st.characters(blacklist_characters='",\r\n', blacklist_categories=("Cs",))


def _usable_name(name: str) -> bool:
    """Not a name sources refuse (test_column_names.py), nor a BOM-led first name."""
    return not (
        name.startswith(("_row_number", "\ufeff"))
        or name in ("_errors", "_raw")
        or name == "*"
        or (len(name) > 1 and name.startswith("^") and name.endswith("$"))
    )


@st.composite
def _unquoted_csv(draw: st.DrawFn) -> str:
    header = draw(
        st.lists(
            st.text(_CELL, min_size=1, max_size=4).filter(_usable_name),
            min_size=2,
            max_size=4,
            unique=True,
        )
    )
    width = len(header)
    rows = draw(
        st.lists(
            st.lists(st.text(_CELL, max_size=5), min_size=width, max_size=width),
            min_size=1,
            max_size=8,
        )
    )
    return "".join(",".join(cells) + "\n" for cells in [header, *rows])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=_unquoted_csv())
def test_any_unquoted_file_prints_back_as_its_own_bytes(
    text: str, copies: list[int], evidence: list[Fields]
) -> None:
    """The claim the copy rests on, over arbitrary cells: Polars' writer prints the
    text frame of such a file as the file's own bytes, and the runs agree."""
    data = text.encode("utf-8")
    frame = pl.read_csv(data, infer_schema=False, truncate_ragged_lines=False)
    assert frame.write_csv().encode("utf-8") == data
    copies.clear()
    evidence.clear()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.csv"
        source.write_bytes(data)
        copied = _run(source, Path(tmp) / "a" / "out.csv")
        written = _run(source, Path(tmp) / "b" / "out.csv", plain=False)
        assert copies == [frame.height]
        _same_run(copied, written)
        assert (Path(tmp) / "a" / "out.csv").read_bytes() == data
        assert evidence[0] == evidence[1]


LATE_QUOTE = "id,code,day,name\n" + ROWS * 40 + '9999,1,2024-02-01,"late, quoted"\n'


@pytest.mark.parametrize(
    ("case", "content", "options"),
    [
        ("a quote after the first MiB", LATE_QUOTE * 2, {}),
        ("CRLF line ends", (HEADER + ROWS).replace("\n", "\r\n"), {}),
        ("a byte-order mark", "\ufeff" + HEADER + ROWS, {}),
        ("no LF at the end", HEADER + ROWS.rstrip("\n"), {}),
        ("one column", "id\n" + "".join(f"{i}\n" for i in range(1, 50)), {}),
    ],
)
@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_bytes_that_would_not_print_back_are_written_by_polars(
    tmp_path: Path,
    mode: str,
    case: str,
    content: str,
    options: dict[str, Any],
    copies: list[int],
    evidence: list[Fields],
) -> None:
    data = tmp_path / "in.csv"
    data.write_bytes(content.encode("utf-8"))
    copied = _run(data, tmp_path / "a" / "out.csv", mode)
    written = _run(data, tmp_path / "b" / "out.csv", mode, plain=False)
    assert copies == [], case
    _same_run(copied, written)
    assert (tmp_path / "a" / "out.csv").read_bytes() == (tmp_path / "b" / "out.csv").read_bytes()
    assert evidence[0] == evidence[1]
    assert _leftovers(tmp_path / "a") == []


@pytest.mark.parametrize(
    ("mode", "reads"),
    [
        # The streamed attempt stopped at the shape check; batch read the file again.
        ("batch", [("streaming", False), (None, None)]),
        # Streaming goes straight to its chunked reader (not a second native read),
        # which then finds the ragged record and reads record by record.
        ("streaming", [("streaming", False), ("streaming", False), ("streaming", True)]),
    ],
)
def test_a_ragged_file_is_read_again_by_the_modes_own_reader(
    tmp_path: Path, copies: list[int], mode: str, reads: list[tuple[str | None, bool | None]]
) -> None:
    data = tmp_path / "in.csv"
    data.write_text(HEADER + ROWS + "400,1\n" + "401,1,2024-01-01,y\n")
    copied = _run(data, tmp_path / "a" / "out.csv", mode)
    written = _run(data, tmp_path / "b" / "out.csv", mode, plain=False)
    assert copies == []
    _same_run(copied, written)
    assert copied.rejected_records == 1  # the short record, quarantined with its line
    assert _reads(tmp_path / "a") == reads
    quarantine = pl.read_csv(tmp_path / "a" / "out.rejected.csv", infer_schema=False)
    assert quarantine["_row_number"].to_list() == ["400"]
    assert (tmp_path / "a" / "out.csv").read_bytes() == (tmp_path / "b" / "out.csv").read_bytes()
    assert _leftovers(tmp_path / "a") == []


@pytest.mark.parametrize(
    "content",
    [
        "id\n" + "".join(f"{i}\n" for i in range(1, 50)),  # one column
        HEADER + ROWS.rstrip("\n"),  # no LF at the end
    ],
)
def test_a_copy_that_could_not_be_kept_is_not_attempted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, copies: list[int]
) -> None:
    """Known before the read: attempted, it would hold a second copy of the file on
    disk while the output is written."""
    made: list[object] = []
    original = streaming.CsvCopy.__init__

    def spy(self: Any, handle: Any) -> None:
        made.append(handle)
        original(self, handle)

    monkeypatch.setattr(streaming.CsvCopy, "__init__", spy)
    proofs: list[bool] = []
    stage = streaming._transform_and_stage

    def one_pass(*args: Any, **kwargs: Any) -> Any:
        proofs.append(kwargs.get("proof") is not None)
        return stage(*args, **kwargs)

    monkeypatch.setattr(streaming, "_transform_and_stage", one_pass)
    data = tmp_path / "in.csv"
    data.write_text(content)
    _run(data, tmp_path / "out.csv")
    assert made == [] and copies == []
    assert proofs == [True]  # and the run took the one pass a non-copy run takes


def test_a_copy_that_cannot_be_written_leaves_the_write_to_the_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copies: list[int]
) -> None:
    """A failed write of the copy (a full disk that then frees up) ends the copy and
    empties its file; the sink's own write then runs, and says what is wrong if the
    disk is still full."""
    writes: list[int] = []
    original = streaming.CsvCopy.__call__

    def failing(self: Any, block: bytes, **flags: bool) -> None:
        writes.append(len(block))
        handle = self.handle

        class Full:
            def write(self, _block: bytes) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")

            def truncate(self, size: int) -> int:
                return int(handle.truncate(size))

        self.handle = Full()
        try:
            original(self, block, **flags)
        finally:
            self.handle = handle

    monkeypatch.setattr(streaming.CsvCopy, "__call__", failing)
    data = tmp_path / "in.csv"
    data.write_text(HEADER + ROWS)
    copied = _run(data, tmp_path / "a" / "out.csv")
    assert writes and copies == []
    assert (tmp_path / "a" / "out.csv").read_bytes() == data.read_bytes()
    assert copied.output_hash == copied.input_hash
    assert _leftovers(tmp_path / "a") == []


def test_a_spill_that_cannot_be_written_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streaming mode's spill of accepted rows on a full disk: a clear error naming the
    folder, with the disk as the hint, and no traceback's worth of OSError."""

    def full(self: Any, *args: Any, **kwargs: Any) -> None:
        # What Polars' Parquet writer raises on a full disk.
        raise pl.exceptions.ComputeError(
            f"underlying IO error: No space left on device (os error {errno.ENOSPC})"
        )

    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    data = tmp_path / "in.csv"
    data.write_text("id,name\n1,a\n2\n")  # ragged: the chunked reader, which spills
    out = tmp_path / "out.csv"
    result = run_pipeline(
        PipelineConfig(
            input_path=data, output_path=out, audit_path=tmp_path / "audit.jsonl", mode="streaming"
        )
    )
    assert not result.success
    error = result.errors[0]
    assert error["code"] == "OutputError"
    assert error["message"] == "cannot write the streaming spill file (No space left on device)"
    assert "free disk space" in error["hint"]
    assert Path(error["dataset"]).parent == tmp_path
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def test_a_failed_plain_run_leaves_no_directory_behind(tmp_path: Path) -> None:
    """The copy is staged before the file is read; a run that then fails (a header
    and nothing else) must not leave the output's directory it would have made."""
    data = tmp_path / "in.csv"
    data.write_text(HEADER)
    out = tmp_path / "new" / "out.csv"
    result = run_pipeline(
        PipelineConfig(input_path=data, output_path=out, audit_path=tmp_path / "audit.jsonl")
    )
    assert not result.success
    assert result.errors[0]["message"] == "the source holds no records (a header and nothing else)"
    assert not out.parent.exists()


@pytest.mark.parametrize(
    ("mode", "fmt"), [("batch", "csv"), ("batch", "parquet"), ("streaming", "csv")]
)
def test_a_streamed_read_reports_its_bytes_to_the_progress_display(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, fmt: str
) -> None:
    """The read stage of a file streamed by Polars shows its bytes, as batch mode's
    read does (the hashing thread reads each byte once)."""
    from contextlib import contextmanager

    from pipeline.progress import ProgressReporter

    stages: dict[str, list[int | None]] = {}

    @contextmanager
    def spy(self: Any, name: str, total: int | None = None) -> Any:
        done = stages.setdefault(name, [total, 0])

        class Stage:
            def advance(self, amount: int) -> None:
                done[1] = int(done[1] or 0) + amount

        yield Stage()

    monkeypatch.setattr(ProgressReporter, "stage", spy)
    data = tmp_path / "in.csv"
    data.write_text(HEADER + ROWS)
    _run(data, tmp_path / f"out.{fmt}", mode)
    size = data.stat().st_size
    assert stages["read"] == [size, size]
    assert "write" in stages


@pytest.mark.parametrize(
    ("mode", "plain"), [("batch", True), ("streaming", True), ("batch", False)]
)
def test_a_read_error_in_the_hashing_thread_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str, plain: bool
) -> None:
    """EIO from the disk (or a share gone) while hashing was an 'unexpected OSError'."""
    import pipeline.io.csv_reader as csv_reader

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(csv_reader, "sha256_file", failing)
    if not plain:
        monkeypatch.setattr(streaming, "plain_csv", lambda plan: False)
    data = tmp_path / "in.csv"
    data.write_text(HEADER + ROWS)
    out = tmp_path / "out.csv"
    result = run_pipeline(
        PipelineConfig(
            input_path=data,
            output_path=out,
            audit_path=tmp_path / "audit.jsonl",
            mode=mode,  # type: ignore[arg-type]
        )
    )
    assert not result.success
    error = result.errors[0]
    assert error["code"] == "InputError"
    assert error["message"] == "cannot read the file (Input/output error)"
    assert not out.exists()
    assert _leftovers(tmp_path) == []


def _short_and_long(blank_in_head: bool) -> str:
    """A short and a long record after the first rows, whose missing and extra
    separators cancel in the file's separator count."""
    rows = [
        f"C{i},M{i},{i}.00,{'' if blank_in_head and i % 3 == 0 else 'P'}\n" for i in range(15_000)
    ]
    rows[5_000] = "C9001,M9001,12.00\n"  # one field short
    rows[10_000] = "C9002,M9002,13.00,late,resubmitted\n"  # one field long
    return "claim,member,amount,plan\n" + "".join(rows)


@pytest.mark.parametrize("blank_in_head", [False, True])
@pytest.mark.parametrize(
    ("mode", "fmt", "steps"),
    [
        ("batch", "csv", None),  # the plain copy
        ("batch", "parquet", None),  # a plain run streaming every column to its sink
        ("streaming", "csv", [{"kind": "select", "select": ["claim", "amount"]}]),
    ],
)
def test_a_short_and_a_long_record_that_cancel_out_are_both_quarantined(
    tmp_path: Path,
    blank_in_head: bool,
    mode: str,
    fmt: str,
    steps: list[dict[str, Any]] | None,
    copies: list[int],
) -> None:
    """Found by review: the separator count balanced, the proof parsed only some
    columns (Polars is silent about a long record then), and the copy published both
    malformed records with none rejected."""
    from pipeline.spec import PipelineSpec

    data = tmp_path / "in.csv"
    data.write_text(_short_and_long(blank_in_head))

    def spec(folder: str) -> PipelineSpec:
        return PipelineSpec.model_validate(
            {
                "version": 1,
                "name": "ragged",
                "mode": mode,
                "source": {"uri": str(data)},
                "steps": steps or [],
                "sink": {"uri": str(tmp_path / folder / f"out.{fmt}")},
                "audit": {"path": str(tmp_path / folder / "audit.jsonl")},
            }
        )

    result = run_pipeline(spec("a"))
    assert result.success, result.errors
    assert copies == []
    assert (result.input_records, result.output_records, result.rejected_records) == (
        15_000,
        14_998,
        2,
    )
    quarantine = pl.read_csv(tmp_path / "a" / "out.rejected.csv", infer_schema=False)
    assert quarantine["_row_number"].to_list() == ["5001", "10001"]
    original = streaming.plain_csv
    streaming.plain_csv = lambda plan: False  # type: ignore[assignment]
    try:
        reference = run_pipeline(spec("b").model_copy(update={"mode": "batch"}))
    finally:
        streaming.plain_csv = original  # type: ignore[assignment]
    assert reference.output_hash == result.output_hash


def test_an_unreadable_input_streamed_says_permission_denied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The streamed read opened the file before any reader that words the error (as
    root, chmod 000 does not stop a read, so the refusal is simulated)."""

    def refused(*args: Any) -> Any:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(streaming, "read_header", refused)
    data = tmp_path / "in.csv"
    data.write_text(HEADER + ROWS)
    result = run_pipeline(
        PipelineConfig(
            input_path=data,
            output_path=tmp_path / "out.csv",
            audit_path=tmp_path / "audit.jsonl",
            mode="streaming",
        )
    )
    assert not result.success
    assert result.errors[0]["code"] == "InputError"
    assert result.errors[0]["message"] == "the input file cannot be read (permission denied)"


def test_the_write_is_logged_while_the_output_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: logged after the lock was released, two runs to one output
    could log their writes in another order than they published them, so the last
    write entry need not name the file in place."""
    import contextlib

    import pipeline.runner as runner

    held: list[bool] = []
    logged: list[bool] = []
    lock = runner.commit_lock

    @contextlib.contextmanager
    def watched(target: Any) -> Any:
        with lock(target):
            held.append(True)
            try:
                yield
            finally:
                held.pop()

    original = runner._Run.log

    def spy(self: Any, stage: str, action: str, status: str, **kwargs: Any) -> Any:
        if stage == "write" and status == "completed":
            logged.append(bool(held))
        return original(self, stage, action, status, **kwargs)

    monkeypatch.setattr(runner, "commit_lock", watched)
    monkeypatch.setattr(runner._Run, "log", spy)
    data = tmp_path / "in.csv"
    data.write_text(HEADER + ROWS)
    _run(data, tmp_path / "out.csv")
    assert logged == [True]
