"""The spool keeps every undelivered event, in order, across failures and crashes."""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

from pipeline.lineage.spool import Spool


def _events(n: int) -> list[dict[str, Any]]:
    return [{"eventType": "START", "seq": i} for i in range(n)]


def test_flush_delivers_in_order_and_empties(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.jsonl")
    for event in _events(3):
        spool.append(event, "down")
    sent: list[int] = []
    result = spool.flush(lambda e: sent.append(e["seq"]))  # type: ignore[func-returns-value]
    assert sent == [0, 1, 2]
    assert result.to_dict() == {"delivered": 3, "remaining": 0, "errors": []}
    assert len(spool) == 0


def test_a_failure_stops_the_flush_and_keeps_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.jsonl")
    for event in _events(4):
        spool.append(event, "down")

    def send(event: dict[str, Any]) -> str | None:
        if event["seq"] == 2:
            # A run spools a new event while the flush is talking to the network.
            spool.append({"eventType": "START", "seq": 99}, "down")
            return "ConnectionError"
        return None

    result = spool.flush(send)
    assert (result.delivered, result.remaining, result.errors) == (2, 3, ["ConnectionError"])
    assert [e["event"]["seq"] for e in spool.pending()] == [2, 3, 99]
    assert all(e["reason"] == "down" for e in spool.pending())


def test_a_crashed_flush_is_adopted_and_a_running_one_is_left_alone(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.jsonl")
    spool.append({"seq": 0}, "down")
    crashed = tmp_path / "s.jsonl.dead.flushing"
    crashed.write_text('{"event": {"seq": -1}, "reason": "x", "spooled_at": "t"}\n')
    busy = tmp_path / "s.jsonl.zzbusy.flushing"
    busy.write_text('{"event": {"seq": 7}, "reason": "x", "spooled_at": "t"}\n')
    with busy.open("rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another flush is sending this batch
        sent: list[int] = []
        result = spool.flush(lambda e: sent.append(e["seq"]))  # type: ignore[func-returns-value]
    assert sorted(sent) == [-1, 0]
    assert result.delivered == 2 and result.remaining == 1
    assert busy.exists() and not crashed.exists()


def test_a_line_cut_short_is_set_apart_and_the_rest_delivered_once(tmp_path: Path) -> None:
    """Found by review: one torn line (kill -9 mid-append) made every flush fail on its
    parse with no file or line named, and re-send the events before it each time."""
    path = tmp_path / "s.jsonl"
    spool = Spool(path)
    for event in _events(2):
        spool.append(event, "down")
    whole = path.read_bytes()
    path.write_bytes(whole + whole.splitlines(keepends=True)[0][:25])  # a torn append
    spool.append({"eventType": "COMPLETE", "seq": 2}, "down")  # after the crash
    assert [e["event"]["seq"] for e in spool.pending()] == [0, 1, 2]
    sent: list[int] = []

    def send(event: dict[str, Any]) -> str | None:
        sent.append(event["seq"])
        return None

    first = spool.flush(send)
    assert sent == [0, 1, 2] and first.delivered == 3 and first.remaining == 0
    assert "1 line(s) of the spool were not whole events (first: line 3)" in first.errors[0]
    assert spool.damaged_path.read_bytes() == whole.splitlines(keepends=True)[0][:25] + b"\n"
    second = spool.flush(send)
    assert sent == [0, 1, 2] and second.to_dict() == {"delivered": 0, "remaining": 0, "errors": []}
