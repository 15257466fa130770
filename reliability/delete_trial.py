"""Crash trial of DELETE: kill the gateway while a DELETE removes and rewrites hour files.

The store contains 48 hour files of 30 rows each, plus rows still buffered
when the DELETE starts, which the DELETE flushes as a second file of hour 24.
The DELETE removes the first 6 hours whole and rewrites the others without
the rows whose id is divisible by 3. A DELETE changes each file in one step,
and a crash between two files leaves some done and the others as they were.
So after the restart each file's rows must be either all there (the old
state) or the rows outside the condition (the new state), each once.
Running the DELETE again must leave every hour in the new state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import psycopg

from reliability.outcome import RowCheck
from reliability.partitions import Row, by_hour, duplicates
from reliability.trial import DATABASE, connect
from tests.e2e.gateway_process import GatewayProcess

MEASUREMENT = "delete_crash"
START = datetime(2024, 3, 1, tzinfo=UTC)
HOURS = 48
ROWS_PER_HOUR = 30
WHOLE_HOURS = 6
BUFFERED_ROWS = 10
BUFFERED_FIRST_ID = 1_000_000
DELETE = (f"DELETE FROM {MEASUREMENT} WHERE id % 3 = 0 "
          f"OR time < '{(START + timedelta(hours=WHOLE_HOURS)).isoformat()}'")


def _matches(row: Row) -> bool:
    return row[1] % 3 == 0 or row[0] < START + timedelta(hours=WHOLE_HOURS)


def _stored_rows() -> list[Row]:
    return [(START + timedelta(minutes=2 * index), index) for index in range(HOURS * ROWS_PER_HOUR)]


def _buffered_rows() -> list[Row]:
    return [(START + timedelta(hours=HOURS // 2, seconds=30 + index), BUFFERED_FIRST_ID + index)
            for index in range(BUFFERED_ROWS)]


def _by_file(rows: Iterable[Row]) -> dict[tuple[datetime, bool], list[Row]]:
    """Group rows as the store's files hold them: by hour, the flushed buffer's rows apart."""
    groups: dict[tuple[datetime, bool], list[Row]] = {}
    for hour, group in by_hour(rows).items():
        for buffered in (False, True):
            part = [row for row in group if (row[1] >= BUFFERED_FIRST_ID) == buffered]
            if part:
                groups[(hour, buffered)] = part
    return groups


ALL_ROWS = sorted(_stored_rows() + _buffered_rows())
OLD = by_hour(ALL_ROWS)
NEW = by_hour(row for row in ALL_ROWS if not _matches(row))
OLD_FILES = _by_file(ALL_ROWS)
NEW_FILES = _by_file(row for row in ALL_ROWS if not _matches(row))


class DeleteTrial:
    """A DELETE over 48 hour files, interrupted by the kill."""

    name = "DELETE"
    prefix = f"{DATABASE}/{MEASUREMENT}/"
    flags = ("--flush-age", "3600")

    def prepare(self, gateway: GatewayProcess) -> None:
        with connect(gateway) as connection:
            _copy(connection, _stored_rows())
            connection.execute("CHECKPOINT")
            _copy(connection, _buffered_rows())

    def run(self, gateway: GatewayProcess) -> None:
        with connect(gateway) as connection:
            connection.execute(DELETE)

    def check_after_crash(self, gateway: GatewayProcess) -> RowCheck:
        rows = _read(gateway)
        groups = _by_file(rows)
        files = set(OLD_FILES) | set(groups)
        invalid = sum(1 for key in files
                      if groups.get(key, []) not in (OLD_FILES.get(key, []), NEW_FILES.get(key, [])))
        kept = {row[1] for row in rows}
        lost = sum(1 for row in ALL_ROWS if not _matches(row) and row[1] not in kept)
        return RowCheck(acknowledged=len(ALL_ROWS), lost=lost, duplicated=duplicates(rows), invalid=invalid)

    def rerun(self, gateway: GatewayProcess) -> RowCheck:
        with connect(gateway) as connection:
            connection.execute(DELETE)
        rows = _read(gateway)
        kept = {row[1] for row in rows}
        lost = sum(1 for row in ALL_ROWS if not _matches(row) and row[1] not in kept)
        invalid = sum(1 for row in rows if row not in set(ALL_ROWS))
        return RowCheck(acknowledged=len(ALL_ROWS), lost=lost, duplicated=duplicates(rows), invalid=invalid)

    def incomplete(self, gateway: GatewayProcess) -> int:
        groups = by_hour(_read(gateway))
        return sum(1 for hour in set(OLD) | set(groups) if groups.get(hour, []) != NEW.get(hour, []))


def _copy(connection: psycopg.Connection, rows: list[Row]) -> None:
    with connection.cursor().copy(f"COPY {MEASUREMENT} (time, id) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _read(gateway: GatewayProcess) -> list[Row]:
    with connect(gateway) as connection:
        return [(moment, row_id) for moment, row_id in
                connection.execute(f"SELECT time, id FROM {MEASUREMENT} ORDER BY time, id").fetchall()]
