"""psql, psycopg's extended protocol, cancel, start-up failures and the demo, on a local store."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess, environment_for
from tests.emulators import StorageTarget, free_port


def _psql(gateway: GatewayProcess, database: str, *args: str) -> subprocess.CompletedProcess[str]:
    psql = shutil.which("psql")
    assert psql is not None, "psql is not installed; .ci/run installs postgresql-client"
    command = [psql, "-X", "-h", "127.0.0.1", "-p", str(gateway.port), "-U", "tester", "-d", database, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_psql_insert_and_select(local_gateway: GatewayProcess) -> None:
    insert = _psql(local_gateway, "telemetry", "-c",
                   "INSERT INTO cpu (time, host, usage) VALUES ('2024-05-01 08:00:00.25', 'a', 0.5), "
                   "('2024-05-01 09:00:00', 'b', 1e20)")
    assert insert.returncode == 0, insert.stderr
    assert insert.stdout.strip() == "INSERT 0 2"

    select = _psql(local_gateway, "telemetry", "-At", "-c", "SELECT * FROM cpu ORDER BY time")
    assert select.returncode == 0, select.stderr
    assert select.stdout.splitlines() == [
        "2024-05-01 08:00:00.25+00|a|0.5",
        "2024-05-01 09:00:00+00|b|1e+20",
    ]


def test_psql_shows_sqlstate(local_gateway: GatewayProcess) -> None:
    created = _psql(local_gateway, "telemetry", "-c", "CREATE DATABASE telemetry")
    assert created.returncode == 0, created.stderr
    result = _psql(local_gateway, "telemetry", "-v", "VERBOSITY=verbose", "-c", "SELECT * FROM nosuch")
    assert result.returncode == 1
    assert "ERROR:  42P01: measurement \"nosuch\" does not exist" in result.stderr


def test_psql_several_statements(local_gateway: GatewayProcess) -> None:
    result = _psql(local_gateway, "telemetry", "-At", "-c", "SELECT 1; SELECT 'two'; SHOW DATABASES")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1", "two"]


def test_extended_protocol_parameters(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        connection.execute("INSERT INTO cpu (time, usage) VALUES ('2024-01-01 00:00', 1.0), ('2024-01-01 05:00', 2.0)")
        since = datetime(2024, 1, 1, 1, tzinfo=UTC)
        rows = connection.execute("SELECT usage FROM cpu WHERE time >= %s AND usage > %s", [since, 0.5],
                                  prepare=True).fetchall()
        assert rows == [(2.0,)]
        again = connection.execute("SELECT usage FROM cpu WHERE time >= %s AND usage > %s", [since, 0.5],
                                   prepare=True).fetchall()
        assert again == [(2.0,)]
        typed = connection.execute("SELECT %s::integer + 1, %s::text, %s::boolean", [41, "x", True]).fetchone()
        assert typed == (42, "x", True)
        binary = connection.cursor(binary=True)
        binary.execute("SELECT usage, time, 7::bigint, 'text' FROM cpu ORDER BY time")
        assert binary.fetchall() == [
            (1.0, datetime(2024, 1, 1, tzinfo=UTC), 7, "text"),
            (2.0, datetime(2024, 1, 1, 5, tzinfo=UTC), 7, "text"),
        ]


def test_transaction_status_after_error(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry") as connection:
        with pytest.raises(psycopg.errors.InvalidCatalogName):
            connection.execute("SELECT * FROM nosuch")
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            connection.execute("SELECT 1")
        connection.rollback()
        assert connection.execute("SELECT 1").fetchone() == (1,)


def test_cancel_interrupts_query(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        timer = threading.Timer(1.0, connection.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            connection.execute("SELECT count(*) FROM range(10000000000) a, range(1000) b")
        timer.join()
        assert time.monotonic() - started < 30
        assert connection.execute("SELECT 2").fetchone() == (2,)


def test_invalid_database_name_rejected(local_gateway: GatewayProcess) -> None:
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(f"{local_gateway.dsn} dbname=../etc")
    assert "42602" in str(excinfo.value) or "invalid database name" in str(excinfo.value)


def test_port_in_use_fails_start(local_gateway: GatewayProcess, local_storage_url: StorageTarget) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--storage", local_storage_url.url,
         "--port", str(local_gateway.port)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{local_gateway.port}" in result.stderr


def test_unknown_database_is_3d000(local_gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{local_gateway.dsn} dbname=nosuch", autocommit=True) as connection:
        with pytest.raises(psycopg.errors.InvalidCatalogName):
            connection.execute("SELECT * FROM cpu")
        assert connection.execute("INSERT INTO cpu (time, v) VALUES ('2024-01-01', 1)").statusmessage == "INSERT 0 1"
        assert connection.execute("SELECT v FROM cpu").fetchall() == [(1,)]


def test_unreachable_store_fails_start(make_settings: object, tmp_path: Path) -> None:
    port = free_port()
    settings = make_settings("s3://missing-bucket/prefix")  # type: ignore[operator]
    env = environment_for(settings)
    env["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    env["AWS_SECRET_ACCESS_KEY"] = "do-not-print-this-secret"
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--storage", "s3://missing-bucket/prefix",
         "--port", str(free_port())],
        capture_output=True, text=True, timeout=120, env=env, check=False,
    )
    assert result.returncode == 2
    assert "s3://missing-bucket/prefix" in result.stderr
    assert "do-not-print-this-secret" not in result.stderr


def test_missing_bucket_fails_start(moto_endpoint: str, make_settings: object) -> None:
    settings = make_settings("s3://no-such-bucket-here")  # type: ignore[operator]
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--storage", "s3://no-such-bucket-here", "--port", str(free_port())],
        capture_output=True, text=True, timeout=120, env=environment_for(settings), check=False,
    )
    assert result.returncode == 2
    assert "s3://no-such-bucket-here" in result.stderr
    assert "does not exist" in result.stderr


def test_demo_serves_real_data(tmp_path: Path) -> None:
    port = free_port()
    log = (tmp_path / "demo.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "demo", "--data", str(tmp_path / "data"), "--port", str(port),
         "--http-port", str(free_port())],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        connection = _wait_for_connection(port, process, tmp_path / "demo.log")
        with connection:
            assert connection.execute("SHOW TABLES").fetchall() == [("seattle_temps",), ("seattle_weather",)]
            summary = connection.execute(
                "SELECT count(*), min(time), max(time), round(avg(temp), 4) FROM seattle_temps"
            ).fetchone()
            assert summary == (8759, datetime(2010, 1, 1, tzinfo=UTC), datetime(2010, 12, 31, 23, tzinfo=UTC),
                               pytest.approx(52.028, abs=0.001))
            day = connection.execute(
                "SELECT count(*) FROM seattle_temps WHERE time >= '2010-07-04' AND time < '2010-07-05'"
            ).fetchone()
            assert day == (24,)
            weather = connection.execute("SELECT count(*), count(DISTINCT weather) FROM seattle_weather").fetchone()
            assert weather == (1461, 5)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_for_connection(port: int, process: subprocess.Popen[bytes], log: Path) -> psycopg.Connection:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lakegate demo exited:\n{log.read_text()}")
        try:
            return psycopg.connect(f"host=127.0.0.1 port={port} dbname=demo user=tester", autocommit=True)
        except psycopg.OperationalError:
            time.sleep(0.5)
    raise RuntimeError(f"lakegate demo did not accept connections:\n{log.read_text()}")
