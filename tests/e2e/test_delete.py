"""DELETE and EXPLAIN DELETE on every backend: exact rows removed, only the affected files changed.

The store contains measurement ``telemetry.cpu`` in seven Parquet files:
one per hour from 2024-01-01 00:00 to 05:00 UTC (12 rows each, one every
5 minutes, hosts a, b, c in turn, ``usage`` NULL on every 7th row), where
hours 4 and 5 also have a ``temp`` column, and a second file in hour 5
with 4 rows of host d that have ``temp`` but no ``usage`` column.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import psycopg
import pytest

from gateway.clock import system_clock
from gateway.meta import lease
from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.e2e.store_files import data_hashes, file_hashes, live_hashes, store_backend
from tests.emulators import StorageTarget

START = datetime(2024, 1, 1, tzinfo=UTC)
PREFIX = "telemetry/cpu/"


class Row(NamedTuple):
    time: datetime
    host: str
    usage: float | None
    temp: int | None


def _model() -> list[Row]:
    rows = []
    for i in range(72):
        usage = None if i % 7 == 0 else i + 0.5
        temp = i % 10 if i >= 48 else None
        rows.append(Row(START + timedelta(minutes=5 * i), "abc"[i % 3], usage, temp))
    for j in range(4):
        rows.append(Row(START + timedelta(hours=5, minutes=2 + 10 * j), "d", None, j))
    return sorted(rows)


MODEL = _model()


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return f"'{value}'"
    return str(value)


def _insert(connection: psycopg.Connection, columns: list[str], rows: list[Row]) -> None:
    values = ", ".join("(" + ", ".join(_literal(getattr(row, name)) for name in columns) + ")" for row in rows)
    cursor = connection.execute(f"INSERT INTO cpu ({', '.join(columns)}) VALUES {values}")
    assert cursor.statusmessage == f"INSERT 0 {len(rows)}"


def _connect(gateway: GatewayProcess, database: str = "telemetry") -> psycopg.Connection:
    return psycopg.connect(f"{gateway.dsn} dbname={database}", autocommit=True)


def _load(connection: psycopg.Connection) -> None:
    """Write MODEL as the seven files described above (CHECKPOINT flushes each batch)."""
    first = [row for row in MODEL if row.temp is None]
    second = [row for row in MODEL if row.temp is not None and row.host != "d"]
    third = [row for row in MODEL if row.host == "d"]
    _insert(connection, ["time", "host", "usage"], first)
    connection.execute("CHECKPOINT")
    _insert(connection, ["time", "host", "usage", "temp"], second)
    connection.execute("CHECKPOINT")
    _insert(connection, ["time", "host", "temp"], third)
    connection.execute("CHECKPOINT")


@contextmanager
def _loaded(gateway: GatewayProcess) -> Iterator[psycopg.Connection]:
    with _connect(gateway) as connection:
        _load(connection)
        yield connection


def _rows(connection: psycopg.Connection) -> list[Row]:
    return [Row(*row) for row in connection.execute(
        "SELECT time, host, usage, temp FROM cpu ORDER BY time, host").fetchall()]


def _hour(path: str) -> int:
    return int(path[len(PREFIX):].split("/")[3])


def _hour_files(hashes: dict[str, str], hour: int) -> set[str]:
    return {path for path in hashes if path.startswith(f"{PREFIX}2024/01/01/{hour:02d}/")}


def _check_delete(connection: psycopg.Connection, storage: StorageTarget, statement: str,
                  matches: Callable[[Row], bool], changed_hours: set[int], removed_hours: set[int] | None = None,
                  ) -> None:
    """Run ``statement``; check its tag, the rows left, and which files changed, went or stayed."""
    before = file_hashes(storage, PREFIX)
    assert len(before) == 7
    assert _rows(connection) == MODEL  # every file read once, so DuckDB has cached its metadata
    expected = [row for row in MODEL if not matches(row)]

    cursor = connection.execute(statement)

    assert cursor.statusmessage == f"DELETE {len(MODEL) - len(expected)}"
    assert _rows(connection) == expected
    stored = file_hashes(storage, PREFIX)
    # A rewritten file is a new version of it; the old version stays, unread, for a grace period.
    assert {path: stored[path] for path in before if path in stored} == {
        path: digest for path, digest in before.items() if _hour(path) not in (removed_hours or set())}
    after = live_hashes(stored)
    before = live_hashes(before)
    for hour in range(6):
        paths = _hour_files(before, hour)
        if hour in (removed_hours or set()):
            assert _hour_files(stored, hour) == set()
        elif hour in changed_hours:
            assert _hour_files(after, hour) == paths
            assert any(after[path] != before[path] for path in paths)
        else:
            assert {path: after[path] for path in _hour_files(after, hour)} == {path: before[path] for path in paths}
            assert len(_hour_files(stored, hour)) == len(paths)  # no new version


def test_delete_by_tag(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _loaded(gateway) as connection:
        _check_delete(connection, storage, "DELETE FROM cpu WHERE host = 'a'",
                      lambda row: row.host == "a", changed_hours={0, 1, 2, 3, 4, 5})


def test_delete_by_tag_within_time(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _loaded(gateway) as connection:
        _check_delete(connection, storage,
                      "DELETE FROM telemetry.cpu WHERE host = 'b' AND time < '2024-01-01 02:00:00+00'",
                      lambda row: row.host == "b" and row.time < START + timedelta(hours=2), changed_hours={0, 1})


def test_delete_by_time_removes_hour_file(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _loaded(gateway) as connection:
        _check_delete(connection, storage,
                      "DELETE FROM cpu WHERE time >= '2024-01-01 02:00:00+00' AND time < '2024-01-01 03:00:00+00'",
                      lambda row: row.time.hour == 2, changed_hours=set(), removed_hours={2})


def test_delete_by_field_keeps_null(gateway: GatewayProcess, storage: StorageTarget) -> None:
    # Rows whose usage is NULL, or absent from their file, make the condition NULL: they stay.
    with _loaded(gateway) as connection:
        _check_delete(connection, storage, "DELETE FROM cpu WHERE usage >= 40",
                      lambda row: row.usage is not None and row.usage >= 40, changed_hours={3, 4, 5})
        assert connection.execute("SELECT count(*) FROM cpu WHERE usage IS NULL").fetchone() == (
            sum(1 for row in MODEL if row.usage is None),)


def test_delete_combined_mixed_schema(gateway: GatewayProcess, storage: StorageTarget) -> None:
    # temp exists only in hours 4 and 5; host d's file has no usage column.
    with _loaded(gateway) as connection:
        _check_delete(connection, storage,
                      "DELETE FROM cpu AS c WHERE (c.temp >= 7 OR usage < 3) AND host <> 'c'",
                      lambda row: row.host != "c" and (
                          (row.temp is not None and row.temp >= 7) or (row.usage is not None and row.usage < 3)),
                      changed_hours={0, 4, 5})


def test_delete_whole_files_of_one_schema(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _loaded(gateway) as connection:
        before = file_hashes(storage, PREFIX)
        cursor = connection.execute("DELETE FROM cpu WHERE host = 'd'")
        assert cursor.statusmessage == "DELETE 4"
        after = file_hashes(storage, PREFIX)
        assert len(after) == 6
        assert all(before[path] == digest for path, digest in after.items())
        assert _rows(connection) == [row for row in MODEL if row.host != "d"]


def test_delete_parameters_and_clock(gateway: GatewayProcess) -> None:
    with _loaded(gateway) as connection:
        cursor = connection.execute("DELETE FROM cpu WHERE host = %s AND time < %s",
                                    ["c", START + timedelta(hours=1)])
        assert cursor.statusmessage == "DELETE 4"
        cursor = connection.execute("DELETE FROM cpu WHERE time < now() - interval '1 day' AND temp = 9")
        assert cursor.statusmessage == f"DELETE {sum(1 for row in MODEL if row.temp == 9)}"
        assert connection.execute("DELETE FROM cpu WHERE NULL").statusmessage == "DELETE 0"  # as in PostgreSQL
        assert _rows(connection) == [row for row in MODEL if not (
            (row.host == "c" and row.time < START + timedelta(hours=1)) or row.temp == 9)]


def test_delete_buffered_rows(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _connect(gateway) as connection:
        _load(connection)
        extra = [Row(START + timedelta(hours=1, seconds=30 + i), "e", float(i), None) for i in range(5)]
        _insert(connection, ["time", "host", "usage"], extra)  # buffered, not yet in Parquet

        cursor = connection.execute("DELETE FROM cpu WHERE host = 'e' AND usage < 3")

        assert cursor.statusmessage == "DELETE 3"
        assert _rows(connection) == sorted([*MODEL, *extra[3:]])
        assert len(live_hashes(file_hashes(storage, PREFIX))) == 8  # the buffered rows went to a file of hour 1


@pytest.mark.parametrize(("statement", "sqlstate"), [
    ("DELETE FROM cpu", "0A000"),
    ("DELETE FROM cpu WHERE hots = 'a'", "42703"),
    ("DELETE FROM cpu WHERE host + 1 > 2", "42883"),
    ("DELETE FROM cpu WHERE usage", "42804"),
    ("DELETE FROM cpu WHERE host = 5", "22P02"),
    ("DELETE FROM cpux WHERE host = 'a'", "42P01"),
    ("DELETE FROM nodb.cpu WHERE host = 'a'", "3D000"),
    ("DELETE FROM cpu WHERE x.host = 'a'", "42P01"),
    ("DELETE FROM cpu WHERE host IN (SELECT host FROM cpu)", "0A000"),
    ("DELETE FROM cpu WHERE random() < 0.5", "0A000"),
    ("DELETE FROM cpu WHERE read_text('/etc/passwd') <> ''", "42501"),
    ("DELETE FROM cpu WHERE true RETURNING *", "0A000"),
    ("DELETE FROM \"cpu/../x\" WHERE true", "42602"),
])
def test_bad_delete_changes_nothing(local_gateway: GatewayProcess, local_storage_url: StorageTarget,
                                    statement: str, sqlstate: str) -> None:
    with _loaded(local_gateway) as connection:
        before = data_hashes(local_storage_url)
        with pytest.raises(psycopg.Error) as excinfo:
            connection.execute(statement)
        assert excinfo.value.sqlstate == sqlstate
        assert data_hashes(local_storage_url) == before
        assert _rows(connection) == MODEL


def test_bad_delete_on_every_backend(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _loaded(gateway) as connection:
        before = data_hashes(storage)
        for statement, sqlstate in [("DELETE FROM cpu", "0A000"), ("DELETE FROM cpu WHERE hots = 'a'", "42703"),
                                    ("DELETE FROM cpux WHERE host = 'a'", "42P01"),
                                    ("DELETE FROM cpu WHERE host = 5", "22P02")]:
            with pytest.raises(psycopg.Error) as excinfo:
                connection.execute(statement)
            assert excinfo.value.sqlstate == sqlstate
        assert data_hashes(storage) == before
        assert _rows(connection) == MODEL


def test_delete_without_where_names_truncate(local_gateway: GatewayProcess) -> None:
    with _loaded(local_gateway) as connection, pytest.raises(psycopg.Error) as excinfo:
        connection.execute("DELETE FROM cpu")
    assert excinfo.value.sqlstate == "0A000"
    assert excinfo.value.diag.message_hint is not None
    assert "TRUNCATE telemetry.cpu" in excinfo.value.diag.message_hint


def test_delete_max_rows(storage: StorageTarget, tmp_path: Path) -> None:
    gateway = start_gateway(storage.settings, tmp_path / "gateway.log", "--delete-max-rows", "11")
    try:
        with _loaded(gateway) as connection:
            before = data_hashes(storage)
            with pytest.raises(psycopg.Error) as excinfo:
                connection.execute("DELETE FROM cpu WHERE time < '2024-01-01 01:00:00+00' OR host = 'd'")
            assert excinfo.value.sqlstate == "54000"
            assert excinfo.value.diag.message_primary == (
                "DELETE would remove 16 rows, more than --delete-max-rows allows (11)")
            assert data_hashes(storage) == before
            assert _rows(connection) == MODEL

            assert connection.execute("DELETE FROM cpu WHERE time < '2024-01-01 00:55:00+00'").statusmessage == (
                "DELETE 11")
    finally:
        gateway.stop()


def test_explain_delete_changes_nothing(gateway: GatewayProcess, storage: StorageTarget) -> None:
    with _loaded(gateway) as connection:
        before = file_hashes(storage, PREFIX)
        hour2 = sorted(_hour_files(before, 2))
        hour3 = sorted(_hour_files(before, 3))
        sizes = {info.path: info.size for info in store_backend(storage).list_objects(PREFIX)}

        plan = connection.execute(
            "EXPLAIN DELETE FROM cpu WHERE time >= '2024-01-01 02:00:00+00' AND time < '2024-01-01 04:00:00+00' "
            "AND (time < '2024-01-01 03:00:00+00' OR host = 'a')").fetchall()

        assert [line for (line,) in plan] == [
            "Delete on telemetry.cpu: 16 rows",
            "  Time range: 2024-01-01 02:00:00+00:00 to 2024-01-01 03:59:59.999999+00:00",
            "  Candidate files: 2 of 7",
            "  Candidate partitions: 2",
            "  Files to remove: 1",
            f"  Files to rewrite: 1, {sizes[hour3[0]]} bytes",
            "  Files unchanged: 0",
            "  Partitions affected: 2",
            "  Buffered rows to delete: 0",
            f"  remove {hour2[0]}: 12 of 12 rows",
            f"  rewrite {hour3[0]}: 4 of 12 rows, {sizes[hour3[0]]} bytes",
        ]
        assert file_hashes(storage, PREFIX) == before
        assert _rows(connection) == MODEL


def test_explain_delete_counts_buffered_rows(local_gateway: GatewayProcess) -> None:
    with _connect(local_gateway) as connection:
        _insert(connection, ["time", "host", "usage"], MODEL[:10])
        plan = [line for (line,) in connection.execute("EXPLAIN DELETE FROM cpu WHERE host = 'a'").fetchall()]
        assert plan[0] == "Delete on telemetry.cpu: 4 rows"
        assert "  Buffered rows to delete: 4" in plan
        assert connection.execute("SELECT count(*) FROM cpu").fetchone() == (10,)


def test_delete_progress_notices(gateway: GatewayProcess) -> None:
    with _loaded(gateway) as connection:
        notices: list[str] = []
        connection.add_notice_handler(lambda notice: notices.append(str(notice.message_primary)))
        assert connection.execute("DELETE FROM cpu WHERE host <> 'b'").statusmessage == (
            f"DELETE {sum(1 for row in MODEL if row.host != 'b')}")
        assert notices == [f"DELETE on telemetry.cpu: {done} of 7 files done" for done in range(1, 8)]


def test_concurrent_deletes_and_inserts(gateway: GatewayProcess) -> None:
    """Two DELETEs of one measurement at once, while rows arrive: none lost, each DELETE exact."""
    with _loaded(gateway) as connection:
        late = [Row(START + timedelta(hours=6, minutes=i), "a", 1.5, None) for i in range(20)]
        results: dict[str, str] = {}
        errors: list[BaseException] = []

        def run(name: str, action: Callable[[psycopg.Connection], str | None]) -> None:
            try:
                with _connect(gateway) as own:
                    results[name] = action(own) or ""
            except BaseException as error:  # noqa: BLE001 (reported by the assert below)
                errors.append(error)

        def insert_late(own: psycopg.Connection) -> None:
            for row in late:
                _insert(own, ["time", "host", "usage"], [row])

        threads = [
            threading.Thread(target=run, args=("a", lambda own: own.execute(
                "DELETE FROM cpu WHERE host = 'a' AND time < '2024-01-01 06:00:00+00'").statusmessage)),
            threading.Thread(target=run, args=("b", lambda own: own.execute(
                "DELETE FROM cpu WHERE host = 'b'").statusmessage)),
            threading.Thread(target=run, args=("insert", insert_late)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        assert errors == []
        assert results["a"] == f"DELETE {sum(1 for row in MODEL if row.host == 'a')}"
        assert results["b"] == f"DELETE {sum(1 for row in MODEL if row.host == 'b')}"
        assert _rows(connection) == sorted([*(row for row in MODEL if row.host not in ("a", "b")), *late])


def test_queries_during_delete_never_fail(gateway: GatewayProcess) -> None:
    """Queries running while DELETEs rewrite files never fail and see the rows of each file before or after.

    Each DELETE removes one row of host b or c by its usage value, so it
    rewrites one file. A reader counts the rows of those hosts over and
    over: every count lies between the start and the end, and counts never
    go up, since rows only go.
    """
    victims = [row for row in MODEL if row.host in ("b", "c") and row.usage is not None]
    with _loaded(gateway) as connection:
        stop = threading.Event()
        counts: list[int] = []
        failures: list[str] = []

        def read() -> None:
            with _connect(gateway) as reader:
                while not stop.is_set():
                    try:
                        row = reader.execute("SELECT count(*) FROM cpu WHERE host IN ('b', 'c')").fetchone()
                    except psycopg.Error as error:
                        failures.append(f"{error.sqlstate}: {error}")
                        continue
                    counts.append(int(row[0]) if row else -1)

        thread = threading.Thread(target=read)
        thread.start()
        try:
            for victim in victims:
                assert connection.execute("DELETE FROM cpu WHERE usage = %s", [victim.usage]).statusmessage == \
                    "DELETE 1"
        finally:
            stop.set()
            thread.join(timeout=60)

        start = sum(1 for row in MODEL if row.host in ("b", "c"))
        assert failures == []
        assert len(counts) >= 5
        assert all(start - len(victims) <= count <= start for count in counts)
        assert counts == sorted(counts, reverse=True)
        assert _rows(connection) == [row for row in MODEL if row not in victims]


def test_old_versions_go_after_the_grace(storage: StorageTarget, tmp_path: Path) -> None:
    """A rewritten file's old version is removed after --superseded-grace, or by a later DELETE after a restart."""
    flags = ("--wal-dir", str(tmp_path / "wal"))
    # A grace of some seconds, so a loaded machine still lists the old version before it goes.
    gateway = start_gateway(storage.settings, tmp_path / "first.log", *flags, "--superseded-grace", "10s")
    try:
        with _loaded(gateway) as connection:
            before = file_hashes(storage, PREFIX)
            connection.execute("DELETE FROM cpu WHERE host = 'a' AND time < %s", [START + timedelta(hours=1)])
            assert len(file_hashes(storage, PREFIX)) == 8  # the old version of hour 0 is still there
            _wait_for_objects(storage, 7)
            stored = file_hashes(storage, PREFIX)
            assert len(live_hashes(stored)) == len(stored)  # no old version left
            assert [path for path in before if path not in stored] == sorted(_hour_files(before, 0))
    finally:
        gateway.stop()

    # A gateway stopped within the grace leaves the old version; the next DELETE there removes it.
    gateway = start_gateway(storage.settings, tmp_path / "second.log", *flags, "--superseded-grace", "1h")
    try:
        with _connect(gateway) as connection:
            connection.execute("DELETE FROM cpu WHERE host = 'b' AND time < %s", [START + timedelta(hours=1)])
    finally:
        gateway.stop()
    assert len(file_hashes(storage, PREFIX)) == 8
    gateway = start_gateway(storage.settings, tmp_path / "third.log", *flags, "--superseded-grace", "1s")
    try:
        with _connect(gateway) as connection:
            time.sleep(1.5)  # the stored version must be older than the grace
            connection.execute("DELETE FROM cpu WHERE host = 'zz' AND time < %s", [START + timedelta(hours=1)])
            assert len(file_hashes(storage, PREFIX)) == 7
            assert _rows(connection) == [row for row in MODEL if not (row.time < START + timedelta(hours=1)
                                                                       and row.host in ("a", "b"))]
    finally:
        gateway.stop()


