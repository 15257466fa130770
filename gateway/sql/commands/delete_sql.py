"""The DuckDB queries of a DELETE, built as sqlglot trees around its checked condition.

Every query evaluates the condition over the same relation: the
measurement's column union, each column with its union type, where a file
lacking a column reads it as NULL. This is how a SELECT reads the
measurement too, so a DELETE removes exactly the rows that
``SELECT ... WHERE cond`` returns. A row whose condition is NULL matches
neither, because WHERE keeps only TRUE.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ParseError

from gateway.sql import parse
from gateway.sql.measurements import Column

#: Column naming each row's file in the per-file count.
FILE_COLUMN = "__lakegate_file"
#: Column numbering the rows of one file, from 0 in file order.
ROW_COLUMN = "__lakegate_row"
_SCAN_ALIAS = "__lakegate_scan"


def condition_type_query(columns: list[Column], condition: exp.Expression) -> str:
    """Return SQL describing the condition's type over an empty scan; it fails on unknown columns."""
    query = exp.select(exp.alias_(condition.copy(), "matches", quoted=True)).from_(
        _scan(columns, _empty(columns)))
    return "DESCRIBE " + parse.to_duckdb(query)


def matches_per_file_query(columns: list[Column], uris: list[str], condition: exp.Expression) -> str:
    """Return SQL of (file URI, matching rows) for each file of ``uris`` with at least one matching row."""
    read = exp.Anonymous(this="read_parquet", expressions=[
        exp.Array(expressions=[exp.Literal.string(uri) for uri in uris]),
        exp.EQ(this=exp.column("union_by_name"), expression=exp.true()),
        exp.EQ(this=exp.column("filename"), expression=exp.Literal.string(FILE_COLUMN)),
    ])
    source = exp.select(exp.Star()).from_(exp.Table(this=read))
    file = exp.column(FILE_COLUMN, quoted=True)
    query = (exp.select(file, exp.Count(this=exp.Star())).from_(_scan(columns, source))
             .where(condition.copy()).group_by(file))
    return parse.to_duckdb(query)


def file_rows_query(uris: list[str]) -> str:
    """Return SQL of (file URI, row count) read from the Parquet footers of ``uris``."""
    metadata = exp.Anonymous(this="parquet_file_metadata", expressions=[
        exp.Array(expressions=[exp.Literal.string(uri) for uri in uris]),
    ])
    query = exp.select(exp.column("file_name"), exp.column("num_rows")).from_(exp.Table(this=metadata))
    return parse.to_duckdb(query)


def matching_rows_query(columns: list[Column], table_name: str, condition: exp.Expression) -> str:
    """Return SQL of the ROW_COLUMN values of the rows of a registered table that match."""
    source = exp.select(exp.Star()).from_(exp.to_table(table_name, quoted=True))
    query = exp.select(exp.column(ROW_COLUMN, quoted=True)).from_(_scan(columns, source)).where(condition.copy())
    return parse.to_duckdb(query)


def count_matching_query(columns: list[Column], table_name: str, condition: exp.Expression) -> str:
    """Return SQL counting the rows of a registered table that match."""
    source = exp.select(exp.Star()).from_(exp.to_table(table_name, quoted=True))
    query = exp.select(exp.Count(this=exp.Star())).from_(_scan(columns, source)).where(condition.copy())
    return parse.to_duckdb(query)


def _scan(columns: list[Column], source: exp.Query) -> exp.Subquery:
    union = exp.Union(this=_empty(columns), expression=source, distinct=False, by_name=True)
    return exp.Subquery(this=union, alias=exp.TableAlias(this=exp.to_identifier(_SCAN_ALIAS)))


def _empty(columns: list[Column]) -> exp.Select:
    return exp.select(*[
        exp.alias_(exp.cast(exp.null(), _duckdb_type(column.type)), column.name, quoted=True)
        for column in columns
    ]).where(exp.false())


def _duckdb_type(name: str) -> exp.DataType:
    """Build a DuckDB type from a Parquet column's DuckDB type name (UBIGINT, DECIMAL(18,3) ...)."""
    try:
        return exp.DataType.build(name, dialect="duckdb")
    except ParseError:
        return exp.DataType.build(name, dialect="duckdb", udt=True)
