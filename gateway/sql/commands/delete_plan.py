"""The plan of a DELETE: its action on each file, worked out before anything changes.

The candidate files (those of the hour partitions the condition's time
bounds overlap) are counted in one DuckDB query, which reads only the
columns the condition uses and lets DuckDB skip row groups whose Parquet
statistics rule the condition out. Files with matches then have their row
counts read from their footers: a file whose rows all match is removed, a
file with some matching rows is rewritten, the others stay untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
from sqlglot import exp

from gateway.errors import DatatypeMismatch
from gateway.sql.commands.delete_sql import (
    condition_type_query,
    file_rows_query,
    matches_per_file_query,
)
from gateway.sql.duckdb_errors import translate
from gateway.sql.measurements import Column, MeasurementFiles
from gateway.sql.time_bounds import TimeRange
from gateway.storage.backend import Backend, ObjectInfo

# Types a WHERE condition may have: PostgreSQL also accepts an untyped NULL.
_CONDITION_TYPES = {"BOOLEAN", "NULL"}


@dataclass(frozen=True)
class FileMatch:
    """A file with at least one matching row: its listing entry, its rows and how many match."""

    info: ObjectInfo
    rows: int
    matched: int

    @property
    def whole(self) -> bool:
        """Tell whether every row matches, so that the file is removed instead of rewritten."""
        return self.matched >= self.rows


@dataclass
class DeletePlan:
    """The files of one DELETE: candidates in the time range, and those with matching rows."""

    database: str
    measurement: str
    time_range: TimeRange
    candidates: list[ObjectInfo]
    #: Files of the measurement in all, candidates or not.
    total_files: int
    #: Files with at least one matching row, sorted by path.
    matches: list[FileMatch] = field(default_factory=list)
    #: Older versions of the candidates (see gateway/storage/file_versions.py).
    superseded: list[ObjectInfo] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(match.matched for match in self.matches)

    @property
    def removed(self) -> list[FileMatch]:
        return [match for match in self.matches if match.whole]

    @property
    def rewritten(self) -> list[FileMatch]:
        return [match for match in self.matches if not match.whole]

    @property
    def bytes_to_rewrite(self) -> int:
        return sum(match.info.size for match in self.rewritten)

    @property
    def partitions(self) -> list[str]:
        """Return the directories of the files with matching rows, sorted."""
        return sorted({match.info.path.rsplit("/", 1)[0] for match in self.matches})


def check_condition(cursor: duckdb.DuckDBPyConnection, columns: list[Column], condition: exp.Expression) -> None:
    """Bind the condition over the measurement's columns without reading data.

    Raises UndefinedColumn (42703) for an unknown column, DatatypeMismatch
    (42804) when the condition is not boolean, and the translated DuckDB
    error for other type errors.
    """
    try:
        row = cursor.execute(condition_type_query(columns, condition)).fetchone()
    except duckdb.Error as error:
        raise translate(error) from error
    assert row is not None  # DESCRIBE of a one-column SELECT returns one row
    # DuckDB types a bare NULL as INTEGER; PostgreSQL takes it as an unknown boolean.
    if str(row[1]) not in _CONDITION_TYPES and not isinstance(condition.unnest(), exp.Null):
        raise DatatypeMismatch(f"argument of WHERE must be type boolean, not type {row[1]}")


def plan_delete(cursor: duckdb.DuckDBPyConnection, backend: Backend, files: MeasurementFiles,
                time_range: TimeRange, columns: list[Column], condition: exp.Expression) -> DeletePlan:
    """Count the matching rows of every candidate file; nothing is changed."""
    plan = DeletePlan(files.database, files.measurement, time_range, files.chosen, files.total,
                      superseded=files.superseded)
    if not files.chosen:
        return plan
    by_uri = {backend.uri(info.path): info for info in files.chosen}
    matched = _fetch_pairs(cursor, matches_per_file_query(columns, list(by_uri), condition))
    if not matched:
        return plan
    rows = _fetch_pairs(cursor, file_rows_query(list(matched)))
    plan.matches = sorted((FileMatch(by_uri[uri], rows[uri], count) for uri, count in matched.items()),
                          key=lambda match: match.info.path)
    return plan


def _fetch_pairs(cursor: duckdb.DuckDBPyConnection, sql: str) -> dict[str, int]:
    try:
        return {str(name): int(count) for name, count in cursor.execute(sql).fetchall()}
    except duckdb.Error as error:
        raise translate(error) from error
