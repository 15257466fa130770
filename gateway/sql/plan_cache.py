"""Rewritten queries kept by statement text, reused while the files they read are unchanged.

Dashboards send the same statement again and again, and parsing,
rewriting and generating it costs several milliseconds of Python per
query. A plan is kept only when the rewrite depended on nothing but the
text, the session and the store's files. So it must read no catalog tables
and no buffered rows, and its time bounds must be plain timestamp literals,
because ``now()`` or a parameter in a bound can differ from run to run.
Before a kept plan is reused, each measurement it reads is resolved and
listed again (from the listing cache). It must give the same stored name,
the same chosen files and the same columns, or the query is rewritten.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import GatewayError
from gateway.sql.lru import LruCache
from gateway.sql.measurements import Column, MeasurementFiles, Measurements
from gateway.sql.time_bounds import TimeRange

#: Statements kept at most; the least recently used goes first.
MAX_PLANS = 512


@dataclass(frozen=True)
class ScanSource:
    """One measurement reference of a rewritten query and what its scan was built from."""

    database: str
    #: The name as the query writes it, resolved case-insensitively to ``stored``.
    written: str
    stored: str
    time_range: TimeRange
    paths: tuple[str, ...]
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class CachedPlan:
    """The DuckDB SQL of a rewritten query and the scans it depends on."""

    sql: str
    sources: tuple[ScanSource, ...]


class PlanCache(LruCache[CachedPlan]):
    """Plans by key (statement text, database, parameter types, session settings), least recently used out."""

    def __init__(self, size: int = MAX_PLANS) -> None:
        super().__init__(size)


def current_scans(plan: CachedPlan, measurements: Measurements) -> list[MeasurementFiles] | None:
    """Return the scans of ``plan`` listed now, or None if any differs from when the plan was kept."""
    scans = []
    for source in plan.sources:
        try:
            stored = measurements.resolve(source.database, source.written, cached=True)
        except GatewayError:
            return None
        if stored != source.stored:
            return None
        files = measurements.files(source.database, stored, source.time_range, cached=True)
        if files.buffered is not None or tuple(info.path for info in files.chosen) != source.paths:
            return None
        if tuple(measurements.columns_of(files)) != source.columns:
            return None
        scans.append(files)
    return scans
