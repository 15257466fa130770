"""The files a retention run removes whole or in part, and their row counts read without scanning."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from gateway.engine import Engine
from gateway.sql.commands.delete_sql import file_rows_query
from gateway.sql.duckdb_errors import translate
from gateway.sql.time_bounds import TIME_COLUMN
from gateway.storage import layout
from gateway.storage.backend import ObjectInfo


@dataclass
class FileSplit:
    """Files of partitions older than a cutoff: those entirely before it, and those that straddle it."""

    whole: list[ObjectInfo] = field(default_factory=list)
    #: Start of each partition whose files are all in ``whole``.
    whole_partitions: set[datetime] = field(default_factory=set)
    straddling: list[ObjectInfo] = field(default_factory=list)
    straddling_partitions: set[datetime] = field(default_factory=set)

    @property
    def straddling_start(self) -> datetime:
        """Return the start of the earliest straddling partition. Call it only when ``straddling`` is not empty."""
        return min(self.straddling_partitions)


def split_at_cutoff(files: list[ObjectInfo], database: str, measurement: str, cutoff: datetime) -> FileSplit:
    """Sort files into those whose partition ends at or before ``cutoff`` and those whose partition contains it.

    Files of partitions that start at or after the cutoff are left out.
    """
    prefix = layout.measurement_prefix(database, measurement)
    split = FileSplit()
    for info in files:
        partition = layout.partition_of(info.path[len(prefix):])
        if partition is None:
            continue
        if partition.end <= cutoff:
            split.whole.append(info)
            split.whole_partitions.add(partition.start)
        elif partition.start < cutoff:
            split.straddling.append(info)
            split.straddling_partitions.add(partition.start)
    return split


def footer_rows(engine: Engine, paths: list[str]) -> int:
    """Return the number of rows of the Parquet files at ``paths``, read from their footers only."""
    if not paths:
        return 0
    uris = [engine.backend.uri(path) for path in paths]
    cursor = engine.cursor()
    try:
        counts = cursor.execute(file_rows_query(uris)).fetchall()
    except duckdb.Error as error:
        raise translate(error) from error
    finally:
        cursor.close()
    return sum(int(count) for _, count in counts)


def buffered_rows_before(table: pa.Table | None, cutoff: datetime) -> int:
    """Return how many buffered rows have a ``time`` before ``cutoff``."""
    if table is None or table.num_rows == 0 or TIME_COLUMN not in table.column_names:
        return 0
    times = table.column(TIME_COLUMN)
    older = pc.less(times, pa.scalar(cutoff, type=times.type))
    return int(pc.sum(older.cast(pa.int64())).as_py() or 0)
