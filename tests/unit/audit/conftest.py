"""Fixtures for the audit unit tests: the shared Merkle vectors and small signed logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.audit import AuditLogger, generate_keypair


def _repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    raise RuntimeError("cannot find the repository root (no pyproject.toml above the tests)")


@pytest.fixture(scope="session")
def merkle_vectors() -> Path:
    """`../shared/vectors/merkle` relative to the repository root (never copied in)."""
    path = _repo_root() / ".." / "shared" / "vectors" / "merkle"
    if not path.is_dir():
        pytest.fail(f"{path} is missing: the Merkle conformance tests read the shared vectors")
    return path.resolve()


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    """A fresh key pair in tmp_path/keys (audit.key, audit.pub)."""
    generate_keypair(tmp_path / "keys")
    return tmp_path / "keys"


@pytest.fixture
def signed_log(tmp_path: Path, keys: Path) -> Path:
    """A 40-entry log with checkpoints every 16 entries and one at the end."""
    log = tmp_path / "audit.jsonl"
    audit = AuditLogger(log, actor="tester", signing_key=keys / "audit.key", checkpoint_every=16)
    for i in range(40):
        audit.log_complete("p-001", "write", "write_csv", record_count=i, run_id="r-1")
    audit.checkpoint()
    audit.close()
    return log
