"""Quality quarantine in streaming mode on a CSV with ragged records.

The rows a `quarantine: true` rule fails are quarantined with their original
text, read in a second pass over the source. That pass must read as the first
did (the exact reader once the fast one's shape check fails); it used the fast
reader only, which stopped at a long record: with the record in the first block
the run failed with an internal error, later in the file the rows after it
were missing from the quarantine and the conservation check stopped the run.
"""

from __future__ import annotations

import csv
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline import load_spec, run_pipeline


def _spec(folder: Path, mode: str) -> Path:
    spec = folder / f"{mode}.yaml"
    spec.write_text(
        f"""version: 1
name: ragged-{mode}
mode: {mode}
source: {{uri: in.csv}}
sink: {{uri: out_{mode}/out.csv}}
audit: {{path: out_{mode}/audit.jsonl}}
quarantine: {{uri: out_{mode}/rejected.csv}}
quality:
  - {{id: small, rule: range, column: amount, max: 200, quarantine: true}}
"""
    )
    return spec


def _claims(rows: int, short: int, long: int) -> bytes:
    lines = ["id,amount"]
    for i in range(1, rows + 1):
        if i == short:
            lines.append(str(i))
        elif i == long:
            lines.append(f"{i},{i * 7 % 300},{i}")
        else:
            lines.append(f"{i},{i * 7 % 300}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("rows", "short", "long"),
    [
        (49, 10, 30),  # both ragged records in the first block
        (300_000, 5, 250_000),  # the long record far past the first (2 MiB) block
    ],
    ids=["first-block", "late-long-record"],
)
def test_streaming_quarantine_equals_batch_on_ragged_input(
    tmp_path: Path, rows: int, short: int, long: int
) -> None:
    (tmp_path / "in.csv").write_bytes(_claims(rows, short, long))
    results = {}
    for mode in ("batch", "streaming"):
        result = run_pipeline(load_spec(_spec(tmp_path, mode)))
        assert result.success, result.errors
        results[mode] = result
        assert result.input_records == rows
        assert result.output_records + result.rejected_records == rows  # conservation
    for name in ("out.csv", "rejected.csv"):
        batch = (tmp_path / "out_batch" / name).read_bytes()
        assert (tmp_path / "out_streaming" / name).read_bytes() == batch, name
    with (tmp_path / "out_streaming" / "rejected.csv").open(newline="") as handle:
        rejected = list(csv.DictReader(handle))
    codes = [json.loads(r["_errors"])[0]["code"] for r in rejected]
    assert codes.count("malformed_row") == 2
    failing = sum(1 for i in range(1, rows + 1) if i not in (short, long) and i * 7 % 300 > 200)
    assert codes.count("small") == failing
    assert results["streaming"].rejected_records == failing + 2


def test_an_input_changed_between_the_two_passes_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.execution import streaming

    source = tmp_path / "in.csv"
    source.write_bytes(_claims(49, 0, 0))
    second_pass = streaming._original_rows

    def changed_first(*args: Any) -> Any:
        # Another writer replaces a value between the run's read and its quarantine pass.
        source.write_bytes(source.read_bytes().replace(b"\n7,49\n", b"\n7,48\n"))
        return second_pass(*args)

    monkeypatch.setattr(streaming, "_original_rows", changed_first)
    result = run_pipeline(load_spec(_spec(tmp_path, "streaming")))
    assert not result.success
    (error,) = result.errors
    assert error["code"] == "InputError"
    assert "the input changed while the run was reading it" in error["message"]
    assert not (tmp_path / "out_streaming" / "out.csv").exists()
    assert not (tmp_path / "out_streaming" / "rejected.csv").exists()


def _stops_as_changed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    change: Callable[[Path, Callable[..., Any], tuple[Any, ...]], Any],
) -> None:
    """Run the spec with ``change(source, mode's run, its args)`` in place of the mode's
    run: the run must stop with the changed input as its cause, publishing nothing."""
    from pipeline import runner

    source = tmp_path / "in.csv"
    source.write_bytes(_claims(49, 0, 0))
    run = {"batch": runner.run_batch, "streaming": runner.run_streaming}[mode]
    monkeypatch.setattr(
        runner,
        f"run_{mode}",
        lambda *args, **kwargs: change(source, functools.partial(run, **kwargs), args),
    )
    result = run_pipeline(load_spec(_spec(tmp_path, mode)))
    assert not result.success
    (error,) = result.errors
    assert error["code"] == "InputError"
    assert "the input changed while the run was reading it" in error["message"]
    assert not (tmp_path / f"out_{mode}" / "out.csv").exists()


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_an_input_rewritten_during_the_run_is_not_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    def then_rewritten(source: Path, run: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        done = run(*args)
        # Same rows, one value changed, after the run read and hashed the file.
        source.write_bytes(source.read_bytes().replace(b"\n7,49\n", b"\n7,48\n"))
        return done

    _stops_as_changed(tmp_path, monkeypatch, mode, then_rewritten)


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_an_input_cut_short_under_the_reader_is_reported_as_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Truncated in place mid-read, the file failed in Polars' words ("failed to fill
    whole buffer"), which the run reported as a write error with a disk-space hint."""

    def cut_under_the_reader(source: Path, _run: Callable[..., Any], _args: Any) -> Any:
        with source.open("r+b") as handle:
            handle.truncate(source.stat().st_size // 2)
        raise OSError("failed to fill whole buffer")  # what the reader then says

    _stops_as_changed(tmp_path, monkeypatch, mode, cut_under_the_reader)


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_a_same_size_rewrite_with_its_modification_time_put_back_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Found by review: (inode, size, mtime) missed a rewrite in place whose mtime was
    restored (os.utime, touch -r, rsync -t); nothing outside the kernel sets ctime."""
    import os
    import time

    def rewritten_in_place(source: Path, run: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        done = run(*args)
        before = source.stat()
        time.sleep(0.01)  # a change time the clock can tell apart
        with source.open("r+b") as handle:  # same inode, same size, one value changed
            data = handle.read()
            handle.seek(0)
            handle.write(data.replace(b"\n7,49\n", b"\n7,48\n"))
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
        return done

    _stops_as_changed(tmp_path, monkeypatch, mode, rewritten_in_place)
