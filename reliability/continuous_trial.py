"""Crash trial of a continuous query: kill the gateway during EXECUTE CONTINUOUS QUERY.

An hourly query counts the source rows of each host per hour. It has
already stored the first 48 of 96 windows when the killed run starts over
all 96 (a run stores windows in groups, deleting a window's old rows before
writing its new ones). After the restart each window of the destination
must hold exactly its aggregates, or nothing if it was not stored before
the killed run. Running the query again must store every window exactly.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg

from reliability.outcome import RowCheck
from reliability.trial import DATABASE, connect
from tests.e2e.gateway_process import GatewayProcess

SOURCE = "cq_source"
DESTINATION = "cq_hourly"
QUERY = "cq_crash"
START = datetime(2024, 4, 1, tzinfo=UTC)
HOURS = 96
STORED_HOURS = 48
HOSTS = ("a", "b", "c")
ROW_MINUTES = 5

#: One destination row: (window start, host, rows counted, largest id).
Aggregate = tuple[datetime, str, int, int]


def _source_rows() -> list[tuple[datetime, str, int]]:
    rows = []
    for step in range(HOURS * 60 // ROW_MINUTES):
        for offset, host in enumerate(HOSTS):
            rows.append((START + timedelta(minutes=ROW_MINUTES * step), host, step * len(HOSTS) + offset))
    return rows


def _expected() -> dict[datetime, list[Aggregate]]:
    counts: dict[tuple[datetime, str], list[int]] = defaultdict(list)
    for moment, host, row_id in _source_rows():
        counts[(moment.replace(minute=0), host)].append(row_id)
    windows: dict[datetime, list[Aggregate]] = defaultdict(list)
    for (hour, host), ids in sorted(counts.items()):
        windows[hour].append((hour, host, len(ids), max(ids)))
    return dict(windows)


EXPECTED = _expected()
CREATE = (f"CREATE CONTINUOUS QUERY {QUERY} ON {DATABASE} EVERY '1 hour' AS INSERT INTO {DESTINATION} "
          f"SELECT time_bucket(INTERVAL '1 hour', time) AS time, host, count(*) AS n, max(id) AS last_id "
          f"FROM {SOURCE} GROUP BY 1, 2")


def _execute(hours: int) -> str:
    end = START + timedelta(hours=hours)
    return f"EXECUTE CONTINUOUS QUERY {QUERY} FROM '{START.isoformat()}' TO '{end.isoformat()}'"


class ContinuousTrial:
    """A continuous query's run over 96 windows, interrupted by the kill."""

    name = "continuous-query window"
    prefix = f"{DATABASE}/{DESTINATION}/"
    # The query is made inactive and the scheduler checks rarely, so only EXECUTE runs it.
    flags = ("--flush-age", "3600", "--continuous-query-interval", "24h")

    def prepare(self, gateway: GatewayProcess) -> None:
        with connect(gateway) as connection:
            with connection.cursor().copy(f"COPY {SOURCE} (time, host, id) FROM STDIN") as copy:
                for row in _source_rows():
                    copy.write_row(row)
            connection.execute("CHECKPOINT")
            connection.execute(CREATE)
            connection.execute(f"ALTER CONTINUOUS QUERY {QUERY} INACTIVE")
            connection.execute(_execute(STORED_HOURS))

    def run(self, gateway: GatewayProcess) -> None:
        with connect(gateway) as connection:
            connection.execute(_execute(HOURS))

    def check_after_crash(self, gateway: GatewayProcess) -> RowCheck:
        windows = _read(gateway)
        stored_before = START + timedelta(hours=STORED_HOURS)
        invalid = 0
        lost = 0
        for hour in set(EXPECTED) | set(windows):
            found = windows.get(hour, [])
            if found == EXPECTED.get(hour):
                continue
            if not found and hour >= stored_before:
                continue  # not stored before the killed run, and not stored by it
            invalid += 1
            if not found:
                lost += len(EXPECTED.get(hour, []))  # aggregates stored before the run are gone
        return RowCheck(acknowledged=sum(len(rows) for rows in EXPECTED.values()), lost=lost,
                        duplicated=_duplicates(windows), invalid=invalid)

    def rerun(self, gateway: GatewayProcess) -> RowCheck:
        with connect(gateway) as connection:
            connection.execute(_execute(HOURS))
        windows = _read(gateway)
        lost = sum(1 for hour, rows in EXPECTED.items() for row in rows if row not in windows.get(hour, []))
        return RowCheck(acknowledged=sum(len(rows) for rows in EXPECTED.values()), lost=lost,
                        duplicated=_duplicates(windows), invalid=0)

    def incomplete(self, gateway: GatewayProcess) -> int:
        windows = _read(gateway)
        return sum(1 for hour in set(EXPECTED) | set(windows) if windows.get(hour, []) != EXPECTED.get(hour))


def _duplicates(windows: dict[datetime, list[Aggregate]]) -> int:
    return sum(len(rows) - len({row[1] for row in rows}) for rows in windows.values())


def _read(gateway: GatewayProcess) -> dict[datetime, list[Aggregate]]:
    """Return the destination's rows by window start, or no windows while the destination does not exist."""
    connection: psycopg.Connection
    with connect(gateway) as connection:
        try:
            rows = connection.execute(
                f"SELECT time, host, n, last_id FROM {DESTINATION} ORDER BY time, host").fetchall()
        except psycopg.errors.UndefinedTable:
            return {}
    windows: dict[datetime, list[Aggregate]] = defaultdict(list)
    for moment, host, count, last_id in rows:
        windows[moment].append((moment, host, count, last_id))
    return dict(windows)
