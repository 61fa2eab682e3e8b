"""The lineage benchmark runs (at a tenth of its size) and meets its goal."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_lineage.py"


def test_bench_lineage_small(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_lineage", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    store = tmp_path / "bench.db"
    args = ["--datasets", "10000", "--edges", "20000", "--queries", "5", "--store", str(store)]
    assert bench.main([*args, "--json"]) == 0
