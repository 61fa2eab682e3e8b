"""Atomic file publication: temp name in the same directory, fsync, rename.

A reader never sees half a file (invariant 4): the bytes go to a hidden
temporary beside the target, are flushed to disk, and only then replace the
target with one ``os.replace``, after which the directory entry is fsynced
too. Several outputs of one run are staged first and committed together, so
a failure while staging leaves every previous output untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.errors import NotDurableError, OutputError

__all__ = [
    "check_writable_target",
    "commit_lock",
    "fsync_directory",
    "owned_name",
    "publish",
    "stage_file",
    "staging_path",
    "sweep_orphans",
    "write_failed",
]


def fsync_directory(directory: Path) -> None:
    """Flush a directory entry so a rename survives a power cut."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_writable_target(path: Path, *, what: str = "output") -> None:
    """Fail early, with a hint, when ``path`` can never be written as a file."""
    if path.is_dir():
        raise OutputError(
            f"the {what} path is a directory",
            dataset=str(path),
            hint=f"give a file name for the {what}, e.g. {path / 'data.csv'}",
        )
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise OutputError(f"the parent of the {what} path is not a directory", dataset=str(path))


_HOST = socket.gethostname().replace(".", "_")


def owned_name(prefix: str) -> str:
    """A temporary name that says which live process owns it (host, pid, random)."""
    return f"{prefix}{_HOST}.{os.getpid()}.{secrets.token_hex(6)}"


def sweep_orphans(directory: Path, prefix: str) -> None:
    """Remove temporaries left by dead processes of this host (a ``kill -9`` mid-write).

    Only names made by :func:`owned_name` on this host whose process no longer
    exists are removed; another host's or a live process's temporaries stay.
    """
    try:
        names = [p for p in directory.iterdir() if p.name.startswith(prefix + _HOST + ".")]
    except OSError:
        return
    for path in names:
        pid_text = path.name[len(prefix) + len(_HOST) + 1 :].split(".", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def staging_path(target: Path) -> Path:
    """A fresh temp name beside ``target`` (its directory created if missing), after
    sweeping the temporaries dead runs left there."""
    check_writable_target(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the directory ({exc.strerror})", dataset=str(target.parent)
        ) from None
    sweep_orphans(target.parent, f".{target.name}.")
    return target.parent / (owned_name(f".{target.name}.") + ".tmp")


def write_failed(target: Path, exc: OSError) -> OutputError:
    """The error for a staged file that could not be written or flushed."""
    return OutputError(
        f"cannot write the file ({exc.strerror or exc})",
        dataset=str(target),
        hint="check free disk space and permissions of the output directory; "
        "the previous output, if any, is untouched",
    )


def stage_file(target: Path, write: Callable[[Path], None]) -> Path:
    """Write via ``write(temp_path)`` to a temp file beside ``target`` and fsync it.

    Returns the temp path; the caller renames it with :func:`publish` or
    removes it. The directory is created if missing.
    """
    temp = staging_path(target)
    try:
        write(temp)
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise write_failed(target, exc) from None
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    return temp


def publish(temp: Path, target: Path) -> None:
    """Rename a staged temp file over ``target`` and make the rename durable.

    Raises :class:`OutputError` when the rename fails (nothing changed), and
    :class:`NotDurableError` when only the directory flush after it fails: the
    file is in place then, and the caller's evidence must say so.
    """
    try:
        temp.replace(target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise OutputError(
            f"cannot move the finished file into place ({exc.strerror})", dataset=str(target)
        ) from None
    try:
        fsync_directory(target.parent)
    except OSError as exc:
        raise NotDurableError(
            f"the file was moved into place, but flushing its directory failed ({exc.strerror})",
            dataset=str(target),
        ) from None


@contextlib.contextmanager
def commit_lock(target: Path | str) -> Iterator[None]:
    """Hold an exclusive lock on the output's directory while a run publishes its outputs.

    The directory itself is locked (flock on its descriptor), so no lock file is
    left behind. Non-file targets (``memory://``) need no lock.
    """
    text = str(target)
    if "://" in text and not text.startswith("file://"):
        yield
        return
    directory = Path(text.removeprefix("file://")).parent
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise OutputError(
            f"cannot open the output directory to lock it ({exc.strerror})",
            dataset=str(directory),
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
