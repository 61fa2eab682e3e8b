"""Every spec error names the key, its line and what to do."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipeline.errors import ConfigError, SpecError
from pipeline.spec_check import check_spec
from pipeline.spec_loader import load_spec

GOOD = """\
version: 1
name: t
source: {uri: in.csv}
steps:
  - filter: "value > 1"
sink: {uri: out.csv}
audit: {path: audit.jsonl}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "in.csv").write_text("id,value,category\n1,2,A\n")
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str, *, check: bool = False) -> SpecError | ConfigError:
    path = write(tmp_path, text)
    with pytest.raises((SpecError, ConfigError)) as caught:
        spec = load_spec(path)
        if check:
            check_spec(spec)
    return caught.value


def test_good_spec_loads_with_resolved_paths_and_a_hash(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.source.uri == str((tmp_path / "in.csv").resolve())
    assert spec.audit.path == str((tmp_path / "audit.jsonl").resolve())
    assert spec.spec_hash and len(spec.spec_hash) == 64
    assert check_spec(spec).steps[0]["name"] == "filter_1"


def test_relative_sqlite_and_reference_locations_resolve_against_the_spec(
    tmp_path: Path,
) -> None:
    text = (
        "version: 1\nname: t\nsource: {uri: 'sqlite://data/ref.db?table=claims'}\n"
        "sink: {uri: out.csv}\naudit: {path: audit.jsonl}\nquality:\n"
        "  - {id: known, rule: reference, column: m, dataset: 'sqlite://data/ref.db#members'}\n"
        "  - {id: listed, rule: reference, column: m, dataset: members.csv}\n"
        "  - {id: remote, rule: reference, column: m, dataset: 's3://bucket/members.csv'}\n"
    )
    spec = load_spec(write(tmp_path, text))
    base = tmp_path.resolve().as_posix()
    assert spec.source.uri == f"sqlite://{base}/data/ref.db?table=claims"
    assert spec.quality is not None
    datasets = [rule["dataset"] for rule in spec.quality.rules]
    assert datasets == [
        f"sqlite://{base}/data/ref.db#members",
        str((tmp_path / "members.csv").resolve()),
        "s3://bucket/members.csv",
    ]


def test_a_spec_folder_with_a_hash_sign_stays_part_of_the_sqlite_path(tmp_path: Path) -> None:
    import sqlite3

    from pipeline.io import open_source

    folder = tmp_path / "team#1?"
    folder.mkdir()
    con = sqlite3.connect(folder / "ref.db")
    con.execute("CREATE TABLE claims (id TEXT)")
    con.execute("INSERT INTO claims VALUES ('c1')")
    con.commit()
    con.close()
    text = (
        "version: 1\nname: t\nsource: {uri: 'sqlite://ref.db?table=claims'}\n"
        "sink: {uri: out.csv}\naudit: {path: audit.jsonl}\n"
    )
    spec = load_spec(write(folder, text))
    assert open_source(spec.source.uri).read().frame["id"].to_list() == ["c1"]
    home = load_spec(write(folder, text.replace("sqlite://ref.db", "sqlite://~/ref.db")))
    assert home.source.uri == "sqlite://~/ref.db?table=claims"  # the user's home, kept


def test_unknown_top_level_key_names_line_and_nearest(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("steps:", "stpes:"))
    assert error.key == "stpes" and error.line == 4
    assert "unknown key 'stpes'" in str(error) and "did you mean 'steps'" in str(error)


def test_unknown_key_in_a_section(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("{uri: out.csv}", "{url: out.csv}"))
    assert error.key == "sink.url" and error.line == 6
    assert "did you mean 'uri'" in str(error)


def test_unknown_step_kind(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("- filter:", "- filtr:"))
    assert error.line == 5 and "no known step kind" in str(error)
    assert "did you mean 'filter'" in str(error)


def test_unknown_key_in_a_step(tmp_path: Path) -> None:
    error = error_of(
        tmp_path, GOOD.replace('- filter: "value > 1"', '- {filter: "value > 1", nme: x}')
    )
    assert error.key == "steps.0.nme" and "did you mean 'name'" in str(error)


def test_two_kinds_in_one_step(tmp_path: Path) -> None:
    error = error_of(
        tmp_path, GOOD.replace('- filter: "value > 1"', '- {filter: "value > 1", sort: [id]}')
    )
    assert "names two kinds" in str(error)


def test_wrong_type_and_missing_key(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("version: 1", "version: 2"))
    assert error.key == "version" and error.line == 1
    error = error_of(tmp_path, GOOD.replace("sink: {uri: out.csv}\n", ""))
    assert "required key 'sink' is missing" in str(error)


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD + "name: again\n")
    assert "appears twice" in str(error) and error.line == 8


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("steps:\n", "steps:\n  - filter: [\n"))
    assert "not valid YAML" in str(error) and error.line is not None


