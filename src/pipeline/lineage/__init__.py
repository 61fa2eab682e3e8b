"""Lineage: where data came from, what depends on it, and OpenLineage events about it."""

from pipeline.lineage.models import DatasetRef, LineageRecord, RunLineage
from pipeline.lineage.tracker import LineageTracker

__all__ = ["DatasetRef", "LineageRecord", "LineageTracker", "RunLineage"]
