"""`pipeline check --input FILE --rules rules.yaml [--schema] [--json]`: exit codes and output.

The command function is mounted on a local Typer app here; the lead registers
it as `pipeline check` in `pipeline.cli`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pipeline.cli.check import check

app = typer.Typer()
app.command()(check)
app.command("noop")(lambda: None)  # two commands: `check` is addressed by name, as in the CLI

CSV = """claim_id,member_id,amount,status,service_date
C1,M1,10.50,PAID,2024-02-28
C2,M2,20.00,DENIED,2024-02-29
C2,M3,-5.00,VOID,2024-02-29
C4,,7.25,PAID,2024-02-27
"""

RULES = """
- {id: member_present, rule: not_null, column: member_id, severity: warn}
- {id: claim_unique, rule: unique, columns: [claim_id], severity: warn}
- {id: amount_range, rule: range, column: amount, min: 0, mostly: 0.5}
- {id: status_known, rule: accepted_values, column: status, values: [PAID, DENIED],
   quarantine: true, severity: warn}
- {id: fresh, rule: freshness, column: service_date, max_age: P2D}
- {id: enough, rule: row_count, min: 1}
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "claims.csv").write_text(CSV, encoding="utf-8")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    return tmp_path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["check", *args])
    return result.exit_code, result.stdout, result.stderr


def test_passing_check_prints_json_and_table(files: Path) -> None:
    code, out, err = invoke(
        "--input", str(files / "claims.csv"), "--rules", str(files / "rules.yaml"),
        "--as-of", "2024-03-01T00:00:00Z", "--json",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert payload["success"] is True and payload["input_records"] == 4
    assert payload["quarantined_records"] == 1
    by_id = {q["id"]: q for q in payload["quality"]}
    assert by_id["claim_unique"] == {
        "id": "claim_unique", "rule": "unique", "severity": "warn", "failed_rows": 2,
        "ratio": 0.5, "passed": False,
    }  # fmt: skip
    assert by_id["amount_range"]["passed"] and by_id["amount_range"]["failed_rows"] == 1
    assert by_id["fresh"]["ratio"] is None and by_id["fresh"]["passed"]
    assert "claim_unique" in err and "check passed" in err
    for value in ("C2", "M3", "VOID", "-5.0"):  # counts and names only
        assert value not in out


def test_failing_error_rule_exits_1(files: Path) -> None:
    code, out, err = invoke(
        "--input", str(files / "claims.csv"), "--rules", str(files / "rules.yaml"),
        "--as-of", "2024-03-10T00:00:00Z", "--json",
    )  # fmt: skip
    assert code == 1
    payload = json.loads(out)
    assert payload["success"] is False
    assert payload["errors"] == [{"code": "QualityGateError", "rule": "fresh", "failed_rows": 0}]
    assert "check failed" in err


def test_rules_from_a_spec_quality_section(files: Path) -> None:
    spec = files / "spec.yaml"
    spec.write_text(
        "version: 1\nquality:\n  stage: input\n  rules:\n"
        "    - {id: ids, rule: not_null, column: claim_id}\n",
        encoding="utf-8",
    )
    code, _, err = invoke("--input", str(files / "claims.csv"), "--rules", str(spec))
    assert code == 0, err


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ("- {id: a, rule: not_null, colum: claim_id}\n", ["rules.yaml", "'colum'", "'column'"]),
        ("- {id: a, rule: not_null, column: claim}\n", ["'claim_id'"]),
        ("- [unclosed\n", ["not valid YAML"]),
    ],
)
def test_bad_rules_exit_2_naming_the_problem(files: Path, rules: str, words: list[str]) -> None:
    (files / "rules.yaml").write_text(rules, encoding="utf-8")
    code, out, err = invoke(
        "--input", str(files / "claims.csv"), "--rules", str(files / "rules.yaml")
    )
    assert code == 2 and out == ""
    assert "Traceback" not in err
    for word in words:
        assert word in err


def test_missing_input_or_rules_exit_2(files: Path) -> None:
    code, _, err = invoke("--input", str(files / "nope.csv"), "--rules", str(files / "rules.yaml"))
    assert code == 2 and "nope.csv" in err
    code, out, err = invoke(
        "--input", str(files / "claims.csv"), "--rules", str(files / "nope.yaml"), "--json"
    )
    assert code == 2 and "nope.yaml" in err and json.loads(out)["success"] is False
    code, _, err = invoke(
        "--input", str(files / "claims.csv"), "--rules", str(files / "rules.yaml"),
        "--as-of", "yesterday",
    )  # fmt: skip
    assert code == 2 and "--as-of" in err


def test_schema_option_validates_first(
    files: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "claims_model.py").write_text(
        "from pydantic import BaseModel\n\n"
        "class Claim(BaseModel):\n"
        "    claim_id: str\n    member_id: str\n    amount: float\n"
        "    status: str\n    service_date: str\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    code, out, err = invoke(
        "--input", str(files / "claims.csv"), "--rules", str(files / "rules.yaml"),
        "--schema", "claims_model:Claim", "--as-of", "2024-03-01T00:00:00Z", "--json",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert (payload["valid_records"], payload["rejected_records"]) == (3, 1)


def test_a_rules_file_of_exponential_aliases_is_refused(files: Path) -> None:
    rule = "{id: x, rule: row_count, min: 1}"
    lines = [f"r0: &r0 [{', '.join([rule] * 10)}]"]
    lines += [f"r{i}: &r{i} [{', '.join([f'*r{i - 1}'] * 10)}]" for i in range(1, 8)]
    (files / "bomb.yaml").write_text("\n".join([*lines, "quality: *r7"]) + "\n")
    code, _out, err = invoke(
        "--input", str(files / "claims.csv"), "--rules", str(files / "bomb.yaml")
    )
    assert code == 2
    assert "expands to more than 100,000 values" in err


def test_a_rules_file_nested_thousands_deep_is_refused(files: Path) -> None:
    (files / "deep.yaml").write_text("- " + "[" * 5000 + "]" * 5000 + "\n")
    code, _out, err = invoke(
        "--input", str(files / "claims.csv"), "--rules", str(files / "deep.yaml")
    )
    assert code == 2
    assert "nests deeper than it can be read" in err
    assert "Traceback" not in err
