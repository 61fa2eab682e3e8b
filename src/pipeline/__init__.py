"""regulated-data-pipelines: ETL that leaves evidence an auditor can verify."""

from __future__ import annotations

__all__: list[str] = []
