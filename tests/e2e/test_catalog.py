"""Catalog browsing: psql meta-commands and pg_catalog queries list databases, measurements and columns."""

from __future__ import annotations

import shutil
import subprocess

import psycopg

from tests.e2e.gateway_process import GatewayProcess


def _psql(gateway: GatewayProcess, *args: str) -> list[str]:
    psql = shutil.which("psql")
    assert psql is not None, "psql is not installed; .ci/run installs postgresql-client"
    command = [psql, "-X", "-h", "127.0.0.1", "-p", str(gateway.port), "-U", "tester", "-d", "telemetry", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def _load(gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        connection.execute("INSERT INTO cpu (time, host, usage) VALUES ('2024-01-01', 'a', 1.5)")
        connection.execute("INSERT INTO mem (time, free) VALUES ('2024-01-01', 3)")
        connection.execute("INSERT INTO other.disk (time, used) VALUES ('2024-01-01', 0.5)")


def test_psql_lists_tables(local_gateway: GatewayProcess) -> None:
    _load(local_gateway)
    assert _psql(local_gateway, "-At", "-c", r"\dt") == [
        "telemetry|cpu|table|lakegate",
        "telemetry|mem|table|lakegate",
    ]


def test_psql_lists_schemas_and_databases(local_gateway: GatewayProcess) -> None:
    _load(local_gateway)
    assert _psql(local_gateway, "-At", "-c", r"\dn") == ["other|lakegate", "telemetry|lakegate"]
    databases = [line.split("|")[0] for line in _psql(local_gateway, "-At", "-c", r"\l")]
    assert databases == ["other", "telemetry"]


def test_psql_describes_measurement(local_gateway: GatewayProcess) -> None:
    _load(local_gateway)
    assert _psql(local_gateway, "-At", "-c", r"\d cpu") == [
        "time|timestamp with time zone||not null|",
        "host|text|||",
        "usage|double precision|||",
    ]
    assert _psql(local_gateway, "-At", "-c", r"\d+ other.disk")[:2] == [
        "time|timestamp with time zone||not null||plain|||",
        "used|double precision||||plain|||",
    ]


def test_catalog_sees_new_measurement(local_gateway: GatewayProcess) -> None:
    _load(local_gateway)
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        query = ("SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                 "ON n.oid = c.relnamespace WHERE n.nspname = 'telemetry' ORDER BY 1")
        assert connection.execute(query).fetchall() == [("cpu",), ("mem",)]
        connection.execute("INSERT INTO net (time, bytes) VALUES ('2024-01-01', 10)")
        connection.execute("SELECT pg_sleep(2.1)")
        assert connection.execute(query).fetchall() == [("cpu",), ("mem",), ("net",)]


def test_session_functions(local_gateway: GatewayProcess) -> None:
    _load(local_gateway)
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        row = connection.execute(
            "SELECT current_database(), current_schema(), current_user, pg_catalog.version(), "
            "current_setting('server_version_num'), 'cpu'::regclass::oid > 0, "
            "format_type(1184, NULL), 1184::regtype::text"
        ).fetchone()
        assert row is not None
        assert row[:3] == ("telemetry", "telemetry", "tester")
        assert row[3].startswith("PostgreSQL 15.")
        assert row[4:] == ("150000", True, "timestamp with time zone", "timestamp with time zone")


def test_information_schema_lists_store(local_gateway: GatewayProcess) -> None:
    _load(local_gateway)
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        schemata = connection.execute("SELECT schema_name FROM information_schema.schemata ORDER BY 1").fetchall()
        assert schemata == [("information_schema",), ("other",), ("pg_catalog",), ("telemetry",)]
        tables = connection.execute(
            "SELECT table_schema, table_name, table_type FROM information_schema.tables ORDER BY 1, 2"
        ).fetchall()
        assert tables == [("other", "disk", "BASE TABLE"), ("telemetry", "cpu", "BASE TABLE"),
                          ("telemetry", "mem", "BASE TABLE")]
        columns = connection.execute(
            "SELECT column_name, data_type, udt_name, ordinal_position FROM information_schema.columns "
            "WHERE table_schema = 'telemetry' AND table_name = 'cpu' ORDER BY ordinal_position"
        ).fetchall()
        assert columns == [("time", "timestamp with time zone", "timestamptz", 1), ("host", "text", "text", 2),
                           ("usage", "double precision", "float8", 3)]
