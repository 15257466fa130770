"""Rows grouped by hour partition, for comparing a partition with its allowed states."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

#: A row as the trials write and read it: (time, id).
Row = tuple[datetime, int]


def by_hour(rows: Iterable[Row]) -> dict[datetime, list[Row]]:
    """Group rows by the UTC hour of their time, each group sorted by (time, id)."""
    groups: dict[datetime, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row[0].replace(minute=0, second=0, microsecond=0)].append(row)
    return {hour: sorted(group) for hour, group in groups.items()}


def duplicates(rows: list[Row]) -> int:
    """Return how many rows repeat an id already seen."""
    return len(rows) - len({row[1] for row in rows})
