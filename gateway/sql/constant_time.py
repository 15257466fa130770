"""Evaluating a constant SQL expression to a timestamp, for the time bounds of a condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
from sqlglot import exp

from gateway.errors import GatewayError
from gateway.sql import parse
from gateway.sql.parameters import substitute_parameters
from gateway.sql.time_bounds import Evaluator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def constant_evaluator(cursor: duckdb.DuckDBPyConnection, params: list[object]) -> Evaluator:
    """Return a function evaluating an expression (with $n bound to ``params``) as TIMESTAMPTZ on ``cursor``.

    It returns None for anything that is not a constant timestamp.
    """

    def evaluate(node: exp.Expression) -> datetime | None:
        node = substitute_parameters(node.copy(), params)
        sql = f"SELECT epoch_us(CAST(({parse.to_duckdb(node)}) AS TIMESTAMPTZ))"
        try:
            row = cursor.execute(sql).fetchone()
        except (duckdb.Error, GatewayError):
            return None
        if row is None or row[0] is None:
            return None
        return EPOCH + timedelta(microseconds=int(row[0]))

    return evaluate
