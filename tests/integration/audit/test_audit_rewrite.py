"""A writer holds the log to its latest checkpoint: a rewrite is never signed over.

Found by review: entries dropped from the middle, the rest re-sequenced and
re-hashed, gave a self-consistent log; the next signed run appended to it and
signed a checkpoint over the forgery, and with the older checkpoints removed
`audit verify` said OK. A second form dropped exactly as many entries as the next
run adds, so its size matched the last checkpoint and no checkpoint was written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from pipeline.audit.canonical import canonical_bytes
from support import REPO, run_cli

SAMPLE = str(REPO / "data" / "sample_input.csv")


def _run(tmp_path: Path, n: int) -> int:
    done = run_cli(
        ["--input", SAMPLE, "--output", f"o{n}.csv", "--audit", "a.jsonl",
         "--signing-key", "keys/audit.key", "--json"],
        tmp_path,
    )  # fmt: skip
    return done.returncode


def _rewrite_without(audit: Path, lo: int, hi: int) -> None:
    entries = [json.loads(line) for line in audit.read_text().splitlines()]
    kept, prev = entries[:lo] + entries[hi:], "0" * 64
    for seq, entry in enumerate(kept):
        entry["seq"], entry["prev_hash"] = seq, prev
        entry.pop("entry_hash")
        entry["entry_hash"] = prev = hashlib.sha256(canonical_bytes(entry)).hexdigest()
    audit.write_bytes(b"".join(canonical_bytes(e) + b"\n" for e in kept))


@pytest.mark.parametrize("dropped", [4, 8])
def test_a_rewritten_log_is_not_appended_to_or_signed(tmp_path: Path, dropped: int) -> None:
    assert run_cli(["keys", "generate", "--out", "keys"], tmp_path).returncode == 0
    for n in range(3):
        assert _run(tmp_path, n) == 0
    audit = tmp_path / "a.jsonl"
    signed_before = (tmp_path / "a.jsonl.checkpoints").read_text()
    size = len(audit.read_text().splitlines())
    _rewrite_without(audit, 8, 8 + dropped)
    assert _run(tmp_path, 3) != 0  # refused: the log disagrees with its checkpoint
    assert len(audit.read_text().splitlines()) == size - dropped  # nothing appended
    assert (tmp_path / "a.jsonl.checkpoints").read_text() == signed_before  # nothing signed
    verified = run_cli(["audit", "verify", "a.jsonl", "--public-key", "keys/audit.pub"], tmp_path)
    assert verified.returncode == 1
