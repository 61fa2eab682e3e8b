"""A file whose name holds glob characters is that file, never a pattern.

Polars expands ``[1]``, ``*`` and ``?`` in a path by default: given ``in[1].csv``
it read ``in1.csv`` instead, while the run hashed (and the shape check counted)
``in[1].csv``. With two files of the same shape the run published the other
file's rows under this file's hash.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from pipeline import PipelineConfig, run_pipeline

OURS = pl.DataFrame({"id": ["1", "2"], "code": ["a", "b"]})
DECOY = pl.DataFrame({"id": ["7", "8"], "code": ["9", "9"]})  # same shape, other values


def _write(frame: pl.DataFrame, path: Path) -> None:
    {".csv": frame.write_csv, ".parquet": frame.write_parquet, ".jsonl": frame.write_ndjson}[
        path.suffix
    ](path)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
@pytest.mark.parametrize("out_suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_a_bracketed_name_reads_that_file_and_no_other(
    tmp_path: Path, suffix: str, out_suffix: str, mode: str
) -> None:
    source = tmp_path / f"in[1]{suffix}"
    _write(OURS, source)
    _write(DECOY, tmp_path / f"in1{suffix}")
    out = tmp_path / f"out{out_suffix}"
    result = run_pipeline(
        PipelineConfig(
            input_path=source,
            output_path=out,
            audit_path=tmp_path / "audit.jsonl",
            mode=mode,  # type: ignore[arg-type]
        )
    )
    assert result.success, result.errors
    assert result.input_hash == hashlib.sha256(source.read_bytes()).hexdigest()
    written = pl.read_csv(out) if out_suffix == ".csv" else pl.read_parquet(out)
    # (a Parquet source keeps its text types; a CSV's ids are proven integers)
    assert written.select(pl.all().cast(pl.String)).rows() == [("1", "a"), ("2", "b")]
