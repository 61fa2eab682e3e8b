"""`pipeline audit verify|prove|show|export` and `pipeline keys generate`."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.audit import AuditLogger, check_inclusion_proof, load_verifier
from pipeline.cli import app as main_app

runner = CliRunner()


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path]:
    """(log, keys dir): keys made through the CLI, a 12-entry log signed at the end."""
    result = runner.invoke(
        main_app, ["keys", "generate", "--out", str(tmp_path / "keys"), "--json"]
    )
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["vkey"] == (tmp_path / "keys" / "audit.pub").read_text().strip()
    assert stat.S_IMODE((tmp_path / "keys" / "audit.key").stat().st_mode) == 0o600
    log = tmp_path / "audit.jsonl"
    audit = AuditLogger(log, actor="alice", signing_key=tmp_path / "keys" / "audit.key")
    for i in range(12):
        audit.log_complete(
            "p-001", "write", "write_csv" if i % 2 else "read_csv", i, run_id=f"r{i % 3}"
        )
    audit.checkpoint()
    return log, tmp_path / "keys"


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(main_app, ["audit", *args])
    return result.exit_code, result.stdout, result.stderr


def test_verify_ok_json(signed: tuple[Path, Path]) -> None:
    log, keys = signed
    code, out, err = invoke("verify", str(log), "--public-key", str(keys / "audit.pub"), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["entries"] == 12 and report["checkpoints_verified"] == 1
    assert "OK: 12 entries intact" in err


def test_verify_detects_and_names_seq(signed: tuple[Path, Path]) -> None:
    log, keys = signed
    lines = log.read_bytes().splitlines(keepends=True)
    del lines[4]
    log.write_bytes(b"".join(lines))
    code, out, err = invoke("verify", str(log), "--public-key", str(keys / "audit.pub"), "--json")
    assert code == 1
    assert json.loads(out)["failure"] == {
        "kind": "deleted",
        "seq": 4,
        "message": "entries 4..4 are missing before seq 5",
    }
    assert "TAMPERED: deleted at seq 4" in err
    assert "Traceback" not in err


def test_verify_trusted_checkpoint_catches_rollback(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    log, keys = signed
    cps = (log.parent / "audit.jsonl.checkpoints").read_text().splitlines()
    trusted = tmp_path / "trusted.note"
    trusted.write_text(json.loads(cps[-1])["note"])
    log.write_bytes(b"".join(log.read_bytes().splitlines(keepends=True)[:5]))
    (log.parent / "audit.jsonl.checkpoints").write_text("")
    pub = str(keys / "audit.pub")
    code, _, err = invoke("verify", str(log), "--public-key", pub)
    assert code == 1 and "unsigned_tail" in err  # entries the latest checkpoint lost
    code, out, _ = invoke(
        "verify", str(log), "--public-key", pub, "--checkpoint", str(trusted), "--json"
    )
    assert code == 1
    assert json.loads(out)["failure"]["kind"] == "truncated"


def test_verify_usage_and_io_errors_exit_2(tmp_path: Path, signed: tuple[Path, Path]) -> None:
    log, _ = signed
    code, _, err = invoke("verify", str(tmp_path / "nope.jsonl"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err
    code, _, err = invoke("verify", str(log), "--public-key", "not-a-key")
    assert code == 2 and "Hint:" in err
    code, _, err = invoke("verify", str(log), "--checkpoint", str(log))
    assert code == 2 and "--public-key" in err
    assert runner.invoke(main_app, ["audit", "verify"]).exit_code == 2


def test_prove_round_trip(signed: tuple[Path, Path]) -> None:
    log, keys = signed
    code, out, err = invoke(
        "prove", str(log), "--seq", "7", "--public-key", str(keys / "audit.pub")
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["tree_size"] == 12 and doc["leaf_index"] == 7
    line = log.read_bytes().splitlines()[7]
    pub = [load_verifier(keys / "audit.pub")]
    assert check_inclusion_proof(doc, pub, entry_line=line)
    assert not check_inclusion_proof(doc, pub, entry_line=log.read_bytes().splitlines()[6])
    code, _, err = invoke("prove", str(log), "--seq", "12")
    assert code == 2 and "not covered" in err


def test_show_filters(signed: tuple[Path, Path]) -> None:
    log, _ = signed
    code, out, _ = invoke("show", str(log), "--run", "r1", "--action", "write_csv", "--json")
    assert code == 0
    doc = json.loads(out)
    assert [e["seq"] for e in doc["entries"]] == [1, 7]
    code, out, _ = invoke(
        "show", str(log), "--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02", "--json"
    )
    assert json.loads(out)["count"] == 0
    code, out, err = invoke("show", str(log), "--actor", "alice", "--limit", "3")
    assert code == 0 and out == "" and "write_csv" in err  # the table is human output: stderr
    code, _, _ = invoke("show", str(log), "--since", "yesterday")
    assert code == 2


def test_export_csv_and_jsonl(signed: tuple[Path, Path], tmp_path: Path) -> None:
    log, _ = signed
    code, out, _ = invoke("export", str(log), "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 12 and rows[3]["action"] == "write_csv" and rows[3]["record_count"] == "3"
    target = tmp_path / "review.jsonl"
    code, out, _ = invoke(
        "export", str(log), "--format", "jsonl", "--out", str(target), "--run", "r0", "--json"
    )
    assert code == 0 and json.loads(out)["count"] == 4
    first = json.loads(target.read_text().splitlines()[0])
    assert list(first)[:3] == ["entry_id", "timestamp", "pipeline_id"]  # documented order
    assert invoke("export", str(log), "--format", "xml")[0] == 2


def test_keys_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    assert runner.invoke(main_app, ["keys", "generate", "--out", str(tmp_path)]).exit_code == 0
    again = runner.invoke(main_app, ["keys", "generate", "--out", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.stderr
    forced = runner.invoke(
        main_app, ["keys", "generate", "--out", str(tmp_path), "--force", "--name", "acme"]
    )
    assert forced.exit_code == 0 and (tmp_path / "audit.pub").read_text().startswith("acme+")


def test_installed_command(signed: tuple[Path, Path]) -> None:
    """The real `pipeline audit verify` entry point, in a subprocess."""
    log, keys = signed
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENLINEAGE")}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pipeline.cli import main; main()",
            "audit",
            "verify",
            str(log),
            "--public-key",
            str(keys / "audit.pub"),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


def test_a_checkpoint_file_that_is_not_text_is_a_usage_error(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    """Found by review: a UnicodeDecodeError traceback and exit 1 (read as tampering)."""
    log, keys = signed
    bad = tmp_path / "cp"
    bad.write_bytes(b"\xff\xfe")
    code, _, err = invoke("verify", str(log), "--public-key", str(keys / "audit.pub"),
                          "--checkpoint", str(bad))  # fmt: skip
    assert code == 2
    assert "cannot read checkpoint" in err and "not UTF-8 text" in err
    assert "Traceback" not in err
