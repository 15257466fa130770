"""DELETE FROM [db.]m WHERE cond, and EXPLAIN DELETE.

A DELETE runs in three steps, holding the measurement's lock so that
DELETE, TRUNCATE and DROP of one measurement run one at a time:

1. check: the statement, its target and its condition, bound over the
   measurement's columns (unknown columns and type errors fail here);
2. plan: flush the measurement's buffered rows (see acknowledged_files.py),
   list the files of the partitions the condition's time bounds overlap,
   count their matching rows, and reject the DELETE if it would remove
   more than --delete-max-rows rows. Nothing is removed before this point;
3. apply: rewrite and remove files (see delete_apply.py), reporting
   progress as notices.

EXPLAIN DELETE runs steps 1 and 2 without flushing, counting buffered rows
on their own, and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from sqlglot import exp

from gateway.errors import ProgramLimitExceeded
from gateway.sql.commands import delete_explain
from gateway.sql.commands.acknowledged_files import acknowledged_files
from gateway.sql.commands.delete_apply import Progress, apply_plan
from gateway.sql.commands.delete_condition import DeleteStatement, read_delete
from gateway.sql.commands.delete_plan import DeletePlan, check_condition, plan_delete
from gateway.sql.commands.delete_sql import count_matching_query
from gateway.sql.commands.measurement_locks import measurement_lock
from gateway.sql.commands.removal_context import RemovalContext, keep_database_listed
from gateway.sql.measurements import Column, MeasurementFiles
from gateway.sql.results import Result, table_result, text_table
from gateway.sql.time_bounds import TimeRange, time_range
from gateway.storage.backend import StorageBackend
from gateway.storage.file_versions import stale_versions

logger = logging.getLogger(__name__)

#: At most this many progress notices per DELETE, plus one for the last file.
PROGRESS_STEPS = 10


def delete(tree: exp.Delete, context: RemovalContext) -> Result:
    """Run a DELETE and return ``DELETE n`` with the number of rows removed, and progress notices."""
    notices: list[str] = []
    outcome = run_delete(read_delete(tree, context), context, context.notify or notices.append)
    return Result(tag=f"DELETE {outcome.rows}", notices=notices)


@dataclass(frozen=True)
class DeleteOutcome:
    """The result of a DELETE: rows removed, files removed whole, files rewritten, bytes of the files removed."""

    rows: int
    files_removed: int
    files_rewritten: int
    bytes_removed: int


def run_delete(statement: DeleteStatement, context: RemovalContext, notify: Callable[[str], None]) -> DeleteOutcome:
    """Delete the rows of ``statement`` under the measurement's lock; return what was done."""
    measurements = context.measurements
    # A condition that cannot be evaluated fails before the lock is taken. The column
    # union includes buffered rows, so it stays valid after they are flushed.
    columns = _columns(context, statement)
    check_condition(context.cursor, columns, statement.condition)
    with measurement_lock(statement.database, statement.measurement, measurements.backend):
        bounds = _time_range(statement, context)
        files = acknowledged_files(measurements, context.writer, statement.database, statement.measurement, bounds)
        plan = plan_delete(context.cursor, measurements.backend, files, bounds, columns, statement.condition)
        _check_limit(plan.rows, context.max_rows)
        removed = _apply(plan, statement, columns, context, _progress_reporter(statement, notify))
        _remove_stale_versions(measurements.backend, files, context.superseded_grace)
    logger.info("DELETE on %s.%s removed %d rows: %d files removed, %d rewritten, %d of %d files read",
                statement.database, statement.measurement, removed, len(plan.removed), len(plan.rewritten),
                len(plan.candidates), plan.total_files)
    return DeleteOutcome(removed, len(plan.removed), len(plan.rewritten),
                         sum(match.info.size for match in plan.removed))


def _apply(plan: DeletePlan, statement: DeleteStatement, columns: list[Column], context: RemovalContext,
           progress: Progress) -> int:
    if not plan.matches:
        return 0
    # The database stays listed when its last file goes, as after DROP TABLE.
    keep_database_listed(context.measurements, statement.database)
    cursor = context.engine.cursor()
    try:
        return apply_plan(plan, context.measurements.backend, cursor, columns, statement.condition, progress,
                          context.superseded_grace)
    finally:
        cursor.close()
        context.writer.forget(statement.database, statement.measurement)


def explain(tree: exp.Delete, context: RemovalContext) -> Result:
    """Return the QUERY PLAN of a DELETE: what it would remove and rewrite; nothing is changed."""
    statement = read_delete(tree, context)
    columns = _columns(context, statement)
    check_condition(context.cursor, columns, statement.condition)
    bounds = _time_range(statement, context)
    files = context.measurements.files(statement.database, statement.measurement, bounds)
    plan = plan_delete(context.cursor, context.measurements.backend, files, bounds, columns, statement.condition)
    buffered = _buffered_matches(context, columns, statement, files.buffered)
    lines = delete_explain.explain_lines(plan, buffered, context.max_rows)
    return table_result("EXPLAIN", text_table(["QUERY PLAN"], [[line] for line in lines]))


def _remove_stale_versions(backend: StorageBackend, files: MeasurementFiles, grace: timedelta) -> None:
    """Remove versions superseded long enough ago, left behind when a gateway stopped before its timer ran."""
    stale = stale_versions(files.chosen, files.superseded, datetime.now(UTC), grace)
    if stale:
        backend.delete_batch(stale)
        logger.info("removed %d superseded file versions of %s.%s", len(stale), files.database, files.measurement)


def _columns(context: RemovalContext, statement: DeleteStatement) -> list[Column]:
    return context.measurements.columns(statement.database, statement.measurement)


def _time_range(statement: DeleteStatement, context: RemovalContext) -> TimeRange:
    # Column qualifiers are gone from the condition, so every column named time is the measurement's.
    return time_range(statement.condition, lambda column: True, context.evaluate)


def _check_limit(rows: int, max_rows: int) -> None:
    if rows > max_rows:
        raise ProgramLimitExceeded(
            f"DELETE would remove {rows} rows, more than --delete-max-rows allows ({max_rows})",
            detail="nothing was deleted",
            hint="narrow the WHERE condition, or restart the gateway with a higher --delete-max-rows",
        )


def _buffered_matches(context: RemovalContext, columns: list[Column], statement: DeleteStatement,
                      buffered: pa.Table | None) -> int:
    if buffered is None:
        return 0
    name = "__lakegate_explain_buffered"
    cursor = context.engine.cursor()
    try:
        cursor.register(name, buffered)
        row = cursor.execute(count_matching_query(columns, name, statement.condition)).fetchone()
    finally:
        cursor.close()
    return 0 if row is None else int(row[0])


def _progress_reporter(statement: DeleteStatement, notify: Callable[[str], None]) -> Progress:
    """Return a progress callback sending a notice at each tenth of the files, and at the last."""
    reported = -1

    def report(done: int, total: int) -> None:
        nonlocal reported
        if total < 2:
            return
        step = done * PROGRESS_STEPS // total
        if step == reported and done < total:
            return
        reported = step
        notify(f"DELETE on {statement.database}.{statement.measurement}: {done} of {total} files done")

    return report
