"""The controlled vocabulary of audit entries: stages, actions, statuses.

Part 11 and Annex 11 reviewers read audit trails by action; a free-text
action makes that review unreliable, so every entry's ``action`` must be

* one of :data:`ACTIONS` (what a run and the audit trail itself emit), or
* a *family* member: ``<family>_<detail>`` with ``<family>`` in
  :data:`ACTION_FAMILIES` (``read_csv``, ``write_parquet``, ``step_filter``,
  ``quality_not_null``, ...), or
* registered at start-up with :func:`register_action` (plugins, custom steps).

Actions are lower-case snake_case tokens (``[a-z][a-z0-9_]*``, at most 64
characters). Stages are free snake_case tokens; :data:`STAGES` lists the ones
a run uses. Actions in :data:`REASON_REQUIRED` (re-runs, overrides) must carry
a ``reason``.
"""

from __future__ import annotations

import re

from pipeline.audit.errors import VocabularyError

__all__ = [
    "ACTIONS",
    "ACTION_FAMILIES",
    "REASON_REQUIRED",
    "STAGES",
    "STATUSES",
    "check_entry_vocabulary",
    "is_known_action",
    "register_action",
]

_TOKEN = re.compile(r"[a-z][a-z0-9_]{0,63}")

#: Stages a run moves through (entries may use other snake_case stages).
STAGES: frozenset[str] = frozenset(
    {"pipeline", "read", "validate", "quality", "transform", "write", "lineage", "audit"}
)

#: Entry statuses; ``warning`` and ``info`` are for records that are not a step.
STATUSES: frozenset[str] = frozenset(
    {"started", "completed", "failed", "skipped", "warning", "info"}
)

#: Whole actions: a run's own and the audit trail's own housekeeping.
ACTIONS: frozenset[str] = frozenset(
    {
        # a run
        "run_pipeline",
        "rerun_pipeline",
        "replay_pipeline",
        "override",
        "read",
        "validate",
        "validate_schema",
        "quarantine",
        "quality",
        "quality_check",
        "transform",
        "write",
        "lineage",
        "record_lineage",
        "emit_lineage",
        "write_manifest",
        "hash",
        # steps, by their spec name
        "filter",
        "derive",
        "rename",
        "select",
        "cast",
        "dedupe",
        "sort",
        "python",
        "deidentify",
        # the audit trail itself
        "checkpoint",
        "key_rotated",
        "clock_backwards",
        "recovered_torn_tail",
        "export",
    }
)

#: Prefixes of action families: ``read_csv``, ``write_parquet``, ``step_dedupe``...
ACTION_FAMILIES: frozenset[str] = frozenset(
    {
        "read",
        "write",
        "validate",
        "quality",
        "transform",
        "step",
        "lineage",
        "quarantine",
        "pii",
        "hash",
        "report",
        "manifest",
    }
)

#: Actions an inspector expects a justification for.
REASON_REQUIRED: frozenset[str] = frozenset(
    {"rerun_pipeline", "replay_pipeline", "override", "key_rotated"}
)

_registered: set[str] = set()


def register_action(action: str) -> None:
    """Add an action to the vocabulary for this process (plugins, custom steps)."""
    if not _TOKEN.fullmatch(action):
        raise VocabularyError(f"action {action!r} is not a snake_case token")
    _registered.add(action)


def is_known_action(action: str) -> bool:
    """True iff ``action`` is in the vocabulary (whole, family member or registered)."""
    if not _TOKEN.fullmatch(action):
        return False
    if action in ACTIONS or action in _registered:
        return True
    family, sep, rest = action.partition("_")
    return bool(sep and rest) and family in ACTION_FAMILIES


def check_entry_vocabulary(stage: str, action: str, status: str, reason: str | None) -> None:
    """Raise :class:`VocabularyError` unless the entry's words are controlled ones."""
    if not _TOKEN.fullmatch(stage):
        raise VocabularyError(f"stage {stage!r} is not a snake_case token")
    if not is_known_action(action):
        raise VocabularyError(f"action {action!r} is not in the audit vocabulary")
    if status not in STATUSES:
        allowed = ", ".join(sorted(STATUSES))
        raise VocabularyError(f"status {status!r} is not one of {allowed}")
    if action in REASON_REQUIRED and not (reason and reason.strip()):
        raise VocabularyError(f"action {action!r} needs a reason")
