"""Computing the windows of a continuous query and storing their rows in the destination.

A window's SELECT runs as a client's query would: the gateway's rewriter
bounds the source scan to the window's hour partitions and adds the source's
buffered rows, and DuckDB runs it on a sandboxed cursor. Storing a group of
windows first deletes the destination's rows in the windows that produced
rows. Then it writes the new rows through the Arrow writer and flushes
them, so running a window again replaces its rows instead of adding to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from gateway.engine import fetch_table
from gateway.errors import DataException, InvalidCatalogName, UndefinedTable
from gateway.jobs.continuous_windows import Window
from gateway.meta.continuous_queries import ContinuousQuery
from gateway.sql import parse
from gateway.sql.commands.delete_where import delete_where, time_between
from gateway.sql.constant_time import constant_evaluator
from gateway.sql.duckdb_errors import translate
from gateway.sql.rewrite import QueryRewriter
from gateway.sql.time_bounds import TIME_COLUMN

if TYPE_CHECKING:
    from gateway.runtime import Runtime


@dataclass
class WindowResult:
    """The rows one window produced, and the source files its scan read out of those the source has."""

    start: datetime
    end: datetime
    table: pa.Table
    files_read: int
    files_total: int


def bounded_select(query: ContinuousQuery, start: datetime, end: datetime) -> exp.Select:
    """Return the query's SELECT with ``start <= time < end`` added to its WHERE, as a tree."""
    tree = parse.parse_one(query.select)
    if not isinstance(tree, exp.Select):
        raise DataException(f'continuous query "{query.name}" is stored with a statement that is not a SELECT')
    return tree.where(time_between(start, end), append=True, copy=False)


def evaluate_window(runtime: Runtime, query: ContinuousQuery, window: Window) -> WindowResult:
    """Run the SELECT over one window and return its rows.

    Raises DataException (22000) when a row's ``time`` is NULL or outside
    the window, because replacing the window's rows would then leave that
    row behind or delete rows of another window.
    """
    start, end = window
    cursor = runtime.engine.cursor()
    try:
        rewriter = QueryRewriter(runtime.measurements, query.database, constant_evaluator(cursor, []))
        rewritten, plan = rewriter.rewrite(bounded_select(query, start, end))
        for name, buffered in plan.buffers.items():
            cursor.register(name, buffered)
        table = fetch_table(cursor.execute(parse.to_duckdb(rewritten)))
    except duckdb.Error as error:
        raise translate(error) from error
    finally:
        cursor.close()
    _check_times(query, table, start, end)
    files_total = sum(scan.total for scan in plan.scans)
    return WindowResult(start, end, table, plan.files_read, files_total)


def describe_select(runtime: Runtime, query: ContinuousQuery) -> list[tuple[str, str]]:
    """Return the (name, DuckDB type) of each column the SELECT returns, reading no rows.

    The SELECT runs bounded to an empty window, so DuckDB checks its
    columns and functions while the rewriter chooses no files.
    """
    empty = (_EPOCH, _EPOCH)
    cursor = runtime.engine.cursor()
    try:
        rewriter = QueryRewriter(runtime.measurements, query.database, constant_evaluator(cursor, []))
        rewritten, plan = rewriter.rewrite(bounded_select(query, *empty))
        for name, buffered in plan.buffers.items():
            cursor.register(name, buffered)
        cursor.execute(f"SELECT * FROM ({parse.to_duckdb(rewritten)}) LIMIT 0")
        return [(str(column[0]), str(column[1])) for column in cursor.description or []]
    except duckdb.Error as error:
        raise translate(error) from error
    finally:
        cursor.close()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _check_times(query: ContinuousQuery, table: pa.Table, start: datetime, end: datetime) -> None:
    if table.num_rows == 0:
        return
    if TIME_COLUMN not in table.column_names or not pa.types.is_timestamp(table[TIME_COLUMN].type):
        raise DataException(f'continuous query "{query.name}" returned no "time" timestamp column')
    times = table[TIME_COLUMN]
    if times.null_count:
        raise DataException(f'continuous query "{query.name}" returned a row whose "time" is NULL')
    bounds = pc.min_max(times).as_py()
    low, high = _aware(bounds["min"]), _aware(bounds["max"])
    if low < start or high >= end:
        outside = low if low < start else high
        raise DataException(
            f'continuous query "{query.name}" returned a row at {outside.isoformat()}, '
            f"outside its window [{start.isoformat()}, {end.isoformat()})",
            hint="group by a time bucket that fits in EVERY and is aligned to it, "
                 "such as time_bucket(INTERVAL '1 hour', time) with EVERY '1 hour'",
        )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def store_windows(runtime: Runtime, query: ContinuousQuery, results: list[WindowResult]) -> int:
    """Replace the destination's rows in each window that produced rows; return the rows written.

    Windows that produced no rows leave the destination as it is, so a
    source whose raw rows were removed (by a retention policy, say) keeps
    its aggregates. The new rows are flushed to Parquet before this
    returns, so a watermark stored afterwards never runs ahead of the data.
    """
    produced = [result for result in results if result.table.num_rows]
    if not produced:
        return 0
    destination = _existing_destination(runtime, query)
    # NOTE: the writer checks column types only in write_table, after the old rows are deleted, so a type
    # conflict with the destination leaves these windows empty until a later run stores them.
    if destination is not None:
        # A crash after this delete and before the new rows are flushed leaves these windows empty. The
        # runner recorded them as pending first, and stores them again at the next start or check.
        for start, end in _contiguous_spans(produced):
            delete_where(runtime.measurements, runtime.writer, runtime.engine, query.destination_database,
                         destination, time_between(start, end))
    table = pa.concat_tables([result.table for result in produced], promote_options="permissive")
    name = destination or query.destination
    rows = runtime.writer.write_table(query.destination_database, name, table)
    runtime.writer.flush_measurement(query.destination_database, name)
    return rows


def _existing_destination(runtime: Runtime, query: ContinuousQuery) -> str | None:
    """Return the stored spelling of the destination, or None when it has no rows yet."""
    try:
        return runtime.measurements.resolve(query.destination_database, query.destination)
    except (UndefinedTable, InvalidCatalogName):
        return None


def _contiguous_spans(results: list[WindowResult]) -> list[Window]:
    spans: list[Window] = []
    for result in results:
        if spans and spans[-1][1] == result.start:
            spans[-1] = (spans[-1][0], result.end)
        else:
            spans.append((result.start, result.end))
    return spans
