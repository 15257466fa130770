"""Running continuous queries: on the scheduler, on EXECUTE, and as a backfill over a given range.

A run holds the query's lease (kind ``continuous``), so gateways sharing one
store never run the same query at once. Windows are computed and stored in
groups of ``GROUP_WINDOWS``. After each group is stored and flushed, the
watermark moves to the group's end and the lease is renewed. A run that
fails keeps the watermark of the last stored group, records the error in
the query's document and is retried by the next scheduled check.

Before each group a run reads the query's document again: a query dropped
or replaced meanwhile stops the run, and so does one made inactive, unless
the run is a user's EXECUTE. A cancel request stops an EXECUTE between two
windows. A scheduled run stops after ``SCHEDULED_SECONDS`` and leaves the
remaining windows to the next check, so that one query's long backfill
does not hold up the other queries and retention policies, which share the
scheduler's thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import pyarrow.compute as pc

from gateway.errors import (
    GatewayError,
    LockNotAvailable,
    QueryCanceled,
    UndefinedObject,
)
from gateway.jobs.continuous_execution import (
    WindowResult,
    evaluate_window,
    store_windows,
)
from gateway.jobs.continuous_windows import (
    Window,
    backfill_windows,
    chunks,
    horizon,
    is_due,
    scheduled_windows,
)
from gateway.jobs.error_summary import error_summary
from gateway.meta import lease
from gateway.meta.continuous_queries import KIND, ContinuousQueries, ContinuousQuery
from gateway.sql.time_bounds import TimeRange
from gateway.storage import layout

if TYPE_CHECKING:
    from gateway.runtime import Runtime

logger = logging.getLogger(__name__)

#: Windows computed and stored together, between two watermark updates.
GROUP_WINDOWS = 48
#: A scheduled run of one query stops at the first group boundary after this many seconds.
SCHEDULED_SECONDS = 20.0


class QueryStopped(GatewayError):
    """The query was dropped, replaced or made inactive while it ran; the run stopped."""

    sqlstate = "57014"


@dataclass(frozen=True)
class RunOutcome:
    """Windows processed and rows written by one run, or the counts a dry run would reach."""

    windows: int
    rows: int
    first: datetime | None
    last: datetime | None
    watermark: datetime | None


class ContinuousRunner:
    """Runs the continuous queries stored in a runtime's metadata."""

    def __init__(self, runtime: Runtime) -> None:
        if runtime.meta is None:
            raise ValueError("continuous queries need a runtime with a metadata store")
        self.runtime = runtime
        self.queries = ContinuousQueries(runtime.meta)

    def run_scheduled(self, now: datetime) -> None:
        """Run the due queries: the scheduler's job, which returns nothing."""
        self.run_due(now)

    def run_due(self, now: datetime) -> list[str]:
        """Run each active query that has a complete window to process; return the names of those run.

        A failure is logged and recorded in the query's document; it never
        stops the other queries.
        """
        self.recover_pending(now)
        ran = []
        for query in self.queries.all():
            if not query.active:
                continue
            try:
                if not self._due(query, now):
                    continue
                self.run(query.name, now)
            except LockNotAvailable:
                logger.debug("continuous query %s is running elsewhere; skipped", query.name)
                continue
            except QueryStopped as stopped:
                logger.info("continuous query %s: %s", query.name, stopped.message)
                continue
            except Exception as error:  # noqa: BLE001 (one query must not stop the others)
                logger.warning("continuous query %s failed; it is retried at the next check: %s",
                               query.name, error)
                self._record_error(query, now, error)
            ran.append(query.name)
        return ran

    def recover_pending(self, now: datetime) -> list[str]:
        """Store again the windows of every query whose run stopped while replacing them; return their names.

        ``lakegate serve`` calls this before it accepts connections, and
        each scheduled check before its runs, so the windows emptied by a
        crash between deleting their old rows and flushing the new ones
        are filled again. A failure is logged, and the windows stay
        pending for the next check.
        """
        recovered = []
        for query in self.queries.all():
            if query.pending_start is None or query.pending_end is None:
                continue
            try:
                self.backfill(query.name, query.pending_start, query.pending_end, now)
            except LockNotAvailable:
                logger.debug("continuous query %s is running elsewhere; its pending windows wait", query.name)
                continue
            except Exception as error:  # noqa: BLE001 (one query must not stop the others)
                logger.warning("continuous query %s: storing its pending windows %s to %s failed: %s",
                               query.name, query.pending_start, query.pending_end, error)
                continue
            logger.info("continuous query %s: stored again the windows from %s to %s that a stopped run "
                        "left pending", query.name, query.pending_start, query.pending_end)
            recovered.append(query.name)
        return recovered

    def run(self, name: str, now: datetime, *, dry_run: bool = False,
            cancelled: Callable[[], bool] | None = None) -> RunOutcome:
        """Process the windows due at ``now`` (new complete windows plus the FOR look-back).

        With ``cancelled`` (a user's EXECUTE) the run goes on until every
        window is done or ``cancelled()`` turns true. Without it (the
        scheduler) it also stops after ``SCHEDULED_SECONDS``, or when the
        query is made inactive.
        """
        query = self._require(name)
        windows = scheduled_windows(query, now, self._first_data(query))
        return self._process(query, windows, now, dry_run=dry_run, backfill=False, cancelled=cancelled)

    def backfill(self, name: str, start: datetime, end: datetime, now: datetime, *,
                 dry_run: bool = False, cancelled: Callable[[], bool] | None = None) -> RunOutcome:
        """Process the windows covering ``[start, end)``; the watermark never moves backwards.

        The watermark moves forward only when the range begins at or before
        it, so that no window after the watermark is skipped. It never moves
        past the last complete window.
        """
        query = self._require(name)
        return self._process(query, backfill_windows(query, start, end), now, dry_run=dry_run, backfill=True,
                             cancelled=cancelled or (lambda: False))

    def evaluate(self, query: ContinuousQuery, window: Window) -> WindowResult:
        """Compute one window without storing it (for DRY RUN and tests)."""
        return evaluate_window(self.runtime, query, window)

    # Runs

    def _process(self, query: ContinuousQuery, windows: list[Window], now: datetime, *,
                 dry_run: bool, backfill: bool, cancelled: Callable[[], bool] | None) -> RunOutcome:
        if dry_run:
            rows = 0
            for window in windows:
                _check_cancel(cancelled)
                rows += self.evaluate(query, window).table.num_rows
            return _outcome(windows, rows, query.watermark)

        run_lease = lease.acquire(self.runtime.backend, KIND, query.name, self.runtime.clock)
        if run_lease is None:
            raise LockNotAvailable(f'continuous query "{query.name}" is being run by another session or gateway',
                            hint="try again when that run has finished")
        try:
            return self._store_groups(query, windows, now, run_lease, backfill=backfill, cancelled=cancelled)
        finally:
            run_lease.release(self.runtime.clock())

    def _store_groups(self, query: ContinuousQuery, windows: list[Window], now: datetime,
                      run_lease: lease.Lease, *, backfill: bool, cancelled: Callable[[], bool] | None) -> RunOutcome:
        rows = 0
        done: list[Window] = []
        started = time.monotonic()
        first_watermark = query.watermark
        try:
            for group in chunks(windows, GROUP_WINDOWS):
                # Stop when the time is up, once the watermark moved: the FOR look-back's groups come
                # first, and a run that stopped after them would never get further.
                moved = query.watermark is not None and (first_watermark is None or query.watermark > first_watermark)
                if moved and cancelled is None and time.monotonic() - started > SCHEDULED_SECONDS:
                    break  # the next scheduled check goes on from the watermark
                self._check_not_stopped(query, scheduled=cancelled is None)
                results = []
                for window in group:
                    _check_cancel(cancelled)
                    results.append(self.evaluate(query, window))
                # Recorded before the group's old rows are deleted: a crash before its new rows are
                # flushed leaves the windows pending, and recover_pending stores them again.
                query = replace(query, pending_start=group[0][0], pending_end=group[-1][1])
                self._save(query, now, f"running: {rows} rows written so far")
                rows += store_windows(self.runtime, query, results)
                done += group
                query = replace(query, watermark=self._advanced(query, group, now, backfill),
                                pending_start=None, pending_end=None)
                self._save(query, now, f"running: {rows} rows written so far")
                run_lease.renew(self.runtime.clock())
        except QueryStopped:
            raise
        except Exception as error:
            self._save(query, now, f"error: {error_summary(error)}")
            raise
        more = "; more windows are due" if len(done) < len(windows) else ""
        self._save(query, now, f"ok: {len(done)} windows, {rows} rows{more}")
        logger.info("continuous query %s processed %d windows and wrote %d rows%s", query.name, len(done), rows, more)
        return _outcome(done, rows, query.watermark)

    def _check_not_stopped(self, query: ContinuousQuery, *, scheduled: bool) -> None:
        """Raise QueryStopped if the query was dropped or replaced, or made inactive (scheduled runs only)."""
        current = self.queries.get(query.name)
        if current is None or current.id != query.id:
            raise QueryStopped(f'continuous query "{query.name}" was dropped or replaced during its run; '
                               "the run stopped")
        if scheduled and not current.active:
            raise QueryStopped(f'continuous query "{query.name}" was made inactive during its run; the run stopped')

    def _advanced(self, query: ContinuousQuery, group: list[Window], now: datetime, backfill: bool) -> datetime | None:
        end = group[-1][1]
        if not backfill:
            return max(end, query.watermark) if query.watermark is not None else end
        if query.watermark is None or group[0][0] > query.watermark:
            return query.watermark
        return max(query.watermark, min(end, horizon(query, now)))

    def _save(self, query: ContinuousQuery, now: datetime, result: str) -> None:
        if not self.queries.save_state(replace(query, last_run=now, last_result=result)):
            raise GatewayError(f'continuous query "{query.name}" was dropped or replaced during its run')

    def _record_error(self, query: ContinuousQuery, now: datetime, error: Exception) -> None:
        """Store a failure in the current document, keeping the watermark that is stored there."""
        current = self.queries.get(query.name)
        if current is None or current.id != query.id:
            return
        try:
            self.queries.save_state(replace(current, last_run=now, last_result=f"error: {error_summary(error)}"))
        except Exception as storage_error:  # noqa: BLE001 (the run's error is already logged; keep checking others)
            logger.warning("continuous query %s: could not record its failure: %s", query.name, storage_error)

    # Lookups

    def _require(self, name: str) -> ContinuousQuery:
        query = self.queries.get(name)
        if query is None:
            raise UndefinedObject(f'continuous query "{name}" does not exist',
                                  hint="SHOW CONTINUOUS QUERIES lists the continuous queries")
        return query

    def _due(self, query: ContinuousQuery, now: datetime) -> bool:
        due = is_due(query, now)
        if due is None:
            return bool(scheduled_windows(query, now, self._first_data(query)))
        return due

    def _first_data(self, query: ContinuousQuery) -> datetime | None:
        """Return the start of the source's earliest hour partition, or of its earliest buffered row."""
        if query.watermark is not None or query.start is not None:
            return None
        stored = self.runtime.measurements.resolve(query.source_database, query.source)
        files = self.runtime.measurements.files(query.source_database, stored, TimeRange())
        prefix = layout.measurement_prefix(query.source_database, stored)
        starts = []
        for info in files.chosen:
            partition = layout.partition_of(info.path[len(prefix):])
            if partition is not None:
                starts.append(partition.start)
        if files.buffered is not None and files.buffered.num_rows:
            starts.append(pc.min(files.buffered["time"]).as_py())
        return min(starts, default=None)


def _check_cancel(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise QueryCanceled("canceling statement due to user request")


def _outcome(windows: list[Window], rows: int, watermark: datetime | None) -> RunOutcome:
    first = windows[0][0] if windows else None
    last = windows[-1][1] if windows else None
    return RunOutcome(len(windows), rows, first, last, watermark)


