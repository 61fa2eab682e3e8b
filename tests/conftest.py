"""Shared fixtures: repository paths (helpers to import are in ``support.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import REPO, SHARED


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests read the shared vectors and schemas from it")
    return SHARED
