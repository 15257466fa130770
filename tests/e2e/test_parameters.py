"""Parameters and PostgreSQL spellings that clients rely on, through psycopg's extended protocol."""

from __future__ import annotations

import datetime
from decimal import Decimal

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess


@pytest.fixture
def connection(local_gateway: GatewayProcess) -> psycopg.Connection:
    connection = psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True)
    connection.execute("INSERT INTO m (time, host, v) VALUES ('2024-01-01', 'alpha', 7), ('2024-01-02', 'beta', 8)")
    return connection


@pytest.mark.parametrize(
    "value",
    ["x", 1.5, True, datetime.date(2024, 1, 2), b"\x00\xff", 1, None,
     datetime.datetime(2024, 1, 2, 3, tzinfo=datetime.UTC)],
)
def test_untyped_parameter_as_column(connection: psycopg.Connection, value: object) -> None:
    assert connection.execute("SELECT %s", (value,)).fetchall() == [(value,)]


def test_numeric_parameter_round_trip(connection: psycopg.Connection) -> None:
    assert connection.execute("SELECT %s", (Decimal("2.5"),)).fetchall() == [(2.5,)]


def test_any_of_array_parameter(connection: psycopg.Connection) -> None:
    assert connection.execute("SELECT host FROM m WHERE v = ANY(%s)", ([7, 1],)).fetchall() == [("alpha",)]


def test_database_qualified_column(connection: psycopg.Connection) -> None:
    rows = connection.execute("SELECT telemetry.m.host FROM telemetry.m WHERE v = 8").fetchall()
    assert rows == [("beta",)]


def test_deallocate_named_statement(connection: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InvalidSqlStatementName):
        connection.execute("DEALLOCATE no_such_statement")
    assert connection.execute("SELECT 1").fetchone() == (1,)


def test_postgres_spellings(connection: psycopg.Connection) -> None:
    cursor = connection.execute(
        "SELECT '\\x00ff'::bytea, true, interval '1 day 2 hours', current_setting('server_version_num')")
    assert [column.name for column in cursor.description] == ["bytea", "?column?", "interval", "current_setting"]
    assert cursor.fetchone() == (b"\x00\xff", True, datetime.timedelta(days=1, hours=2), "150000")
    assert connection.execute("SHOW server_version_num").fetchone() == ("150000",)
    assert connection.execute("SHOW TimeZone").description[0].name == "TimeZone"
