"""Server-side cursors: psycopg named cursors, DECLARE/FETCH/CLOSE, and the transaction rules."""

from __future__ import annotations

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess


@pytest.fixture
def connection(local_gateway: GatewayProcess) -> psycopg.Connection:
    connection = psycopg.connect(f"{local_gateway.dsn} dbname=telemetry")
    connection.execute("INSERT INTO cpu (time, v) SELECT TIMESTAMPTZ '2024-01-01' + i * INTERVAL 1 MINUTE, i "
                       "FROM range(250) t(i)")
    connection.commit()
    return connection


def test_named_cursor_streams_rows(connection: psycopg.Connection) -> None:
    with connection.cursor(name="big") as cursor:
        cursor.itersize = 100
        cursor.execute("SELECT v FROM cpu ORDER BY v")
        assert [row[0] for row in cursor] == list(range(250))
    connection.commit()


def test_declare_fetch_close(connection: psycopg.Connection) -> None:
    assert connection.execute("DECLARE c1 CURSOR FOR SELECT v FROM cpu ORDER BY v").statusmessage == "DECLARE CURSOR"
    first = connection.execute("FETCH 3 FROM c1")
    assert first.statusmessage == "FETCH 3"
    assert first.fetchall() == [(0,), (1,), (2,)]
    assert connection.execute("FETCH NEXT FROM c1").fetchall() == [(3,)]
    rest = connection.execute("FETCH ALL IN c1")
    assert rest.statusmessage == "FETCH 246"
    assert connection.execute("FETCH 5 FROM c1").fetchall() == []
    assert connection.execute("CLOSE c1").statusmessage == "CLOSE CURSOR"
    with pytest.raises(psycopg.errors.InvalidCursorName):
        connection.execute("FETCH 1 FROM c1")
    connection.rollback()


def test_cursor_transaction_rules(connection: psycopg.Connection) -> None:
    connection.autocommit = True
    with pytest.raises(psycopg.errors.NoActiveSqlTransaction):
        connection.execute("DECLARE c2 CURSOR FOR SELECT 1")
    connection.execute("DECLARE c3 CURSOR WITH HOLD FOR SELECT v FROM cpu ORDER BY v")
    assert connection.execute("FETCH 2 FROM c3").fetchall() == [(0,), (1,)]
    with pytest.raises(psycopg.errors.DuplicateCursor):
        connection.execute("DECLARE c3 CURSOR WITH HOLD FOR SELECT 1")
    assert connection.execute("CLOSE ALL").statusmessage == "CLOSE CURSOR ALL"


def test_psycopg2_named_cursor(connection: psycopg.Connection, local_gateway: GatewayProcess) -> None:
    import psycopg2

    other = psycopg2.connect(f"{local_gateway.dsn} dbname=telemetry")
    try:
        cursor = other.cursor("named")
        cursor.itersize = 64
        cursor.execute("SELECT v FROM cpu WHERE v < 100 ORDER BY v")
        assert [row[0] for row in cursor] == list(range(100))
        cursor.close()
        other.commit()
    finally:
        other.close()


def test_odbc_use_declare_fetch(connection: psycopg.Connection, local_gateway: GatewayProcess) -> None:
    import pyodbc

    from tests.clients.test_odbc import odbc_driver

    odbc = pyodbc.connect(f"DRIVER={{{odbc_driver()}}};SERVER=127.0.0.1;PORT={local_gateway.port};"
                          "DATABASE=telemetry;UID=tester;UseDeclareFetch=1;Fetch=7", autocommit=True)
    try:
        rows = odbc.cursor().execute("SELECT v FROM cpu WHERE v < 20 ORDER BY v").fetchall()
        assert [row[0] for row in rows] == list(range(20))
        again = odbc.cursor().execute("SELECT count(*) FROM cpu WHERE v >= ?", 200).fetchone()
        assert again[0] == 50
    finally:
        odbc.close()
