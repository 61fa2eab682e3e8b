"""The seed's LineageTracker API, in memory and on a persistent store."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from pipeline.errors import LineageError
from pipeline.lineage import DatasetRef, LineageTracker, RunLineage
from pipeline.lineage.store import SCHEMA_VERSION

SEED_README = Path(__file__).resolve().parents[3].parent / "shared" / "seed" / "README.md"


def test_seed_readme_lineage_block_runs_verbatim() -> None:
    text = SEED_README.read_text(encoding="utf-8")
    section = text.split("### Lineage Tracking", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    namespace: dict[str, object] = {}
    exec(compile(block.group(1), "README:Lineage Tracking", "exec"), namespace)
    record = namespace["record"]
    assert namespace["ancestors"] == []
    assert namespace["summary"]["total_records"] == 1  # type: ignore[index]
    assert record.lineage_id and record.records_filtered == 50  # type: ignore[attr-defined]
    assert record.source_location == "s3://bucket/input.csv"  # type: ignore[attr-defined]


def _chain(lineage: LineageTracker) -> list[str]:
    ids = []
    for i, (src, dst) in enumerate([("a.csv", "b.csv"), ("b.csv", "c.csv"), ("c.csv", "d.csv")]):
        rec = lineage.record(
            source_type="file", source_location=src, source_hash=f"h{i}",
            transformation=f"step{i}", destination_type="file", destination_location=dst,
            destination_hash=f"h{i + 1}", input_records=10, output_records=9, records_filtered=1,
        )  # fmt: skip
        ids.append(rec.lineage_id)
    return ids


@pytest.mark.parametrize("persistent", [False, True])
def test_ancestors_descendants_impact_summary(tmp_path: Path, persistent: bool) -> None:
    lineage = LineageTracker(store=tmp_path / "l.db" if persistent else None)
    ids = _chain(lineage)
    assert [r.lineage_id for r in lineage.get_ancestors(ids[2])] == [ids[1], ids[0]]
    assert [r.lineage_id for r in lineage.get_descendants(ids[0])] == [ids[1], ids[2]]
    assert lineage.get_ancestors(ids[0]) == []
    impact = lineage.impact_analysis("b.csv")
    assert [Path(p).name for p in impact["affected_locations"]] == ["c.csv", "d.csv"]
    by_id = lineage.impact_analysis(ids[0])
    assert [Path(p).name for p in by_id["affected_locations"]] == ["c.csv", "d.csv"]
    summary = lineage.summary()
    assert summary["total_records"] == 3 and summary["datasets"] == 4
    assert summary["total_filtered_records"] == 3
    assert [r.lineage_id for r in lineage.records] == ids
    lineage.close()


def test_persistent_store_survives_reopen(tmp_path: Path) -> None:
    with LineageTracker(store=tmp_path / "l.db") as first:
        ids = _chain(first)
    with LineageTracker(store=tmp_path / "l.db") as again:
        assert [r.lineage_id for r in again.get_ancestors(ids[2])] == [ids[1], ids[0]]
        assert again.get_record(ids[0]).transformation == "step0"


def test_unknown_ids_and_datasets_raise_lineage_error() -> None:
    lineage = LineageTracker()
    with pytest.raises(LineageError):
        lineage.get_ancestors("nope")
    with pytest.raises(LineageError, match="not in the lineage store"):
        lineage.history("nope.csv")


def test_record_run_is_idempotent_and_updates_status() -> None:
    lineage = LineageTracker()
    run = RunLineage(
        run_id="r1", job_name="j", inputs=[DatasetRef("in.csv", hash="1")],
        outputs=[DatasetRef("out.csv", hash="2")], status="running",
    )  # fmt: skip
    lineage.record_run(run)
    lineage.record_run(
        RunLineage(**{**run.__dict__, "status": "failed", "error": "quality gate failed"})
    )
    conn = lineage.store.conn
    assert conn.execute("SELECT count(*), status, error FROM runs").fetchone() == (
        1, "failed", "quality gate failed",
    )  # fmt: skip
    assert conn.execute("SELECT count(*) FROM run_io").fetchone() == (2,)
    assert conn.execute("SELECT count(*) FROM dataset_versions").fetchone() == (2,)


def test_column_lineage_is_stored_with_masking() -> None:
    lineage = LineageTracker()
    lineage.record_run(
        RunLineage(
            run_id="r", job_name="j", inputs=[DatasetRef("in.csv")],
            outputs=[DatasetRef("out.csv")],
            column_lineage={"pid": [("in.csv", "ssn", "TRANSFORMATION", True)]},
            dataset_lineage=[("in.csv", "status", "FILTER", False)],
        )
    )  # fmt: skip
    rows = lineage.store.conn.execute(
        "SELECT out_column, in_column, type, subtype, masking FROM column_lineage ORDER BY 1"
    ).fetchall()
    assert rows == [
        (None, "status", "INDIRECT", "FILTER", 0),
        ("pid", "ssn", "DIRECT", "TRANSFORMATION", 1),
    ]


def test_schema_is_migrated_and_newer_stores_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    LineageTracker(store=path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LineageError, match="newer than this package"):
        LineageTracker(store=path)


def test_unusable_store_path_is_a_lineage_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(LineageError, match="cannot open lineage store"):
        LineageTracker(store=tmp_path / "dir.db")


def test_writing_back_identical_bytes_makes_no_cycle() -> None:
    """Found by review: the exact-hash match ignored run order, so a run writing back the
    bytes an earlier run read became that run's ancestor, and each the other's."""
    tracker = LineageTracker()

    def record(src: str, src_hash: str, dst: str, dst_hash: str, name: str) -> str:
        return tracker.record(
            source_type="file", source_location=src, source_hash=src_hash,
            transformation=name, destination_type="file", destination_location=dst,
            destination_hash=dst_hash, input_records=1, output_records=1, records_filtered=0,
        ).lineage_id  # fmt: skip

    first = record("A", "h1", "B", "h2", "t1")
    second = record("B", "h2", "A", "h1", "t2")
    assert [r.transformation for r in tracker.get_ancestors(first)] == []
    assert [r.transformation for r in tracker.get_ancestors(second)] == ["t1"]
    assert [r.transformation for r in tracker.get_descendants(first)] == ["t2"]
    assert [r.transformation for r in tracker.get_descendants(second)] == []