def _wait_for_objects(storage: StorageTarget, count: int) -> None:
    # Counts listed paths without reading them: the gateway may remove an old
    # version between the listing and a read.
    backend = store_backend(storage)
    deadline = time.monotonic() + 30
    while len(backend.list(PREFIX)) != count and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(backend.list(PREFIX)) == count


def test_two_gateways_delete_one_measurement_in_turn(gateway: GatewayProcess, storage: StorageTarget,
                                                     tmp_path: Path) -> None:
    """DELETEs from two gateways on one store rewrite the same files one after the other, losing no deletion."""
    other = start_gateway(storage.settings, tmp_path / "other.log")
    try:
        with _loaded(gateway) as connection, _connect(other) as second:
            errors: list[BaseException] = []

            def run(target: psycopg.Connection, statement: str, params: list[object]) -> None:
                try:
                    target.execute(statement, params)
                except BaseException as error:  # noqa: BLE001 (reported by the assertion below)
                    errors.append(error)

            for hour in range(4):
                low, high = START + timedelta(hours=hour), START + timedelta(hours=hour + 1)
                condition = "time >= %s AND time < %s AND host = %s"
                threads = [threading.Thread(target=run, args=(connection, f"DELETE FROM cpu WHERE {condition}",
                                                              [low, high, "a"])),
                           threading.Thread(target=run, args=(second, f"DELETE FROM cpu WHERE {condition}",
                                                              [low, high, "b"]))]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(timeout=120)

            assert errors == []
            gone = [row for row in MODEL if row.time < START + timedelta(hours=4) and row.host in ("a", "b")]
            assert len(gone) == 32
            assert _rows(connection) == [row for row in MODEL if row not in gone]
            assert _rows(second) == [row for row in MODEL if row not in gone]
    finally:
        other.stop()


def test_delete_waits_for_another_gateways_lease(gateway: GatewayProcess, storage: StorageTarget) -> None:
    """A DELETE waits while another holder has the measurement's lease, then runs."""
    with _loaded(gateway) as connection:
        held = lease.acquire(store_backend(storage), "measurement", "telemetry/cpu", system_clock)
        assert held is not None
        releaser = threading.Timer(1.5, lambda: held.release(system_clock()))
        releaser.start()
        started = time.monotonic()
        assert connection.execute("DELETE FROM cpu WHERE host = 'a'").statusmessage == "DELETE 24"
        assert time.monotonic() - started >= 1.0
        releaser.join()
        assert _rows(connection) == [row for row in MODEL if row.host != "a"]
