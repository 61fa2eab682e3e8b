"""Dataset identity: the OpenLineage namespace and name of a path, URI or table.

Identity follows the OpenLineage naming spec (``spec/Naming.md``) so our graph
joins with what Marquez, DataHub and other producers record, and so two runs
that name one file differently (``data/x.csv``, ``./data/../data/x.csv``, an
absolute path) land on one dataset instead of splitting the graph:

========================  ==============================  ==========================
location                  namespace                       name
========================  ==============================  ==========================
``data/x.csv`` (local)    ``file``                        ``/abs/path/data/x.csv``
``file:///abs/x.csv``     ``file``                        ``/abs/x.csv``
``file://host/x.csv``     ``file://host``                 ``/x.csv``
``s3://bucket/k/x.csv``   ``s3://bucket``                 ``k/x.csv``
``gs://bucket/k``         ``gs://bucket``                 ``k``
``abfss://c@acct...``     ``abfss://c@acct...``           ``path``
``postgresql://u:p@h/db`` ``postgres://h:5432``           ``db.public.<table>``
``sqlite:///abs/db.sqlite``
  (+ table)               ``sqlite:///abs/db.sqlite``     ``main.<table>``
========================  ==============================  ==========================

**SQLite tables** are not covered by the OpenLineage spec. Our convention,
the same shape Airflow's SQLite provider uses: the namespace is ``sqlite://``
followed by the absolute path of the database file (the file *is* the
datasource), and the name is ``main.<table>`` (``main`` is SQLite's name for the
primary schema of a connection). A table is named either by ``#table`` /
``?table=NAME`` on the URI or by the ``table`` argument.

Credentials never enter a namespace: only host and port are kept, and the
display form of a URI has its password replaced by ``***``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit, urlunsplit

from pipeline.redaction import masked

if TYPE_CHECKING:
    from openlineage.client.naming.dataset import GCS, S3, RemoteFileSystem

__all__ = ["DatasetIdentity", "display_location", "identify", "redact_uri", "same_path"]

# Default ports so `postgres://h` and `postgres://h:5432` are one datasource.
_DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306, "sqlserver": 1433, "oracle": 1521}
# SQLAlchemy-style schemes mapped to the scheme the naming spec uses.
_SCHEME_ALIASES = {
    "postgresql": "postgres",
    "mysql+pymysql": "mysql",
    "mssql": "sqlserver",
}
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


@dataclass(frozen=True, order=True)
class DatasetIdentity:
    """The (namespace, name) pair that identifies one dataset everywhere."""

    namespace: str
    name: str

    @property
    def uri(self) -> str:
        """Return ``namespace`` and ``name`` joined as the spec's dataset URI."""
        if self.namespace == "file":
            return f"file://{self.name}"
        sep = "" if self.name.startswith("/") or self.namespace.endswith("/") else "/"
        return f"{self.namespace}{sep}{self.name}"


def redact_uri(location: str) -> str:
    """Return ``location`` with any password (and any registered ``${VAR}`` value, see
    :mod:`pipeline.redaction`) replaced by ``***``."""
    location = masked(location)
    if "://" not in location:
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def _local_path(path: str) -> str:
    # resolve(): `./a/../a/x.csv`, relative paths and symlinks name one file.
    return Path(path).expanduser().resolve().as_posix()


def _table_from(parts_query: str, fragment: str, table: str | None) -> str | None:
    if table:
        return table
    if fragment:
        return fragment
    values = parse_qs(parts_query).get("table")
    return values[0] if values else None


def identify(location: str, *, table: str | None = None) -> DatasetIdentity:
    """Return the OpenLineage identity of a path, URI or database table location.

    A spec's ``${VAR}`` value in it is masked (``in_***.csv``): the lineage store
    and its events are evidence, and a rotated secret keeps the dataset's name.
    """
    found = _identify(location, table=table)
    return DatasetIdentity(masked(found.namespace), masked(found.name))


def _identify(location: str, *, table: str | None) -> DatasetIdentity:
    location = location.strip()
    if not location:
        raise ValueError("a dataset location must not be empty")
    if "://" not in location or _WINDOWS_DRIVE.match(location):
        return _local(_local_path(location))
    parts = urlsplit(location)
    scheme = _SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
    host = parts.hostname or ""
    if scheme == "file":
        if host in ("", "localhost"):
            return _local(_local_path(parts.path))
        from openlineage.client.naming.dataset import RemoteFileSystem

        return _from_naming(RemoteFileSystem(host=host, path=parts.path or "/"))
    if scheme in ("s3", "s3a", "s3n"):
        from openlineage.client.naming.dataset import S3

        return _from_naming(S3(bucket_name=host, object_key=parts.path.lstrip("/") or "/"))
    if scheme in ("gs", "gcs"):
        from openlineage.client.naming.dataset import GCS

        return _from_naming(GCS(bucket_name=host, object_key=parts.path.lstrip("/") or "/"))
    if scheme == "sqlite":
        from pipeline.io.sqlite import split_sqlite_uri

        # Decoded as the reader decodes it, so the name is the file that was read.
        raw, named = split_sqlite_uri(location)
        db_path = _local_path(raw) if raw else ""
        chosen = table or named
        return DatasetIdentity(f"sqlite://{db_path}", f"main.{chosen}" if chosen else "main")
    port = parts.port or _DEFAULT_PORTS.get(scheme)
    authority = f"{host}:{port}" if port else host
    if scheme in _DEFAULT_PORTS:
        database = parts.path.strip("/")
        name = _table_from(parts.query, parts.fragment, table)
        if name and "." not in name and scheme == "postgres":
            name = f"public.{name}"
        full = ".".join(p for p in (database, name) if p)
        return DatasetIdentity(f"{scheme}://{authority}", full or "/")
    # Anything else (abfss, wasbs, hdfs, http...): scheme://authority + path.
    netloc = parts.netloc.rsplit("@", 1)[-1] if scheme not in ("abfss", "wasbs") else parts.netloc
    return DatasetIdentity(f"{scheme}://{netloc}", parts.path or "/")


def display_location(location: str) -> str:
    """Return the form a location is shown and stored in (absolute path, or redacted URI)."""
    if "://" not in location or _WINDOWS_DRIVE.match(location):
        return _local_path(location)
    return redact_uri(location)


def _local(path: str) -> DatasetIdentity:
    """The convention's LocalFileSystem naming (namespace ``file``, the absolute path).

    Written out rather than imported: importing the OpenLineage client package
    costs ~0.5 s of start-up, and every run names its local files.
    """
    if not path:
        raise ValueError("a dataset location must not be empty")
    return DatasetIdentity("file", path)


def _from_naming(naming: RemoteFileSystem | S3 | GCS) -> DatasetIdentity:
    return DatasetIdentity(naming.get_namespace(), naming.get_name())


def same_path(a: str, b: str) -> bool:
    """Return whether two locations name the same dataset (used by the seed API's lookups)."""
    return identify(a) == identify(b)
