"""Timed INSERTs: multi-row ``INSERT ... VALUES`` statements and psycopg ``executemany``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

import psycopg
from psycopg import sql

from bench.cpu_data import COLUMNS, CpuRow


def _insert_prefix(table: str) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in COLUMNS)
    return sql.SQL("INSERT INTO {} ({}) VALUES ").format(sql.Identifier(table), columns)


def multirow_statements(table: str, batches: Sequence[Sequence[CpuRow]]) -> list[sql.Composed]:
    """Return one ``INSERT INTO table (...) VALUES (...), (...)`` statement per batch, values as literals.

    ``time`` is a quoted ISO 8601 string, which both servers cast to the
    time column's type, tags are quoted strings and fields are decimal numbers.
    """
    prefix = _insert_prefix(table)
    statements = []
    for batch in batches:
        values = ", ".join(f"({', '.join(_literal(value) for value in row)})" for row in batch)
        statements.append(prefix + sql.SQL(values))
    return statements


def _literal(value: datetime | str | float) -> str:
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def timed_statements(conninfo: str, statements: Sequence[sql.Composed]) -> float:
    """Execute the statements one after another in autocommit mode and return the seconds they took."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        texts = [statement.as_string(connection) for statement in statements]
        cursor = connection.cursor()
        started = time.perf_counter()
        for text in texts:
            cursor.execute(text.encode())
        return time.perf_counter() - started


def timed_executemany(conninfo: str, table: str, rows: Sequence[CpuRow]) -> float:
    """Insert ``rows`` with one parameterised single-row INSERT per row through ``executemany``.

    psycopg sends the statements over the extended protocol, pipelined when
    libpq supports it. Returns the seconds the ``executemany`` call took.
    """
    placeholders = sql.SQL(", ").join(sql.Placeholder() for _ in COLUMNS)
    statement = _insert_prefix(table) + sql.SQL("(") + placeholders + sql.SQL(")")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        cursor = connection.cursor()
        started = time.perf_counter()
        cursor.executemany(statement, rows)
        return time.perf_counter() - started
