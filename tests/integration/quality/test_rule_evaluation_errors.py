"""A rule that cannot be evaluated on the data names the rule, in every mode.

Found by review: every rule's aggregates run as one query, so ``CAST(amt AS INT)``
on a value that is no number ended the run as "unexpected InvalidOperationError in
the validate stage", naming no rule. The culprit is now found and named, and the
message carries only the error's type (Polars' own text quotes the value).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import run_pipeline
from pipeline.spec_loader import load_spec


@pytest.mark.parametrize("mode", ["batch", "streaming"])
@pytest.mark.parametrize(
    ("rule", "rule_id"),
    [
        ("{id: ok, rule: not_null, column: id}\n"
         '    - {id: r1, rule: expression, expression: "CAST(amt AS INT) > 0"}', "r1"),
        ('{id: r2, rule: aggregate, expression: "SUM(CAST(amt AS INT))", min: 0}', "r2"),
    ],
)  # fmt: skip
def test_the_failing_rule_is_named(tmp_path: Path, mode: str, rule: str, rule_id: str) -> None:
    (tmp_path / "c.csv").write_text("id,amt\n1,5\n2,SECRET-NOT-A-NUMBER\n")
    (tmp_path / "spec.yaml").write_text(
        f"version: 1\nname: q\nmode: {mode}\nsource: {{uri: c.csv}}\n"
        "sink: {uri: out/o.csv}\naudit: {path: out/a.jsonl}\n"
        f"quality:\n  rules:\n    - {rule}\n"
    )
    result = run_pipeline(load_spec(tmp_path / "spec.yaml"))
    assert not result.success
    error = result.errors[0]
    assert error["code"] == "ConfigError"
    assert f"quality rule {rule_id!r}" in error["message"]
    assert "cannot be evaluated on this data (InvalidOperationError)" in error["message"]
    assert not (tmp_path / "out" / "o.csv").exists()
    audit = (tmp_path / "out" / "a.jsonl").read_text()
    assert "SECRET-NOT-A-NUMBER" not in audit and "SECRET-NOT-A-NUMBER" not in json.dumps(error)
    assert json.loads(audit.splitlines()[-1])["status"] == "failed"
