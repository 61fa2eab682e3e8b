"""Dataset identity follows OpenLineage naming, and never splits or leaks credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.lineage.naming import DatasetIdentity, display_location, identify, redact_uri


def test_relative_and_absolute_paths_name_one_dataset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = DatasetIdentity("file", str(tmp_path / "data" / "x.csv"))
    assert identify("data/x.csv") == expected
    assert identify("./data/../data/x.csv") == expected
    assert identify(str(tmp_path / "data" / "x.csv")) == expected
    assert identify(f"file://{tmp_path}/data/x.csv") == expected
    assert expected.uri == f"file://{tmp_path}/data/x.csv"


@pytest.mark.parametrize(
    ("location", "namespace", "name"),
    [
        ("s3://bucket/input.csv", "s3://bucket", "input.csv"),
        ("s3a://bucket/k/x.parquet", "s3://bucket", "k/x.parquet"),
        ("gs://b/dir/x.csv", "gs://b", "dir/x.csv"),
        ("file://nas01/share/x.csv", "file://nas01", "/share/x.csv"),
        ("postgresql://u:secret@db.example:5432/claims#daily", "postgres://db.example:5432",
         "claims.public.daily"),
        ("postgresql://db.example/claims?table=s.t", "postgres://db.example:5432", "claims.s.t"),
        ("hdfs://nn:8020/warehouse/t", "hdfs://nn:8020", "/warehouse/t"),
        ("sqlite:////var/data/app.db#claims", "sqlite:///var/data/app.db", "main.claims"),
    ],
)  # fmt: skip
def test_uris_follow_the_naming_spec(location: str, namespace: str, name: str) -> None:
    assert identify(location) == DatasetIdentity(namespace, name)
    assert "secret" not in identify(location).namespace


def test_sqlite_table_convention(tmp_path: Path) -> None:
    ident = identify(f"sqlite:///{tmp_path}/app.db", table="claims")
    assert ident == DatasetIdentity(f"sqlite://{tmp_path}/app.db", "main.claims")


def test_credentials_are_redacted_from_display() -> None:
    assert redact_uri("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert display_location("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert redact_uri("s3://bucket/k") == "s3://bucket/k"


def test_empty_location_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        identify("  ")


def test_sqlite_names_the_decoded_file(tmp_path: Path) -> None:
    """A spec percent-encodes a folder with a space or `#`; lineage names the real file."""
    from urllib.parse import quote

    folder = tmp_path / "my data #2"
    encoded = quote(f"{folder}/app.db", safe="/")
    ident = identify(f"sqlite://{encoded}#claims%20v2")
    assert ident == DatasetIdentity(f"sqlite://{folder.resolve()}/app.db", "main.claims v2")
