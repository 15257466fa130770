"""Session statements clients send: savepoints, SET/SHOW/RESET, statement_timeout, pool resets."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import StorageTarget

LONG_QUERY = "SELECT count(*) FROM range(10000000000) a, range(1000) b"


def test_savepoints_in_transaction(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry") as connection:
        connection.execute("SELECT 1")
        assert connection.execute("SAVEPOINT s1").statusmessage == "SAVEPOINT"
        with pytest.raises(psycopg.errors.UndefinedFunction):
            connection.execute("SELECT no_such_function()")
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        assert connection.execute("ROLLBACK TO SAVEPOINT s1").statusmessage == "ROLLBACK"
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        assert connection.execute("RELEASE SAVEPOINT s1").statusmessage == "RELEASE"
        assert connection.execute("SELECT 2").fetchone() == (2,)
        connection.commit()


def test_savepoint_outside_transaction(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        with pytest.raises(psycopg.errors.NoActiveSqlTransaction):
            connection.execute("SAVEPOINT s1")


def test_set_show_reset(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        assert connection.execute("SET application_name = 'dashboards'").statusmessage == "SET"
        assert connection.info.parameter_status("application_name") == "dashboards"
        assert connection.execute("SHOW application_name").fetchone() == ("dashboards",)
        connection.execute("SET search_path TO telemetry")
        assert connection.execute("SHOW search_path").fetchone() == ("telemetry",)
        assert connection.execute("SET extra_float_digits = 3").statusmessage == "SET"
        assert connection.execute("SHOW TRANSACTION ISOLATION LEVEL").fetchone() == ("read committed",)
        assert connection.execute("SHOW standard_conforming_strings").fetchone() == ("on",)
        assert connection.execute("SHOW server_version").fetchone()[0].startswith("15.")
        assert connection.execute("RESET ALL").statusmessage == "RESET"
        assert connection.execute("SHOW application_name").fetchone() == ("",)
        assert connection.info.parameter_status("application_name") == ""
        assert connection.execute("SHOW extra_float_digits").fetchone() == ("1",)
        with pytest.raises(psycopg.errors.UndefinedObject):
            connection.execute("SHOW no_such_setting")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute("SET threads = 64")


def test_statement_timeout_cancels(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        connection.execute("SET statement_timeout = '500ms'")
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled) as excinfo:
            connection.execute(LONG_QUERY)
        assert "statement timeout" in str(excinfo.value)
        assert time.monotonic() - started < 30
        connection.execute("SET statement_timeout = 0")
        assert connection.execute("SELECT 3").fetchone() == (3,)
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            connection.execute("SET statement_timeout = '5 fortnights'")


def test_session_time_zone_is_utc(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        row = connection.execute(
            "SELECT current_setting('TimeZone'), CAST(TIMESTAMPTZ '2024-01-01 00:00' AS VARCHAR), 7 / 2"
        ).fetchone()
        assert row == ("UTC", "2024-01-01 00:00:00+00", 3)


def test_pool_reset_statements(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        assert connection.execute("DISCARD ALL").statusmessage == "DISCARD ALL"
        assert connection.execute("DEALLOCATE ALL").statusmessage == "DEALLOCATE ALL"
        assert connection.execute("UNLISTEN *").statusmessage == "UNLISTEN"
        assert connection.execute("CLOSE ALL").statusmessage == "CLOSE CURSOR ALL"
        assert connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE").statusmessage == "SET"
        assert connection.execute("SELECT pg_advisory_unlock_all()").fetchone() == (None,)


def test_reset_returns_start_values(tmp_path: Path, local_storage_url: StorageTarget) -> None:
    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log", "--statement-timeout", "5s")
    try:
        with psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True) as connection:
            connection.execute("SET statement_timeout = 120000")
            assert connection.execute("SHOW statement_timeout").fetchone() == ("2min",)
            connection.execute("SET statement_timeout = '1500ms'")
            assert connection.execute("SHOW statement_timeout").fetchone() == ("1500ms",)
            connection.execute("SET TIME ZONE 'Europe/Berlin'")
            assert connection.execute("RESET statement_timeout").statusmessage == "RESET"
            assert connection.execute("SHOW statement_timeout").fetchone() == ("5s",)
            assert connection.execute("SHOW TimeZone").fetchone() == ("Europe/Berlin",)
            connection.execute("RESET TIME ZONE")
            assert connection.execute("SHOW TimeZone").fetchone() == ("UTC",)
            assert connection.info.parameter_status("TimeZone") == "UTC"
            connection.execute("SET application_name = 'pool'")
            assert connection.execute("DISCARD ALL").statusmessage == "DISCARD ALL"
            assert connection.execute("SHOW application_name").fetchone() == ("",)
            assert connection.execute("RESET SESSION AUTHORIZATION").statusmessage == "RESET"
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                connection.execute("RESET enable_external_access")
    finally:
        gateway.stop()


def test_time_zone_shapes_timestamptz_text(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        connection.execute("INSERT INTO m (time, v) VALUES ('2024-07-01 00:00:00+00', 1)")
        connection.execute("SET TIME ZONE 'Asia/Kolkata'")
        assert connection.info.parameter_status("TimeZone") == "Asia/Kolkata"
        text = connection.cursor(binary=False)
        text.execute("SELECT v, time FROM m")
        row = text.fetchone()
        assert row is not None
        assert row[1].isoformat() == "2024-07-01T05:30:00+05:30"
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            connection.execute("SET TIME ZONE 'Nowhere/Bad'")
        connection.execute("SET TIME ZONE DEFAULT")
        assert connection.execute("SHOW TimeZone").fetchone() == ("UTC",)
