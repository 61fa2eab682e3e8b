"""Executing a prepared run: :mod:`.batch` (in memory) and :mod:`.streaming`
(chunked validation, a spill file and Polars' streaming engine), sharing
:mod:`.common` so both give the same bytes."""
