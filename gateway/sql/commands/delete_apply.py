"""Carrying out a DELETE plan: rewrite the files with some matching rows, remove those that match whole.

Each file changes in one step. A rewritten file is written as a new
version next to the old one, which listings then skip. The old version is
removed after a grace period, so a query that listed it before still reads
it whole (see gateway/storage/file_versions.py). A removed file goes
through the backend's batch delete, its older versions first. A crash
between two files leaves some files done and the others as they were, so
no row outside the condition is lost and running the DELETE again finishes
it.

The rewrite evaluates the condition again, over the file's rows read
whole, and keeps the rows for which it is not TRUE, sorted by time, with
the file's own column types.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from gateway.engine import fetch_table
from gateway.ingest.parquet_files import parquet_bytes
from gateway.sql.commands.delete_plan import DeletePlan, FileMatch
from gateway.sql.commands.delete_sql import ROW_COLUMN, matching_rows_query
from gateway.sql.measurements import Column
from gateway.storage import layout
from gateway.storage.backend import ObjectInfo, StorageBackend
from gateway.storage.file_versions import SUPERSEDED_GRACE, remove_files, remove_later

logger = logging.getLogger(__name__)

#: Files removed per batch-delete call, between two progress reports.
REMOVE_CHUNK = 256
_TIME = "time"
_table_numbers = itertools.count(1)

#: Receives (files done, files in all) after each step.
Progress = Callable[[int, int], None]


def apply_plan(plan: DeletePlan, backend: StorageBackend, cursor: duckdb.DuckDBPyConnection,
               columns: list[Column], condition: exp.Expression, progress: Progress,
               grace: timedelta = SUPERSEDED_GRACE) -> int:
    """Rewrite and remove the plan's files; return the rows removed.

    ``cursor`` should not be one a cancel request interrupts: once files
    change, the DELETE runs to its end.
    """
    total = len(plan.matches)
    done = 0
    removed = 0
    replaced: list[str] = []
    for match in plan.rewritten:
        rows, old = _rewrite(match, backend, cursor, columns, condition, plan.superseded)
        removed += rows
        replaced += old
        done += 1
        progress(done, total)
    whole = plan.removed
    for start in range(0, len(whole), REMOVE_CHUNK):
        chunk = whole[start:start + REMOVE_CHUNK]
        remove_files(backend, [match.info.path for match in chunk], plan.superseded)
        removed += sum(match.matched for match in chunk)
        done += len(chunk)
        progress(done, total)
    remove_later(backend, replaced, grace)
    return removed


def _rewrite(match: FileMatch, backend: StorageBackend, cursor: duckdb.DuckDBPyConnection,
             columns: list[Column], condition: exp.Expression, superseded: list[ObjectInfo]) -> tuple[int, list[str]]:
    """Write the file's kept rows as its new version; return (rows removed, versions now superseded)."""
    path = match.info.path
    table = pq.read_table(pa.BufferReader(backend.read(path)))
    matching = _matching_rows(table, cursor, columns, condition)
    if len(matching) == 0:
        logger.warning("DELETE planned %d matching rows in %s, found none when rewriting; file left as it is",
                       match.matched, path)
        return 0, []
    if len(matching) == table.num_rows:
        remove_files(backend, [path], superseded)
        return int(table.num_rows), []
    numbers = pa.array(range(table.num_rows), pa.int64())
    kept = table.filter(pc.invert(pc.is_in(numbers, value_set=matching)))
    if _TIME in kept.column_names:
        kept = kept.sort_by(_TIME)
    backend.write(layout.new_version_path(path), parquet_bytes(kept))
    if len(matching) != match.matched:
        logger.warning("DELETE planned %d matching rows in %s, removed %d", match.matched, path, len(matching))
    base = layout.file_version(path)[0]
    older = [info.path for info in superseded if layout.file_version(info.path)[0] == base]
    return len(matching), [path, *older]


def _matching_rows(table: pa.Table, cursor: duckdb.DuckDBPyConnection, columns: list[Column],
                   condition: exp.Expression) -> pa.Array:
    """Return the numbers (from 0, in file order) of the rows of ``table`` that match."""
    numbered = table.append_column(ROW_COLUMN, pa.array(range(table.num_rows), pa.int64()))
    name = f"__lakegate_delete_{next(_table_numbers)}"
    cursor.register(name, numbered)
    try:
        result = fetch_table(cursor.execute(matching_rows_query(columns, name, condition)))
    finally:
        cursor.unregister(name)
    return result.column(0).combine_chunks()
