"""The three CLI forms, determinism, hashes, conservation and the audit trail of a run."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from support import REPO, run_cli

sys.path.insert(0, str(REPO))
from examples.claims.model import Claim

SAMPLE = REPO / "data" / "sample_input.csv"
CLAIMS = REPO / "examples" / "claims" / "claims.csv"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def seed_run(cwd: Path, out: str, form: str, *extra: str):
    args = ["--input", str(SAMPLE), "--output", out, "--audit", f"{out}.audit.jsonl", *extra]
    if form == "bare":
        return run_cli(args, cwd)
    if form == "run":
        return run_cli(["run", *args], cwd)
    return run_cli(args, cwd, module="pipeline.run")


def test_three_cli_forms_write_identical_bytes(tmp_path: Path) -> None:
    outputs = []
    for form in ("bare", "run", "module"):
        done = seed_run(tmp_path, f"out/{form}.csv", form)
        assert done.returncode == 0, done.stderr
        outputs.append((tmp_path / "out" / f"{form}.csv").read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0] == SAMPLE.read_bytes()  # a faithful copy: every value round-trips


@pytest.mark.parametrize("suffix", ["csv", "parquet", "jsonl"])
def test_two_runs_give_identical_bytes_and_the_hash_is_the_files(
    tmp_path: Path, suffix: str
) -> None:
    hashes = []
    for attempt in range(2):
        out = tmp_path / f"run{attempt}" / f"claims.{suffix}"
        done = run_cli(
            [
                "run",
                "--input",
                str(CLAIMS),
                "--schema",
                "examples.claims.model:Claim",
                "--output",
                str(out),
                "--audit",
                str(tmp_path / "audit.jsonl"),
                "--json",
            ],
            REPO,
        )
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["output_hash"] == sha256(out)
        assert result["input_hash"] == sha256(CLAIMS)
        hashes.append(result["output_hash"])
    assert hashes[0] == hashes[1]


def test_json_result_has_the_documented_fields(tmp_path: Path) -> None:
    done = seed_run(tmp_path, "out/o.csv", "run", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # exactly one JSON object on stdout
    for key in (
        "run_id",
        "pipeline_id",
        "success",
        "input_records",
        "output_records",
        "rejected_records",
        "filtered_records",
        "input_hash",
        "output_hash",
        "duration_ms",
        "audit_path",
        "manifest_path",
        "errors",
    ):
        assert key in result
    assert result["success"] is True
    assert result["input_records"] == result["output_records"] == 10


def test_conservation_and_rejections_match_pydantic_row_by_row(tmp_path: Path) -> None:
    done = run_cli(
        [
            "run",
            "--input",
            str(CLAIMS),
            "--schema",
            "examples.claims.model:Claim",
            "--output",
            str(tmp_path / "claims.csv"),
            "--audit",
            str(tmp_path / "a.jsonl"),
            "--json",
        ],
        REPO,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    expected_bad = []
    with CLAIMS.open(newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=1):
            try:
                Claim.model_validate({k: (None if v == "" else v) for k, v in row.items()})
            except ValidationError:
                expected_bad.append(number)
    assert result["rejected_records"] == len(expected_bad) == 24
    assert result["input_records"] == 400
    assert result["input_records"] == (
        result["output_records"]
        + result["rejected_records"]
        + sum(result["filtered_records"].values())
    )
    with (tmp_path / "claims.rejected.csv").open(newline="") as handle:
        quarantined = list(csv.DictReader(handle))
    assert [int(r["_row_number"]) for r in quarantined] == expected_bad
    for row in quarantined:
        errors = json.loads(row["_errors"])
        assert errors and all({"column", "code", "message"} <= set(e) for e in errors)
        for error in errors:  # reasons never quote the rejected value
            value = row.get(error["column"] or "", "")
            if value and len(value) > 2:
                assert value not in error["message"]


def test_audit_entries_have_fields_utc_z_and_an_intact_chain(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    for _ in range(2):
        done = run_cli(
            [
                "--input",
                str(SAMPLE),
                "--output",
                str(tmp_path / "o.csv"),
                "--audit",
                str(audit),
                "--actor",
                "qa-bot",
                "--reason",
                "IQ test",
            ],
            tmp_path,
        )
        assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    assert len(entries) >= 12
    fields = {
        "entry_id",
        "timestamp",
        "pipeline_id",
        "stage",
        "action",
        "status",
        "record_count",
        "seq",
        "run_id",
        "actor",
        "reason",
        "details",
        "input_hash",
        "output_hash",
        "prev_hash",
        "entry_hash",
    }
    import rfc8785

    previous = None
    for index, entry in enumerate(entries):
        assert fields <= set(entry)
        assert entry["timestamp"].endswith("Z")
        assert entry["actor"] == "qa-bot"
        body = {k: v for k, v in entry.items() if k != "entry_hash"}
        assert hashlib.sha256(rfc8785.dumps(body)).hexdigest() == entry["entry_hash"]
        if previous is not None:
            assert entry["prev_hash"] == previous["entry_hash"]
        assert entry["seq"] == (entries[0]["seq"] + index)
        previous = entry
    statuses = [(e["stage"], e["status"]) for e in entries[:6]]
    assert statuses[0] == ("pipeline", "started")
    assert ("pipeline", "completed") in [(e["stage"], e["status"]) for e in entries]
    text = audit.read_text()
    assert "A" not in {e.get("details", {}).get("category") for e in entries}
    assert ",100," not in text


def test_no_wall_clock_in_output(tmp_path: Path) -> None:
    first = seed_run(tmp_path, "a/o.csv", "run", "--as-of", "2024-01-01T00:00:00Z")
    second = seed_run(tmp_path, "b/o.csv", "run", "--as-of", "2030-06-01T12:00:00Z")
    assert first.returncode == second.returncode == 0
    assert (tmp_path / "a/o.csv").read_bytes() == (tmp_path / "b/o.csv").read_bytes()
    assert b"processed_at" not in (tmp_path / "a/o.csv").read_bytes()


def test_max_rejected_ratio_fails_with_exit_1_and_keeps_the_quarantine(tmp_path: Path) -> None:
    out = tmp_path / "claims.csv"
    done = run_cli(
        [
            "run",
            "--input",
            str(CLAIMS),
            "--schema",
            "examples.claims.model:Claim",
            "--output",
            str(out),
            "--audit",
            str(tmp_path / "a.jsonl"),
            "--max-rejected-ratio",
            "0.01",
            "--json",
        ],
        REPO,
    )
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["success"] is False
    assert result["errors"][0]["code"] == "RejectionThresholdError"
    assert not out.exists()
    assert (tmp_path / "claims.rejected.csv").exists()
    assert "6.00%" in done.stderr and "Traceback" not in done.stderr
    entries = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert entries[-1]["status"] == "failed"
    assert entries[-1]["details"]["error"] == "RejectionThresholdError"


def test_copying_sample_into_fresh_dir_works_like_the_quickstart(tmp_path: Path) -> None:
    shutil.copytree(REPO / "data", tmp_path / "data")
    done = run_cli(
        [
            "--input",
            "data/sample_input.csv",
            "--output",
            "out/output.csv",
            "--audit",
            "out/audit.jsonl",
        ],
        tmp_path,
        module="pipeline.run",
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "output.csv").exists()
    assert (tmp_path / "out" / "output.rejected.csv").read_text().startswith("_row_number,")


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_a_plain_csv_copy_writes_the_typed_bytes_and_reports_the_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # Batch writes the text as read for a plain copy to CSV; the bytes must be the
    # typed frame's, and the evidence must name the inferred types, as in streaming.
    import polars as pl

    from pipeline import PipelineConfig, run_pipeline
    from pipeline.infer import infer_types
    from pipeline.lineage.tracker import LineageTracker

    recorded: list[object] = []
    real = LineageTracker.record_run

    def spy(self: LineageTracker, run: object) -> None:
        recorded.append(run)
        real(self, run)  # type: ignore[arg-type]

    monkeypatch.setattr(LineageTracker, "record_run", spy)
    source = tmp_path / "in.csv"
    source.write_text(
        "id,code,day,flag,price,note\n"
        '1,007,2024-02-29,true,1.5,"a,b"\n'
        "2,010,2024-03-01,false,-0.25,\n"
        ",,,,,plain\n"
    )
    out = tmp_path / "out.csv"
    result = run_pipeline(
        PipelineConfig(
            input_path=source, output_path=out, audit_path=tmp_path / "audit.jsonl", mode=mode
        )
    )
    assert result.success, result.errors
    text = pl.read_csv(source, infer_schema=False)
    assert out.read_bytes() == infer_types(text, text.columns).write_csv().encode()
    assert out.read_bytes() == source.read_bytes()  # and every value round-trips
    (run,) = recorded
    fields = dict(run.outputs[0].fields)  # type: ignore[attr-defined]
    assert fields == {
        "id": "Int64",
        "code": "String",  # "007" would print back as 7
        "day": "Date",
        "flag": "Boolean",
        "price": "Float64",
        "note": "String",
    }
    assert dict(run.inputs[0].fields) == fields  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "magic"), [("q.parquet", b"PAR1"), ("q.jsonl", b"{"), ("q.csv", b"_")]
)
def test_the_quarantine_is_written_in_the_format_its_name_says(
    tmp_path: Path, name: str, magic: bytes
) -> None:
    """Found by review: `--quarantine q.parquet` held CSV text."""
    (tmp_path / "in.csv").write_text("id,v\n1,a\n2\n")
    hashes = set()
    for mode in ("batch", "streaming"):
        done = run_cli(
            ["--input", "in.csv", "--output", f"o_{mode}.csv", "--audit", "a.jsonl",
             "--quarantine", name, "--mode", mode, "--json"],
            tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["rejected_records"] == 1
        assert result["quarantine_hash"] == sha256(tmp_path / name)
        hashes.add(result["quarantine_hash"])
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert len(hashes) == 1  # the same bytes in both modes


def test_a_quarantine_path_that_is_a_directory_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("id,v\n1,a\n")
    (tmp_path / "qd").mkdir()
    done = run_cli(
        ["--input", "in.csv", "--output", "o.csv", "--audit", "a.jsonl", "--quarantine", "qd"],
        tmp_path,
    )
    assert done.returncode == 2
    assert "the quarantine path is a directory" in done.stderr
    assert "give a file name for the quarantine" in done.stderr


def test_version(tmp_path: Path) -> None:
    done = run_cli(["--version"], tmp_path)
    assert done.returncode == 0 and done.stdout.startswith("pipeline (regulated-data-pipelines) ")


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--input", "in.csv", "--json"],  # missing options: no run starts
        ["run", "--json", "--bogus"],  # a usage error Typer reports
        ["--input", "in.csv", "--output", "in.csv", "--audit", "a.jsonl", "--json"],
    ],
)
def test_json_failures_have_the_result_shape(tmp_path: Path, args: list[str]) -> None:
    """Found by review: an early failure printed only success and errors, and a usage
    error nothing at all on stdout."""
    from pipeline.result import PipelineResult

    (tmp_path / "in.csv").write_text("id\n1\n")
    done = run_cli(args, tmp_path)
    assert done.returncode == 2, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == set(PipelineResult.model_fields)
    assert result["success"] is False and result["errors"][0]["code"]


def test_a_quarantine_uri_is_written_where_it_points(tmp_path: Path) -> None:
    """Found by review: `file:///…/q.parquet` was written under the working directory
    as a folder named `file:`."""
    (tmp_path / "in.csv").write_text("id,v\n1,a\n2\n")
    (tmp_path / "qdir").mkdir()
    target = tmp_path / "qdir" / "q.parquet"
    done = run_cli(
        ["--input", "in.csv", "--output", "o.csv", "--audit", "a.jsonl",
         "--quarantine", target.as_uri(), "--json"],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert target.read_bytes().startswith(b"PAR1")
    assert not (tmp_path / "file:").exists()


def test_json_failure_of_another_command_prints_one_object(tmp_path: Path) -> None:
    """Found by review: `audit verify --json` of a missing log printed its own object and
    then a false UsageError object."""
    done = run_cli(["audit", "verify", "--json", "missing.jsonl"], tmp_path)
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["ok"] is False
