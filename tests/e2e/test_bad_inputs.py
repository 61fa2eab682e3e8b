"""Every bad input gives one clear paragraph, the right exit code, a failed entry, no output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from support import run_cli


def run(
    tmp_path: Path,
    source: Path | str,
    out: Path | None = None,
    audit: Path | None = None,
    *extra: str,
):
    out = out or tmp_path / "out" / "o.csv"
    audit = audit or tmp_path / "audit.jsonl"
    return run_cli(
        ["run", "--input", str(source), "--output", str(out), "--audit", str(audit), *extra],
        tmp_path,
    )


def last_entry(audit: Path) -> dict:
    return json.loads(audit.read_text().splitlines()[-1])


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "the file is empty: there is no header line"),
        ("header_only.csv", b"id,value\n", "the source holds no records"),
        ("latin1.csv", b"id,name\n1,Jos\xe9\n", "is not valid UTF-8"),
        ("quote.csv", b'id,name\n1,"open\n2,b\n', "unterminated quote"),
        ("dup.csv", b"id,id\n1,2\n", "appears twice in the header"),
    ],
)
def test_unreadable_inputs_exit_2_with_a_paragraph_and_no_output(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    source = tmp_path / name
    source.write_bytes(data)
    done = run(tmp_path, source)
    assert done.returncode == 2
    assert message in done.stderr
    assert str(source) in done.stderr and "Hint:" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "o.csv").exists()
    assert not list((tmp_path / "out").glob(".*.tmp")) if (tmp_path / "out").exists() else True
    entry = last_entry(tmp_path / "audit.jsonl")
    assert entry["status"] == "failed" and entry["stage"] == "pipeline"


def test_missing_input(tmp_path: Path) -> None:
    done = run(tmp_path, tmp_path / "nope.csv")
    assert done.returncode == 2
    assert "the input file does not exist" in done.stderr
    assert last_entry(tmp_path / "audit.jsonl")["details"]["error"] == "InputError"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    done = run(tmp_path, tmp_path / "nope.csv", None, None, "--debug")
    assert done.returncode == 2
    assert "Traceback" in done.stderr


def test_ragged_rows_are_quarantined_not_lost(tmp_path: Path) -> None:
    source = tmp_path / "ragged.csv"
    source.write_text("id,value\n1,a\n2\n3,c,extra\n4,d\n")
    done = run(tmp_path, source, None, None, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["input_records"], result["output_records"], result["rejected_records"]) == (
        4,
        2,
        2,
    )
    with (tmp_path / "out" / "o.rejected.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["_row_number"] for r in rows] == ["2", "3"]
    assert [r["_raw"] for r in rows] == ["2", "3,c,extra"]
    assert json.loads(rows[0]["_errors"])[0]["code"] == "malformed_row"


def test_a_malformed_records_raw_is_its_source_text(tmp_path: Path) -> None:
    """Found by review: `_raw` joined the parsed fields, so `"p,q",r` (two fields) read
    back as three, and a quoted line break or doubled quote was lost."""
    source = tmp_path / "quoted.csv"
    source.write_bytes(b'id,a,b\n1,x,y\n"p,q",r\r\n2,"s\nt",u,"v""w"\n3,y,z\n')
    done = run(tmp_path, source, None, None, "--json")
    assert done.returncode == 0, done.stderr
    with (tmp_path / "out" / "o.rejected.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["_raw"] for r in rows] == ['"p,q",r', '2,"s\nt",u,"v""w"']


@pytest.mark.parametrize("header_long", [False, True])
def test_a_field_over_128_kib_is_read_by_the_exact_reader(
    tmp_path: Path, header_long: bool
) -> None:
    """Found by review: Python's csv field limit (128 KiB) made the exact reader call a
    long field an unterminated quote, once a ragged row sent the file to it."""
    name = "n" * 200_000 if header_long else "name"
    source = tmp_path / "long.csv"
    source.write_text(f"id,{name}\n1,{'x' * 200_000}\n2,b,c\n")
    done = run(tmp_path, source, None, None, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["output_records"], result["rejected_records"]) == (1, 1)


def test_output_path_that_is_a_directory(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "outdir").mkdir()
    done = run(tmp_path, repo / "data" / "sample_input.csv", tmp_path / "outdir")
    assert done.returncode == 2
    assert "the output path is a directory" in done.stderr
    assert "Traceback" not in done.stderr


def test_unwritable_audit_path(tmp_path: Path, repo: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = run(tmp_path, repo / "data" / "sample_input.csv", None, blocker / "audit.jsonl")
    assert done.returncode == 2
    assert "audit" in done.stderr.lower()
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "o.csv").exists()


def test_full_disk_while_writing_leaves_no_partial_output(tmp_path: Path) -> None:
    """A file-size limit makes writes fail with EFBIG, as a full disk fails them with ENOSPC."""
    source = tmp_path / "big.csv"
    source.write_text("id,text\n" + "".join(f"{i},{'x' * 40}\n" for i in range(20000)))
    out = tmp_path / "out" / "o.csv"
    out.parent.mkdir()
    out.write_text("previous\n")
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))\n"
        "from pipeline.cli import main\n"
        f"main(['run', '--input', {str(source)!r}, '--output', {str(out)!r},"
        f" '--audit', {str(tmp_path / 'audit.jsonl')!r}])\n"
    )
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "cannot write the file" in done.stderr
    assert "Traceback" not in done.stderr
    assert out.read_text() == "previous\n"
    assert list(out.parent.glob(".*.tmp")) == []
    assert last_entry(tmp_path / "audit.jsonl")["status"] == "failed"


def test_previous_output_survives_a_failed_run(tmp_path: Path, repo: Path) -> None:
    out = tmp_path / "out" / "o.csv"
    assert run(tmp_path, repo / "data" / "sample_input.csv", out).returncode == 0
    before = out.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b'id,value,category\n1,"x\n')
    assert run(tmp_path, bad, out).returncode == 2
    assert out.read_bytes() == before


def test_bad_schema_reference_is_a_config_error(tmp_path: Path, repo: Path) -> None:
    done = run(
        tmp_path, repo / "data" / "sample_input.csv", None, None, "--schema", "nowhere:Model"
    )
    assert done.returncode == 2
    assert "nowhere" in done.stderr and "Traceback" not in done.stderr


def test_unknown_extension(tmp_path: Path, repo: Path) -> None:
    done = run(tmp_path, repo / "data" / "sample_input.csv", tmp_path / "o.xlsx")
    assert done.returncode == 2
    assert "cannot tell the format" in done.stderr


def test_a_run_failing_after_its_commit_says_its_output_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The lineage store is written after the outputs are published: a failure there
    # fails the run, and the evidence must say the files are in place.
    from pipeline import LineageError, PipelineConfig, run_pipeline
    from pipeline.lineage.tracker import LineageTracker

    def broken(self: LineageTracker, run: object) -> None:
        raise LineageError("the lineage store is full", hint="free space and record again")

    monkeypatch.setattr(LineageTracker, "record_run", broken)
    audit, out = tmp_path / "audit.jsonl", tmp_path / "out.csv"
    sample = Path(__file__).resolve().parents[2] / "data" / "sample_input.csv"
    result = run_pipeline(PipelineConfig(input_path=sample, output_path=out, audit_path=audit))
    assert not result.success
    assert result.output_written and out.exists()
    failed = last_entry(audit)
    assert failed["status"] == "failed"
    assert failed["details"]["stage"] == "lineage"
    assert failed["details"]["output_written"] is True
    assert failed["details"]["output_records"] == result.output_records


def test_a_failed_directory_flush_after_the_rename_says_the_output_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rename succeeded, so the new file is visible; only its durability failed.
    from pipeline import PipelineConfig, run_pipeline
    from pipeline.io import atomic

    calls: list[Path] = []
    real = atomic.fsync_directory

    def flaky(directory: Path) -> None:
        calls.append(directory)
        if len(calls) == 2:  # the quarantine's flush passes, the output's fails
            raise OSError(5, "Input/output error")
        real(directory)

    monkeypatch.setattr(atomic, "fsync_directory", flaky)
    source = tmp_path / "in.csv"
    source.write_text("id,v\n1,a\n2,b\n")
    out, audit = tmp_path / "out.csv", tmp_path / "audit.jsonl"
    out.write_text("previous\n")
    result = run_pipeline(PipelineConfig(input_path=source, output_path=out, audit_path=audit))
    assert not result.success
    assert result.errors[0]["code"] == "NotDurableError"
    assert "moved into place" in result.errors[0]["message"]
    assert out.read_text() == "id,v\n1,a\n2,b\n"  # published
    assert result.output_written and result.output_hash is not None
    failed = last_entry(audit)
    assert failed["details"]["output_written"] is True
    assert failed["details"]["quarantine_written"] is True
    assert failed["output_hash"] == result.output_hash


class _KC(BaseModel):
    k: int
    c: str | None = None


@pytest.mark.parametrize("text", ["k,c", "k,c\n", "k,c\r\n"])
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("schema", [None, _KC])
def test_an_allowed_empty_file_gives_the_same_output_in_both_modes(
    tmp_path: Path, text: str, fmt: str, schema: type[BaseModel] | None
) -> None:
    # A 3-byte header-only file in streaming mode read no chunk at all and ended in
    # an InternalError (an assertion); batch mode wrote a header-only output.
    from pipeline import PipelineConfig, run_pipeline

    source = tmp_path / "in.csv"
    source.write_text(text, newline="")
    outputs = []
    for mode in ("batch", "streaming"):
        out = tmp_path / mode / f"out.{fmt}"
        result = run_pipeline(
            PipelineConfig(
                input_path=source,
                output_path=out,
                audit_path=tmp_path / mode / "audit.jsonl",
                mode=mode,
                allow_empty=True,
                schema=schema,
            )
        )
        assert result.success, result.errors
        assert (result.input_records, result.output_records) == (0, 0)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
