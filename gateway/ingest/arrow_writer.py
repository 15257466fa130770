"""The buffered writer: every write of the gateway goes through it on its way to Parquet.

Rows and Arrow tables are buffered per ``(database, measurement)``. A write
is first appended to the write-ahead log, then added to the buffer, and
only then acknowledged. A background thread flushes a buffer when it
reaches a row count, a byte size or an age. CHECKPOINT and shutdown flush
every buffer. Each flush writes one time-sorted Parquet file per hour. The
files of one buffer generation are named after its WAL segment. So
replaying a segment after a crash rewrites the same paths instead of
adding duplicates, and a query can tell the files of a buffer that is
being flushed from the older ones.

Memory is bounded: when the buffered and flushing bytes of all
measurements pass ``memory`` bytes, writers wait for flushes to finish.

Queries read buffered rows through :meth:`ArrowWriter.snapshot`, so rows
are visible from the moment they are acknowledged.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from gateway.errors import DatatypeMismatch, InvalidName, NotNullViolation, StorageError
from gateway.ingest.column_kinds import (
    TIME_TYPE,
    conform,
    kind_of_arrow,
    kind_of_duckdb,
    merged_kind,
)
from gateway.ingest.parquet_files import write_hour_files
from gateway.ingest.row_columns import TIME, RowTable, rows_to_table
from gateway.ingest.wal import Segment, WriteAheadLog, new_segment_id
from gateway.storage import layout
from gateway.storage.backend import Backend

logger = logging.getLogger(__name__)

#: Returns the stored columns of (database, measurement) as {name: DuckDB type}; empty when it has none.
StoredColumns = Callable[[str, str], dict[str, str]]

#: How long the stored columns of a measurement are reused before storage is listed again.
STORED_COLUMNS_SECONDS = 30.0
_RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
#: A buffer of this many separate writes is concatenated into one table.
COMPACT_PARTS = 256


@dataclass(frozen=True)
class FlushLimits:
    """When a buffer is flushed, and how much memory all buffers may hold."""

    rows: int = 100_000
    bytes: int = 64 * 1024 * 1024
    age: float = 5.0
    memory: int = 512 * 1024 * 1024


@dataclass
class _Buffer:
    database: str
    measurement: str
    segment_id: str
    segment: Segment | None
    started: float
    kinds: dict[str, str] = field(default_factory=dict)
    tables: list[pa.Table] = field(default_factory=list)
    rows: int = 0
    nbytes: int = 0
    attempts: int = 0
    busy: bool = False

    def table(self) -> pa.Table:
        return pa.concat_tables(self.tables, promote_options="default")


@dataclass
class BufferedRows:
    """Rows of one measurement not yet visible in listings, and the ids of their buffers."""

    parts: tuple[pa.Table, ...]
    segment_ids: frozenset[str]

    @functools.cached_property
    def table(self) -> pa.Table | None:
        """Return the rows as one table (None when there are none)."""
        if not self.parts:
            return None
        return pa.concat_tables(self.parts, promote_options="permissive")

    @functools.cached_property
    def schema(self) -> pa.Schema | None:
        """Return the columns of the rows without concatenating them."""
        if not self.parts:
            return None
        return pa.unify_schemas([part.schema for part in self.parts], promote_options="permissive")

    def owns(self, path: str) -> bool:
        """Tell whether a listed file was written by one of these buffers (its rows are in ``table``)."""
        return any(path.endswith(f"_{segment_id}.parquet") for segment_id in self.segment_ids)


@dataclass
class WriterStats:
    """Counters of what the writer has flushed since it started."""

    rows_written: int = 0
    files_written: int = 0
    flushes: int = 0
    failed_flushes: int = 0


class ArrowWriter:
    """Buffers writes per measurement, logs them ahead, and flushes them to hour-partitioned Parquet."""

    def __init__(self, backend: Backend, stored_columns: StoredColumns, *, wal: WriteAheadLog | None = None,
                 limits: FlushLimits | None = None, on_flush: Callable[[], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.backend = backend
        self.stored_columns = stored_columns
        self.wal = wal
        self.limits = limits or FlushLimits()
        self.on_flush = on_flush or (lambda: None)
        self.clock = clock
        self.stats = WriterStats()
        self._buffers: dict[tuple[str, str], _Buffer] = {}
        self._flushing: list[_Buffer] = []
        self._memory = 0
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stored: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
        self._closed = False
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> None:
        """Start the background thread that flushes full and aged buffers."""
        self._thread = threading.Thread(target=self._flush_loop, name="lakegate-flush", daemon=True)
        self._thread.start()

    def replay(self) -> int:
        """Store the rows of WAL segments a previous process left behind; return how many rows."""
        if self.wal is None:
            return 0
        rows = 0
        for segment in self.wal.recover():
            if segment.torn:
                logger.warning("WAL segment %s ends in a partial record (never acknowledged); it is dropped",
                               segment.path.name)
            if segment.tables:
                table = pa.concat_tables(segment.tables, promote_options="permissive")
                table = _time_first(table)
                write_hour_files(self.backend, segment.database, segment.measurement, table,
                                 file_id=segment.segment_id)
                rows += table.num_rows
            self.wal.remove(segment.path)
            logger.info("replayed WAL segment %s: %d rows of %s.%s", segment.path.name,
                        sum(table.num_rows for table in segment.tables), segment.database, segment.measurement)
        if rows:
            self.on_flush()
        return rows

    def close(self) -> None:
        """Flush every buffer and stop; a flush that fails leaves its rows in the WAL for the next start."""
        try:
            self.flush_all()
        finally:
            with self._lock:
                self._closed = True
                self._changed.notify_all()
            if self._thread is not None:
                self._thread.join(timeout=30)
            if self.wal is not None:
                self.wal.close()

    # Writing

    def write_rows(self, database: str, measurement: str, rows: Iterable[Mapping[str, object]]) -> RowTable:
        """Buffer rows given as mappings; return the accepted table and the rejected rows by index."""
        arrival = int(time.time() * 1_000_000)
        self._load_stored(database, measurement)
        with self._lock:
            kinds = dict(self._kinds(database, measurement))
        converted = rows_to_table(measurement, rows, kinds, arrival)
        if converted.table is not None:
            self.write_table(database, measurement, converted.table)
        return converted

    def write_table(self, database: str, measurement: str, table: pa.Table | pa.RecordBatch, *,
                    defer_sync: bool = False) -> int:
        """Buffer an Arrow table or record batch with a non-null ``time`` column; return its row count.

        Raises DatatypeMismatch, naming the column, when a column's type
        conflicts with the measurement's, before anything is stored. With
        ``defer_sync`` the WAL is not fsynced yet: the caller runs
        :meth:`sync_log` before it acknowledges the write, so that several
        writes share one fsync.
        """
        layout.validate_name(database, "database")
        layout.validate_name(measurement, "measurement")
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        table = _time_first(_checked_time(table))
        if table.num_rows == 0:
            return 0
        size = table.nbytes
        self._load_stored(database, measurement)
        with self._lock:
            self._wait_for_memory(size)
            kinds = self._merged_kinds(database, measurement, table)
            table = conform(table, kinds)
            buffer = self._buffers.get((database, measurement))
            if buffer is None:
                buffer = self._new_buffer(database, measurement)
                self._buffers[(database, measurement)] = buffer
            if self.wal is not None and buffer.segment is not None:
                self.wal.append(buffer.segment, table, defer_sync=defer_sync)
            if any(buffer.kinds.get(name, kind) != kind for name, kind in kinds.items()):
                buffer.tables = [conform(part, kinds) for part in buffer.tables]  # a column became float
            buffer.kinds = kinds
            buffer.tables.append(table)
            if len(buffer.tables) >= COMPACT_PARTS:
                # Many small writes (one row per INSERT) would make every read concatenate thousands of parts.
                buffer.tables = [buffer.table().combine_chunks()]
            buffer.rows += table.num_rows
            buffer.nbytes += size
            self._memory += size
            if buffer.rows >= self.limits.rows or buffer.nbytes >= self.limits.bytes:
                self._rotate(buffer)
        return table.num_rows

    def sync_log(self) -> None:
        """Fsync the WAL appends of deferred writes; raise StorageError if that fails."""
        if self.wal is None:
            return
        try:
            self.wal.sync_dirty()
        except OSError as error:
            raise StorageError(f"could not fsync the write-ahead log: {error}") from error

    def forget(self, database: str, measurement: str | None = None) -> None:
        """Drop the cached stored columns after files were deleted or rewritten outside the writer."""
        with self._lock:
            for key in list(self._stored):
                if key[0] == database and measurement in (None, key[1]):
                    del self._stored[key]

    def buffered_kinds(self, database: str, measurement: str) -> dict[str, str] | None:
        """Return the column kinds of the live buffer of ``database.measurement``, None if it has none."""
        with self._lock:
            buffer = self._buffers.get((database, measurement))
            return dict(buffer.kinds) if buffer is not None else None

    def column_kinds(self, database: str, measurement: str) -> dict[str, str]:
        """Return the established kind of each column: stored files merged with buffered rows."""
        self._load_stored(database, measurement)
        with self._lock:
            return dict(self._kinds(database, measurement))

    # Reading

    def snapshot(self, database: str, measurement: str) -> BufferedRows:
        """Return the rows of ``database.measurement`` that are buffered or being flushed."""
        with self._lock:
            buffers = [buffer for buffer in (*self._flushing, self._buffers.get((database, measurement)))
                       if buffer is not None and buffer.database == database and buffer.measurement == measurement]
            parts = tuple(part for buffer in buffers for part in buffer.tables)
            ids = frozenset(buffer.segment_id for buffer in buffers)
        return BufferedRows(parts, ids)

    def databases(self) -> set[str]:
        """Return the databases that have buffered rows."""
        with self._lock:
            return {buffer.database for buffer in (*self._flushing, *self._buffers.values())}

    def measurements(self, database: str) -> set[str]:
        """Return the measurements of ``database`` that have buffered rows."""
        with self._lock:
            return {buffer.measurement for buffer in (*self._flushing, *self._buffers.values())
                    if buffer.database == database}

    # Flushing

    def flush_all(self, timeout: float | None = None) -> None:
        """Flush every buffer now and wait until all are in Parquet; raise StorageError if one fails."""
        with self._lock:
            for buffer in list(self._buffers.values()):
                self._rotate(buffer)
            pending = list(self._flushing)
        for buffer in pending:
            self._flush(buffer)
        self._wait_until_flushed(pending, timeout)

    def flush_measurement(self, database: str, measurement: str, timeout: float | None = None) -> frozenset[str]:
        """Flush the buffered rows of one measurement and wait until they are in Parquet.

        Rows written after the call begins go to a new buffer and are not
        waited for. Returns the segment ids of the flushed buffers, which
        name their files. Raises StorageError if a flush fails or the
        timeout passes; the rows then stay in the write-ahead log.
        """
        with self._lock:
            current = self._buffers.get((database, measurement))
            if current is not None:
                self._rotate(current)
            pending = [buffer for buffer in self._flushing
                       if buffer.database == database and buffer.measurement == measurement]
        for buffer in pending:
            self._flush(buffer)
        self._wait_until_flushed(pending, timeout)
        return frozenset(buffer.segment_id for buffer in pending)

    def _wait_until_flushed(self, pending: list[_Buffer], timeout: float | None) -> None:
        deadline = None if timeout is None else self.clock() + timeout
        with self._lock:
            while any(buffer in self._flushing for buffer in pending):
                failed = [buffer for buffer in pending if buffer in self._flushing and buffer.attempts]
                if failed:
                    raise StorageError(f"{len(failed)} buffers could not be written to storage; their rows "
                                       "stay in the write-ahead log and are retried")
                remaining = None if deadline is None else deadline - self.clock()
                if remaining is not None and remaining <= 0:
                    raise StorageError("timed out waiting for buffered rows to reach storage")
                self._changed.wait(timeout=0.5 if remaining is None else min(0.5, remaining))

    def _flush_loop(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                now = self.clock()
                for buffer in list(self._buffers.values()):
                    if now - buffer.started >= self.limits.age:
                        self._rotate(buffer)
                due = [buffer for buffer in self._flushing if self._due(buffer, now)]
                if not due:
                    self._changed.wait(timeout=min(0.25, self.limits.age))
                    continue
            for buffer in due:
                self._flush(buffer)

    def _due(self, buffer: _Buffer, now: float) -> bool:
        if buffer.busy:
            return False
        if buffer.attempts == 0:
            return True
        delay = _RETRY_SECONDS[min(buffer.attempts, len(_RETRY_SECONDS)) - 1]
        return now - buffer.started >= delay

    def _flush(self, buffer: _Buffer) -> None:
        with self._lock:
            if buffer not in self._flushing or buffer.busy:
                return
            buffer.busy = True
        try:
            table = buffer.table()
            paths = write_hour_files(self.backend, buffer.database, buffer.measurement, table,
                                     file_id=buffer.segment_id)
        except Exception as error:  # noqa: BLE001 (any storage failure keeps the rows for a retry)
            with self._lock:
                buffer.busy = False
                buffer.attempts += 1
                buffer.started = self.clock()
                self.stats.failed_flushes += 1
                self._changed.notify_all()
            logger.error("flushing %d rows of %s.%s failed (attempt %d), retrying: %s", buffer.rows,
                         buffer.database, buffer.measurement, buffer.attempts, error)
            return
        if buffer.segment is not None and self.wal is not None:
            self.wal.remove(buffer.segment.path)
        with self._lock:
            self._flushing.remove(buffer)
            self._memory -= buffer.nbytes
            cached = self._stored.get((buffer.database, buffer.measurement))
            if cached is not None:
                cached[1].update(buffer.kinds)
            self.stats.rows_written += buffer.rows
            self.stats.files_written += len(paths)
            self.stats.flushes += 1
            self._changed.notify_all()
        logger.debug("flushed %d rows of %s.%s into %d files", buffer.rows, buffer.database,
                     buffer.measurement, len(paths))
        self.on_flush()

    # Under self._lock

    def _new_buffer(self, database: str, measurement: str) -> _Buffer:
        if self.wal is not None:
            segment = self.wal.open_segment(database, measurement)
            return _Buffer(database, measurement, segment.segment_id, segment, self.clock())
        return _Buffer(database, measurement, new_segment_id(), None, self.clock())

    def _rotate(self, buffer: _Buffer) -> None:
        """Move a buffer to the flush queue; the next write starts a new one."""
        if self._buffers.get((buffer.database, buffer.measurement)) is buffer:
            del self._buffers[(buffer.database, buffer.measurement)]
        if buffer.segment is not None and self.wal is not None:
            self.wal.close_segment(buffer.segment)
        self._flushing.append(buffer)
        self._changed.notify_all()

    def _wait_for_memory(self, size: int) -> None:
        waited = False
        while self._memory > 0 and self._memory + size > self.limits.memory and not self._closed:
            if not waited:
                logger.info("write waits: %d bytes buffered reach the --buffer-memory limit", self._memory)
                waited = True
                for buffer in list(self._buffers.values()):
                    self._rotate(buffer)
            self._changed.wait(timeout=1.0)

    def _kinds(self, database: str, measurement: str) -> dict[str, str]:
        buffer = self._buffers.get((database, measurement))
        if buffer is not None:
            return buffer.kinds
        kinds = dict(self._stored_kinds(database, measurement))
        for pending in self._flushing:
            if pending.database == database and pending.measurement == measurement:
                kinds.update(pending.kinds)
        return kinds

    def _stored_kinds(self, database: str, measurement: str) -> dict[str, str]:
        cached = self._stored.get((database, measurement))
        return cached[1] if cached is not None else {}

    def _load_stored(self, database: str, measurement: str) -> None:
        """Read the stored columns into the cache unless it is fresh; call without holding the lock.

        Listing storage is slow and calls back into the writer's listings,
        so it never runs under the lock.
        """
        with self._lock:
            cached = self._stored.get((database, measurement))
            if cached is not None and self.clock() - cached[0] < STORED_COLUMNS_SECONDS:
                return
        kinds = {name: kind_of_duckdb(type_name)
                 for name, type_name in self.stored_columns(database, measurement).items() if name != TIME}
        with self._lock:
            self._stored[(database, measurement)] = (self.clock(), kinds)

    def _merged_kinds(self, database: str, measurement: str, table: pa.Table) -> dict[str, str]:
        kinds = dict(self._kinds(database, measurement))
        for name, column in zip(table.column_names, table.columns, strict=True):
            if name == TIME:
                continue
            if name.lower() == TIME:
                raise InvalidName(f'column "{name}" of measurement "{measurement}" collides with "time"')
            kinds[name] = merged_kind(measurement, name, kinds.get(name), kind_of_arrow(column.type))
        return kinds


def _checked_time(table: pa.Table) -> pa.Table:
    if TIME not in table.column_names:
        raise NotNullViolation('null value in column "time" violates not-null constraint')
    column = table[TIME]
    if column.null_count:
        raise NotNullViolation('null value in column "time" violates not-null constraint')
    if column.type != TIME_TYPE:
        if not pa.types.is_timestamp(column.type):
            raise DatatypeMismatch(f"column \"time\" must be a timestamp, not {column.type}")
        column = pc.cast(column, TIME_TYPE)
        table = table.set_column(table.column_names.index(TIME), TIME, column)
    return table


def _time_first(table: pa.Table) -> pa.Table:
    names = [TIME, *(name for name in table.column_names if name != TIME)]
    return table.select(names)
