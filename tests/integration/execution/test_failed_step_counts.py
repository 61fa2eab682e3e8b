"""A run whose step fails reports the same counts in every mode.

Its result and its `failed` entry hold what execution computed. Streaming counts
the rows validation rejected before its plan runs; batch counted them only after
its steps, so a failing step left batch saying 0 rejected where streaming said 30
(found by review in session 11).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import run_pipeline
from pipeline.spec import PipelineSpec

MODEL = """
from pydantic import BaseModel, Field

class Reading(BaseModel):
    id: int
    v: int = Field(ge=0)
"""


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_a_failing_step_reports_the_rows_validation_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    (tmp_path / "failing_models.py").write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    source = tmp_path / "in.csv"
    rows = [f"{i},{-1 if i % 10 == 0 else i * 1000}\n" for i in range(1, 301)]
    source.write_text("id,v\n" + "".join(rows))
    audit = tmp_path / "audit.jsonl"
    spec = PipelineSpec.model_validate(
        {
            "version": 1,
            "name": "failing",
            "mode": mode,
            "source": {"uri": str(source)},
            "schema": "failing_models:Reading",
            "steps": [{"kind": "cast", "cast": {"v": "Int8"}}],  # 1000 and up do not fit
            "sink": {"uri": str(tmp_path / "out.csv")},
            "audit": {"path": str(audit)},
        }
    )
    result = run_pipeline(spec.to_config(as_of="2024-01-01T00:00:00+00:00"))
    assert not result.success
    assert "the step failed on the data" in result.errors[0]["message"]
    assert (result.input_records, result.rejected_records, result.output_records) == (300, 30, 0)
    failed = json.loads(audit.read_text().splitlines()[-1])
    assert failed["status"] == "failed"
    assert failed["details"]["rejected_records"] == 30