def test_missing_environment_variable_is_named_not_echoed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("RDP_TEST_SECRET", raising=False)
    error = error_of(tmp_path, GOOD.replace("in.csv", '"${RDP_TEST_SECRET}.csv"'))
    assert "RDP_TEST_SECRET is not set" in str(error) and error.key == "source.uri"
    monkeypatch.setenv("RDP_TEST_SECRET", "in")
    spec = load_spec(write(tmp_path, GOOD.replace("in.csv", '"${RDP_TEST_SECRET}.csv"')))
    assert spec.source.uri.endswith("in.csv")
    unchanged = load_spec(write(tmp_path, GOOD.replace("in.csv", '"${RDP_TEST_SECRET}.csv"')))
    monkeypatch.setenv("RDP_TEST_SECRET", "other")
    # The hash is over the spec as written, so a rotated secret keeps the spec's identity.
    assert (
        load_spec(write(tmp_path, GOOD.replace("in.csv", '"${RDP_TEST_SECRET}.csv"'))).spec_hash
        == unchanged.spec_hash
    )


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ('- filter: "value >"', "the SQL expression cannot be parsed"),
        ('- derive: {today: "current_date"}', "current_date(), which would put the clock"),
        ('- derive: {r: "random()"}', "random(), which would put the clock"),
        # Found by review: Polars runs a subquery at parse time (this one read the
        # file, and its first line came back in the error and the audit log) ...
        (
            "- filter: \"id IN (SELECT x FROM read_csv('/etc/passwd'))\"",
            "a subquery (SELECT …) is not supported",
        ),
        # ... and an apostrophe in a quoted name hid NOW() from the clock check.
        (
            '- derive: {ts: "CASE WHEN \\"o\'k\\" = 1 THEN CAST(NOW() AS VARCHAR) END"}',
            "NOW(), which would put the clock",
        ),
        ('- derive: {ts: "\\"now\\"()"}', "now(), which would put the clock"),
        ('- filter: "value > 1 -- now()"', "comments are not supported"),
        ("- cast: {value: Integer}", "unknown type 'Integer'"),
        ("- python: nowhere.module:fn", "cannot import module 'nowhere.module'"),
        ("- python: justamodule", "is not of the form module:function"),
        ('- derive: {_row_number: "1"}', "reserved"),
    ],
)
def test_step_errors_name_the_step(tmp_path: Path, step: str, message: str) -> None:
    error = error_of(tmp_path, GOOD.replace('- filter: "value > 1"', step), check=True)
    assert message in str(error)


@pytest.mark.parametrize(
    ("steps", "step_name", "column"),
    [
        ('- filter: "valu > 1"', "filter_1", "valu"),
        ('- select: [id]\n  - filter: "value > 1"', "filter_2", "value"),
        ("- rename: {value: amount}\n  - sort: [value]", "sort_2", "value"),
        ("- dedupe: {keys: [idd]}", "dedupe_1", "idd"),
    ],
)
def test_check_finds_columns_missing_after_a_step(
    tmp_path: Path, steps: str, step_name: str, column: str
) -> None:
    error = error_of(tmp_path, GOOD.replace('- filter: "value > 1"', steps), check=True)
    assert error.step == step_name and error.column == column
    assert f"column {column!r} does not exist at this step" in str(error)


