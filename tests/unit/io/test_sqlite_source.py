"""SQLite tables as sources: read-only, a stable order, text cells, clear failures."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from pipeline import PipelineConfig, run_pipeline
from pipeline.errors import ConfigError, InputError
from pipeline.io import open_sink, open_source
from pipeline.quality import evaluate, parse_rules, read_reference


def sqlite_db(path: Path, script: str) -> Path:
    """A database built by one SQL script (values written in it), closed again."""
    con = sqlite3.connect(path)
    try:
        con.executescript(script)
    finally:
        con.close()
    return path


MEMBERS = """
CREATE TABLE members ("member id" TEXT, plan TEXT, age INTEGER, score REAL);
INSERT INTO members VALUES ('m1', 'HMO', 34, 0.5), ('m2', NULL, 7, NULL),
                           ('007', 'PPO', NULL, 100.0);
"""


def make_db(path: Path) -> Path:
    return sqlite_db(path, MEMBERS)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reads_rows_in_rowid_order_as_text(tmp_path: Path) -> None:
    db = make_db(tmp_path / "ref.db")
    before = sha(db)
    read = open_source(f"sqlite://{db}?table=members").read()
    assert read.columns == ["member id", "plan", "age", "score"]
    assert read.frame.to_dicts() == [
        {"_row_number": 1, "member id": "m1", "plan": "HMO", "age": "34", "score": "0.5"},
        {"_row_number": 2, "member id": "m2", "plan": None, "age": "7", "score": None},
        {"_row_number": 3, "member id": "007", "plan": "PPO", "age": None, "score": "100.0"},
    ]
    assert read.typed_frame is None  # typed by lossless inference, like a CSV
    # The same table reads to the same digest; the database file is never touched.
    assert open_source(f"sqlite://{db}#members").read().digest == read.digest
    assert sha(db) == before
    assert not (tmp_path / "ref.db-journal").exists()


def test_without_rowid_tables_read_in_primary_key_order(tmp_path: Path) -> None:
    db = sqlite_db(
        tmp_path / "k.db",
        "CREATE TABLE k (code TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;"
        "INSERT INTO k VALUES ('b', 2), ('c', 3), ('a', 1);",
    )
    read = open_source(f"sqlite://{db}?table=k").read()
    assert read.frame.get_column("code").to_list() == ["a", "b", "c"]


def test_missing_database_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(InputError, match="does not exist") as caught:
        open_source(f"sqlite://{missing}?table=t").read()
    assert caught.value.exit_code == 2
    assert not missing.exists()


def test_missing_table_names_the_tables_there(tmp_path: Path) -> None:
    db = make_db(tmp_path / "ref.db")
    with pytest.raises(InputError, match="has no table 'member'") as caught:
        open_source(f"sqlite://{db}?table=member").read()
    assert "members" in (caught.value.hint or "")


def test_location_without_table_or_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="names no table"):
        open_source(f"sqlite://{tmp_path}/x.db")
    with pytest.raises(ConfigError, match="names no database file"):
        open_source("sqlite://?table=t")


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_text("id,name\n1,a\n")
    with pytest.raises(InputError, match="cannot be read as a SQLite database"):
        open_source(f"sqlite://{bogus}?table=t").read()


def test_blob_cells_are_refused_naming_the_column(tmp_path: Path) -> None:
    payload = b"\x00\x01secret".hex()
    db = sqlite_db(
        tmp_path / "b.db",
        f"CREATE TABLE t (id INTEGER, payload); INSERT INTO t VALUES (1, X'{payload}');",
    )
    with pytest.raises(InputError, match=r"column 'payload'.*BLOB") as caught:
        open_source(f"sqlite://{db}?table=t").read()
    assert "secret" not in str(caught.value) and caught.value.column == "payload"


def test_sqlite_is_not_a_sink_yet(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="can be read, not written"):
        open_sink(f"sqlite://{tmp_path}/out.db?table=t")


def test_a_run_reads_a_table_and_keeps_the_evidence(tmp_path: Path) -> None:
    db = make_db(tmp_path / "ref.db")
    result = run_pipeline(
        PipelineConfig(
            input_path=f"sqlite://{db}?table=members",
            output_path=tmp_path / "out.csv",
            audit_path=tmp_path / "audit.jsonl",
        )
    )
    assert result.success, result.errors
    assert result.input_records == result.output_records == 3
    # Lossless inference: "007" keeps the member id column text; ages become Int64.
    assert (tmp_path / "out.csv").read_text().splitlines() == [
        "member id,plan,age,score",
        "m1,HMO,34,0.5",
        "m2,,7,",
        "007,PPO,,100.0",
    ]
    read_entry = next(
        json.loads(line)
        for line in (tmp_path / "audit.jsonl").read_text().splitlines()
        if json.loads(line)["action"] == "read_sqlite" and json.loads(line)["status"] == "completed"
    )
    assert read_entry["record_count"] == 3
    assert result.input_hash == open_source(f"sqlite://{db}?table=members").read().digest


def test_reference_rule_checks_values_against_a_table(tmp_path: Path) -> None:
    db = make_db(tmp_path / "ref.db")
    claims = pl.DataFrame({"member": ["m1", "m2", "m9", None, "007"]})
    rules = parse_rules(
        [
            {
                "id": "known_member",
                "rule": "reference",
                "column": "member",
                "dataset": f"sqlite://{db}?table=members",
                "dataset_column": "member id",
            }
        ]
    )
    outcome = evaluate(claims, rules, references=read_reference)
    (result,) = outcome.results
    assert (result.failed_rows, result.evaluated_rows, result.passed) == (1, 4, False)


def test_table_layouts_that_fool_a_text_search_still_read_in_a_stable_order(
    tmp_path: Path,
) -> None:
    db = sqlite_db(
        tmp_path / "odd.db",
        """
        -- Not WITHOUT ROWID, though its SQL says so; and the reverse, split over lines.
        CREATE TABLE note (a TEXT DEFAULT 'without rowid', b INTEGER);
        CREATE TABLE keyed (k TEXT PRIMARY KEY, v INTEGER) WITHOUT
         ROWID;
        -- A column called rowid (all null) must not become the ordering.
        CREATE TABLE shadow (rowid INTEGER, v TEXT);
        CREATE VIEW recent AS SELECT b FROM note WHERE b > 1;
        INSERT INTO note (b) VALUES (3), (1), (2);
        INSERT INTO keyed VALUES ('z', 1), ('a', 2);
        INSERT INTO shadow VALUES (NULL, 'x'), (NULL, 'y'), (NULL, 'w');
        """,
    )

    def column(table: str, name: str) -> list[str | None]:
        return open_source(f"sqlite://{db}?table={table}").read().frame[name].to_list()

    assert column("note", "b") == ["3", "1", "2"]
    assert column("keyed", "k") == ["a", "z"]
    assert column("shadow", "v") == ["x", "y", "w"]
    assert column("RECENT", "b") == ["2", "3"]  # names match as SQLite does, any case


def test_undecodable_text_fails_without_quoting_the_cell(tmp_path: Path) -> None:
    latin1 = "Secret café".encode("latin-1").hex()
    db = sqlite_db(
        tmp_path / "latin.db",
        f"CREATE TABLE t (a TEXT); INSERT INTO t VALUES (CAST(X'{latin1}' AS TEXT));",
    )
    with pytest.raises(InputError, match="reading table 't'") as caught:
        open_source(f"sqlite://{db}?table=t").read()
    assert "Secret" not in str(caught.value) and "Secret" not in (caught.value.hint or "")


def test_the_checker_cache_is_bounded_across_frames() -> None:
    from pydantic import BaseModel, field_validator

    from pipeline.schema import Validator
    from pipeline.schema.columnar import engine

    class Row(BaseModel):
        code: str

        @field_validator("code")
        @classmethod
        def known(cls, value: str) -> str:
            return value

    validator = Validator(Row)
    for start in range(0, 3 * engine.CACHE_LIMIT, engine.CACHE_LIMIT):
        frame = pl.DataFrame({"code": [str(i) for i in range(start, start + engine.CACHE_LIMIT)]})
        assert validator.validate(frame).report.valid_count == engine.CACHE_LIMIT
    assert validator._columnar is not None
    (field,) = validator._columnar._prepared[("code",)]
    assert len(field.checker._cache) <= engine.CACHE_LIMIT


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 100])
def test_chunks_hold_the_rows_numbers_and_digest_of_the_whole_read(
    tmp_path: Path, batch_rows: int
) -> None:
    # Streaming used to read the table whole and then slice it.
    db = make_db(tmp_path / "ref.db")
    source = open_source(f"sqlite://{db}#members")
    whole = source.read()
    batches = source.read_batches(batch_rows=batch_rows)
    chunks = [text for text, _typed in batches]
    assert all(c.height <= batch_rows for c in chunks)
    assert pl.concat(chunks).to_dicts() == whole.frame.to_dicts()
    assert batches.columns == whole.columns
    assert (batches.digest, batches.records) == (whole.digest, 3)


def test_an_empty_table_reads_alike_whole_and_in_chunks(tmp_path: Path) -> None:
    db = sqlite_db(tmp_path / "e.db", 'CREATE TABLE t (a TEXT, "b c" INTEGER);')
    source = open_source(f"sqlite://{db}#t")
    batches = source.read_batches(batch_rows=10)
    assert list(batches) == []
    assert batches.digest == source.read().digest


def test_streaming_and_batch_runs_of_a_table_write_the_same_bytes(tmp_path: Path) -> None:
    rows = ",".join(
        f"('m{i}', {'NULL' if i % 7 == 0 else i % 90}, {i / 3})" for i in range(1, 2000)
    )
    db = sqlite_db(tmp_path / "big.db", f"CREATE TABLE t (id TEXT, age INTEGER, s REAL);"
                   f"INSERT INTO t VALUES {rows};")  # fmt: skip
    results = {}
    for mode in ("batch", "streaming"):
        results[mode] = run_pipeline(
            PipelineConfig(
                input_path=f"sqlite://{db}#t",
                output_path=tmp_path / mode / "out.parquet",
                audit_path=tmp_path / mode / "audit.jsonl",
                mode=mode,
            )
        )
        assert results[mode].success, results[mode].errors
    assert results["batch"].output_hash == results["streaming"].output_hash
    assert results["batch"].input_hash == results["streaming"].input_hash
    assert results["streaming"].input_records == 1999
