"""Shared fixtures: repository paths (helpers to import are in ``support.py``)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline import interrupts
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


@pytest.fixture(autouse=True)
def _own_signals() -> Iterator[None]:
    """Each test ends with SIGINT and SIGTERM handled as it began. The CLI owns its
    process's signals and ignores stops once a run is final (pipeline.cli.signals):
    invoked in-process, it left this process ignoring SIGINT, which every later
    subprocess inherits, so a test stopping one with SIGINT waited forever (found in
    session 11, when a CLI test ran before the stop test)."""
    before = {stop: signal.getsignal(stop) for stop in (signal.SIGINT, signal.SIGTERM)}
    settle = dict(interrupts._SETTLE)
    yield
    for stop, handler in before.items():
        signal.signal(stop, signal.SIG_DFL if handler is None else handler)
    interrupts._SETTLE.update(settle)
