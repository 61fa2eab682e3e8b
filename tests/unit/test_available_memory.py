"""How much memory a run counts on when it picks its path (auto mode, shared scans)."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.execution import common

GIB = 1 << 30


def _fake_files(monkeypatch: pytest.MonkeyPatch, files: dict[str, str | None]) -> None:
    """Serve the listed paths from ``files`` (None: missing); other paths stay real."""
    real_open, real_read = Path.open, Path.read_text

    def text(path: Path) -> str:
        content = files[str(path)]
        if content is None:
            raise FileNotFoundError(path)
        return content

    def fake_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if str(self) in files:
            return io.StringIO(text(self))
        return real_open(self, *args, **kwargs)

    def fake_read(self: Path, *args: Any, **kwargs: Any) -> str:
        if str(self) in files:
            return text(self)
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", fake_open)
    monkeypatch.setattr(Path, "read_text", fake_read)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/meminfo")
def test_the_page_cache_the_kernel_would_give_back_counts_as_available() -> None:
    """Free pages alone shrink as the run's own input is read into the page cache."""
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    available = int(fields["MemAvailable"].split()[0]) * 1024
    free = int(fields["MemFree"].split()[0]) * 1024
    measured = common.available_memory()
    assert measured >= free - (256 << 20)
    room = common._cgroup_room()
    assert abs(measured - (available if room is None else min(available, room))) < 256 << 20


MEMINFO = "MemTotal: 25165824 kB\nMemFree: 4194304 kB\nMemAvailable: 20971520 kB\n"


@pytest.mark.parametrize(
    ("cgroup", "limits", "expected"),
    [
        ("0::/\n", {"/sys/fs/cgroup/memory.max": "max"}, 20 * GIB),
        ("0::/job\n", {"/sys/fs/cgroup/job/memory.max": str(4 * GIB)}, 3 * GIB),
        # The limit set on a parent (a systemd slice) binds its groups too.
        (
            "0::/slice/job\n",
            {
                "/sys/fs/cgroup/slice/job/memory.max": "max",
                "/sys/fs/cgroup/slice/job/memory.current": str(GIB),
                "/sys/fs/cgroup/slice/memory.max": str(4 * GIB),
                "/sys/fs/cgroup/slice/memory.current": str(2 * GIB),
            },
            2 * GIB,
        ),
        (
            "4:memory:/job\n",
            {"/sys/fs/cgroup/memory/job/memory.limit_in_bytes": str(4 * GIB)},
            3 * GIB,
        ),
        # A container sees its own group as the hierarchy's root.
        (
            "4:memory:/host/path\n",
            {"/sys/fs/cgroup/memory/memory.limit_in_bytes": str(4 * GIB)},
            3 * GIB,
        ),
        (
            "4:memory:/\n",
            {"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"},
            20 * GIB,
        ),
    ],
)
def test_a_cgroup_memory_limit_bounds_what_is_available(
    monkeypatch: pytest.MonkeyPatch, cgroup: str, limits: dict[str, str], expected: int
) -> None:
    files: dict[str, str | None] = {
        "/proc/meminfo": MEMINFO,
        "/proc/self/cgroup": cgroup,
        "/sys/fs/cgroup/memory.max": None,
        "/sys/fs/cgroup/memory.current": str(GIB),
        "/sys/fs/cgroup/job/memory.current": str(GIB),
        "/sys/fs/cgroup/memory/job/memory.limit_in_bytes": None,
        "/sys/fs/cgroup/memory/job/memory.usage_in_bytes": str(GIB),
        "/sys/fs/cgroup/memory/host/path/memory.limit_in_bytes": None,
        "/sys/fs/cgroup/memory/memory.limit_in_bytes": None,
        "/sys/fs/cgroup/memory/memory.usage_in_bytes": str(GIB),
    }
    files.update(limits)
    _fake_files(monkeypatch, files)
    assert common.available_memory() == expected


def test_where_nothing_can_be_read_the_bounded_path_is_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """macOS has no /proc and no SC_AVPHYS_PAGES (sysconf raises ValueError)."""
    _fake_files(monkeypatch, {"/proc/meminfo": None, "/proc/self/cgroup": None})

    def no_such_name(name: str) -> int:
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(os, "sysconf", no_such_name)
    assert common.available_memory() == 0
    assert common.large_for_memory(1)  # stream, and keep the sink alone
