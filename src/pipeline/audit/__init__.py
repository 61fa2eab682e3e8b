"""The tamper-evident audit trail: entries, hash chain, Merkle tree, signed checkpoints.

Public API of the audit package; each concept lives in its own module:

* :mod:`~pipeline.audit.entry` — :class:`AuditEntry`, the line format and hashes
* :mod:`~pipeline.audit.log` — :class:`AuditLogger`, locked appends, recovery
* :mod:`~pipeline.audit.merkle` — RFC 9162 tree, inclusion/consistency proofs
* :mod:`~pipeline.audit.note` / :mod:`~pipeline.audit.checkpoint` — C2SP signed notes
  and ``tlog-checkpoint``
* :mod:`~pipeline.audit.keys` — ``audit.key`` / ``audit.pub`` files
* :mod:`~pipeline.audit.verify` — :func:`verify_log`, the offline verifier
* :mod:`~pipeline.audit.proof` — single-entry inclusion proofs
* :mod:`~pipeline.audit.export` — filters and human-readable copies
* :mod:`~pipeline.audit.vocabulary` — the controlled vocabulary of actions
"""

from __future__ import annotations

from pipeline.audit.checkpoint import Checkpoint, checkpoints_path
from pipeline.audit.entry import AuditEntry
from pipeline.audit.errors import LogTamperError, TamperKind
from pipeline.audit.keys import generate_keypair, load_signer, load_verifier
from pipeline.audit.log import AuditLogger, read_entries
from pipeline.audit.proof import check_inclusion_proof, prove_inclusion
from pipeline.audit.verify import Finding, VerifyReport, verify_log

__all__ = [
    "AuditEntry",
    "AuditLogger",
    "Checkpoint",
    "Finding",
    "LogTamperError",
    "TamperKind",
    "VerifyReport",
    "check_inclusion_proof",
    "checkpoints_path",
    "generate_keypair",
    "load_signer",
    "load_verifier",
    "prove_inclusion",
    "read_entries",
    "verify_log",
]
