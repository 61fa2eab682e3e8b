"""How much memory a run counts on when it picks its path (auto mode, shared scans)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pipeline.execution import common


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/meminfo")
def test_the_page_cache_the_kernel_would_give_back_counts_as_available() -> None:
    """Free pages alone shrink as the run's own input is read into the page cache."""
    fields = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    available = int(fields["MemAvailable"].split()[0]) * 1024
    free = int(fields["MemFree"].split()[0]) * 1024
    measured = common.available_memory()
    assert abs(measured - available) < 256 << 20  # read a moment apart
    assert measured >= free - (256 << 20)


def test_without_meminfo_the_free_pages_are_the_estimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_open = Path.open

    def no_meminfo(self: Path, *args: object, **kwargs: object) -> object:
        if str(self) == "/proc/meminfo":
            raise FileNotFoundError(self)
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", no_meminfo)
    free = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    assert abs(common.available_memory() - free) < 256 << 20
    assert common.large_for_memory(free) and not common.large_for_memory(free // 8)
