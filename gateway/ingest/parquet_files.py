"""Writing Arrow tables as hour-partitioned, time-sorted Parquet files.

The buffered writer (arrow_writer.py) flushes through here, and so do the
WAL replay and the demo data.
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gateway.storage import layout
from gateway.storage.backend import Backend

logger = logging.getLogger(__name__)

TIME_TYPE = pa.timestamp("us", tz="UTC")
MICROS_PER_HOUR = 3_600_000_000


def write_hour_files(backend: Backend, database: str, measurement: str, table: pa.Table,
                     file_id: str | None = None) -> list[str]:
    """Write ``table`` as one Parquet file per UTC hour of its ``time`` column.

    The table must have a non-null ``time`` column of type timestamp[us, UTC].
    Each file contains the rows of one hour, sorted by time, zstd-compressed,
    with row-group statistics, named by ``file_id`` (a fresh id if None).
    Returns the written paths in time order.
    """
    if table.num_rows == 0:
        return []
    table = table.append_column("__hour", _floor_hours(table))
    paths = []
    for hour in pc.unique(table["__hour"]).sort().to_pylist():
        part = table.filter(pc.equal(table["__hour"], hour)).drop_columns(["__hour"])
        part = part.sort_by("time")
        start = datetime.fromtimestamp(hour * 3600, UTC)
        path = layout.new_file_path(database, measurement, start, file_id=file_id)
        backend.write(path, parquet_bytes(part))
        paths.append(path)
    logger.debug("wrote %d rows of %s.%s into %d files", table.num_rows, database, measurement, len(paths))
    return paths


def _floor_hours(table: pa.Table) -> pa.Array:
    micros = pc.cast(table["time"], pa.int64())
    # Floor division, so times before 1970 land in the right hour too.
    remainder = pc.subtract(micros, pc.multiply(pc.divide(micros, MICROS_PER_HOUR), MICROS_PER_HOUR))
    adjusted = pc.if_else(pc.less(remainder, 0), pc.subtract(micros, MICROS_PER_HOUR), micros)
    return pc.divide(adjusted, MICROS_PER_HOUR)


def parquet_bytes(table: pa.Table) -> bytes:
    """Serialise a table as Parquet (zstd, statistics on) and return the bytes."""
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=True)
    return sink.getvalue()