def test_quality_rule_on_a_missing_column(tmp_path: Path) -> None:
    text = GOOD + "quality:\n  - {id: q1, rule: not_null, column: amount}\n"
    error = error_of(tmp_path, text, check=True)
    assert "quality rule 'q1' checks column 'amount'" in str(error)


def test_unknown_quality_rule_key(tmp_path: Path) -> None:
    text = GOOD + "quality:\n  - {id: q1, rule: not_null, colum: value}\n"
    error = error_of(tmp_path, text)
    assert "colum" in str(error)


def _alias_bomb(levels: int) -> str:
    """YAML aliases repeating aliases: 10**levels values from a few lines."""
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def test_yaml_aliases_that_expand_exponentially_are_refused(tmp_path: Path) -> None:
    # 10**9 values: walking them (the spec hash, the line map) never returned.
    error = error_of(tmp_path, GOOD + _alias_bomb(9))
    assert "expands to more than 100,000 values" in error.message
    assert "aliases" in (error.hint or "")


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    text = GOOD.replace('  - filter: "value > 1"', '  - &f {filter: "value > 1"}\n  - *f')
    spec = load_spec(write(tmp_path, text))
    assert len(spec.steps) == 2


@pytest.mark.parametrize("depth", [900, 5000])
def test_yaml_nested_thousands_deep_is_a_spec_error_not_a_traceback(
    tmp_path: Path, depth: int
) -> None:
    error = error_of(tmp_path, GOOD + "x: " + "[" * depth + "]" * depth + "\n")
    assert "nests deeper than it can be read" in error.message


@pytest.mark.parametrize(
    ("extra", "key", "line", "words"),
    [
        # Found by review: each ended in a canonicalization traceback (exit 1).
        ("quality:\n  - {id: r, rule: range, column: value, min: 2024-01-01}\n",
         "quality.0.min", 7, "reads as a date"),
        ("quality:\n  max_rejected_ratio: 99999999999999999999999\n  rules: []\n",
         "quality.max_rejected_ratio", 7, "too large to hold exactly"),
        ("x: .nan\n", "x", 6, "not a finite number"),
        ("x: !!binary aGVsbG8=\n", "x", 6, "reads as binary data"),
        ("steps2:\n  2023: rev\n", "steps2.2023", 7, "reads as a number"),
        ("steps2:\n  on: rev\n", "steps2.on", 7, "reads as true/false"),
    ],
)  # fmt: skip
def test_yaml_values_json_cannot_hold_name_their_key(
    tmp_path: Path, extra: str, key: str, line: int, words: str
) -> None:
    text = GOOD.replace('steps:\n  - filter: "value > 1"\n', "") + extra
    error = error_of(tmp_path, text)
    assert (error.key, error.line) == (key, line)
    assert words in str(error)
    assert "quote it" in str(error) or "give a number" in str(error)


@pytest.mark.parametrize(
    ("dtype", "words"),
    [
        ("Decimal(abc)", "whole numbers"),
        ("Decimal(-1)", "whole numbers"),
        ("Decimal(39)", "precision is 1 to 38"),
        ("Decimal(4, 5)", "scale at most the precision"),
        ("Int64(x)", "Int64 takes no arguments"),
    ],
)
def test_cast_types_are_checked_whole(tmp_path: Path, dtype: str, words: str) -> None:
    """Found by review: the first two reached Polars (a traceback), Int64(x) passed."""
    error = error_of(
        tmp_path, GOOD.replace('- filter: "value > 1"', f'- cast: {{value: "{dtype}"}}')
    )
    assert words in str(error) and error.key == "steps.0.cast"


def test_version_true_is_not_1(tmp_path: Path) -> None:
    error = error_of(tmp_path, GOOD.replace("version: 1", "version: true"))
    assert "the version is the number 1" in str(error) and error.key == "version"


def _typed_spec(tmp_path: Path, step: str, source: str = "in.csv", options: str = "") -> Path:
    (tmp_path / "in.csv").write_text("id,zip,amount\n1,90210,10\n2,10001,\n")
    (tmp_path / "in.jsonl").write_text('{"id": 1, "zip": "x"}\n')
    path = tmp_path / "spec.yaml"
    path.write_text(
        f"version: 1\nname: t\nsource: {{uri: {source}{options}}}\nsteps:\n  - {step}\n"
        "sink: {uri: out.csv}\naudit: {path: audit.jsonl}\n"
    )
    return path


