"""pg8000 against the gateway and PostgreSQL: rows, parameters, errors, cancel.

pg8000 is pure Python. It sends every statement over the extended protocol
with untyped (OID 0) text parameters and reads results in text format.
It has no cancel call, so the test sends the CancelRequest itself with the
key from the connection's BackendKeyData, as a pg8000 user has to.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pg8000.dbapi
import pg8000.native
import pytest

from tests.clients.servers import (
    CANCEL_AFTER,
    COLUMNS,
    ROWS,
    TEXT_SPELLINGS,
    TEXT_SPELLINGS_QUERY,
    Server,
)

CANCEL_REQUEST_CODE = 80877102


@contextmanager
def _native(server: Server) -> Iterator[pg8000.native.Connection]:
    connection = pg8000.native.Connection(server.user, host=server.host, port=server.port, database=server.database)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def _dbapi(server: Server) -> Iterator[pg8000.dbapi.Connection]:
    connection = pg8000.dbapi.connect(server.user, host=server.host, port=server.port, database=server.database)
    try:
        yield connection
    finally:
        connection.close()


def _send_cancel(server: Server, backend_key_data: bytes) -> None:
    """Send a CancelRequest: length 16, the cancel code, then the process id and secret key."""
    with socket.create_connection((server.host, server.port), timeout=5) as cancel:
        cancel.sendall(struct.pack("!ii", 16, CANCEL_REQUEST_CODE) + backend_key_data)


def test_rows_and_types(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _native(server) as connection:
            rows = connection.run("SELECT * FROM m ORDER BY time")
            assert [column["name"] for column in connection.columns] == list(COLUMNS), server
            assert [tuple(row) for row in rows] == ROWS, server


def test_text_spellings(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _native(server) as connection:
            for oid in (701, 16, 1184, 1186, 25):
                connection.register_in_adapter(oid, str)
            assert tuple(connection.run(TEXT_SPELLINGS_QUERY)[0]) == TEXT_SPELLINGS, server


def test_parameters(gateway: Server, oracle: Server) -> None:
    since = datetime(2024, 1, 1, 1, tzinfo=UTC)
    for server in (gateway, oracle):
        with _native(server) as connection:
            rows = connection.run("SELECT host, samples FROM m WHERE samples > :n AND host <> :host ORDER BY time",
                                  n=0, host="zeta")
            assert rows == [["alpha", 42]], server
            assert connection.run("SELECT :n::integer + 1, :s::text", n=41, s="x") == [[42, "x"]], server
            assert connection.run("SELECT count(*) FROM m WHERE time >= :t", t=since) == [[2]], server


def test_row_counts(gateway: Server, oracle: Server, scratch_table: str) -> None:
    for server in (gateway, oracle):
        with _dbapi(server) as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT * FROM m")
            assert cursor.rowcount == 3, server
            cursor.execute(f"INSERT INTO {scratch_table} (time, v) VALUES (%s, 1), (%s, 2)",
                           (datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, 1, tzinfo=UTC)))
            assert cursor.rowcount == 2, server
            connection.commit()


@pytest.mark.parametrize(("query", "sqlstate"), [
    ("SELECT * FROM nosuch", "42P01"),
    ("SELEC 1", "42601"),
    ("SELECT nosuch FROM m", "42703"),
])
def test_error_then_recovery(gateway: Server, oracle: Server, query: str, sqlstate: str) -> None:
    for server in (gateway, oracle):
        with _dbapi(server) as connection:
            cursor = connection.cursor()
            with pytest.raises(pg8000.dbapi.DatabaseError) as excinfo:
                cursor.execute(query)
            assert excinfo.value.args[0]["C"] == sqlstate, server

            with pytest.raises(pg8000.dbapi.DatabaseError) as aborted:
                cursor.execute("SELECT 1")
            assert aborted.value.args[0]["C"] == "25P02", server
            connection.rollback()
            cursor.execute("SELECT count(*) FROM m")
            assert cursor.fetchone() == [3], server


def test_cancel(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _native(server) as connection:
            key = connection._backend_key_data  # pg8000 keeps BackendKeyData only privately
            assert key is not None and len(key) == 8, server
            timer = threading.Timer(CANCEL_AFTER, _send_cancel, (server, key))
            timer.start()
            started = time.monotonic()
            with pytest.raises(pg8000.native.DatabaseError) as excinfo:
                connection.run(server.long_query)
            timer.join()

            assert excinfo.value.args[0]["C"] == "57014", server
            assert time.monotonic() - started < CANCEL_AFTER + 10, server
            assert connection.run("SELECT count(*) FROM m") == [[3]], server
