"""The curated public API: complete, sorted, importable."""

from __future__ import annotations

import pipeline


def test_all_is_sorted_and_importable() -> None:
    assert pipeline.__all__ == sorted(pipeline.__all__)
    for name in pipeline.__all__:
        assert hasattr(pipeline, name), name


def test_seed_names_are_public() -> None:
    for name in (
        "run_pipeline",
        "PipelineConfig",
        "PipelineResult",
        "AuditLogger",
        "LineageTracker",
    ):
        assert name in pipeline.__all__
