"""A multi-file DELETE: rows written while it runs survive it, and a SIGKILL in its middle loses nothing.

The store contains 96 hour files of 60 rows each. The DELETE removes the
files of the first 12 hours whole and rewrites the other 84 without their
even-numbered rows. The crash test waits until the DELETE has changed some
files, kills the gateway, and checks the store: every file is readable
Parquet, every row outside the condition is there exactly once, and the
rows still matching are a subset of the original ones. A restarted
gateway then finishes the job when the same DELETE runs again.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from tests.e2e.gateway_process import GatewayProcess, start_gateway
from tests.e2e.store_files import live_paths, parquet_tables, store_backend
from tests.emulators import StorageTarget

START = datetime(2024, 3, 1, tzinfo=UTC)
HOURS = 96
ROWS_PER_HOUR = 60
WHOLE_HOURS = 12
PREFIX = "telemetry/cpu/"
DELETE = f"DELETE FROM cpu WHERE seq % 2 = 0 OR time < '{(START + timedelta(hours=WHOLE_HOURS)).isoformat()}'"
#: Rows written just before the DELETE, still buffered when it starts: seq 1,000,000 and up.
BUFFERED = 10


def _matches(seq: int, at: datetime) -> bool:
    return seq % 2 == 0 or at < START + timedelta(hours=WHOLE_HOURS)


def _all_rows() -> list[tuple[datetime, str, int]]:
    rows = [(START + timedelta(minutes=minute), "abc"[minute % 3], minute)
            for minute in range(HOURS * ROWS_PER_HOUR)]
    rows += [(START + timedelta(hours=HOURS // 2, seconds=30 + i), "z", 1_000_000 + i) for i in range(BUFFERED)]
    return sorted(rows)


ALL_ROWS = _all_rows()
KEPT = [row for row in ALL_ROWS if not _matches(row[2], row[0])]


def _connect(gateway: GatewayProcess) -> psycopg.Connection:
    return psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True)


def _load(gateway: GatewayProcess) -> None:
    with _connect(gateway) as connection:
        with connection.cursor().copy("COPY cpu (time, host, seq) FROM STDIN") as copy:
            for row in ALL_ROWS:
                if row[2] < 1_000_000:
                    copy.write_row(row)
        connection.execute("CHECKPOINT")
        with connection.cursor().copy("COPY cpu (time, host, seq) FROM STDIN") as copy:
            for row in ALL_ROWS:
                if row[2] >= 1_000_000:
                    copy.write_row(row)


def _changed(storage: StorageTarget, before: dict[str, int]) -> int:
    """Count the files of ``before`` that were removed or have a newer version since."""
    live = live_paths(store_backend(storage).list(PREFIX))
    return sum(1 for path in before if path not in live)


def _run_delete(gateway: GatewayProcess, outcome: list[object]) -> None:
    try:
        with _connect(gateway) as connection:
            outcome.append(connection.execute(DELETE).statusmessage)
    except psycopg.Error as error:
        outcome.append(error)


@pytest.mark.parametrize("kill_after", [1, 40], ids=["first-file", "forty-files"])
def test_sigkill_during_delete_loses_nothing(storage: StorageTarget, tmp_path: Path, kill_after: int) -> None:
    flags = ("--wal-dir", str(tmp_path / "wal"), "--flush-age", "3600")
    gateway = start_gateway(storage.settings, tmp_path / "first.log", *flags)
    try:
        _load(gateway)
        before = {info.path: info.size for info in store_backend(storage).list_objects(PREFIX)}
        assert len(before) == HOURS

        outcome: list[object] = []
        thread = threading.Thread(target=_run_delete, args=(gateway, outcome), daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while _changed(storage, before) < kill_after and time.monotonic() < deadline and thread.is_alive():
            time.sleep(0.005)
    finally:
        gateway.process.send_signal(signal.SIGKILL)
        gateway.process.wait(timeout=20)
    thread.join(timeout=30)
    assert outcome and isinstance(outcome[0], psycopg.Error), f"the DELETE ended before the kill: {outcome}"

    # At rest: every object is whole Parquet, hour files stay sorted, and no file was skipped.
    tables = parquet_tables(storage, PREFIX)  # superseded versions too: they must be whole as well
    changed = _changed(storage, before)
    assert changed >= kill_after
    live = live_paths(tables)
    stored = sorted((row["time"], row["host"], row["seq"])
                    for path, table in tables.items() if path in live for row in table.to_pylist())
    for table in tables.values():
        times = table.column("time").to_pylist()
        assert times == sorted(times)
    _check_rows(stored)

    restarted = start_gateway(storage.settings, tmp_path / "second.log", *flags)
    try:
        with _connect(restarted) as connection:
            rows = connection.execute("SELECT time, host, seq FROM cpu ORDER BY time, seq").fetchall()
            _check_rows(rows)
            remaining = len(rows) - len(KEPT)
            assert connection.execute(DELETE).statusmessage == f"DELETE {remaining}"
            assert connection.execute("SELECT time, host, seq FROM cpu ORDER BY time, seq").fetchall() == KEPT
    finally:
        restarted.stop()


def _check_rows(rows: list[tuple[datetime, str, int]]) -> None:
    """Every row outside the condition is there once; the others are original rows, at most once each."""
    assert [row for row in rows if not _matches(row[2], row[0])] == KEPT
    matching = [row for row in rows if _matches(row[2], row[0])]
    assert len(set(matching)) == len(matching)
    assert set(matching) <= set(ALL_ROWS)


def test_rows_written_during_delete_survive(storage: StorageTarget, tmp_path: Path) -> None:
    gateway = start_gateway(storage.settings, tmp_path / "gateway.log", "--flush-age", "3600")
    try:
        _load(gateway)
        before = {info.path: info.size for info in store_backend(storage).list_objects(PREFIX)}
        outcome: list[object] = []
        thread = threading.Thread(target=_run_delete, args=(gateway, outcome), daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while _changed(storage, before) < 1 and time.monotonic() < deadline:
            time.sleep(0.005)

        # The DELETE is changing files, so it has flushed: these rows match its condition but arrive later.
        late = [(START + timedelta(hours=1, seconds=15), "late", 2_000_000),
                (START + timedelta(hours=50, seconds=15), "late", 2_000_002)]
        with _connect(gateway) as connection:
            connection.cursor().executemany("INSERT INTO cpu (time, host, seq) VALUES (%s, %s, %s)", late)
        assert thread.is_alive(), "the DELETE ended before the late rows were written"
        thread.join(timeout=120)

        assert outcome == [f"DELETE {len(ALL_ROWS) - len(KEPT)}"]
        with _connect(gateway) as connection:
            rows = connection.execute("SELECT time, host, seq FROM cpu ORDER BY time, seq").fetchall()
        assert rows == sorted([*KEPT, *late])
    finally:
        gateway.stop()
