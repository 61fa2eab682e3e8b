"""Inclusion proofs for single entries, against the latest signed checkpoint.

Owns ``pipeline audit prove``: an auditor given one entry line, the proof
document and the log's public key can check that the entry is in the log the
checkpoint signed, without the rest of the log. Hashes are hex; the
checkpoint is the signed-note text exactly as signed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.audit.checkpoint import (
    Checkpoint,
    checkpoints_path,
    iter_checkpoint_lines,
    load_record,
)
from pipeline.audit.entry import split_line
from pipeline.audit.errors import NoteError
from pipeline.audit.merkle import MerkleTree, verify_inclusion
from pipeline.audit.note import Verifier
from pipeline.errors import AuditError

__all__ = ["check_inclusion_proof", "latest_checkpoint", "leaf_hashes", "prove_inclusion"]


def leaf_hashes(path: str | Path) -> list[bytes]:
    """Merkle leaf hashes of every complete entry line (no verification)."""
    out: list[bytes] = []
    try:
        fh = Path(path).open("rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise AuditError(f"cannot read audit log {path}: {exc.strerror}") from exc
    with fh:
        for raw in fh:
            if raw[-1:] != b"\n":
                break
            parts = split_line(raw[:-1])
            if parts is None:
                raise AuditError(
                    f"line {len(out) + 1} of {path} is not an entry",
                    hint=f"run `pipeline audit verify {path}` first",
                )
            out.append(hashlib.sha256(b"\x00" + parts[0]).digest())
    return out


def latest_checkpoint(
    log_path: str | Path, public_keys: Sequence[Verifier] = ()
) -> Checkpoint | None:
    """The largest checkpoint in ``AUDIT.checkpoints`` (signature-checked if keys given)."""
    best: Checkpoint | None = None
    for _, line, complete in iter_checkpoint_lines(checkpoints_path(log_path)):
        if not complete:
            continue
        try:
            cp = Checkpoint.from_record(load_record(line), public_keys or None)
        except NoteError:
            if public_keys:
                raise
            continue
        if best is None or cp.size >= best.size:
            best = cp
    return best


def prove_inclusion(
    path: str | Path, seq: int, *, public_keys: Sequence[Verifier] = ()
) -> dict[str, Any]:
    """Proof that entry ``seq`` is in the tree of the latest checkpoint (or the whole log)."""
    leaves = leaf_hashes(path)
    cp = latest_checkpoint(path, public_keys)
    size = cp.size if cp is not None else len(leaves)
    if size > len(leaves):
        raise AuditError(
            f"the latest checkpoint covers {size} entries but {path} has {len(leaves)}",
            hint=f"run `pipeline audit verify {path}`: the log was truncated",
        )
    if not 0 <= seq < size:
        raise AuditError(
            f"seq {seq} is not covered by the latest checkpoint (size {size})",
            hint="choose a seq below the checkpoint size, or sign a new checkpoint first",
        )
    tree = MerkleTree(leaves[:size])
    root = tree.root()
    if cp is not None and root != cp.root:
        raise AuditError(
            f"{path} does not match its latest checkpoint",
            hint=f"run `pipeline audit verify {path}` to see where it differs",
        )
    return {
        "seq": seq,
        "leaf_index": seq,
        "tree_size": size,
        "leaf_hash": leaves[seq].hex(),
        "root": root.hex(),
        "proof": [h.hex() for h in tree.inclusion_proof(seq)],
        "checkpoint": cp.note if cp is not None else None,
    }


def check_inclusion_proof(
    doc: dict[str, Any], public_keys: Sequence[Verifier], entry_line: bytes | None = None
) -> bool:
    """True iff the proof holds and its checkpoint is signed by a pinned key.

    With ``entry_line`` (the entry's line from the log) the leaf hash is
    recomputed from it rather than trusted from the document.
    """
    try:
        cp = Checkpoint.from_note(doc["checkpoint"], public_keys)
        leaf = bytes.fromhex(doc["leaf_hash"])
        if entry_line is not None:
            parts = split_line(entry_line.rstrip(b"\n"))
            if parts is None:
                return False
            leaf = hashlib.sha256(b"\x00" + parts[0]).digest()
        proof = [bytes.fromhex(h) for h in doc["proof"]]
        index, size = int(doc["leaf_index"]), int(doc["tree_size"])
    except (KeyError, TypeError, ValueError, NoteError):
        return False
    return size == cp.size and verify_inclusion(index, size, leaf, proof, cp.root)
