"""DELETE for the gateway's own jobs: retention and continuous queries remove rows with it.

It runs the same checks, locks and file rewrites as a client's DELETE, on
a cursor of its own, with a condition built as a syntax tree (never as
text around values).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlglot import exp

from gateway.engine import Engine
from gateway.ingest.arrow_writer import ArrowWriter
from gateway.sql.commands.delete import DeleteOutcome, run_delete
from gateway.sql.commands.delete_condition import DeleteStatement
from gateway.sql.commands.removal_context import RemovalContext
from gateway.sql.constant_time import constant_evaluator
from gateway.sql.measurements import Measurements


def delete_where(measurements: Measurements, writer: ArrowWriter, engine: Engine, database: str,
                 measurement: str, condition: exp.Expression, *, max_rows: int | None = None,
                 notify: Callable[[str], None] | None = None) -> DeleteOutcome:
    """Delete the rows of ``database.measurement`` matching ``condition`` (unqualified columns).

    The measurement must exist (UndefinedTable otherwise). ``max_rows``
    None means no limit. Rows still buffered in the writer are flushed and
    deleted too, as for a client's DELETE.
    """
    stored = measurements.resolve(database, measurement)
    cursor = engine.cursor()
    try:
        context = RemovalContext(measurements, writer, engine, cursor, database, constant_evaluator(cursor, []),
                                 max_rows=max_rows if max_rows is not None else 2**62, notify=notify)
        statement = DeleteStatement(database, stored, condition)
        return run_delete(statement, context, notify or (lambda message: None))
    finally:
        cursor.close()


def time_between(start: datetime | None, end: datetime | None) -> exp.Expression:
    """Return the condition ``start <= time < end`` (a None end is open) over the ``time`` column."""
    parts: list[exp.Expression] = []
    if start is not None:
        parts.append(exp.GTE(this=exp.column("time"), expression=_timestamp(start)))
    if end is not None:
        parts.append(exp.LT(this=exp.column("time"), expression=_timestamp(end)))
    if not parts:
        return exp.true()
    return exp.and_(*parts)


def _timestamp(moment: datetime) -> exp.Expression:
    return exp.cast(exp.Literal.string(moment.isoformat()), exp.DataType.build("TIMESTAMPTZ"))
