"""Result batches streamed from a session's DuckDB connection, kept whole when it runs another statement.

DuckDB 1.5 ends a connection's pending result when the connection executes
the next statement, and a RecordBatchReader over that result then stops
early without an error, so the rows not yet read are lost silently. A
client may leave a portal suspended (Execute with a row limit, as pgjdbc
does with a fetch size) and run other statements before reading the rest.
So before the session's connection runs anything else, every result still
streaming from it reads its remaining rows into memory.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Iterator

import duckdb
import pyarrow as pa

from gateway.errors import GatewayError
from gateway.sql.duckdb_errors import from_reader_error, translate

logger = logging.getLogger(__name__)


class CursorBatches:
    """An iterator of record batches over a reader that :meth:`detach` can move into memory."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self._reader: pa.RecordBatchReader | None = reader
        self._held: deque[pa.RecordBatch] = deque()
        self._error: GatewayError | None = None
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        with self._lock:
            if self._held:
                return self._held.popleft()
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._reader is None:
                raise StopIteration
            try:
                return _read_next(self._reader)
            except (StopIteration, GatewayError):
                # A failed result is over too: the session's next statement must not read it again.
                self._reader = None
                raise

    def hold(self, batch: pa.RecordBatch) -> None:
        """Return ``batch`` before any batch still unread from the reader."""
        with self._lock:
            self._held.append(batch)

    @property
    def streaming(self) -> bool:
        """Whether batches are still read from DuckDB rather than from memory or finished."""
        return self._reader is not None

    def detach(self) -> int:
        """Read the remaining batches into memory; return how many rows that held."""
        with self._lock:
            if self._reader is None:
                return 0
            reader, self._reader = self._reader, None
            rows = 0
            while True:
                try:
                    batch = _read_next(reader)
                except StopIteration:
                    return rows
                except GatewayError as error:
                    # Raised to the portal's owner after the rows read before it.
                    self._error = error
                    return rows
                self._held.append(batch)
                rows += batch.num_rows

    def close(self) -> None:
        """Drop what is left, read or unread."""
        with self._lock:
            self._reader = None
            self._held.clear()


class CursorStreams:
    """The results still streaming from one DuckDB connection."""

    def __init__(self) -> None:
        self._open: weakref.WeakSet[CursorBatches] = weakref.WeakSet()

    def track(self, reader: pa.RecordBatchReader, first: pa.RecordBatch | None = None) -> CursorBatches:
        """Return the reader's batches, after ``first`` if it was read already, registered for :meth:`detach_all`."""
        batches = CursorBatches(reader)
        if first is not None:
            batches.hold(first)
        self._open.add(batches)
        return batches

    def detach_all(self) -> None:
        """Read every result still streaming into memory, before the connection runs another statement."""
        for batches in list(self._open):
            if batches.streaming:
                rows = batches.detach()
                logger.debug("kept %d unread rows of a suspended result in memory", rows)
            self._open.discard(batches)


def _read_next(reader: pa.RecordBatchReader) -> pa.RecordBatch:
    """Read one batch, translating DuckDB errors raised while streaming; raise StopIteration at the end."""
    try:
        return reader.read_next_batch()
    except StopIteration:
        raise
    except (duckdb.Error, pa.ArrowException, OSError) as error:
        # DuckDB's errors reach an Arrow reader's caller as OSError text.
        raise translate(from_reader_error(error)) from error
