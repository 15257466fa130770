"""COPY ... TO STDOUT in text and CSV format, through psycopg and psql."""

from __future__ import annotations

import shutil
import subprocess

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess


@pytest.fixture
def connection(local_gateway: GatewayProcess) -> psycopg.Connection:
    connection = psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True)
    connection.execute("INSERT INTO cpu (time, host, usage) VALUES "
                       "('2024-01-01 00:00', E'tab\\there', 1.5), ('2024-01-01 01:00', 'comma, \"quote\"', NULL)")
    return connection


def _copy(connection: psycopg.Connection, statement: str) -> bytes:
    with connection.cursor().copy(statement) as copy:
        return b"".join(bytes(chunk) for chunk in copy)


def test_copy_query_text_format(connection: psycopg.Connection) -> None:
    data = _copy(connection, "COPY (SELECT * FROM cpu ORDER BY time) TO STDOUT")
    assert data == (b"2024-01-01 00:00:00+00\ttab\\there\t1.5\n"
                    b"2024-01-01 01:00:00+00\tcomma, \"quote\"\t\\N\n")


def test_copy_measurement_csv_header(connection: psycopg.Connection) -> None:
    data = _copy(connection, "COPY cpu (host, usage) TO STDOUT WITH (FORMAT csv, HEADER)")
    lines = data.decode().splitlines()
    assert lines[0] == "host,usage"
    assert sorted(lines[1:]) == ['"comma, ""quote""",', "tab\there,1.5"]


def test_copy_errors(connection: psycopg.Connection) -> None:
    assert _copy(connection, "COPY (SELECT 1 AS one) TO STDOUT") == b"1\n"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        connection.execute("COPY cpu TO '/tmp/lakegate-copy.csv'")
    with pytest.raises(psycopg.errors.FeatureNotSupported):
        with connection.cursor().copy("COPY (SELECT 1) TO STDOUT WITH (FORMAT binary)") as copy:
            list(copy)
    assert connection.execute("SELECT 2").fetchone() == (2,)


def test_psql_backslash_copy(connection: psycopg.Connection, local_gateway: GatewayProcess) -> None:
    psql = shutil.which("psql")
    assert psql is not None
    result = subprocess.run(
        [psql, "-X", "-h", "127.0.0.1", "-p", str(local_gateway.port), "-U", "tester", "-d", "telemetry",
         "-c", r"\copy (SELECT usage FROM cpu ORDER BY time) to stdout csv"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1.5\n\n"
