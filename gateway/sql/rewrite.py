"""Rewriting a client query so that each measurement reads only its pruned Parquet files.

Each table reference is handled on its own: the WHERE clause of the SELECT
whose FROM or JOIN names it gives its time range (see time_bounds.py), and
the reference becomes a subquery over the files of the matching hour
partitions. A measurement with no files in range becomes an empty subquery
with the same columns, so only that table is empty. Rows still in the
buffered writer are a third part of the subquery: an Arrow table that the
session registers under the name the plan gives it.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field

import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import ParseError

from gateway.errors import FeatureNotSupported, InsufficientPrivilege
from gateway.sql.file_schemas import FileSchema
from gateway.sql.measurements import Column, MeasurementFiles, Measurements
from gateway.sql.plan_cache import ScanSource
from gateway.sql.time_bounds import Evaluator, TimeRange, time_range
from gateway.storage import layout

# Schemas DuckDB provides itself; references to them are left alone.
SYSTEM_SCHEMAS = {"pg_catalog", "information_schema", "main", "system", "temp", "pgcompat"}

# Table functions a client may call; anything else could reach files or settings.
ALLOWED_TABLE_FUNCTIONS = {"generate_series", "range", "unnest", "explode", "generate_subscripts"}

# Scalar functions that read the environment or files.
DENIED_FUNCTIONS = {"getenv", "read_text", "read_blob", "read_parquet", "read_csv", "read_csv_auto",
                    "read_json", "read_json_auto", "read_json_objects", "read_ndjson", "glob",
                    "parquet_scan", "parquet_metadata", "parquet_schema", "parquet_file_metadata",
                    "parquet_kv_metadata", "sniff_csv", "query", "query_table", "duckdb_secrets",
                    "duckdb_settings", "delta_scan", "iceberg_scan", "read_xlsx"}


@dataclass
class ScanPlan:
    """The files each measurement reference of a query reads, for EXPLAIN and tests."""

    scans: list[MeasurementFiles] = field(default_factory=list)
    #: Buffered rows to register on the executing connection, by the name the query reads them as.
    buffers: dict[str, pa.Table] = field(default_factory=dict)
    #: What each scan was built from, for deciding whether the rewritten query may be reused.
    sources: list[ScanSource] = field(default_factory=list)

    @property
    def files_read(self) -> int:
        return sum(len(scan.chosen) for scan in self.scans)


class QueryRewriter:
    """Replaces measurement references in a parsed query with pruned Parquet scans."""

    def __init__(self, measurements: Measurements, database: str, evaluate: Evaluator) -> None:
        self.measurements = measurements
        self.database = database
        self.evaluate = evaluate

    def rewrite(self, tree: exp.Expression, *, copy: bool = True) -> tuple[exp.Expression, ScanPlan]:
        """Return the rewritten ``tree`` (a copy, unless ``copy`` is False) and the files it reads."""
        if copy:
            tree = tree.copy()
        check_functions(tree)
        cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        plan = ScanPlan()
        for table in list(tree.find_all(exp.Table)):
            target = self._measurement_of(table, cte_names)
            if target is None:
                continue
            database, name = target
            bounds = self._range_for(table)
            files = self.measurements.files(database, name, bounds, cached=True)
            plan.scans.append(files)
            table.replace(self._scan(table, files, plan, bounds))
        _drop_database_qualifiers(tree)
        return tree, plan

    def _measurement_of(self, table: exp.Table, cte_names: set[str]) -> tuple[str, str] | None:
        if not isinstance(table.this, exp.Identifier) and table.db.lower() == "pgcompat":
            return None  # a table macro of the catalog, such as pg_get_keywords()
        if not isinstance(table.this, exp.Identifier):
            _check_table_function(table)
            return None
        if table.catalog:
            raise FeatureNotSupported(
                f'cross-database reference "{table.catalog}.{table.db}.{table.name}" is not supported',
                hint="name a measurement as database.measurement",
            )
        schema = table.db
        if schema.lower() in SYSTEM_SCHEMAS:
            return None
        if not schema:
            if table.name.lower() in cte_names or _is_system_relation(table.name):
                return None
            schema = self.database
        layout.validate_name(schema, "database")
        layout.validate_name(table.name, "measurement")
        return schema, self.measurements.resolve(schema, table.name, cached=True)

    def _range_for(self, table: exp.Table) -> TimeRange:
        select = _enclosing_select(table)
        if select is None:
            return TimeRange()
        qualifiers = {table.alias_or_name.lower(), table.name.lower()}
        single_source = _source_count(select) == 1

        def is_time_column(column: exp.Column) -> bool:
            if column.table:
                return column.table.lower() in qualifiers
            return single_source and _in_scope(column, select)

        return time_range(select.args.get("where"), is_time_column, self.evaluate)

    def _scan(self, table: exp.Table, files: MeasurementFiles, plan: ScanPlan,
              bounds: TimeRange) -> exp.Expression:
        columns = self.measurements.columns_of(files)
        plan.sources.append(ScanSource(files.database, table.name, files.measurement, bounds,
                                       tuple(info.path for info in files.chosen), tuple(columns)))
        query = _scan_query(self.measurements, columns, files)
        if files.buffered is not None:
            name = f"__lakegate_buffered_{next(_buffer_numbers)}"
            plan.buffers[name] = files.buffered
            buffered = exp.select(exp.Star()).from_(exp.to_table(name))
            query = exp.Union(this=query, expression=buffered, distinct=False, by_name=True)
        subquery = exp.Subquery(this=query)
        alias = table.args.get("alias")
        if alias is None:
            alias = exp.TableAlias(this=exp.to_identifier(table.name))
        subquery.set("alias", alias.copy())
        return subquery


_buffer_numbers = itertools.count(1)


def _drop_database_qualifiers(tree: exp.Expression) -> None:
    """Make ``db.m.column`` read ``m.column``: the scan subquery is aliased by the measurement name."""
    for column in tree.find_all(exp.Column):
        if column.args.get("db") is not None and column.db.lower() not in SYSTEM_SCHEMAS:
            column.set("db", None)


def _scan_query(measurements: Measurements, columns: list[Column], files: MeasurementFiles) -> exp.Expression:
    """Read the chosen files as ``columns``: one ``read_parquet`` per schema, joined by UNION ALL.

    Files of one schema need no ``union_by_name``, which would make DuckDB
    open every file's footer while it binds the query. Each part names the
    columns in the union's order, with NULL for a column its files lack and
    a cast where its files store a narrower type.
    """
    groups: dict[FileSchema, list[str]] = {}
    for path, schema in measurements.schemas_of(files).items():
        groups.setdefault(schema, []).append(path)
    if not groups:
        return exp.select(*[_typed_null(column) for column in columns]).where(exp.false())

    parts = [_schema_part(measurements, columns, schema, paths) for schema, paths in groups.items()]
    query = parts[0]
    for part in parts[1:]:
        query = exp.Union(this=query, expression=part, distinct=False)
    return query


def _schema_part(measurements: Measurements, columns: list[Column], schema: FileSchema,
                 paths: list[str]) -> exp.Select:
    stored = {column.name.lower(): column for column in schema}
    projection: list[exp.Expression] = []
    for column in columns:
        found = stored.get(column.name.lower())
        if found is None:
            projection.append(_typed_null(column))
        elif found.type != column.type:
            value = exp.cast(exp.column(found.name, quoted=True), _duckdb_type(column.type))
            projection.append(exp.alias_(value, column.name, quoted=True))
        elif found.name != column.name:
            projection.append(exp.alias_(exp.column(found.name, quoted=True), column.name, quoted=True))
        else:
            projection.append(exp.column(column.name, quoted=True))
    uris = exp.Array(expressions=[exp.Literal.string(measurements.backend.uri(path)) for path in paths])
    read = exp.Anonymous(this="read_parquet", expressions=[uris])
    return exp.select(*projection).from_(exp.Table(this=read))


def _typed_null(column: Column) -> exp.Expression:
    return exp.alias_(exp.cast(exp.null(), _duckdb_type(column.type)), column.name, quoted=True)


def _duckdb_type(name: str) -> exp.DataType:
    """Build a DuckDB type from a Parquet column's DuckDB type name (UBIGINT, DECIMAL(18,3) ...)."""
    return _parsed_type(name).copy()


