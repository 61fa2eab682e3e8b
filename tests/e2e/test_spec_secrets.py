"""A spec's ``${VAR}`` values never reach a terminal, the result or the evidence.

Found by review: redaction knew URI passwords and secret-looking query keys
only, so ``?X-Goog-Signature=${SIG}&auth_token=${SIG}`` was printed on stderr
and in the JSON result and logged in the audit entry, and a value used in a file
name (``in_${TOKEN}.csv``) reached the lineage store. Every substituted value is
now masked wherever the run writes or prints text.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from support import run_cli

SECRET = "Sup3rS3cretValue"
CSV = "id,value\n1,10\n2,20\n"


def _spec(folder: Path, source: str) -> Path:
    spec = folder / "spec.yaml"
    spec.write_text(
        "version: 1\nname: secrets\n"
        f'source: {{uri: "{source}"}}\n'
        "sink: {uri: out/o.csv}\naudit: {path: out/audit.jsonl}\n"
        "lineage: {store: out/lineage.db}\n"
    )
    return spec


def _everything(folder: Path, *streams: str) -> str:
    """Every text the run printed or left behind: streams and each file's bytes."""
    texts = list(streams)
    for path in folder.rglob("*"):
        if path.is_file() and path.name != "spec.yaml" and not path.name.startswith("in_"):
            texts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("source", "succeeds"),
    [
        ("in_${RDP_SECRET}.csv", True),
        ("https://h.invalid/in.csv?X-Goog-Signature=${RDP_SECRET}&auth_token=${RDP_SECRET}", False),
        ("sqlite://x.db?table=nosuch&token=${RDP_SECRET}", False),
    ],
)
def test_no_var_value_anywhere(tmp_path: Path, source: str, succeeds: bool) -> None:
    (tmp_path / f"in_{SECRET}.csv").write_text(CSV)
    with sqlite3.connect(tmp_path / "x.db") as db:
        db.execute("create table t (a)")
    spec = _spec(tmp_path, source)
    os.environ["RDP_SECRET"] = SECRET
    try:
        checked = run_cli(["spec", "check", str(spec)], tmp_path)
        done = run_cli(["run", str(spec), "--json"], tmp_path)
    finally:
        del os.environ["RDP_SECRET"]
    assert (done.returncode == 0) is succeeds, done.stderr
    result = json.loads(done.stdout)
    assert result["success"] is succeeds
    seen = _everything(tmp_path, checked.stdout, checked.stderr, done.stdout, done.stderr)
    assert SECRET not in seen
    assert "***" in seen  # masked, not dropped: the location still shows where


def test_a_var_value_quoted_with_escapes_is_masked(tmp_path: Path) -> None:
    r"""Found by review: messages quote values with !r, so a backslash in the value came
    out doubled (`'p4ss\\word'`) and unmasked."""
    (tmp_path / "in.csv").write_text(CSV)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        'version: 1\nname: secrets\nsource: {uri: in.csv, format: "${RDP_SECRET}"}\n'
        "sink: {uri: out/o.csv}\naudit: {path: out/audit.jsonl}\n"
    )
    secret = "p4ss\\wordXX\ttab"
    os.environ["RDP_SECRET"] = secret
    try:
        done = run_cli(["run", str(spec), "--json"], tmp_path)
    finally:
        del os.environ["RDP_SECRET"]
    assert done.returncode == 2
    seen = _everything(tmp_path, done.stdout, done.stderr)
    for form in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]):
        assert form not in seen
    assert "***" in seen
