"""Acknowledged writes survive SIGKILL, are read at once, and are read once, on every backend."""

from __future__ import annotations

import http.client
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from gateway.storage.open import open_backend
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import StorageTarget

START = datetime(2024, 6, 1, tzinfo=UTC)


def _http_write(gateway: GatewayProcess, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.http_port, timeout=60)
    try:
        connection.request("POST", "/write?db=telemetry&precision=s", body=body)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _totals(gateway: GatewayProcess) -> list[tuple[object, ...]]:
    with psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        return connection.execute(
            "SELECT 'cpu', count(*), sum(usage) FROM cpu UNION ALL "
            "SELECT 'mem', count(*), sum(free) FROM mem UNION ALL "
            "SELECT 'disk', count(*), sum(used) FROM disk ORDER BY 1"
        ).fetchall()


def _parquet_files(storage: StorageTarget) -> list[str]:
    backend = open_backend(storage.url, storage.settings)
    return [path for path in backend.list("telemetry/") if path.endswith(".parquet")]


def _write_everything(gateway: GatewayProcess) -> None:
    with psycopg.connect(f"{gateway.dsn} dbname=telemetry") as connection:
        connection.execute("INSERT INTO cpu (time, host, usage) VALUES "
                           "('2024-06-01 00:00:00+00', 'a', 1.5), ('2024-06-01 01:00:00+00', 'b', 2.5)")
        connection.cursor().executemany(
            "INSERT INTO cpu (time, host, usage) VALUES (%s, %s, %s)",
            [(START + timedelta(minutes=minute), "c", float(minute)) for minute in range(50)],
        )
        connection.commit()
        with connection.cursor().copy("COPY mem (time, free) FROM STDIN") as copy:
            for minute in range(100):
                copy.write_row((START + timedelta(minutes=minute), minute))
        connection.commit()
    lines = "".join(f"disk,host=h{second % 3} used={second}i {1717200000 + second}\n" for second in range(10))
    assert _http_write(gateway, lines.encode()) == 204


EXPECTED = [("cpu", 52, 4.0 + sum(range(50))), ("disk", 10, 45), ("mem", 100, 4950)]


def test_acknowledged_writes_survive_sigkill(storage: StorageTarget, tmp_path: Path) -> None:
    flags = ("--wal-dir", str(tmp_path / "wal"), "--flush-age", "3600")
    gateway = start_gateway(storage.settings, tmp_path / "first.log", *flags)
    try:
        _write_everything(gateway)
        assert _totals(gateway) == EXPECTED  # buffered rows are read at once
        assert _parquet_files(storage) == []  # ... and nothing is in Parquet yet
    finally:
        gateway.process.send_signal(signal.SIGKILL)
        gateway.process.wait(timeout=20)
    assert len(list((tmp_path / "wal").glob("*.wal"))) == 3

    restarted = start_gateway(storage.settings, tmp_path / "second.log", *flags)
    try:
        assert "recovered 162 acknowledged rows from the write-ahead log" in restarted.log()
        assert _totals(restarted) == EXPECTED
        assert len(_parquet_files(storage)) == 5  # one file per hour: cpu 2, mem 2, disk 1
        assert list((tmp_path / "wal").glob("*.wal")) == []
    finally:
        restarted.stop()

    again = start_gateway(storage.settings, tmp_path / "third.log", *flags)
    try:
        assert _totals(again) == EXPECTED  # replaying twice adds nothing
    finally:
        again.stop()


def test_shutdown_flushes_every_buffer(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    flags = ("--wal-dir", str(tmp_path / "wal"), "--flush-age", "3600")
    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log", *flags)
    _write_everything(gateway)
    gateway.stop()
    assert gateway.process.returncode == 0
    assert len(_parquet_files(local_storage_url)) == 5
    assert list((tmp_path / "wal").glob("*.wal")) == []


def test_rows_read_once_while_flushing(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log",
                            "--flush-rows", "2500", "--flush-age", "0.2")
    try:
        with psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True) as connection:
            for batch in range(12):
                with connection.cursor().copy("COPY cpu (time, host, usage) FROM STDIN") as copy:
                    for row in range(1000):
                        copy.write_row((START + timedelta(seconds=batch * 1000 + row), "h", 1.0))
                for _ in range(3):
                    assert connection.execute("SELECT count(*), sum(usage) FROM cpu").fetchone() == (
                        (batch + 1) * 1000, (batch + 1) * 1000.0)
    finally:
        gateway.stop()


def test_wal_directory_serves_one_gateway(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    flags = ("--wal-dir", str(tmp_path / "wal"))
    first = start_gateway(local_storage_url.settings, tmp_path / "first.log", *flags)
    try:
        with pytest.raises(RuntimeError, match="in use by another lakegate process"):
            start_gateway(local_storage_url.settings, tmp_path / "second.log", *flags)
    finally:
        first.stop()
