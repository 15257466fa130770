"""psycopg2 against the gateway and PostgreSQL: rows, parameters, errors, cancel.

psycopg2 interpolates parameters on the client and sends plain SQL over the
simple query protocol; results arrive in text format and are parsed by OID.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import pytest

from tests.clients.servers import (
    CANCEL_AFTER,
    COLUMNS,
    ROWS,
    TEXT_SPELLINGS,
    TEXT_SPELLINGS_QUERY,
    Server,
)

COLUMN_OIDS = [1184, 1082, 16, 25, 1007, 17, 20, 1083, 701, 1114]


@contextmanager
def _connection(server: Server, *, autocommit: bool = True) -> Iterator[psycopg2.extensions.connection]:
    connection = psycopg2.connect(server.dsn())
    connection.autocommit = autocommit
    try:
        yield connection
    finally:
        connection.close()


def _as_bytes(row: tuple[object, ...]) -> tuple[object, ...]:
    """Turn psycopg2's memoryview for bytea into bytes."""
    return tuple(bytes(value) if isinstance(value, memoryview) else value for value in row)


def test_rows_and_types(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _connection(server) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT * FROM m ORDER BY time")
            assert [column.name for column in cursor.description] == list(COLUMNS), server
            assert [column.type_code for column in cursor.description] == COLUMN_OIDS, server
            assert [_as_bytes(row) for row in cursor.fetchall()] == ROWS, server


def test_text_spellings(gateway: Server, oracle: Server) -> None:
    unparsed = psycopg2.extensions.new_type((701, 16, 1184, 1186, 25), "UNPARSED", lambda value, cursor: value)
    for server in (gateway, oracle):
        with _connection(server) as connection, connection.cursor() as cursor:
            psycopg2.extensions.register_type(unparsed, cursor)
            cursor.execute(TEXT_SPELLINGS_QUERY)
            assert cursor.fetchone() == TEXT_SPELLINGS, server


def test_parameters(gateway: Server, oracle: Server) -> None:
    since = datetime(2024, 1, 1, 1, tzinfo=UTC)
    for server in (gateway, oracle):
        with _connection(server) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT host, samples FROM m WHERE samples > %s AND host <> %s ORDER BY time", (0, "zeta"))
            assert cursor.fetchall() == [("alpha", 42)], server
            cursor.execute("SELECT samples FROM m WHERE host = %(host)s", {"host": 'beta, "quoted"'})
            assert cursor.fetchall() == [(-7,)], server
            cursor.execute("SELECT count(*) FROM m WHERE time >= %s AND healthy IS NOT %s", (since, True))
            assert cursor.fetchone() == (2,), server


def test_command_tags(gateway: Server, oracle: Server, scratch_table: str) -> None:
    for server in (gateway, oracle):
        with _connection(server) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT * FROM m")
            assert cursor.statusmessage == "SELECT 3", server
            cursor.execute(f"INSERT INTO {scratch_table} (time, v) VALUES (%s, 1), (%s, 2)",
                           (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 1, tzinfo=UTC)))
            assert cursor.statusmessage == "INSERT 0 2", server
            assert cursor.rowcount == 2, server
            cursor.execute("SELECT 1; SELECT 2")
            assert cursor.fetchall() == [(2,)], server


def test_empty_query(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _connection(server) as connection, connection.cursor() as cursor:
            with pytest.raises(psycopg2.ProgrammingError, match="can't execute an empty query"):
                cursor.execute("-- ping")
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,), server


@pytest.mark.parametrize(("query", "sqlstate"), [
    ("SELECT * FROM nosuch", "42P01"),
    ("SELEC 1", "42601"),
    ("SELECT nosuch FROM m", "42703"),
])
def test_error_then_recovery(gateway: Server, oracle: Server, query: str, sqlstate: str) -> None:
    for server in (gateway, oracle):
        with _connection(server, autocommit=False) as connection, connection.cursor() as cursor:
            with pytest.raises(psycopg2.errors.lookup(sqlstate)) as excinfo:
                cursor.execute(query)
            assert excinfo.value.pgcode == sqlstate, server
            status = connection.get_transaction_status()
            assert status == psycopg2.extensions.TRANSACTION_STATUS_INERROR, server

            with pytest.raises(psycopg2.errors.InFailedSqlTransaction):
                cursor.execute("SELECT 1")
            connection.rollback()
            cursor.execute("SELECT count(*) FROM m")
            assert cursor.fetchone() == (3,), server


def test_cancel(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _connection(server) as connection, connection.cursor() as cursor:
            timer = threading.Timer(CANCEL_AFTER, connection.cancel)
            timer.start()
            started = time.monotonic()
            with pytest.raises(psycopg2.errors.QueryCanceled) as excinfo:
                cursor.execute(server.long_query)
            timer.join()

            assert excinfo.value.pgcode == "57014", server
            assert time.monotonic() - started < CANCEL_AFTER + 10, server
            cursor.execute("SELECT count(*) FROM m")
            assert cursor.fetchone() == (3,), server
