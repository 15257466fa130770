"""INSERT INTO [db.]m [(cols)] VALUES ... | SELECT ...

DuckDB evaluates the rows (so any expression a SELECT allows works), the
gateway fixes their types for storage, checks them against the columns the
measurement already has, and hands the table to the buffered writer. Every
check runs before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from gateway.errors import (
    DatatypeMismatch,
    FeatureNotSupported,
    InvalidCatalogName,
    InvalidName,
    NotNullViolation,
    ProgramLimitExceeded,
    SqlSyntaxError,
    UndefinedTable,
)
from gateway.ingest.parquet_files import TIME_TYPE
from gateway.sql.commands.insert_literals import LiteralInsert, literal_table
from gateway.sql.measurements import Column, Measurements
from gateway.sql.results import Result
from gateway.sql.time_bounds import TIME_COLUMN
from gateway.storage import layout


class QueryRunner(Protocol):
    """Turns a SELECT into DuckDB SQL over the store, and runs such SQL with the statement's parameters."""

    def render(self, tree: exp.Expression) -> str: ...

    def run(self, sql: str) -> pa.Table: ...


#: Rendered SQL of VALUES-only INSERTs, per statement text, database and target columns, in one session.
RenderCache = dict[tuple[str, str, tuple[str, ...]], str]
_RENDER_CACHE_SIZE = 256
#: Returns the columns an INSERT into (database, measurement) must match, ``time`` first.
ColumnSource = Callable[[str, str], list[Column]]
#: Stores a table in (database, measurement) and returns its row count: the buffered writer's write_table.
TableWriter = Callable[[str, str, pa.Table], int]

_MAX_COLUMN_NAME = 255


def insert(
    tree: exp.Insert, columns_of: ColumnSource, database: str, runner: QueryRunner, write: TableWriter,
    *, cache: RenderCache | None = None, statement: str = "", max_rows: int | None = None,
) -> Result:
    """Insert the rows of an INSERT statement and return ``INSERT 0 n``.

    A statement whose VALUES hold only literals, parameters and casts is
    rendered once per session and ``cache``d under its text, so a
    parameterised INSERT run many times (executemany, JDBC batches) skips
    the SQL rewrite after the first row. A statement with more than
    ``max_rows`` rows raises ProgramLimitExceeded (54000) before anything is
    written; DuckDB stops an INSERT ... SELECT after ``max_rows + 1`` rows.
    """
    target_db, name, column_names = _target(tree, database)
    existing = columns_of(target_db, name)
    source = tree.expression
    if source is None:
        raise SqlSyntaxError("INSERT needs VALUES or a SELECT")
    if max_rows is not None and isinstance(source, exp.Values):
        check_row_count(len(source.expressions), max_rows)
    if tree.args.get("returning") or tree.args.get("conflict"):
        raise FeatureNotSupported("INSERT ... RETURNING and ON CONFLICT are not supported")

    if column_names is None:
        if not existing:
            raise SqlSyntaxError(
                f'INSERT into new measurement "{name}" needs a column list',
                hint=f"INSERT INTO {name} (time, ...) VALUES (...)",
            )
        column_names = [column.name for column in existing]
    key = (statement, target_db, tuple(column_names))
    sql = cache.get(key) if cache is not None and statement else None
    if sql is None:
        query = _as_query(source)
        width = _values_width(source)
        if width is None:
            width = runner.run(runner.render(
                exp.select(exp.Star()).from_(exp.Subquery(this=query.copy())).limit(0))).num_columns
        if width != len(column_names):
            raise SqlSyntaxError(
                f"INSERT has {width} expressions but {len(column_names)} target columns"
            )
        sql = runner.render(_typed_query(query, column_names))
        if cache is not None and statement and _only_constants(source):
            if len(cache) >= _RENDER_CACHE_SIZE:
                cache.pop(next(iter(cache)))
            cache[key] = sql
    # VALUES rows were counted above; a SELECT is cut off one row past the limit, so it is never read whole.
    if max_rows is not None and not isinstance(source, exp.Values):
        sql = f"SELECT * FROM ({sql}) AS __limited LIMIT {max_rows + 1}"
    rows = runner.run(sql)
    if max_rows is not None and rows.num_rows > max_rows:
        raise row_limit_error("INSERT ... SELECT returns too many rows", max_rows)
    table = storage_table(rows, existing, name)
    write(target_db, name, table)
    return Result(tag=f"INSERT 0 {table.num_rows}")


