"""Continuous queries through psycopg against a real ``lakegate serve`` on every backend.

The store contains ``telemetry.cpu``: 60 rows from 2024-01-01 00:00 to 04:55
UTC, one every 5 minutes, hosts a, b, c in turn, ``usage`` = i + 0.5 for
row i. Expected aggregates come from the same gateway, by running the
continuous query's SELECT directly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.emulators import StorageTarget

START = datetime(2024, 1, 1, tzinfo=UTC)
HOURLY = ("SELECT time_bucket(INTERVAL '1 hour', time) AS time, host, avg(usage) AS usage, "
          "count(*) AS samples FROM cpu GROUP BY ALL")
CREATE = ("CREATE CONTINUOUS QUERY cpu_hourly ON telemetry EVERY '1 hour' FOR '2 hours' DELAY '5 minutes' "
          f"START '2024-01-01' AS INSERT INTO cpu_1h {HOURLY}")
STORED = "SELECT time, host, usage, samples FROM cpu_1h ORDER BY time, host"


def _connect(gateway: GatewayProcess) -> psycopg.Connection:
    return psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True)


@pytest.fixture
def connection(gateway: GatewayProcess) -> Iterator[psycopg.Connection]:
    with _connect(gateway) as connection:
        values = ", ".join(f"('{(START + timedelta(minutes=5 * i)).isoformat()}', '{'abc'[i % 3]}', {i + 0.5})"
                           for i in range(60))
        connection.execute(f"INSERT INTO cpu (time, host, usage) VALUES {values}")
        connection.execute("CHECKPOINT")
        yield connection


def _show(connection: psycopg.Connection) -> list[dict[str, object]]:
    cursor = connection.execute("SHOW CONTINUOUS QUERIES")
    names = [column.name for column in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _expected(connection: psycopg.Connection, low: datetime, high: datetime) -> list[tuple[object, ...]]:
    rows = connection.execute(f"SELECT * FROM ({HOURLY}) AS direct ORDER BY time, host").fetchall()
    return [row for row in rows if low <= row[0] < high]


def test_create_show_execute_alter_drop(connection: psycopg.Connection) -> None:
    assert connection.execute(CREATE).statusmessage == "CREATE CONTINUOUS QUERY"

    cursor = connection.execute("SHOW CONTINUOUS QUERIES")
    assert [(column.name, column.type_code) for column in cursor.description or []] == [
        ("name", 25), ("database", 25), ("source", 25), ("destination", 25), ("every", 1186), ("for", 1186),
        ("delay", 1186), ("start", 1184), ("active", 16), ("watermark", 1184), ("last_run", 1184),
        ("last_result", 25), ("query", 25)]
    [shown] = _show(connection)
    assert {key: value for key, value in shown.items() if key != "query"} == {
        "name": "cpu_hourly", "database": "telemetry", "source": "telemetry.cpu",
        "destination": "telemetry.cpu_1h", "every": timedelta(hours=1), "for": timedelta(hours=2),
        "delay": timedelta(minutes=5), "start": START, "active": True, "watermark": None, "last_run": None,
        "last_result": None}
    assert shown["query"] == ("SELECT TIME_BUCKET(INTERVAL '1 HOUR', time) AS time, host, AVG(usage) AS usage, "
                              "COUNT(*) AS samples FROM cpu GROUP BY ALL")

    dry = connection.execute("EXECUTE CONTINUOUS QUERY cpu_hourly FROM '2024-01-01 01:00:00+00' "
                             "TO '2024-01-01 03:00:00+00' DRY RUN")
    assert [column.name for column in dry.description or []] == [
        "windows", "rows", "window_start", "window_end", "watermark"]
    assert dry.fetchall() == [(2, 6, START + timedelta(hours=1), START + timedelta(hours=3), None)]
    assert "cpu_1h" not in [row[0] for row in connection.execute("SHOW TABLES").fetchall()]

    for _ in range(2):  # the second run replaces the rows of the first
        executed = connection.execute("EXECUTE CONTINUOUS QUERY cpu_hourly FROM '2024-01-01 01:30:00+00' "
                                      "TO '2024-01-01 02:30:00+00'")
        assert executed.fetchall() == [(2, 6, START + timedelta(hours=1), START + timedelta(hours=3), None)]
        assert connection.execute(STORED).fetchall() == _expected(connection, START + timedelta(hours=1),
                                                                  START + timedelta(hours=3))

    assert connection.execute("ALTER CONTINUOUS QUERY cpu_hourly INACTIVE").statusmessage \
        == "ALTER CONTINUOUS QUERY"
    [shown] = _show(connection)
    assert shown["active"] is False
    assert shown["last_result"] == "ok: 2 windows, 6 rows"
    assert isinstance(shown["last_run"], datetime)
    connection.execute("ALTER CONTINUOUS QUERY cpu_hourly ACTIVE")
    assert _show(connection)[0]["active"] is True

    assert connection.execute("DROP CONTINUOUS QUERY cpu_hourly").statusmessage == "DROP CONTINUOUS QUERY"
    assert _show(connection) == []
    notices: list[str] = []
    connection.add_notice_handler(lambda notice: notices.append(notice.message_primary or ""))
    assert connection.execute("DROP CONTINUOUS QUERY IF EXISTS cpu_hourly").statusmessage == "DROP CONTINUOUS QUERY"
    assert notices == ['continuous query "cpu_hourly" does not exist, skipping']


def test_execute_runs_due_windows(connection: psycopg.Connection) -> None:
    every = timedelta(days=30)
    connection.execute("CREATE CONTINUOUS QUERY cpu_monthly ON telemetry EVERY '30 days' "
                       f"AS INSERT INTO cpu_1h {HOURLY}")
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first_window = epoch + (START - epoch) // every * every
    complete_until = epoch + (datetime.now(UTC) - epoch) // every * every

    # No START: the first run begins at the window of the source's first hour partition.
    executed = connection.execute("EXECUTE CONTINUOUS QUERY cpu_monthly").fetchall()

    assert executed == [((complete_until - first_window) // every, 15, first_window, complete_until,
                         complete_until)]
    assert connection.execute(STORED).fetchall() == _expected(connection, START, START + timedelta(hours=5))
    assert _show(connection)[0]["watermark"] == complete_until


def test_influxql_form(connection: psycopg.Connection) -> None:
    connection.execute("CREATE CONTINUOUS QUERY cpu_30m ON telemetry RESAMPLE EVERY 1h FOR 2h BEGIN "
                       "SELECT mean(usage) AS usage, count(usage) INTO cpu_30m FROM cpu GROUP BY time(30m), host END")
    [shown] = _show(connection)
    assert (shown["every"], shown["for"], shown["source"], shown["destination"]) == (
        timedelta(hours=1), timedelta(hours=1), "telemetry.cpu", "telemetry.cpu_30m")

    connection.execute("EXECUTE CONTINUOUS QUERY cpu_30m FROM '2024-01-01' TO '2024-01-01 02:00:00+00'")

    stored = connection.execute("SELECT time, host, usage, count FROM cpu_30m ORDER BY time, host").fetchall()
    direct = connection.execute(
        "SELECT time_bucket(INTERVAL '30 minutes', time) AS t, host, avg(usage), count(usage) FROM cpu "
        "WHERE time < '2024-01-01 02:00:00+00' GROUP BY ALL ORDER BY t, host").fetchall()
    assert len(stored) == 12
    assert stored == direct


@pytest.mark.parametrize(("statement", "sqlstate"), [
    ("CREATE CONTINUOUS QUERY q ON telemetry EVERY '1 hour' AS INSERT INTO cpu " + HOURLY, "42P17"),
    (("CREATE CONTINUOUS QUERY q ON telemetry EVERY '1 hour' AS INSERT INTO d "
     "SELECT host, avg(usage) AS usage FROM cpu GROUP BY ALL"), "42P17"),
    (("CREATE CONTINUOUS QUERY q ON telemetry EVERY '1 hour' AS INSERT INTO d "
     "SELECT c.time, m.host FROM cpu AS c JOIN mem AS m ON c.time = m.time GROUP BY ALL"), "42P17"),
    (("CREATE CONTINUOUS QUERY q ON telemetry EVERY '1 hour' AS INSERT INTO d "
     "SELECT time_bucket(INTERVAL '1 hour', time) AS time, avg(nothing) AS x FROM cpu GROUP BY ALL"), "42703"),
    ("CREATE CONTINUOUS QUERY q ON telemetry EVERY '1 hour' AS INSERT INTO d (a, b) " + HOURLY, "42P17"),
    ("CREATE CONTINUOUS QUERY q ON telemetry EVERY 'an hour' AS INSERT INTO d " + HOURLY, "22007"),
    ("CREATE CONTINUOUS QUERY q ON telemetry EVERY '0 seconds' AS INSERT INTO d " + HOURLY, "22023"),
    ("CREATE CONTINUOUS QUERY q ON telemetry EVERY '1 hour' EVERY '2 hours' AS INSERT INTO d " + HOURLY, "42601"),
    ("CREATE CONTINUOUS QUERY q ON telemetry EVERY '1 hour' AS SELECT 1", "42601"),
    ("CREATE CONTINUOUS QUERY q telemetry EVERY '1 hour' AS INSERT INTO d " + HOURLY, "42601"),
    ("CREATE CONTINUOUS QUERY q ON nowhere EVERY '1 hour' AS INSERT INTO d " + HOURLY, "3D000"),
    ("CREATE CONTINUOUS QUERY \"_hidden\" ON telemetry EVERY '1 hour' AS INSERT INTO d " + HOURLY, "42602"),
    ("CREATE CONTINUOUS QUERY q ON telemetry EVERY '1 hour' AS INSERT INTO nowhere.d " + HOURLY, "3D000"),
    (("CREATE CONTINUOUS QUERY q ON telemetry RESAMPLE EVERY 45m BEGIN SELECT mean(usage) INTO d FROM cpu "
     "GROUP BY time(1h) END"), "22023"),
    (("CREATE CONTINUOUS QUERY q ON telemetry RESAMPLE FOR 30m BEGIN SELECT mean(usage) INTO d FROM cpu "
     "GROUP BY time(1h) END"), "22023"),
    ("CREATE CONTINUOUS QUERY q ON telemetry BEGIN SELECT mean(usage) INTO d FROM cpu GROUP BY time(1h)", "42601"),
    ("ALTER CONTINUOUS QUERY q PAUSED", "42601"),
    ("ALTER CONTINUOUS QUERY q ACTIVE", "42704"),
    ("DROP CONTINUOUS QUERY q", "42704"),
    ("SHOW CONTINUOUS QUERY", "42601"),
    ("EXECUTE CONTINUOUS QUERY q", "42704"),
    ("EXECUTE CONTINUOUS QUERY q FROM 'yesterday noonish' TO '2024-01-02'", "22007"),
])
def test_bad_statement_is_rejected(connection: psycopg.Connection, statement: str, sqlstate: str) -> None:
    with pytest.raises(psycopg.Error) as excinfo:
        connection.execute(statement)
    assert excinfo.value.sqlstate == sqlstate
    assert _show(connection) == []


def test_bad_execute_changes_nothing(connection: psycopg.Connection) -> None:
    connection.execute(CREATE)
    before = _show(connection)
    for statement, sqlstate in [
        ("EXECUTE CONTINUOUS QUERY cpu_hourly FROM '2024-01-02' TO '2024-01-01'", "22023"),
        ("EXECUTE CONTINUOUS QUERY cpu_hourly FROM '2024-01-01'", "42601"),
        ("EXECUTE CONTINUOUS QUERY cpu_hourly DRY", "42601"),
        ("CREATE CONTINUOUS QUERY cpu_hourly ON telemetry EVERY '2 hours' AS INSERT INTO other " + HOURLY, "42710"),
    ]:
        with pytest.raises(psycopg.Error) as excinfo:
            connection.execute(statement)
        assert excinfo.value.sqlstate == sqlstate, statement
    assert _show(connection) == before
    assert "cpu_1h" not in [row[0] for row in connection.execute("SHOW TABLES").fetchall()]


def test_scheduler_fills_destination(local_storage_url: StorageTarget, tmp_path: Path) -> None:
    """The scheduler of ``lakegate serve`` runs an active query as windows complete, on the real clock."""
    gateway = start_gateway(local_storage_url.settings, tmp_path / "gateway.log",
                            "--continuous-query-interval", "1s")
    try:
        with _connect(gateway) as connection:
            now = datetime.now(UTC).replace(second=0, microsecond=0)
            minutes = [now - timedelta(minutes=offset) for offset in (4, 3, 2)]
            values = ", ".join(f"('{(minute + timedelta(seconds=10)).isoformat()}', 'a', {index})"
                               for index, minute in enumerate(minutes))
            connection.execute(f"INSERT INTO recent (time, host, usage) VALUES {values}")
            connection.execute(
                "CREATE CONTINUOUS QUERY recent_1m ON telemetry EVERY '1 minute' START '"
                f"{minutes[0].isoformat()}' AS INSERT INTO recent_1m SELECT time_bucket(INTERVAL '1 minute', time) "
                "AS time, max(usage) AS usage FROM recent GROUP BY ALL")
            deadline = time.monotonic() + 60
            rows: list[tuple[object, ...]] = []
            while time.monotonic() < deadline and len(rows) < 3:
                time.sleep(0.5)
                if "recent_1m" in [row[0] for row in connection.execute("SHOW TABLES").fetchall()]:
                    rows = connection.execute("SELECT time, usage FROM recent_1m ORDER BY time").fetchall()
            assert rows == [(minute, float(index)) for index, minute in enumerate(minutes)]
    finally:
        gateway.stop()
