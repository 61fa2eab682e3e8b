"""JSON has no NaN or infinity: a JSON Lines output refuses them, nested ones too.

Top-level float columns were counted; a list or struct of floats (a python step's
output) went to Polars' writer, which printed NaN and infinity as ``null``: the
values were lost without a word (noticed in session 10, fixed in session 11).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import run_pipeline
from pipeline.spec import PipelineSpec

STEPS = """
import polars as pl

def nested(lf):
    return lf.with_columns(
        pl.concat_list(pl.col("v").cast(pl.Float64), pl.lit(1.0)).alias("pair"),
        pl.struct(pl.col("v").cast(pl.Float64).alias("x"), pl.lit("k").alias("tag")).alias("s"),
    ).drop("v")
"""


def _run(tmp: Path, values: list[str], mode: str) -> tuple[bool, str, Path]:
    source = tmp / "in.csv"
    source.write_text("id,v\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values, 1)))
    out = tmp / mode / "out.jsonl"
    spec = PipelineSpec.model_validate(
        {
            "version": 1,
            "name": "nested",
            "mode": mode,
            "source": {"uri": str(source)},
            "steps": [{"kind": "python", "python": "nested_floats:nested"}],
            "sink": {"uri": str(out)},
            "audit": {"path": str(tmp / "audit.jsonl")},
        }
    )
    result = run_pipeline(spec.to_config(as_of="2024-01-01T00:00:00+00:00"))
    message = result.errors[0]["message"] if result.errors else ""
    return result.success, message, out


@pytest.fixture
def steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nested_floats.py").write_text(STEPS)
    monkeypatch.syspath_prepend(str(tmp_path))


@pytest.mark.usefixtures("steps")
@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_nan_and_infinity_inside_lists_and_structs_are_refused(tmp_path: Path, mode: str) -> None:
    ok, message, out = _run(tmp_path, ["1.5", "NaN", "inf", "2.5"], mode)
    assert not ok
    assert "JSON has no NaN or infinity" in message
    assert "'pair' (2)" in message and "'s' (2)" in message
    assert not out.exists()


@pytest.mark.usefixtures("steps")
@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_finite_nested_floats_are_written(tmp_path: Path, mode: str) -> None:
    ok, message, out = _run(tmp_path, ["1.5", "", "2.5"], mode)
    assert ok, message
    assert out.read_text().splitlines()[0] == '{"id":1,"pair":[1.5,1.0],"s":{"x":1.5,"tag":"k"}}'