_CONSTANT_NODES = (exp.Values, exp.Tuple, exp.Literal, exp.Null, exp.Boolean, exp.Placeholder, exp.Parameter,
                   exp.Cast, exp.DataType, exp.DataTypeParam, exp.Neg, exp.Paren, exp.TableAlias, exp.Identifier,
                   exp.Var)


def _only_constants(source: exp.Expression) -> bool:
    """Tell whether VALUES contains only values that cannot change between runs (no functions, no tables)."""
    return isinstance(source, exp.Values) and all(isinstance(node, _CONSTANT_NODES) for node in source.walk())


def _values_width(source: exp.Expression) -> int | None:
    """Return the number of values in the first row of a VALUES list, None for a SELECT."""
    if not isinstance(source, exp.Values) or not source.expressions:
        return None
    first = source.expressions[0]
    widths = {len(row.expressions) if isinstance(row, exp.Tuple) else 1 for row in source.expressions}
    if len(widths) != 1:
        return None  # rows of different widths: DuckDB reports the error
    return len(first.expressions) if isinstance(first, exp.Tuple) else 1


def _target(tree: exp.Insert, database: str) -> tuple[str, str, list[str] | None]:
    target = tree.this
    column_names: list[str] | None = None
    if isinstance(target, exp.Schema):
        column_names = [_column_name(column) for column in target.expressions]
        target = target.this
    if not isinstance(target, exp.Table) or not isinstance(target.this, exp.Identifier):
        raise FeatureNotSupported("INSERT target must be a measurement name")
    if target.catalog:
        raise FeatureNotSupported("INSERT target must be [database.]measurement")
    target_db = layout.validate_name(target.db or database, "database")
    name = layout.validate_name(target.name, "measurement")
    if column_names is not None and len({c.lower() for c in column_names}) != len(column_names):
        raise SqlSyntaxError("a column is named more than once in the INSERT column list")
    return target_db, name, column_names


def _column_name(node: exp.Expression) -> str:
    return _checked_column_name(node.name if isinstance(node, (exp.Identifier, exp.Column)) else "")


def _checked_column_name(name: str) -> str:
    if not name or len(name) > _MAX_COLUMN_NAME or "\x00" in name:
        raise InvalidName(f"invalid column name {name!r}")
    return name


def check_row_count(rows: int, max_rows: int) -> None:
    """Raise ProgramLimitExceeded (54000) if an INSERT of ``rows`` rows exceeds ``max_rows``."""
    if rows > max_rows:
        raise row_limit_error(f"INSERT has {rows} rows", max_rows)


def row_limit_error(row_count: str, max_rows: int) -> ProgramLimitExceeded:
    """Return the error of an INSERT over --insert-max-rows, whose ``row_count`` starts the message."""
    return ProgramLimitExceeded(
        f"{row_count}, more than --insert-max-rows allows ({max_rows})",
        hint="split the rows over several INSERT statements, load them with COPY ... FROM STDIN, "
        "or restart the gateway with a higher --insert-max-rows",
    )


def insert_literal_rows(statement: LiteralInsert, columns_of: ColumnSource, database: str,
                        write: TableWriter, *, max_rows: int | None = None) -> Result | None:
    """Insert a literal-only multi-row INSERT without sqlglot or DuckDB; None sends it the general way.

    More than ``max_rows`` rows raise ProgramLimitExceeded (54000) before any row is converted.
    """
    if max_rows is not None:
        check_row_count(len(statement.rows), max_rows)
    table = literal_table(statement)
    if table is None:
        return None
    target_db = layout.validate_name(statement.database or database, "database")
    name = layout.validate_name(statement.measurement, "measurement")
    columns = [_checked_column_name(column) for column in statement.columns]
    if len({column.lower() for column in columns}) != len(columns):
        raise SqlSyntaxError("a column is named more than once in the INSERT column list")
    existing = columns_of(target_db, name)
    stored = storage_table(table, existing, name)
    write(target_db, name, stored)
    return Result(tag=f"INSERT 0 {stored.num_rows}")


def existing_columns(measurements: Measurements, database: str, name: str) -> list[Column]:
    """Return the columns of a measurement as stored and buffered; raise if ``name`` differs only in case."""
    try:
        stored = measurements.resolve(database, name)
    except (UndefinedTable, InvalidCatalogName):
        return []
    if stored != name:
        raise InvalidName(
            f'measurement "{name}" differs only in case from existing measurement "{stored}"',
            hint=f"write to {stored}",
        )
    return measurements.columns(database, stored)


