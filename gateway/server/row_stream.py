"""A query result as a stream of encoded DataRow messages, taken in pieces of any number of rows.

Batches are encoded whole (data_rows.py). While the connection sends one
batch's messages, two worker threads already encode the next two: Arrow's
kernels, numpy and the socket release the GIL, so encoding and sending
run on both cores. At most three encoded batches exist at once, so memory
stays bounded whatever the result's size.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from gateway.server.data_rows import EncodedRows, data_rows
from gateway.server.pgtypes import PgType


class RowStream:
    """The DataRow messages of a result's batches, in order."""

    def __init__(self, batches: Iterator[pa.RecordBatch], kinds: Sequence[PgType], codes: Sequence[int],
                 time_zone: str, *, prefetch: bool = True) -> None:
        """``prefetch`` False encodes only on demand: for a portal that stays open between Execute
        messages, whose session may run other statements on the same DuckDB connection meanwhile."""
        self._batches = iter(batches)
        self._kinds = list(kinds)
        self._codes = list(codes)
        self._time_zone = time_zone
        self._prefetch = prefetch
        self._current: EncodedRows | None = None
        self._position = 0
        self._pending: deque[Future[EncodedRows]] = deque()
        self._worker: ThreadPoolExecutor | None = None
        self._exhausted = False

    def take(self, limit: int = 0) -> tuple[memoryview, int] | None:
        """Return the messages of up to ``limit`` rows (0: the rest of the current batch) and their count.

        Returns None once every row has been taken.
        """
        while self._current is None or self._position >= self._current.count:
            self._current = self._advance()
            self._position = 0
            if self._current is None:
                return None
        start = self._position
        stop = self._current.count if limit <= 0 else min(self._current.count, start + limit)
        self._position = stop
        return self._current.rows(start, stop), stop - start

    def close(self) -> None:
        """Stop the worker threads; rows not taken are dropped."""
        self._exhausted = True
        for future in self._pending:
            future.cancel()
        self._pending.clear()
        if self._worker is not None:
            self._worker.shutdown(wait=True, cancel_futures=True)
            self._worker = None

    def _advance(self) -> EncodedRows | None:
        if self._pending:
            encoded = self._pending.popleft().result()
        else:
            batch = self._next_batch()
            if batch is None:
                self.close()
                return None
            encoded = data_rows(batch, self._kinds, self._codes, self._time_zone)
            if not self._prefetch or encoded.count < _PREFETCH_ROWS:
                return encoded  # small results never start a thread
        self._fill()
        return encoded

    def _fill(self) -> None:
        """Hand the next batches to the workers, so that they are encoded while this one is sent."""
        if self._worker is None:
            self._worker = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="lakegate-rows")
        while len(self._pending) < _WORKERS:
            batch = self._next_batch()
            if batch is None:
                return
            self._pending.append(self._worker.submit(data_rows, batch, self._kinds, self._codes, self._time_zone))

    def _next_batch(self) -> pa.RecordBatch | None:
        if self._exhausted:
            return None
        batch = next(self._batches, None)
        if batch is None:
            self._exhausted = True
        return batch


#: A first batch with at least this many rows starts the workers that encode ahead.
_PREFETCH_ROWS = 10_000
#: Batches encoded at once, ahead of the one being sent: one per core of the 2-core target machine.
_WORKERS = 2
