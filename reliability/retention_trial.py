"""Crash trial of a retention run: kill the gateway during EXECUTE RETENTION POLICY.

The store contains one file per hour for the 48 hours up to the current one
and a policy with a 24-hour duration, so a run removes about 23 files whole
and rewrites the hour that straddles the cutoff. A run's cutoff is the time
it starts minus 24 hours, so the check takes the current time as a bound.
After the restart no row newer than (now - 24 hours) may be missing. Each
hour must keep a suffix of its rows in time order (all its rows from some
instant on), each row once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from reliability.outcome import RowCheck
from reliability.partitions import Row, by_hour, duplicates
from reliability.trial import DATABASE, connect
from tests.e2e.gateway_process import GatewayProcess

MEASUREMENT = "retention_crash"
POLICY = "retention_crash_policy"
HOURS = 48
DURATION = timedelta(hours=24)
#: Minutes between two rows of an hour. Each row is 30 seconds into its minute.
ROW_MINUTES = 2


class RetentionTrial:
    """A retention run over 48 hour files, interrupted by the kill."""

    name = "retention run"
    prefix = f"{DATABASE}/{MEASUREMENT}/"
    flags = ("--flush-age", "3600")

    def __init__(self) -> None:
        current_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        first = current_hour - timedelta(hours=HOURS - 1)
        per_hour = 60 // ROW_MINUTES
        self.rows: list[Row] = [(first + timedelta(minutes=ROW_MINUTES * index, seconds=30), index)
                                for index in range(HOURS * per_hour)]
        self.original = by_hour(self.rows)
        #: The earliest cutoff of the re-run, set by ``rerun``: no row older than it may remain.
        self._removed_before = first

    def prepare(self, gateway: GatewayProcess) -> None:
        with connect(gateway) as connection:
            with connection.cursor().copy(f"COPY {MEASUREMENT} (time, id) FROM STDIN") as copy:
                for row in self.rows:
                    copy.write_row(row)
            connection.execute("CHECKPOINT")
            connection.execute(f"CREATE RETENTION POLICY {POLICY} ON {DATABASE}.{MEASUREMENT} "
                               f"DURATION '{int(DURATION.total_seconds() // 3600)} hours'")

    def run(self, gateway: GatewayProcess) -> None:
        with connect(gateway) as connection:
            connection.execute(f"EXECUTE RETENTION POLICY {POLICY}")

    def check_after_crash(self, gateway: GatewayProcess) -> RowCheck:
        kept_from = datetime.now(UTC) - DURATION
        rows = _read(gateway)
        groups = by_hour(rows)
        invalid = sum(1 for hour, group in groups.items() if not _is_suffix(group, self.original.get(hour, [])))
        return RowCheck(acknowledged=len(self.rows), lost=self._lost(rows, kept_from),
                        duplicated=duplicates(rows), invalid=invalid)

    def rerun(self, gateway: GatewayProcess) -> RowCheck:
        self._removed_before = datetime.now(UTC) - DURATION
        with connect(gateway) as connection:
            connection.execute(f"EXECUTE RETENTION POLICY {POLICY}")
        kept_from = datetime.now(UTC) - DURATION
        rows = _read(gateway)
        invalid = sum(1 for row in rows if row not in set(self.rows))
        return RowCheck(acknowledged=len(self.rows), lost=self._lost(rows, kept_from),
                        duplicated=duplicates(rows), invalid=invalid)

    def incomplete(self, gateway: GatewayProcess) -> int:
        """Count the hours that still hold a row older than the cutoff of the re-run."""
        old = [row for row in _read(gateway) if row[0] < self._removed_before]
        return len(by_hour(old))

    def _lost(self, rows: list[Row], kept_from: datetime) -> int:
        present = {row[1] for row in rows}
        return sum(1 for row in self.rows if row[0] >= kept_from and row[1] not in present)


def _is_suffix(group: list[Row], original: list[Row]) -> bool:
    return bool(group) and group == original[len(original) - len(group):]


def _read(gateway: GatewayProcess) -> list[Row]:
    connection: psycopg.Connection
    with connect(gateway) as connection:
        return [(moment, row_id) for moment, row_id in
                connection.execute(f"SELECT time, id FROM {MEASUREMENT} ORDER BY time, id").fetchall()]