def _as_query(source: exp.Expression) -> exp.Expression:
    if isinstance(source, exp.Values):
        return exp.select(exp.Star()).from_(source.copy())
    if isinstance(source, exp.Query):
        return source
    raise FeatureNotSupported("INSERT source must be VALUES or a SELECT")


def _typed_query(source: exp.Expression, column_names: list[str]) -> exp.Expression:
    """Name the source's columns after the targets and let DuckDB parse ``time``.

    A source with more or fewer columns than targets fails in DuckDB (42601).
    """
    alias = exp.TableAlias(
        this=exp.to_identifier("__source"),
        columns=[exp.to_identifier(name, quoted=True) for name in column_names],
    )
    projections: list[exp.Expression] = []
    for name in column_names:
        column = exp.column(name, table="__source", quoted=True)
        if name.lower() == TIME_COLUMN:
            column = exp.alias_(exp.cast(column, "TIMESTAMPTZ"), name, quoted=True)
        projections.append(column)
    subquery = exp.Subquery(this=source, alias=alias)
    return exp.select(*projections).from_(subquery)


def storage_table(table: pa.Table, existing: list[Column], measurement: str) -> pa.Table:
    """Return the table with storage types: time as timestamp[us, UTC], numbers widened."""
    known = {column.name.lower(): column for column in existing}
    names = [name.lower() for name in table.column_names]
    columns: dict[str, pa.ChunkedArray] = {}
    if TIME_COLUMN not in names:
        now = datetime.now(UTC)
        columns[TIME_COLUMN] = pa.chunked_array([pa.array([now] * table.num_rows, TIME_TYPE)])
    for name, values in zip(table.column_names, table.columns, strict=True):
        stored_name = known[name.lower()].name if name.lower() in known else name
        if name.lower() == TIME_COLUMN:
            columns[TIME_COLUMN] = _time_values(values)
            continue
        columns[stored_name] = _field_values(values, known.get(name.lower()), measurement)
    return pa.table(columns)


def _time_values(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if values.null_count:
        raise NotNullViolation('null value in column "time" violates not-null constraint')
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        return pc.cast(values, TIME_TYPE)
    raise DatatypeMismatch(
        f'column "time" is of type timestamp with time zone but expression is of type {values.type}',
        hint="write time as a timestamp literal, for example TIMESTAMPTZ '2024-01-01 00:00:00+00'",
    )


_STORAGE_TYPES = {
    "int8": pa.int64(), "int16": pa.int64(), "int32": pa.int64(), "int64": pa.int64(),
    "uint8": pa.int64(), "uint16": pa.int64(), "uint32": pa.int64(), "uint64": pa.uint64(),
    "float": pa.float64(), "halffloat": pa.float64(), "double": pa.float64(),
    "bool": pa.bool_(), "string": pa.string(), "large_string": pa.string(),
}

_DUCKDB_TO_ARROW = {"BIGINT": pa.int64(), "UBIGINT": pa.uint64(), "DOUBLE": pa.float64(),
                    "BOOLEAN": pa.bool_(), "VARCHAR": pa.string(), "TIMESTAMP WITH TIME ZONE": TIME_TYPE}


def _field_values(values: pa.ChunkedArray, known: Column | None, measurement: str) -> pa.ChunkedArray:
    values = _normalised(values)
    if known is None or values.null_count == len(values):
        target = _DUCKDB_TO_ARROW.get(known.type) if known else None
        return pc.cast(values, target) if target is not None else values
    expected = _DUCKDB_TO_ARROW.get(known.type)
    if expected is None or expected == values.type:
        return values
    if pa.types.is_floating(expected) and pa.types.is_integer(values.type):
        return pc.cast(values, expected)
    if pa.types.is_integer(expected) and pa.types.is_integer(values.type):
        return pc.cast(values, expected)
    raise DatatypeMismatch(
        f'column "{known.name}" of measurement "{measurement}" is of type {known.type.lower()} '
        f"but expression is of type {values.type}"
    )


def _normalised(values: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = values.type
    if pa.types.is_interval(kind) or pa.types.is_duration(kind):
        raise FeatureNotSupported(
            "interval values cannot be stored", detail="Parquet has no type for month-day-nanosecond intervals",
            hint="store the interval as a number, for example extract(epoch FROM value)")
    if pa.types.is_decimal(kind):
        return pc.cast(values, pa.float64())
    if pa.types.is_null(kind):
        return values
    if pa.types.is_timestamp(kind):
        return pc.cast(values, TIME_TYPE) if kind.tz else values
    target = _STORAGE_TYPES.get(str(kind))
    return pc.cast(values, target) if target is not None else values
