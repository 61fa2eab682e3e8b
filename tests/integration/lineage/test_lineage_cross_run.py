"""Cross-run lineage: raw.csv -(A)-> clean.parquet -(B)-> summary.csv, then a rerun of A.

Uses ``record_run`` directly with real files and their SHA-256, as the runner
will; the CLI answers the same questions from the same store file.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pipeline.cli.lineage import app
from pipeline.lineage import DatasetRef, LineageTracker, RunLineage


def _ref(path: Path, records: int) -> DatasetRef:
    data = path.read_bytes()
    return DatasetRef(
        str(path), hash=hashlib.sha256(data).hexdigest(), records=records, bytes=len(data)
    )


def _run_a(base: Path, run_id: str, rows: str, day: int) -> RunLineage:
    raw, clean = base / "raw.csv", base / "clean.parquet"
    raw.write_text("id,amount\n" + rows)
    clean.write_bytes(b"PAR1" + hashlib.sha256(raw.read_bytes()).digest())  # stands in
    n = rows.count("\n")
    return RunLineage(
        run_id=run_id, job_name="clean-claims", as_of=datetime(2024, 1, day, tzinfo=UTC),
        inputs=[_ref(raw, n)], outputs=[_ref(clean, n)],
        column_lineage={"amount": [(str(raw), "amount", "IDENTITY", False)]},
        input_records=n, output_records=n, rejected_records=0,
    )  # fmt: skip


def _run_b(base: Path, run_id: str) -> RunLineage:
    clean, summary = base / "clean.parquet", base / "summary.csv"
    summary.write_text("total\n1\n")
    return RunLineage(
        run_id=run_id, job_name="summarize", as_of=datetime(2024, 1, 2, tzinfo=UTC),
        inputs=[_ref(clean, 2)], outputs=[_ref(summary, 1)],
        column_lineage={"total": [(str(clean), "amount", "AGGREGATION", False)]},
        input_records=2, output_records=1, rejected_records=0, filtered_records={},
    )  # fmt: skip


@pytest.fixture
def scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "out" / "lineage.db"
    a1 = _run_a(tmp_path, "run-a1", "1,10\n2,20\n", 1)
    b1 = _run_b(tmp_path, "run-b1")
    with LineageTracker(store=store) as lineage:
        lineage.record_run(a1)
        lineage.record_run(b1)
    return {"store": store, "a1": a1, "b1": b1, "base": tmp_path}


def test_ancestors_of_summary_include_raw_with_both_runs_and_hashes(
    scenario: dict[str, Any],
) -> None:
    with LineageTracker(store=scenario["store"]) as lineage:
        # A relative path names the same dataset as the absolute one the run gave.
        result = lineage.ancestors("summary.csv")
    locations = {d["location"]: d["depth"] for d in result["datasets"]}
    base = scenario["base"]
    assert locations == {str(base / "clean.parquet"): 1, str(base / "raw.csv"): 2}
    runs = {r["run_id"]: r for r in result["runs"]}
    assert set(runs) == {"run-a1", "run-b1"}
    assert runs["run-a1"]["inputs"][0]["hash"] == scenario["a1"].inputs[0].hash
    assert runs["run-a1"]["outputs"][0]["hash"] == scenario["a1"].outputs[0].hash
    assert runs["run-b1"]["inputs"][0]["hash"] == scenario["a1"].outputs[0].hash
    assert runs["run-b1"]["outputs"][0]["hash"] == scenario["b1"].outputs[0].hash
    assert set(result["jobs"]) == {"clean-claims", "summarize"}


def test_impact_of_raw_includes_summary_jobs_and_runs(scenario: dict[str, Any]) -> None:
    with LineageTracker(store=scenario["store"]) as lineage:
        impact = lineage.impact_analysis(str(scenario["base"] / "raw.csv"))
    assert str(scenario["base"] / "summary.csv") in impact["affected_locations"]
    assert set(impact["jobs"]) == {"clean-claims", "summarize"}
    assert {r["run_id"] for r in impact["runs"]} == {"run-a1", "run-b1"}


def test_rerun_with_changed_input_gives_two_versions(scenario: dict[str, Any]) -> None:
    base = scenario["base"]
    a2 = _run_a(base, "run-a2", "1,10\n2,20\n3,30\n", 3)
    with LineageTracker(store=scenario["store"]) as lineage:
        lineage.record_run(a2)
        raw = lineage.history("raw.csv")
        clean = lineage.history(str(base / "clean.parquet"))
        # Seed API: B read A1's exact version, so its only ancestor is A1.
        assert [r.lineage_id for r in lineage.get_ancestors("run-b1")] == ["run-a1"]
        assert {r.lineage_id for r in lineage.get_descendants("run-a1")} == {"run-b1"}
    assert [v["hash"] for v in raw["versions"]] == [
        scenario["a1"].inputs[0].hash,
        a2.inputs[0].hash,
    ]
    assert [v["records"] for v in raw["versions"]] == [2, 3]
    assert raw["versions"][0]["read_by"] == ["run-a1"]
    assert raw["versions"][1]["read_by"] == ["run-a2"]
    assert [v["produced_by"] for v in clean["versions"]] == [["run-a1"], ["run-a2"]]
    assert clean["versions"][1]["as_of"].startswith("2024-01-03")


def test_cli_answers_from_the_store(scenario: dict[str, Any]) -> None:
    runner = CliRunner()
    store = str(scenario["store"])
    out = runner.invoke(app, ["ancestors", "summary.csv", "--store", store, "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert str(scenario["base"] / "raw.csv") in {d["location"] for d in data["datasets"]}

    out = runner.invoke(app, ["impact", "raw.csv", "--store", store, "--json"])
    assert str(scenario["base"] / "summary.csv") in json.loads(out.stdout)["affected_locations"]

    out = runner.invoke(app, ["descendants", "raw.csv", "--store", store])
    assert out.exit_code == 0 and out.stdout == ""
    assert "run-b1" in out.stderr and "summarize" in out.stderr

    out = runner.invoke(app, ["history", "raw.csv", "--store", store, "--json"])
    assert len(json.loads(out.stdout)["versions"]) == 1

    out = runner.invoke(app, ["history", "raw.csv", "--store", store])
    assert out.exit_code == 0 and "run-a1" in out.stderr


@pytest.mark.parametrize("fmt", ["mermaid", "dot"])
def test_cli_graph(scenario: dict[str, Any], fmt: str) -> None:
    store = str(scenario["store"])
    out = CliRunner().invoke(app, ["graph", "clean.parquet", "--format", fmt, "--store", store])
    assert out.exit_code == 0, out.output
    text = out.stdout
    assert text.startswith("flowchart LR" if fmt == "mermaid" else "digraph lineage {")
    assert "clean-claims" in text and "summarize" in text and "raw.csv" in text
    everything = CliRunner().invoke(app, ["graph", "--format", fmt, "--store", store])
    assert everything.stdout == text.replace("    style d2 stroke-width:3px\n", "").replace(
        ", penwidth=3", ""
    )


def test_cli_errors_are_one_paragraph_with_exit_2(scenario: dict[str, Any]) -> None:
    runner = CliRunner()
    store = str(scenario["store"])
    out = runner.invoke(app, ["ancestors", "nope/summary.csv", "--store", store, "--json"])
    assert out.exit_code == 2
    assert out.stdout == ""
    assert "not in the lineage store" in out.stderr and "did you mean" in out.stderr
    assert "Traceback" not in out.stderr
    missing = runner.invoke(app, ["history", "raw.csv", "--store", "absent.db"])
    assert missing.exit_code == 2 and "no lineage store" in missing.stderr
    assert not Path("absent.db").exists()
    bad = runner.invoke(app, ["graph", "--format", "png", "--store", store])
    assert bad.exit_code == 2 and "unknown graph format" in bad.stderr
    debug = runner.invoke(app, ["history", "zzz", "--store", store, "--debug"])
    assert debug.exit_code != 0 and debug.exception is not None
