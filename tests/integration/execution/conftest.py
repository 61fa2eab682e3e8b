"""Fixtures shared by the execution tests."""

from __future__ import annotations

from typing import Any

import pytest

import pipeline.runner as runner

Fields = dict[str, dict[str, str]]


@pytest.fixture
def evidence(monkeypatch: pytest.MonkeyPatch) -> list[Fields]:
    """The input and output fields of each completed run's lineage record, in run order."""
    found: list[Fields] = []
    owners: list[object] = []  # a run builds its completed record more than once
    original = runner._Run._run_lineage

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        record = original(self, *args, **kwargs)
        if kwargs.get("status", args[0] if args else None) == "completed":
            fields = {
                "input": dict(record.inputs[0].fields),
                "output": dict(record.outputs[0].fields),
            }
            if owners and owners[-1] is self:
                found[-1] = fields
            else:
                owners.append(self)
                found.append(fields)
        return record

    monkeypatch.setattr(runner._Run, "_run_lineage", spy)
    return found
