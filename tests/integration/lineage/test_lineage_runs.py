"""Runs emit OpenLineage events and fill the lineage store: end to end through run_pipeline."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from lineage_testkit import free_port, ol_env, receiver, validate_event  # noqa: F401

from pipeline import LineageTracker, load_spec, run_pipeline

REPO = Path(__file__).resolve().parents[3]


def _claims_spec(base: Path) -> Path:
    shutil.copytree(REPO / "examples" / "claims", base / "claims")
    spec = base / "claims" / "pipeline.yaml"
    text = spec.read_text().replace("../../out/claims/", "out/")
    spec.write_text(text)
    return spec


def _facet_keys(event: dict) -> set[str]:
    keys = set(event["run"].get("facets", {})) | set(event["job"].get("facets", {}))
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for item in event[side]:
            keys |= set(item.get("facets", {})) | set(item.get(extra, {}))
    return keys


def test_a_run_sends_start_and_complete_with_one_run_id(ol_env: Path, monkeypatch) -> None:  # noqa: F811
    monkeypatch.syspath_prepend(str(REPO))
    spec = load_spec(_claims_spec(ol_env))
    with receiver() as server:
        os.environ["OPENLINEAGE_URL"] = server.url
        result = run_pipeline(spec.to_config(as_of="2024-12-31T00:00:00+00:00"))
    assert result.success, result.errors
    assert [e["eventType"] for e in server.events] == ["START", "COMPLETE"]
    assert server.events[0]["run"]["runId"] == server.events[1]["run"]["runId"]
    for event in server.events:
        validate_event(event)
    complete = server.events[1]
    keys = _facet_keys(complete)
    for facet in (
        "schema",
        "dataSource",
        "columnLineage",
        "outputStatistics",
        "dataQualityAssertions",
        "dataQualityMetrics",
        "sourceCode",
        "processing_engine",
        "jobType",
    ):
        assert facet in keys, facet
    text = json.dumps(server.events)
    for value in ("M128006011", "4551889505", "CLM00000001"):  # cell values of claims.csv
        assert value not in text


def test_a_failed_run_sends_fail_with_an_error_message(ol_env: Path) -> None:  # noqa: F811
    (ol_env / "bad.csv").write_bytes(b'id,name\n1,"open\n')
    from pipeline import PipelineConfig

    with receiver() as server:
        os.environ["OPENLINEAGE_URL"] = server.url
        result = run_pipeline(
            PipelineConfig(
                input_path=ol_env / "bad.csv",
                output_path=ol_env / "out.csv",
                audit_path=ol_env / "audit.jsonl",
            )
        )
    assert not result.success
    assert [e["eventType"] for e in server.events] == ["START", "FAIL"]
    assert "errorMessage" in server.events[1]["run"]["facets"]
    for event in server.events:
        validate_event(event)


def test_receiver_down_spools_and_the_audit_log_says_so(ol_env: Path) -> None:  # noqa: F811
    from pipeline import PipelineConfig

    os.environ["OPENLINEAGE_URL"] = f"http://127.0.0.1:{free_port()}"
    result = run_pipeline(
        PipelineConfig(
            input_path=REPO / "data" / "sample_input.csv",
            output_path=ol_env / "out" / "o.csv",
            audit_path=ol_env / "out" / "audit.jsonl",
        )
    )
    assert result.success
    spool = ol_env / "out" / "openlineage.spool.jsonl"
    assert spool.exists() and len(spool.read_text().splitlines()) >= 2
    actions = [
        json.loads(line)["action"]
        for line in (ol_env / "out" / "audit.jsonl").read_text().splitlines()
    ]
    assert "lineage_spooled" in actions


def test_two_runs_chain_in_the_store(ol_env: Path) -> None:  # noqa: F811
    from pipeline import PipelineConfig

    store = ol_env / "out" / "lineage.db"
    first = run_pipeline(
        PipelineConfig(
            input_path=REPO / "data" / "sample_input.csv",
            output_path=ol_env / "out" / "clean.parquet",
            audit_path=ol_env / "out" / "audit.jsonl",
        )
    )
    second = run_pipeline(
        PipelineConfig(
            input_path=ol_env / "out" / "clean.parquet",
            output_path=ol_env / "out" / "summary.csv",
            audit_path=ol_env / "out" / "audit.jsonl",
        )
    )
    assert first.success and second.success
    with LineageTracker(store=store) as tracker:
        ancestors = tracker.ancestors(str(ol_env / "out" / "summary.csv"))
        impact = tracker.impact(str(REPO / "data" / "sample_input.csv"))
    text = json.dumps(ancestors)
    assert str(REPO / "data" / "sample_input.csv") in text
    assert first.input_hash in text and first.run_id in text and second.run_id in text
    assert str(ol_env / "out" / "summary.csv") in json.dumps(impact)
