"""Choosing a connector by URI scheme and extension.

``open_source`` / ``open_sink`` are the only places that map a location to a
connector class; database and object-store schemes plug in here (lazily
imported, behind their extras) without anything above the I/O layer changing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.io.base import Sink, Source
from pipeline.io.files import FileSink, FileSource
from pipeline.io.memory import MemorySink, MemorySource
from pipeline.redaction import redact_uri

__all__ = ["open_sink", "open_source", "redact"]

_FUTURE_SCHEMES = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "s3": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
}


def redact(location: str) -> str:
    """Hide credentials in a URI (``postgresql://u:***@h/db``, ``?password=***``)."""
    return redact_uri(location)


def _scheme(location: str | Path) -> str:
    if isinstance(location, Path):
        return "file"
    scheme = urlsplit(location).scheme
    # A one-letter "scheme" is a Windows drive letter, not a URI scheme.
    return "file" if len(scheme) <= 1 else scheme.lower()


def _file_path(location: str | Path) -> Path:
    if isinstance(location, Path):
        return location
    if location.startswith("file://"):
        return Path(urlsplit(location).path)
    return Path(location)


def _unsupported(location: str, scheme: str) -> ConfigError:
    extra = _FUTURE_SCHEMES.get(scheme)
    hint = (
        f"the {scheme!r} connector is not available in this version "
        f"(it will ship in the '{extra}' extra); use a local file for now"
        if extra
        else "use a local path, file://, or memory://"
    )
    return ConfigError(
        f"no connector for the URI scheme {scheme!r}", dataset=redact(location), hint=hint
    )


def open_source(
    location: str | Path, fmt: str | None = None, *, on_bytes: Callable[[int], None] | None = None
) -> Source:
    """Return the :class:`Source` for ``location``."""
    scheme = _scheme(location)
    if scheme == "file":
        return FileSource(_file_path(location), fmt, on_bytes=on_bytes)
    if scheme == "memory":
        return MemorySource(str(location).removeprefix("memory://"))
    if scheme == "sqlite":
        from pipeline.io.sqlite import SqliteSource  # sqlite3 only when a table is read

        return SqliteSource(str(location))
    raise _unsupported(str(location), scheme)


def open_sink(location: str | Path, fmt: str | None = None, *, what: str = "output") -> Sink:
    """Return the :class:`Sink` for ``location`` (``what`` names its role in errors)."""
    scheme = _scheme(location)
    if scheme == "file":
        return FileSink(_file_path(location), fmt, what=what)
    if scheme == "memory":
        return MemorySink(str(location).removeprefix("memory://"))
    if scheme == "sqlite":
        raise ConfigError(
            "SQLite tables can be read, not written, in this version",
            dataset=redact(str(location)),
            hint="write the output to a CSV, Parquet or JSON Lines file",
        )
    raise _unsupported(str(location), scheme)
