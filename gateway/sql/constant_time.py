"""Evaluating a constant SQL expression to a timestamp, for the time bounds of a condition."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import duckdb
from sqlglot import exp

from gateway.errors import GatewayError
from gateway.sql import parse
from gateway.sql.parameters import substitute_parameters

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Timestamps as clients usually write them: ISO 8601 with an optional zone.
_ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?")
_ZONE = re.compile(r"Z|[+-]\d{2}(?::?\d{2})?$")
_TIMESTAMP_TYPES = {exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATE}


def written_timestamp(node: exp.Expression) -> datetime | None:
    """Read a plainly written timestamp literal (``'2024-01-01 00:10:00+00'``, maybe cast) in Python.

    It saves a DuckDB query per time bound. Anything else returns None and
    is evaluated by DuckDB. A literal without a zone is UTC, as in the
    gateway's DuckDB sessions.
    """
    cast_to = None
    if isinstance(node, exp.Cast) and node.to.this in _TIMESTAMP_TYPES:
        cast_to, node = node.to.this, node.this
    if not isinstance(node, exp.Literal) or not node.is_string or not _ISO_TIMESTAMP.fullmatch(node.this):
        return None
    if (cast_to == exp.DataType.Type.DATE and len(node.this) != 10) or (
            cast_to == exp.DataType.Type.TIMESTAMP and _ZONE.search(node.this[10:])):
        return None  # a date cut from a timestamp, or a zone a TIMESTAMP drops: DuckDB decides
    try:
        moment = datetime.fromisoformat(node.this)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class ConstantEvaluator:
    """Evaluates an expression (with $n bound to ``params``) as TIMESTAMPTZ on ``cursor``.

    Calling it returns None for anything that is not a constant timestamp.
    ``queried`` turns True once an expression needed DuckDB, which is how
    the session detects that a query's time bounds may differ from run to
    run (``now()``, parameters) and its rewrite must not be reused.
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection, params: list[object]) -> None:
        self.cursor = cursor
        self.params = params
        self.queried = False

    def __call__(self, node: exp.Expression) -> datetime | None:
        written = written_timestamp(node)
        if written is not None:
            return written
        self.queried = True
        node = substitute_parameters(node.copy(), self.params)
        sql = f"SELECT epoch_us(CAST(({parse.to_duckdb(node)}) AS TIMESTAMPTZ))"
        try:
            row = self.cursor.execute(sql).fetchone()
        except (duckdb.Error, GatewayError):
            return None
        if row is None or row[0] is None:
            return None
        return EPOCH + timedelta(microseconds=int(row[0]))


def constant_evaluator(cursor: duckdb.DuckDBPyConnection, params: list[object]) -> ConstantEvaluator:
    """Return an evaluator of constant timestamps on ``cursor`` (see ConstantEvaluator)."""
    return ConstantEvaluator(cursor, params)