@pytest.mark.parametrize(
    ("step", "runs"),
    [('derive: {y: "length(zip)"}', False), ('derive: {x: "amount + 1"}', True)],
)
def test_check_types_the_input_as_the_run_does(tmp_path: Path, step: str, runs: bool) -> None:
    """Found by review: the check took every CSV column as text while the run proves
    zip and amount Int64, so each of these got the opposite verdict from the run."""
    from pipeline import run_pipeline

    spec = load_spec(_typed_spec(tmp_path, step))
    assert run_pipeline(spec).success is runs
    if runs:
        assert dict(check_spec(spec).input_columns)["amount"] == "Int64"
    else:
        with pytest.raises(SpecError, match="the step does not fit the columns it gets"):
            check_spec(spec)


def test_check_reads_json_lines_and_source_options(tmp_path: Path) -> None:
    """Found by review: a JSON Lines source "cannot be read now", and a misspelt
    option passed the check to fail the run."""
    spec = load_spec(_typed_spec(tmp_path, 'filter: "id > 0"', source="in.jsonl"))
    assert [n for n, _ in check_spec(spec).input_columns] == ["id", "zip"]
    misspelt = load_spec(_typed_spec(tmp_path, 'filter: "id > 0"', options=", options: {sep: x}"))
    with pytest.raises(ConfigError, match="unknown CSV option 'sep'"):
        check_spec(misspelt)


@pytest.mark.parametrize(
    ("step", "key", "guess"),
    [
        ("- dedupe: {keys: [id], kep: last}", "steps.0.dedupe.kep", "did you mean 'keep'?"),
        ("- sort: {by: [id], decending: true}", "steps.0.sort.decending", "'descending'"),
    ],
)
def test_a_misspelt_key_deep_in_a_step_gets_the_nearest(
    tmp_path: Path, step: str, key: str, guess: str
) -> None:
    """Found by review: only top-level sections suggested the nearest key."""
    error = error_of(tmp_path, GOOD.replace('- filter: "value > 1"', step))
    assert error.key == key and guess in str(error)


def test_a_rename_of_a_missing_column_names_it(tmp_path: Path) -> None:
    """Found by review: Polars' rename says '"nosuch" not found'; the check said '?'."""
    error = error_of(
        tmp_path, GOOD.replace('- filter: "value > 1"', "- rename: {valu: x}"), check=True
    )
    assert error.column == "valu" and "did you mean 'value'?" in str(error)


def test_a_schema_model_beside_the_spec_is_found_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: python steps beside the spec were found, a schema model was not."""
    from pipeline import run_pipeline

    project = tmp_path / "project"
    project.mkdir()
    (project / "in.csv").write_text("id,value\n1,2\n")
    (project / "beside_spec_model.py").write_text(
        "from pydantic import BaseModel\nclass Row(BaseModel):\n    id: int\n    value: int\n"
    )
    (project / "spec.yaml").write_text(
        "version: 1\nname: t\nschema: beside_spec_model:Row\nsource: {uri: in.csv}\n"
        "sink: {uri: out.csv}\naudit: {path: audit.jsonl}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))  # undone after the test
    spec = load_spec(project / "spec.yaml")
    assert dict(check_spec(spec).input_columns) == {"id": "Int64", "value": "Int64"}
    assert run_pipeline(spec).success


@pytest.mark.parametrize("separator", ['"::"', '"é"', '""', '"\\n"', "1"])
def test_a_separator_that_is_not_one_byte_is_a_spec_error(tmp_path: Path, separator: str) -> None:
    """Found by review: it reached the readers and failed as an internal TypeError (and
    `spec check` printed a traceback)."""
    text = GOOD.replace(
        "source: {uri: in.csv}", f"source: {{uri: in.csv, options: {{separator: {separator}}}}}"
    )
    error = error_of(tmp_path, text, check=True)
    assert "source.options" in str(error)
    assert "must be one single-byte character" in str(error)
