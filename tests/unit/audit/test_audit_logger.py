"""AuditLogger: the seed API, the entry format, the chain, and the writer's duties."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rfc8785

from pipeline.audit import AuditEntry, AuditLogger, load_verifier, verify_log
from pipeline.audit.entry import FIELDS, GENESIS_HASH
from pipeline.audit.errors import VocabularyError
from pipeline.audit.merkle import leaf_hash, tree_hash
from pipeline.audit.vocabulary import is_known_action, register_action
from pipeline.errors import AuditError

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_seed_readme_block_runs_verbatim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    from pipeline.audit import AuditLogger as SeedLogger

    audit = SeedLogger("logs/audit.jsonl")
    audit.log_start("pipeline-123", "read", "read_csv")
    audit.log_complete("pipeline-123", "read", "read_csv", record_count=1000)
    entries = audit.read_all()
    lines = [f"{entry.timestamp}: {entry.action} - {entry.status}" for entry in entries]
    assert [line.split(": ", 1)[1] for line in lines] == [
        "read_csv - started",
        "read_csv - completed",
    ]
    assert entries[1].record_count == 1000


def test_entry_fields_hashes_and_chain(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    audit = AuditLogger(log, actor="svc-etl")
    first = audit.log_start("p-001", "read", "read_csv", run_id="r1", input_hash="ab" * 32)
    second = audit.log_complete("p-001", "read", "read_csv", 10, run_id="r1", details={"n": 1})
    third = audit.log_failed("p-001", "write", "write_csv", error="disk full", run_id="r1")
    raw = log.read_bytes().splitlines()
    assert len(raw) == 3
    for line, entry, seq in zip(raw, (first, second, third), range(3), strict=True):
        obj = json.loads(line)
        assert tuple(sorted(obj)) == tuple(sorted(FIELDS))
        assert line == rfc8785.dumps(obj)  # each line is the canonical form
        body = {k: v for k, v in obj.items() if k != "entry_hash"}
        assert obj["entry_hash"] == hashlib.sha256(rfc8785.dumps(body)).hexdigest()
        assert TS.match(obj["timestamp"])
        assert obj["seq"] == seq
        assert AuditEntry.from_dict(obj) == entry
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.entry_hash and third.prev_hash == second.entry_hash
    assert third.details == {"error": "disk full"} and third.status == "failed"
    assert first.actor == "svc-etl" and first.input_hash == "ab" * 32
    leaves = [leaf_hash(e.canonical_body()) for e in audit.read_all()]
    assert verify_log(log).root == tree_hash(leaves).hex()


def test_default_actor_is_the_os_user(tmp_path: Path) -> None:
    entry = AuditLogger(tmp_path / "a.jsonl").log_start("p", "read", "read")
    assert entry.actor


def test_vocabulary(tmp_path: Path) -> None:
    audit = AuditLogger(tmp_path / "a.jsonl")
    for action in ("read_csv", "read_parquet", "write_jsonl", "validate_schema", "run_pipeline"):
        assert is_known_action(action)
    with pytest.raises(VocabularyError):
        audit.log("p", "read", "frobnicate", "completed")
    with pytest.raises(VocabularyError):
        audit.log("p", "read", "read_csv", "done")
    with pytest.raises(VocabularyError):
        audit.log("p", "Read Stage", "read_csv", "started")
    with pytest.raises(VocabularyError, match="needs a reason"):
        audit.log_start("p", "pipeline", "rerun_pipeline")
    audit.log_start("p", "pipeline", "rerun_pipeline", reason="CAPA-17: corrected source")
    register_action("frobnicate")
    audit.log("p", "read", "frobnicate", "completed")
    assert len(audit.read_all()) == 2


def test_no_secrets_in_entries(tmp_path: Path) -> None:
    audit = AuditLogger(tmp_path / "a.jsonl")
    with pytest.raises(AuditError, match="secret"):
        audit.log_start("p", "read", "read", details={"password": "x"})
    entry = audit.log_failed(
        "p", "read", "read", error="cannot connect to postgresql://etl:hunter2@db/claims"
    )
    assert entry.details == {"error": "cannot connect to postgresql://etl:***@db/claims"}
    assert b"hunter2" not in (tmp_path / "a.jsonl").read_bytes()


@pytest.mark.parametrize(
    "name",
    ["aws_secret_access_key", "aws_session_token", "access_token", "X-Goog-Signature",
     "sas_token", "private_key", "X-Amz-Credential"],
)  # fmt: skip
def test_secret_query_parameters_are_masked(tmp_path: Path, name: str) -> None:
    """Found by review: only whole names (password, sig, secret_key...) were masked."""
    audit = AuditLogger(tmp_path / "a.jsonl")
    entry = audit.log_failed("p", "read", "read", error=f"no s3://b/in.csv?{name}=s3cr3tPW&x=1")
    assert entry.details == {"error": f"no s3://b/in.csv?{name}=***&x=1"}
    assert b"s3cr3tPW" not in (tmp_path / "a.jsonl").read_bytes()


def test_clock_backwards_is_recorded(tmp_path: Path) -> None:
    now = [datetime(2024, 1, 15, 10, 30, tzinfo=UTC)]
    audit = AuditLogger(tmp_path / "a.jsonl", clock=lambda: now[0])
    audit.log_start("p", "read", "read")
    now[0] -= timedelta(seconds=5)
    audit.log_complete("p", "read", "read", 1)
    entries = audit.read_all()
    assert [e.action for e in entries] == ["read", "clock_backwards", "read"]
    marker = entries[1]
    assert marker.details == {
        "previous_timestamp": "2024-01-15T10:30:00.000000Z",
        "observed_timestamp": "2024-01-15T10:29:55.000000Z",
    }
    assert entries[2].timestamp == "2024-01-15T10:29:55.000000Z"  # never "corrected"
    report = verify_log(tmp_path / "a.jsonl")
    assert report.ok and report.clock_backwards == 1 and report.warnings == []


def test_two_loggers_share_one_chain(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    a, b = AuditLogger(log, actor="a"), AuditLogger(log, actor="b")
    for i in range(10):
        (a if i % 3 else b).log_complete("p", "write", "write", i)
    assert [e.seq for e in a.read_all()] == list(range(10))
    assert verify_log(log).ok


def test_group_commit(tmp_path: Path, keys: Path) -> None:
    log = tmp_path / "a.jsonl"
    audit = AuditLogger(log, signing_key=keys / "audit.key", checkpoint_every=100)
    with audit.group_commit(max_entries=64):
        for i in range(250):
            audit.log_complete("p", "write", "write", i)
        with audit.group_commit():  # nested: joins the outer batch
            audit.log_complete("p", "write", "write", 250)
    audit.checkpoint()
    other = AuditLogger(log)
    other.log_start("p", "read", "read")  # another writer continues the same chain
    AuditLogger(log, signing_key=keys / "audit.key").checkpoint()
    report = verify_log(log, public_keys=[load_verifier(keys / "audit.pub")])
    assert report.ok, report.to_dict()
    assert report.entries == 252
    assert report.checkpoints_verified == 4  # 100, 200, 251, 252


def test_checkpoint_without_key_is_none(tmp_path: Path) -> None:
    audit = AuditLogger(tmp_path / "a.jsonl")
    audit.log_start("p", "read", "read")
    assert audit.checkpoint() is None
    assert not audit.checkpoints_path.exists()


def test_checkpoint_is_not_repeated_without_new_entries(tmp_path: Path, keys: Path) -> None:
    audit = AuditLogger(tmp_path / "a.jsonl", signing_key=keys / "audit.key")
    audit.log_start("p", "read", "read")
    cp1, cp2 = audit.checkpoint(), audit.checkpoint()
    assert cp1 is not None and cp1 == cp2
    assert len(audit.checkpoints_path.read_text().splitlines()) == 1
    assert cp1.origin == "pipeline-audit/a.jsonl" and cp1.size == 1


def test_key_rotation_is_recorded(tmp_path: Path) -> None:
    from pipeline.audit import generate_keypair

    old, new = generate_keypair(tmp_path / "old"), generate_keypair(tmp_path / "new")
    log = tmp_path / "a.jsonl"
    AuditLogger(log, signing_key=old.private_path).log_start("p", "read", "read")
    AuditLogger(log, signing_key=old.private_path).checkpoint()
    rotated = AuditLogger(log, signing_key=new.private_path)
    rotated.log_complete("p", "read", "read", 3)
    cp = rotated.checkpoint()
    entries = rotated.read_all()
    assert [e.action for e in entries] == ["read", "read", "key_rotated"]
    assert entries[-1].details is not None and entries[-1].details["new_key"] == new.vkey
    assert cp is not None and cp.size == 3 and cp.origin.endswith("a.jsonl")
    both = [load_verifier(old.public_path), load_verifier(new.public_path)]
    assert verify_log(log, public_keys=both).ok
    only_new = verify_log(log, public_keys=both[1:])
    assert only_new.finding is not None and only_new.finding.kind == "unknown_key"


def test_signing_writer_refuses_a_broken_chain(tmp_path: Path, keys: Path) -> None:
    log = tmp_path / "a.jsonl"
    AuditLogger(log).log_start("p", "read", "read")
    AuditLogger(log).log_complete("p", "read", "read", 5)
    log.write_bytes(log.read_bytes().replace(b'"record_count":5', b'"record_count":6'))
    with pytest.raises(AuditError):
        AuditLogger(log, signing_key=keys / "audit.key").log_start("p", "read", "read")


def test_missing_folder_is_created(tmp_path: Path) -> None:
    AuditLogger(tmp_path / "logs" / "a.jsonl").log_start("p", "read", "read")
    assert (tmp_path / "logs" / "a.jsonl").exists()


def test_unwritable_path_is_an_audit_error(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    audit = AuditLogger(tmp_path / "a-file" / "a.jsonl")
    with pytest.raises(AuditError) as err:
        audit.log_start("p", "read", "read")
    assert err.value.exit_code == 2


def test_floats_and_unicode_take_the_reference_path(tmp_path: Path) -> None:
    log = tmp_path / "a.jsonl"
    details = {"ratio": 0.1, "big": 1e21, "name": "Zoë 🚀", "\U0001f600k": 1, "\ue000k": 2}
    AuditLogger(log).log_complete("p", "quality", "quality_range", 3, details=details)
    line = log.read_bytes().splitlines()[0]
    assert line == rfc8785.dumps(json.loads(line))
    assert verify_log(log).ok


def test_a_details_key_that_is_not_text_says_so(tmp_path: Path) -> None:
    with pytest.raises(AuditError, match="keys must be strings") as caught:
        AuditLogger(tmp_path / "a.jsonl").log_start("p", "read", "read", details={1: 2})
    assert "a dict of names" in caught.value.hint
