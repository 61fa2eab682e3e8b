"""OpenLineage events: schema-valid, delivered over real HTTP, spooled when not, flushed later."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from lineage_testkit import ol_env, receiver, sample_run, validate_event  # noqa: F401
from openlineage.client.serde import Serde
from typer.testing import CliRunner

from pipeline.cli.lineage import app
from pipeline.lineage import LineageEmitter, Spool
from pipeline.lineage.events import build_event, openlineage_run_id


def _all_facet_keys(event: dict[str, object]) -> set[str]:
    keys: set[str] = set()
    run, job = event["run"], event["job"]
    assert isinstance(run, dict) and isinstance(job, dict)
    keys |= set(run.get("facets", {})) | set(job.get("facets", {}))
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for item in event[side]:  # type: ignore[attr-defined]
            keys |= set(item.get("facets", {})) | set(item.get(extra, {}))
    return keys


def test_every_event_and_facet_validates_against_the_official_schemas(tmp_path: Path) -> None:
    run = sample_run(tmp_path)
    events = [
        Serde.to_dict(build_event(run, "START", namespace="ns")),
        Serde.to_dict(build_event(run, "COMPLETE", namespace="ns")),
        Serde.to_dict(build_event(run, "FAIL", namespace="ns", error="quality gate failed")),
    ]
    for event in events:
        validate_event(event)
    assert _all_facet_keys(events[1]) >= {
        "schema", "dataSource", "columnLineage", "inputStatistics", "outputStatistics",
        "dataQualityAssertions", "sourceCode", "sourceCodeLocation", "processing_engine",
        "jobType", "version", "nominalTime",
    }  # fmt: skip
    assert "errorMessage" in events[2]["run"]["facets"]
    assert "errorMessage" not in events[1]["run"]["facets"]
    # Column lineage: identity, masking for de-identified columns, indirect filter/sort.
    lineage = events[1]["outputs"][0]["facets"]["columnLineage"]
    masked = lineage["fields"]["patient_id"]["inputFields"][0]
    assert masked["field"] == "member_id" and masked["transformations"][0]["masking"] is True
    assert {f["transformations"][0]["subtype"] for f in lineage["dataset"]} == {"FILTER", "SORT"}
    assert masked["namespace"] == "file" and masked["name"] == str(tmp_path / "raw.csv")


def test_failed_run_event_is_valid_without_optional_parts(tmp_path: Path) -> None:
    from pipeline.lineage import DatasetRef, RunLineage

    run = RunLineage(run_id="not-a-uuid", job_name="j", inputs=[DatasetRef("in.csv")])
    event = Serde.to_dict(build_event(run, "FAIL", namespace="ns", error="missing input"))
    validate_event(event)
    assert event["run"]["runId"] == openlineage_run_id("not-a-uuid")


def test_no_cell_values_in_events(tmp_path: Path) -> None:
    event = json.dumps(Serde.to_dict(build_event(sample_run(tmp_path), "COMPLETE", namespace="n")))
    # The sample's column names and counts are there; a cell value has no field to go in.
    assert "member_id" in event and '"rowCount": 7' in event
    for cell in ("PAID", "VOID", "1234567890"):
        assert cell not in event


def test_http_receiver_gets_start_and_complete_with_one_run_id(
    ol_env: Path,  # noqa: F811
) -> None:
    with receiver() as server:
        os.environ["OPENLINEAGE_URL"] = server.url
        emitter = LineageEmitter.from_environment(spool_path=ol_env / "spool.jsonl")
        run = sample_run(ol_env)
        started = emitter.start(run)
        completed = emitter.complete(run)
        emitter.close()
    assert started.status == completed.status == "delivered"
    assert [e["eventType"] for e in server.events] == ["START", "COMPLETE"]
    assert server.events[0]["run"]["runId"] == server.events[1]["run"]["runId"]
    assert server.events[0]["run"]["runId"] == openlineage_run_id(run.run_id)
    assert server.paths == ["/api/v1/lineage", "/api/v1/lineage"]
    for event in server.events:
        validate_event(event)
    assert not (ol_env / "spool.jsonl").exists()


def test_receiver_down_spools_and_flush_delivers_every_event(
    ol_env: Path,  # noqa: F811
) -> None:
    from lineage_testkit import free_port

    port = free_port()
    os.environ["OPENLINEAGE__TRANSPORT__TYPE"] = "http"
    os.environ["OPENLINEAGE__TRANSPORT__URL"] = f"http://127.0.0.1:{port}"
    os.environ["OPENLINEAGE__TRANSPORT__RETRY"] = '{"total": 0}'
    spool = ol_env / "spool.jsonl"
    emitter = LineageEmitter.from_environment(spool_path=spool, timeout=5)
    runs = [sample_run(ol_env, run_id=f"run-{i}") for i in range(3)]
    results = []
    began = time.monotonic()
    for run in runs:
        results += [emitter.start(run), emitter.complete(run)]
    assert time.monotonic() - began < 5, "emission must not block the run"
    assert [r.status for r in results] == ["spooled"] * 6
    assert all("Connection" in (r.reason or "") for r in results)
    assert results[0].to_dict()["spool"] == str(spool)
    assert len(Spool(spool)) == 6

    with receiver(port) as server:
        outcome = CliRunner().invoke(app, ["flush", "--spool", str(spool), "--json"])
    assert outcome.exit_code == 0, outcome.output
    assert json.loads(outcome.stdout) == {"delivered": 6, "remaining": 0, "errors": []}
    assert [(e["run"]["runId"], e["eventType"]) for e in server.events] == [
        (openlineage_run_id(r.run_id), state) for r in runs for state in ("START", "COMPLETE")
    ]
    for event in server.events:
        validate_event(event)
    assert len(Spool(spool)) == 0


def test_flush_with_receiver_still_down_keeps_everything(ol_env: Path) -> None:  # noqa: F811
    from lineage_testkit import free_port

    os.environ["OPENLINEAGE__TRANSPORT__TYPE"] = "http"
    os.environ["OPENLINEAGE__TRANSPORT__URL"] = f"http://127.0.0.1:{free_port()}"
    os.environ["OPENLINEAGE__TRANSPORT__RETRY"] = '{"total": 0}'
    spool = ol_env / "spool.jsonl"
    emitter = LineageEmitter.from_environment(spool_path=spool)
    emitter.start(sample_run(ol_env))
    outcome = CliRunner().invoke(app, ["flush", "--spool", str(spool)])
    assert outcome.exit_code == 1
    assert "still spooled 1" in outcome.stderr
    assert len(Spool(spool)) == 1


def test_slow_receiver_does_not_block_the_run(ol_env: Path) -> None:  # noqa: F811
    with receiver(delay=1.5) as server:
        os.environ["OPENLINEAGE__TRANSPORT__TYPE"] = "http"
        os.environ["OPENLINEAGE__TRANSPORT__URL"] = server.url
        emitter = LineageEmitter.from_environment(spool_path=ol_env / "s.jsonl", timeout=0.3)
        began = time.monotonic()
        result = emitter.start(sample_run(ol_env))
        assert time.monotonic() - began < 1.2
    assert result.status == "spooled" and "within 0.3 s" in (result.reason or "")


def test_openlineage_yml_and_openlineage_config_are_honoured(ol_env: Path) -> None:  # noqa: F811
    with receiver() as server:
        yml = f"transport:\n  type: http\n  url: {server.url}\n  endpoint: custom/lineage\n"
        (ol_env / "openlineage.yml").write_text(yml)
        assert LineageEmitter.from_environment().start(sample_run(ol_env)).delivered
        elsewhere = ol_env / "conf" / "ol.yml"
        elsewhere.parent.mkdir()
        elsewhere.write_text(yml.replace("custom/lineage", "other/lineage"))
        os.environ["OPENLINEAGE_CONFIG"] = str(elsewhere)
        assert LineageEmitter.from_environment().start(sample_run(ol_env)).delivered
    assert server.paths == ["/custom/lineage", "/other/lineage"]


def test_disabled_and_unconfigured_emit_nothing(ol_env: Path) -> None:  # noqa: F811
    spool = ol_env / "spool.jsonl"
    assert LineageEmitter.from_environment(spool).start(sample_run(ol_env)).status == "disabled"
    os.environ["OPENLINEAGE_URL"] = "http://127.0.0.1:9"
    os.environ["OPENLINEAGE_DISABLED"] = "true"
    emitter = LineageEmitter.from_environment(spool)
    assert not emitter.enabled
    assert emitter.complete(sample_run(ol_env)).status == "disabled"
    assert not spool.exists()
    outcome = CliRunner().invoke(app, ["flush", "--spool", str(spool)])
    assert outcome.exit_code == 2 and "no OpenLineage transport" in outcome.stderr


def test_broken_configuration_spools_instead_of_failing(ol_env: Path) -> None:  # noqa: F811
    os.environ["OPENLINEAGE__TRANSPORT__TYPE"] = "http"  # and no url
    spool = ol_env / "spool.jsonl"
    result = LineageEmitter.from_environment(spool).start(sample_run(ol_env))
    assert result.status == "spooled" and "configuration error" in (result.reason or "")
    with receiver() as server:
        os.environ["OPENLINEAGE__TRANSPORT__URL"] = server.url
        assert LineageEmitter.from_environment(spool).flush().delivered == 1
    validate_event(server.events[0])


@pytest.mark.parametrize("state", ["START", "COMPLETE", "FAIL"])
def test_spooled_events_are_valid_events(ol_env: Path, state: str) -> None:  # noqa: F811
    os.environ["OPENLINEAGE__TRANSPORT__TYPE"] = "http"
    os.environ["OPENLINEAGE__TRANSPORT__URL"] = "http://127.0.0.1:9"
    os.environ["OPENLINEAGE__TRANSPORT__RETRY"] = '{"total": 0}'
    emitter = LineageEmitter.from_environment(ol_env / "spool.jsonl")
    run = sample_run(ol_env)
    {"START": emitter.start, "COMPLETE": emitter.complete}.get(
        state, lambda r: emitter.fail(r, "boom")
    )(run)
    (entry,) = Spool(ol_env / "spool.jsonl").pending()
    validate_event(entry["event"])
    assert entry["event"]["eventType"] == state
