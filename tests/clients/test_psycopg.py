"""psycopg 3 against the gateway and PostgreSQL: text and binary results, parameters, errors, cancel.

psycopg 3 binds parameters on the server (extended protocol): Python ``str``
goes out untyped (OID 0), numbers and dates with their types. Results come
in text format unless a cursor requests binary.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import psycopg
import pytest
from psycopg import pq

from tests.clients.servers import (
    CANCEL_AFTER,
    COLUMNS,
    ROWS,
    TEXT_SPELLINGS,
    TEXT_SPELLINGS_QUERY,
    Server,
)

# RowDescription type OIDs of m's columns, as PostgreSQL 15 sends them.
COLUMN_OIDS = [1184, 1082, 16, 25, 1007, 17, 20, 1083, 701, 1114]


def test_rows_and_types(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with server.connect() as connection:
            cursor = connection.execute("SELECT * FROM m ORDER BY time")
            assert [column.name for column in cursor.description or []] == list(COLUMNS), server
            assert [column.type_code for column in cursor.description or []] == COLUMN_OIDS, server
            assert cursor.fetchall() == ROWS, server


def test_binary_rows(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with server.connect() as connection:
            cursor = connection.cursor(binary=True)
            cursor.execute("SELECT * FROM m ORDER BY time")
            assert [column.type_code for column in cursor.description or []] == COLUMN_OIDS, server
            assert cursor.fetchall() == ROWS, server


def test_text_spellings(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with server.connect() as connection:
            result = connection.pgconn.exec_(TEXT_SPELLINGS_QUERY.encode())
            assert result.status == pq.ExecStatus.TUPLES_OK, server
            values = [result.get_value(0, column) for column in range(result.nfields)]
            assert [None if value is None else value.decode() for value in values] == list(TEXT_SPELLINGS), server


def test_parameters(gateway: Server, oracle: Server) -> None:
    query = "SELECT host, samples FROM m WHERE samples > %s AND host <> %s ORDER BY time"
    since = datetime(2024, 1, 1, 1, tzinfo=UTC)
    for server in (gateway, oracle):
        with server.connect() as connection:
            assert connection.execute(query, (0, "zeta")).fetchall() == [("alpha", 42)], server
            assert connection.execute("SELECT %s::integer + 1, %s::text", (41, "x")).fetchone() == (42, "x")
            times = connection.execute("SELECT time FROM m WHERE time >= %s ORDER BY time", (since,)).fetchall()
            assert times == [(ROWS[1][0],), (ROWS[2][0],)], server


def test_prepared_statement_reused(gateway: Server, oracle: Server) -> None:
    query = "SELECT count(*) FROM m WHERE day >= %s"
    for server in (gateway, oracle):
        with server.connect() as connection:
            for _ in range(3):
                assert connection.execute(query, (date(2024, 1, 1),), prepare=True).fetchone() == (1,), server


def test_command_tags(gateway: Server, oracle: Server, scratch_table: str) -> None:
    insert = f"INSERT INTO {scratch_table} (time, v) VALUES (%s, %s), (%s, %s)"
    values = (datetime(2024, 3, 1, tzinfo=UTC), 1, datetime(2024, 3, 1, 1, tzinfo=UTC), 2)
    for server in (gateway, oracle):
        with server.connect() as connection:
            assert connection.execute("SELECT * FROM m").statusmessage == "SELECT 3", server
            cursor = connection.execute(insert, values)
            assert cursor.statusmessage == "INSERT 0 2", server
            assert cursor.rowcount == 2, server
            assert connection.execute(f"SELECT v FROM {scratch_table} ORDER BY time").fetchall() == [(1,), (2,)]


def test_executemany(gateway: Server, oracle: Server, scratch_table: str) -> None:
    rows = [(datetime(2024, 5, 1, 0, minute, tzinfo=UTC), minute) for minute in range(60)]
    for server in (gateway, oracle):
        with server.connect() as connection:
            cursor = connection.cursor()
            cursor.executemany(f"INSERT INTO {scratch_table} (time, v) VALUES (%s, %s)", rows)
            connection.commit()
            assert cursor.rowcount == 60, server
            assert connection.execute(
                f"SELECT count(*), sum(v), min(time) FROM {scratch_table} WHERE time >= '2024-05-01'"
            ).fetchone() == (60, 1770, datetime(2024, 5, 1, tzinfo=UTC)), server


@pytest.mark.parametrize("query", ["", ";", "-- ping"])
def test_empty_query(gateway: Server, oracle: Server, query: str) -> None:
    for server in (gateway, oracle):
        with server.connect() as connection:
            cursor = connection.execute(query)
            assert cursor.pgresult is not None
            assert cursor.pgresult.status == pq.ExecStatus.EMPTY_QUERY, server
            assert cursor.statusmessage is None, server


@pytest.mark.parametrize(("query", "sqlstate"), [
    ("SELECT * FROM nosuch", "42P01"),
    ("SELEC 1", "42601"),
    ("SELECT nosuch FROM m", "42703"),
])
def test_error_then_recovery(gateway: Server, oracle: Server, query: str, sqlstate: str) -> None:
    for server in (gateway, oracle):
        with psycopg.connect(server.dsn()) as connection:
            with pytest.raises(psycopg.Error) as excinfo:
                connection.execute(query)
            assert excinfo.value.sqlstate == sqlstate, server
            assert connection.info.transaction_status == pq.TransactionStatus.INERROR, server

            with pytest.raises(psycopg.errors.InFailedSqlTransaction):
                connection.execute("SELECT 1")
            connection.rollback()
            assert connection.info.transaction_status == pq.TransactionStatus.IDLE, server
            assert connection.execute("SELECT count(*) FROM m").fetchone() == (3,), server


def test_pipeline(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with server.connect() as connection, connection.pipeline():
            first = connection.execute("SELECT host FROM m WHERE samples = %s", (42,))
            second = connection.execute("SELECT count(*) FROM m")
            assert first.fetchall() == [("alpha",)], server
            assert second.fetchall() == [(3,)], server


def test_cancel(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with server.connect() as connection:
            timer = threading.Timer(CANCEL_AFTER, connection.cancel_safe)
            timer.start()
            started = time.monotonic()
            with pytest.raises(psycopg.errors.QueryCanceled) as excinfo:
                connection.execute(server.long_query)
            timer.join()

            assert excinfo.value.sqlstate == "57014", server
            assert time.monotonic() - started < CANCEL_AFTER + 10, server
            assert connection.execute("SELECT count(*) FROM m").fetchone() == (3,), server
