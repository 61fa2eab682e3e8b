"""Several processes recording runs into one store at once leave it consistent."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from pipeline.lineage import LineageTracker

WRITERS = 4
RUNS_EACH = 25

_WRITER = textwrap.dedent(
    """
    import sys
    from pipeline.lineage import DatasetRef, LineageTracker, RunLineage

    store, base, writer, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    shared = f"{base}/shared/raw.csv"
    with LineageTracker(store=store) as lineage:
        for i in range(count):
            # Every writer reads the same raw.csv version and writes into one
            # shared dataset plus its own: the rows all writers contend for.
            lineage.record_run(RunLineage(
                run_id=f"w{writer}-r{i}", job_name=f"job-{writer}",
                inputs=[DatasetRef(shared, hash="0" * 64, records=100)],
                outputs=[DatasetRef(f"{base}/shared/out.parquet", hash=f"{writer}-{i}"),
                         DatasetRef(f"{base}/w{writer}/out-{i % 5}.csv", hash=f"h{i}")],
                column_lineage={"id": [(shared, "id", "IDENTITY", False)]},
                input_records=100, output_records=100, rejected_records=0,
            ))
    """
)


def test_four_processes_writing_one_store_stay_consistent(tmp_path: Path) -> None:
    store = tmp_path / "lineage.db"
    LineageTracker(store=store).close()  # created and migrated once, like a first run
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(store), str(tmp_path), str(w), str(RUNS_EACH)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(WRITERS)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    conn = sqlite3.connect(store)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    count = {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("runs", "jobs", "datasets", "dataset_versions", "run_io", "edges")
    }
    total = WRITERS * RUNS_EACH
    assert count["runs"] == total
    assert count["jobs"] == WRITERS
    # raw.csv + shared out + 5 own outputs per writer: no duplicates under contention.
    assert count["datasets"] == 2 + WRITERS * 5
    # one raw version, one shared-out version per run, 5 own versions... per hash.
    assert count["dataset_versions"] == 1 + total + WRITERS * RUNS_EACH
    assert count["run_io"] == total * 3
    assert count["edges"] == WRITERS * (1 + 5)
    with LineageTracker(store=store) as lineage:
        summary = lineage.summary()
        assert summary["runs"] == total and summary["total_input_records"] == 100 * total
        impact = lineage.impact(str(tmp_path / "shared" / "raw.csv"))
        assert len(impact["datasets"]) == 1 + WRITERS * 5
        assert len(impact["runs"]) == total
