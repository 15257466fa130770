"""Timed ``COPY ... FROM STDIN WITH (FORMAT csv)`` through psycopg, the same on both servers."""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from bench.cpu_data import COLUMNS

# psycopg gets the data in slices of this size, as a client streaming a file would send it.
WRITE_BYTES = 1024 * 1024


def copy_statement(table: str) -> sql.Composed:
    """Return ``COPY table (time, <tags>, <fields>) FROM STDIN WITH (FORMAT csv)``.

    The column list is spelled out because the gateway needs one to create a
    new measurement, and PostgreSQL accepts the same statement.
    """
    columns = sql.SQL(", ").join(sql.Identifier(column) for column in COLUMNS)
    return sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(sql.Identifier(table), columns)


def timed_copy(conninfo: str, table: str, data: bytes) -> float:
    """COPY ``data`` (CSV in ``COLUMNS`` order) into ``table`` and return the seconds it took.

    The clock runs from sending the COPY statement until the server's
    command completion arrives. Connecting is not timed.
    """
    with psycopg.connect(conninfo, autocommit=True) as connection:
        cursor = connection.cursor()
        statement = copy_statement(table)
        view = memoryview(data)
        started = time.perf_counter()
        with cursor.copy(statement) as copy:
            for offset in range(0, len(view), WRITE_BYTES):
                copy.write(view[offset:offset + WRITE_BYTES])
        elapsed = time.perf_counter() - started
    return elapsed
