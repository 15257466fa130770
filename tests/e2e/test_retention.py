"""Retention policy statements through psycopg against a real ``lakegate serve`` on every backend.

Rows are placed relative to the real current time: ``telemetry.cpu`` gets one
row every 12 hours, 30 minutes before the hour, going back 10 days from the
current hour (20 rows, each in its own hour partition). A policy of 3 days
with a 1-day buffer then cuts between 96 and 97 hours before that hour, as
long as the test ends within 30 minutes. So exactly the 12 rows at 96.5
hours and older are removed, all in whole partitions.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.e2e.store_files import file_hashes, store_backend
from tests.emulators import StorageTarget

TEXT, INT8, BOOL, TIMESTAMPTZ = 25, 20, 16, 1184
SHOW_TYPES = [("name", TEXT), ("database", TEXT), ("measurement", TEXT), ("duration", TEXT), ("buffer", TEXT),
              ("active", BOOL), ("last_run", TIMESTAMPTZ), ("last_result", TEXT)]
EXECUTE_TYPES = [("measurement", TEXT), ("partitions", INT8), ("files", INT8), ("rows", INT8), ("bytes", INT8)]
SCHEDULER_TIMEOUT = 60.0


def _connect(gateway: GatewayProcess) -> psycopg.Connection:
    return psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True)


def _row_times() -> list[datetime]:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return sorted(hour - timedelta(hours=12 * k, minutes=30) for k in range(20))


def _load(connection: psycopg.Connection, times: list[datetime]) -> None:
    values = ", ".join(f"('{moment.isoformat()}', 'a', {index}.5)" for index, moment in enumerate(times))
    connection.execute(f"INSERT INTO cpu (time, host, usage) VALUES {values}")
    connection.execute("CHECKPOINT")


def _stored_times(connection: psycopg.Connection) -> list[datetime]:
    return [row[0] for row in connection.execute("SELECT time FROM cpu ORDER BY time").fetchall()]


def _stored_bytes(storage: StorageTarget) -> int:
    return sum(info.size for info in store_backend(storage).list_objects("telemetry/cpu/"))


def _columns(cursor: psycopg.Cursor[tuple[object, ...]]) -> list[tuple[str, int]]:
    assert cursor.description is not None
    return [(column.name, column.type_code) for column in cursor.description]


def test_statements_tags_and_show(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        _load(connection, _row_times())
        cursor = connection.execute("CREATE RETENTION POLICY keep ON telemetry DURATION '3 days' BUFFER '1 day'")
        assert cursor.statusmessage == "CREATE RETENTION POLICY"
        cursor = connection.execute("create retention policy cpu_month on telemetry.cpu duration 30d")
        assert cursor.statusmessage == "CREATE RETENTION POLICY"
        assert connection.execute("ALTER RETENTION POLICY cpu_month SET BUFFER 12h").statusmessage == (
            "ALTER RETENTION POLICY")
        assert connection.execute("ALTER RETENTION POLICY cpu_month INACTIVE").statusmessage == (
            "ALTER RETENTION POLICY")

        cursor = connection.execute("SHOW RETENTION POLICIES")

        assert cursor.statusmessage == "SELECT 2"
        assert _columns(cursor) == SHOW_TYPES
        assert cursor.fetchall() == [
            ("cpu_month", "telemetry", "cpu", "30 days", "12 hours", False, None, None),
            ("keep", "telemetry", None, "3 days", "1 day", True, None, None),
        ]
        assert connection.execute("SHOW RETENTION POLICIES ON other").fetchall() == []
        assert connection.execute("DROP RETENTION POLICY cpu_month").statusmessage == "DROP RETENTION POLICY"
        notices: list[str] = []
        connection.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary or ""))
        assert connection.execute("DROP RETENTION POLICY IF EXISTS cpu_month").statusmessage == (
            "DROP RETENTION POLICY")
        assert notices == ['retention policy "cpu_month" does not exist, skipping']
        assert [row[0] for row in connection.execute("SHOW RETENTION POLICIES ON telemetry")] == ["keep"]


def test_execute_dry_run_then_run(gateway: GatewayProcess, storage: StorageTarget) -> None:
    times = _row_times()
    with _connect(gateway) as connection:
        _load(connection, times)
        connection.execute("CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
        before = file_hashes(storage, "telemetry/cpu/")
        bytes_before_run = _stored_bytes(storage)

        cursor = connection.execute("EXECUTE RETENTION POLICY keep DRY RUN")

        assert cursor.statusmessage == "SELECT 1"
        assert _columns(cursor) == EXECUTE_TYPES
        predicted = cursor.fetchall()
        assert file_hashes(storage, "telemetry/cpu/") == before
        assert _stored_times(connection) == times
        assert connection.execute("SHOW RETENTION POLICIES").fetchall()[0][6:] == (None, None)

        done = connection.execute("EXECUTE RETENTION POLICY keep").fetchall()
        ran_at = datetime.now(UTC)

        assert done == predicted
        measurement, partitions, files, rows, removed_bytes = done[0]
        assert (measurement, partitions, files, rows) == ("cpu", 12, 12, 12)
        assert removed_bytes == bytes_before_run - _stored_bytes(storage)
        assert _stored_times(connection) == times[12:]
        assert len(file_hashes(storage, "telemetry/cpu/")) == 8
        shown = connection.execute("SHOW RETENTION POLICIES").fetchall()[0]
        assert shown[7] == "ok: 12 files, 12 rows"
        assert ran_at - timedelta(minutes=1) < shown[6] <= ran_at
        again = connection.execute("EXECUTE RETENTION POLICY keep").fetchall()
        assert again == [("cpu", 0, 0, 0, 0)]


BAD_STATEMENTS = [
    ("CREATE RETENTION POLICY keep ON telemetry.cpu DURATION 3d", "42710"),
    ("CREATE RETENTION POLICY other ON telemetry DURATION 3d", "42710"),
    ("CREATE RETENTION POLICY other ON nowhere DURATION 3d", "3D000"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION '0 hours'", "22023"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION '-2 days'", "22023"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION 'a year'", "22007"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu DURATION 3d BUFFER '-1 hour'", "22023"),
    ("CREATE RETENTION POLICY \"bad name\" ON telemetry.cpu DURATION 3d", "42602"),
    ("CREATE RETENTION POLICY other ON telemetry.cpu", "42601"),
    ("ALTER RETENTION POLICY missing ACTIVE", "42704"),
    ("ALTER RETENTION POLICY keep SET DURATION '0 days'", "22023"),
    ("ALTER RETENTION POLICY keep SET BUFFER -1d", "22023"),
    ("ALTER RETENTION POLICY keep RENAME TO other", "42601"),
    ("DROP RETENTION POLICY missing", "42704"),
    ("SHOW RETENTION POLICIES FROM telemetry", "42601"),
    ("EXECUTE RETENTION POLICY missing", "42704"),
    ("EXECUTE RETENTION POLICY keep NOW", "42601"),
]


def test_errors_change_nothing(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _connect(gateway) as connection:
        _load(connection, _row_times())
        connection.execute("CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")
        shown = connection.execute("SHOW RETENTION POLICIES").fetchall()
        policies = file_hashes(storage, "_lakegate/meta/retention/")
        data = file_hashes(storage, "telemetry/")

        for statement, sqlstate in BAD_STATEMENTS:
            with pytest.raises(psycopg.Error) as excinfo:
                connection.execute(statement)
            assert (statement, excinfo.value.sqlstate) == (statement, sqlstate)

        assert connection.execute("SHOW RETENTION POLICIES").fetchall() == shown
        assert file_hashes(storage, "_lakegate/meta/retention/") == policies
        assert file_hashes(storage, "telemetry/") == data


def test_scheduler_inside_serve(storage: StorageTarget, tmp_path: Path) -> None:
    gateway = start_gateway(storage.settings, tmp_path / "gateway.log", "--retention-interval", "1s")
    try:
        times = _row_times()
        with _connect(gateway) as connection:
            _load(connection, times)
            connection.execute("CREATE RETENTION POLICY paused ON telemetry.mem DURATION 1h")
            connection.execute("ALTER RETENTION POLICY paused INACTIVE")
            connection.execute("CREATE RETENTION POLICY keep ON telemetry DURATION 3d BUFFER 1d")

            deadline = time.monotonic() + SCHEDULER_TIMEOUT
            shown = connection.execute("SHOW RETENTION POLICIES").fetchall()
            while shown[0][6] is None and time.monotonic() < deadline:
                time.sleep(0.2)
                shown = connection.execute("SHOW RETENTION POLICIES").fetchall()

            assert shown[0][0] == "keep"
            assert shown[0][6] is not None, gateway.log()
            assert shown[0][7] == "ok: 12 files, 12 rows"
            assert shown[1][0] == "paused"
            assert shown[1][6] is None  # inactive policies never run on schedule
            assert _stored_times(connection) == times[12:]
        assert "retention policy keep on telemetry removed 12 rows (12 files)" in gateway.log()
    finally:
        gateway.stop()


def test_bad_retention_interval_rejected(local_storage_url: StorageTarget) -> None:
    for value in ("0s", "soon", "-1h"):
        completed = subprocess.run(
            [sys.executable, "-m", "gateway", "serve", "--storage", local_storage_url.url, "--port", "0",
             f"--retention-interval={value}"],
            capture_output=True, text=True, timeout=60, check=False)
        assert completed.returncode == 2
        assert "--retention-interval" in completed.stderr
    assert list(Path(local_storage_url.url).iterdir()) == []
