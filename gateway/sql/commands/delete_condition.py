"""Reading ``DELETE FROM [db.]m [AS alias] WHERE cond`` into a target and a self-contained condition.

The condition is client SQL. It is parsed by sqlglot like every other
statement, passes the same function sandbox as a SELECT, and is made
independent of when it is evaluated, because a DELETE evaluates it twice
(counting, then rewriting):

- bound parameters ($1, $2 ...) become literals;
- clock functions (now(), current_date ...) become the constant they had
  when the DELETE began, as in PostgreSQL, where now() is fixed for a
  statement;
- functions that return a different value on every call (random(),
  gen_random_uuid()) are rejected.

Column references lose their table qualifier (the measurement's name or
alias), so the condition can be evaluated over any scan of the
measurement. Subqueries are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
from sqlglot import exp

from gateway.errors import FeatureNotSupported, UndefinedTable
from gateway.sql import parse
from gateway.sql.commands.removal_context import RemovalContext, resolve_measurement
from gateway.sql.duckdb_errors import translate
from gateway.sql.parameters import substitute_parameters
from gateway.sql.rewrite import check_functions, function_name

# sqlglot node classes of the SQL clock functions, looked up by name because some versions lack some.
_CLOCK_NODES = tuple(node for node in (getattr(exp, name, None) for name in (
    "CurrentTimestamp", "CurrentDate", "CurrentTime", "CurrentDatetime", "Localtimestamp", "Localtime",
)) if isinstance(node, type))
_CLOCK_FUNCTIONS = {"transaction_timestamp", "statement_timestamp", "clock_timestamp", "get_current_timestamp",
                    "get_current_time", "timeofday", "today", "current_localtimestamp"}
_RANDOM_FUNCTIONS = {"random", "rand", "uuid", "gen_random_uuid", "uuidv4", "uuidv7", "setseed", "nextval"}
# PostgreSQL's names of functions that sqlglot names otherwise, for error messages.
_CLIENT_NAMES = {"rand": "random", "uuid": "gen_random_uuid"}

# Clauses of PostgreSQL's DELETE that Lakegate does not run, by sqlglot argument name.
_UNSUPPORTED_CLAUSES = {"using": "USING", "returning": "RETURNING", "with": "WITH", "with_": "WITH",
                        "limit": "LIMIT", "order": "ORDER BY", "tables": "a list of tables"}


@dataclass(frozen=True)
class DeleteStatement:
    """The measurement a DELETE removes rows from, and its condition over unqualified columns."""

    database: str
    #: The stored spelling of the measurement.
    measurement: str
    condition: exp.Expression


def read_delete(tree: exp.Delete, context: RemovalContext) -> DeleteStatement:
    """Check a parsed DELETE and return its target and condition.

    Raises FeatureNotSupported (0A000) for a DELETE without WHERE and for
    clauses or functions Lakegate does not run, UndefinedTable (42P01) or
    InvalidCatalogName (3D000) for an unknown target, InvalidName (42602)
    for a bad name, and InsufficientPrivilege (42501) from the sandbox.
    """
    for argument, clause in _UNSUPPORTED_CLAUSES.items():
        if tree.args.get(argument):
            raise FeatureNotSupported(f"DELETE with {clause} is not supported",
                                      hint="DELETE FROM [database.]measurement WHERE condition")
    table = tree.this
    database, measurement = resolve_measurement(table, context)
    where = tree.args.get("where")
    if where is None:
        raise FeatureNotSupported(
            "DELETE without WHERE is not supported",
            hint=f"TRUNCATE {database}.{measurement} removes every row; a WHERE condition removes some",
        )
    condition = substitute_parameters(where.this.copy(), context.params)
    check_functions(condition)
    _reject_subqueries(condition)
    _reject_random(condition)
    _unqualify(condition, database, {measurement.lower(), table.name.lower(), table.alias_or_name.lower()})
    return DeleteStatement(database, measurement, _frozen_clock(condition, context.cursor))


def _reject_subqueries(condition: exp.Expression) -> None:
    if condition.find(exp.Query, exp.Subquery, exp.Exists) is not None:
        raise FeatureNotSupported("subqueries are not supported in a DELETE condition",
                                  hint="list the values instead, for example WHERE host IN ('a', 'b')")


def _reject_random(condition: exp.Expression) -> None:
    for node in condition.walk():
        if isinstance(node, (exp.Rand, exp.Uuid)) or (
                isinstance(node, exp.Func) and function_name(node) in _RANDOM_FUNCTIONS):
            raise FeatureNotSupported(
                f"function {_CLIENT_NAMES.get(function_name(node), function_name(node))} "
                "is not allowed in a DELETE condition",
                detail="a DELETE evaluates its condition once to count rows and again to remove them, "
                       "so the condition must give the same result each time",
            )


def _unqualify(condition: exp.Expression, database: str, names: set[str]) -> None:
    """Drop ``m.`` and ``db.m.`` from column references. Any other qualifier names a table the DELETE lacks."""
    for column in list(condition.find_all(exp.Column)):
        qualifier = column.table
        if not qualifier:
            continue
        if qualifier.lower() not in names or (column.db and column.db != database) or column.catalog:
            raise UndefinedTable(f'missing FROM-clause entry for table "{qualifier}"')
        for part in ("table", "db", "catalog"):
            column.set(part, None)


def _frozen_clock(condition: exp.Expression, cursor: duckdb.DuckDBPyConnection) -> exp.Expression:
    """Replace each clock function with its current value, as a typed literal."""

    def freeze(node: exp.Expression) -> exp.Expression:
        if not _is_clock(node):
            return node
        sql = parse.to_duckdb(node)
        try:
            row = cursor.execute(f"SELECT CAST(({sql}) AS VARCHAR), typeof({sql})").fetchone()
        except duckdb.Error as error:
            raise translate(error) from error
        assert row is not None  # a SELECT without FROM returns one row
        return exp.cast(exp.Literal.string(str(row[0])), exp.DataType.build(str(row[1]), dialect="duckdb"))

    return condition.transform(freeze)


def _is_clock(node: exp.Expression) -> bool:
    if isinstance(node, _CLOCK_NODES):
        return True
    return isinstance(node, exp.Func) and function_name(node) in _CLOCK_FUNCTIONS
