"""Shared fixtures: repository paths (helpers to import are in ``support.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.redaction import forget_secrets
from support import REPO, SHARED


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests read the shared vectors and schemas from it")
    return SHARED


@pytest.fixture(autouse=True)
def _no_registered_secrets() -> Iterator[None]:
    """Each test starts with no ``${VAR}`` value registered for masking (the registry
    lives as long as the process; one test's secret must not garble another's text)."""
    yield
    forget_secrets()