@functools.lru_cache(maxsize=1024)
def _parsed_type(name: str) -> exp.DataType:
    # Parsing a type name costs sqlglot about 80 microseconds, and every scan casts each column once.
    try:
        return exp.DataType.build(name, dialect="duckdb")
    except ParseError:
        return exp.DataType.build(name, dialect="duckdb", udt=True)


def _enclosing_select(table: exp.Table) -> exp.Select | None:
    parent = table.parent
    if isinstance(parent, exp.Join):
        parent = parent.parent
    elif isinstance(parent, exp.From):
        parent = parent.parent
    else:
        return None
    return parent if isinstance(parent, exp.Select) else None


def _source_count(select: exp.Select) -> int:
    from_ = select.args.get("from") or select.args.get("from_")
    count = 1 if from_ is not None else 0
    return count + len(select.args.get("joins") or [])


def _in_scope(column: exp.Column, select: exp.Select) -> bool:
    """Tell whether an unqualified column belongs to ``select`` itself, not to a subquery in it."""
    node = column.parent
    while node is not None and node is not select:
        if isinstance(node, (exp.Select, exp.Subquery)):
            return False
        node = node.parent
    return node is select


def _is_system_relation(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith(("pg_", "duckdb_")) or lowered in {"information_schema"}


def _check_table_function(table: exp.Table) -> None:
    function = table.this
    name = function_name(function)
    if name not in ALLOWED_TABLE_FUNCTIONS:
        raise InsufficientPrivilege(
            f"table function {name} is not allowed",
            hint="read measurements by name, for example SELECT * FROM cpu",
        )


def function_name(function: exp.Expression) -> str:
    """Return the lower-case name of a function call, as the sandbox and the catalog rewrite match it."""
    if isinstance(function, exp.Anonymous):
        return str(function.this).lower()
    if isinstance(function, (exp.GenerateSeries, exp.ExplodingGenerateSeries)):
        return "generate_series"
    if isinstance(function, exp.Unnest):
        return "unnest"
    if isinstance(function, exp.Func):
        return function.sql_name().lower()
    return type(function).__name__.lower()


def check_functions(tree: exp.Expression) -> None:
    """Reject calls of functions that reach files, settings or the environment (42501)."""
    for node in tree.walk():
        if isinstance(node, exp.Func) and function_name(node) in DENIED_FUNCTIONS:
            raise InsufficientPrivilege(f"function {function_name(node)} is not allowed")
