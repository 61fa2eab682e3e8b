"""Test kit for lineage: offline OpenLineage schema validation and a real HTTP receiver.

The official schemas are read from ``../shared/openlineage-spec`` (relative to
the repository root) at test time and registered under their ``$id``s in a
``referencing`` registry, so nothing is fetched from the network.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[3]
SPEC_DIR = REPO.parent / "shared" / "openlineage-spec"
CORE_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"

# Which facet files may describe a facet found at each place in an event.
_PLACES = {
    "run": ("RunFacet",),
    "job": ("JobFacet",),
    "dataset": ("DatasetFacet",),
    "input": ("InputDatasetFacet", "DatasetFacet"),
    "output": ("OutputDatasetFacet", "DatasetFacet"),
}


@cache
def _schemas() -> tuple[Registry, dict[str, list[tuple[str, dict[str, Any]]]]]:
    if not SPEC_DIR.is_dir():
        pytest.fail(f"{SPEC_DIR} is missing: the OpenLineage schemas are read from it")
    registry: Registry = Registry()
    by_key: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for path in sorted(SPEC_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        registry = registry.with_resource(schema["$id"], Resource.from_contents(schema))
        for key in schema.get("properties", {}):
            by_key.setdefault(key, []).append((path.stem, schema))
    return registry.crawl(), by_key


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    registry, _ = _schemas()
    return Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(instance)
    ]


def validate_event(event: dict[str, Any]) -> None:
    """Fail the test on any schema error in the event or in any of its facets."""
    registry, by_key = _schemas()
    problems = _errors(_validator({"$ref": f"{CORE_ID}#/$defs/RunEvent"}), event)
    places: list[tuple[str, dict[str, Any]]] = [
        ("run", event["run"].get("facets", {})),
        ("job", event["job"].get("facets", {})),
    ]
    for item in event.get("inputs", []):
        places += [("dataset", item.get("facets", {})), ("input", item.get("inputFacets", {}))]
    for item in event.get("outputs", []):
        places += [("dataset", item.get("facets", {})), ("output", item.get("outputFacets", {}))]
    for place, facets in places:
        for key, facet in facets.items():
            candidates = [
                (stem, schema)
                for stem, schema in by_key.get(key, [])
                if stem.endswith(_PLACES[place])
            ]
            if not candidates:
                problems.append(f"{place} facet {key!r} has no official schema")
                continue
            stem, schema = candidates[0]
            problems += [f"{stem}: {p}" for p in _errors(_validator(schema), {key: facet})]
            # The facet's _schemaURL must name a schema we hold (the same version).
            url = facet.get("_schemaURL", "")
            if url.split("#")[0] not in {schema["$id"] for _, schema in candidates}:
                problems.append(f"{key}: _schemaURL {url} is not an official schema id")
            else:
                registry.resolver().lookup(url)
    assert not problems, "\n".join(problems)


class Receiver:
    """An OpenLineage HTTP endpoint on localhost that records each event it accepts."""

    def __init__(self, port: int = 0, delay: float = 0.0) -> None:
        self.events: list[dict[str, Any]] = []
        self.paths: list[str] = []
        events, paths = self.events, self.paths

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if delay:
                    time.sleep(delay)
                paths.append(self.path)
                events.append(json.loads(body))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@contextmanager
def receiver(port: int = 0, delay: float = 0.0) -> Iterator[Receiver]:
    """Run a receiver for the duration of a block."""
    server = Receiver(port, delay)
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    """Return a loopback port nothing listens on (bound then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def ol_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean OpenLineage environment: no OPENLINEAGE_* vars, no openlineage.yml found.

    The client writes aliases into ``os.environ`` when OPENLINEAGE_URL is set,
    so the whole environment is restored afterwards, not only what we set.
    """
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith("OPENLINEAGE"):
            del os.environ[key]
    os.environ["HOME"] = str(tmp_path)
    monkeypatch.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.environ.clear()
        os.environ.update(saved)


def normalize(lf: Any) -> Any:
    """A python step used as the fingerprinted code in sample runs."""
    return lf


def sample_run(base: Path, run_id: str = "run-0001", **changes: Any) -> Any:
    """A RunLineage using every feature the events carry (schema, column lineage, quality...)."""
    from datetime import UTC, datetime

    from pipeline.lineage import DatasetRef, RunLineage, SourceCode

    raw, out = str(base / "raw.csv"), str(base / "clean.parquet")
    fields = dict(
        run_id=run_id,
        job_name="claims-daily",
        as_of=datetime(2024, 1, 15, 10, 30, tzinfo=UTC),
        inputs=[
            DatasetRef(
                raw, hash="a" * 64, records=10, bytes=420,
                fields=[("claim_id", "string"), ("member_id", "string"), ("amount", "string"),
                        ("status", "string")],
            )
        ],
        outputs=[
            DatasetRef(
                out, hash="b" * 64, records=7, bytes=900,
                fields=[("claim_id", "Int64"), ("patient_id", "String"), ("amount_cents", "Int64")],
            )
        ],
        quarantine=DatasetRef(str(base / "clean.rejected.csv"), hash="c" * 64, records=2, bytes=80),
        column_lineage={
            "claim_id": [(raw, "claim_id", "IDENTITY", False)],
            "patient_id": [(raw, "member_id", "TRANSFORMATION", True)],
            "amount_cents": [(raw, "amount", "TRANSFORMATION", False)],
        },
        dataset_lineage=[(raw, "status", "FILTER", False), (raw, "claim_id", "SORT", False)],
        quality=[
            {"id": "member_present", "rule": "not_null", "column": "member_id",
             "severity": "error", "passed": True, "failed_rows": 0},
            {"id": "amount_range", "rule": "range", "column": "amount", "severity": "warn",
             "passed": False, "failed_rows": 1, "expected": "0..1000000"},
        ],
        code={"python:normalize": "d" * 64},
        source_code=[SourceCode.from_callable("python:normalize", normalize)],
        input_records=10, output_records=7, rejected_records=2, filtered_records={"filter": 1},
    )  # fmt: skip
    fields.update(changes)
    return RunLineage(**fields)
