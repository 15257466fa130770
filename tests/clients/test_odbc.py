"""psqlODBC through pyodbc, against the gateway and PostgreSQL: rows, parameters, errors, cancel, catalog.

psqlODBC connects with a batch of SETs and a pg_type probe, prepares
parameterised statements under ``_PLAN<address>`` names and converts values
to ODBC types: booleans arrive as ``'1'``/``'0'`` strings (BoolsAsChar),
timestamps without their zone, arrays and intervals as text. In
manual-commit mode it wraps each statement after the first of a transaction
in a SAVEPOINT, so that an error undoes that statement only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from datetime import time as time_of_day
from pathlib import Path

import pyodbc
import pytest

from tests.clients.servers import CANCEL_AFTER, COLUMNS, TEXT_SPELLINGS_QUERY, Server

DEBIAN_DRIVER = Path("/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so")
# The Unicode driver as odbcinst registers it, for machines with another library path.
REGISTERED_DRIVER = "PostgreSQL Unicode"

EXPECTED_ROWS = [
    (datetime(2024, 1, 1), date(2024, 1, 1), "1", "alpha", "{1,2}", b"\x00\xff", 42, time_of_day(8, 30), 0.5,
     datetime(2024, 1, 1, 9)),
    (datetime(2024, 1, 1, 1, 30, 0, 250000), date(2023, 12, 31), "0", 'beta, "quoted"', "{3}", b"", -7,
     time_of_day(23, 59, 59, 500000), -1.5e20, datetime(2023, 12, 31, 23, 59, 59, 123456)),
    (datetime(2024, 1, 2), None, None, None, None, None, None, None, None, None),
]


def odbc_driver() -> str:
    if DEBIAN_DRIVER.exists():
        return str(DEBIAN_DRIVER)
    assert REGISTERED_DRIVER in pyodbc.drivers(), "psqlODBC is not installed; .ci/run installs odbc-postgresql"
    return REGISTERED_DRIVER


@contextmanager
def _connection(server: Server, *, autocommit: bool = True) -> Iterator[pyodbc.Connection]:
    connection = pyodbc.connect(f"DRIVER={{{odbc_driver()}}};SERVER={server.host};PORT={server.port};"
                                f"DATABASE={server.database};UID={server.user}", autocommit=autocommit, timeout=10)
    try:
        yield connection
    finally:
        connection.close()


def test_rows_and_types(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _connection(server) as connection:
            cursor = connection.execute("SELECT * FROM m ORDER BY time")
            assert [column[0] for column in cursor.description] == list(COLUMNS), server
            assert [tuple(row) for row in cursor.fetchall()] == EXPECTED_ROWS, server


def test_converted_values(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _connection(server) as connection:
            row = connection.execute(TEXT_SPELLINGS_QUERY).fetchone()
            assert tuple(row) == (1.5, "1", datetime(2024, 1, 1), "1 day 02:00:00", None), server


def test_parameters(gateway: Server, oracle: Server) -> None:
    # NOTE: one parameterised statement per connection, because the gateway
    # rejects psqlODBC's DEALLOCATE (0A000), so the driver's next prepare
    # under the same name fails with 42P05.
    query = "SELECT host, samples FROM m WHERE samples > ? AND host <> ? ORDER BY time"
    for server in (gateway, oracle):
        with _connection(server) as connection:
            assert [tuple(row) for row in connection.execute(query, 0, "zeta").fetchall()] == [("alpha", 42)]


def test_insert_rowcount(gateway: Server, oracle: Server, scratch_table: str) -> None:
    insert = f"INSERT INTO {scratch_table} (time, v) VALUES ('2024-03-01 00:00:00+00', 1), ('2024-03-01 01:00:00+00', 2)"
    for server in (gateway, oracle):
        with _connection(server) as connection:
            assert connection.execute(insert).rowcount == 2, server
            assert connection.execute(f"SELECT sum(v) FROM {scratch_table}").fetchval() == 3, server


@pytest.mark.parametrize(("query", "sqlstate"), [
    ("SELECT * FROM nosuch", "42P01"),
    ("SELEC 1", "42601"),
    ("SELECT nosuch FROM m", "42703"),
])
def test_error_then_recovery(gateway: Server, oracle: Server, query: str, sqlstate: str) -> None:
    for server in (gateway, oracle):
        with _connection(server) as connection:
            with pytest.raises(pyodbc.Error) as excinfo:
                connection.execute(query)
            assert excinfo.value.args[0] == sqlstate, server
            assert connection.execute("SELECT count(*) FROM m").fetchval() == 3, server


def test_manual_commit_error_undoes_statement(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _connection(server, autocommit=False) as connection:
            assert connection.execute("SELECT count(*) FROM m").fetchval() == 3, server
            with pytest.raises(pyodbc.Error) as excinfo:
                connection.execute("SELECT * FROM nosuch")
            assert excinfo.value.args[0] == "42P01", server
            assert connection.execute("SELECT host FROM m WHERE samples = 42").fetchval() == "alpha", server
            connection.commit()


def test_cancel(gateway: Server, oracle: Server) -> None:
    for server in (gateway, oracle):
        with _connection(server) as connection:
            cursor = connection.cursor()
            timer = threading.Timer(CANCEL_AFTER, cursor.cancel)
            timer.start()
            started = time.monotonic()
            with pytest.raises(pyodbc.Error) as excinfo:
                cursor.execute(server.long_query)
            timer.join()

            assert excinfo.value.args[0] == "57014", server
            assert time.monotonic() - started < CANCEL_AFTER + 10, server
            assert cursor.execute("SELECT count(*) FROM m").fetchval() == 3, server


def test_catalog_tables_and_columns(gateway: Server, oracle: Server) -> None:
    # The schema differs: PostgreSQL's table is in public, the gateway
    # reports the database name as the schema.
    expected_columns = [
        ("time", 93, "timestamptz"), ("day", 91, "date"), ("healthy", 12, "bool"), ("host", -10, "text"),
        ("levels", -9, "_int4"), ("payload", -4, "bytea"), ("samples", -5, "int8"), ("shift_start", 92, "time"),
        ("usage", 6, "float8"), ("wall_clock", 93, "timestamp"),
    ]
    for server in (gateway, oracle):
        with _connection(server) as connection:
            tables = connection.cursor().tables(table="m").fetchall()
            assert [(row.table_cat, row.table_name, row.table_type) for row in tables] == [
                ("telemetry", "m", "TABLE")], server
            columns = connection.cursor().columns(table="m").fetchall()
            assert [(row.column_name, row.data_type, row.type_name) for row in columns] == expected_columns, server
            assert [row.ordinal_position for row in columns] == list(range(1, 11)), server
