"""Windows of continuous queries: half-open ``[start, end)`` spans of EVERY, aligned to the Unix epoch in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.meta.continuous_queries import ContinuousQuery

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Windows one scheduled run processes at most; the next run continues from the watermark.
MAX_WINDOWS_PER_RUN = 10_000

Window = tuple[datetime, datetime]


def floor_to(moment: datetime, every: timedelta) -> datetime:
    """Return the start of the window of length ``every`` that contains ``moment``."""
    steps = (moment - EPOCH) // every
    return EPOCH + steps * every


def ceil_to(moment: datetime, every: timedelta) -> datetime:
    """Return the first window boundary at or after ``moment``."""
    floor = floor_to(moment, every)
    return floor if floor == moment else floor + every


def windows_between(start: datetime, end: datetime, every: timedelta, limit: int | None = None) -> list[Window]:
    """Return the windows from ``start`` up to ``end``, both window boundaries, in time order."""
    windows: list[Window] = []
    moment = start
    while moment < end and (limit is None or len(windows) < limit):
        windows.append((moment, moment + every))
        moment += every
    return windows


def horizon(query: ContinuousQuery, now: datetime) -> datetime:
    """Return the end of the last complete window: windows ending later may still receive data."""
    return floor_to(now - query.delay, query.every)


def scheduled_windows(query: ContinuousQuery, now: datetime, first_data: datetime | None) -> list[Window]:
    """Return the windows a scheduled run at ``now`` processes, oldest first.

    Nothing is due until a window after the watermark is complete. Then the
    run covers every complete window from the watermark (or START, or the
    window of the source's first data) and, once there is a watermark, the
    windows of the FOR look-back before it, never earlier than START.
    """
    end = horizon(query, now)
    if query.watermark is not None:
        begin = query.watermark
    elif query.start is not None:
        begin = floor_to(query.start, query.every)
    elif first_data is not None:
        begin = floor_to(first_data, query.every)
    else:
        return []
    if end <= begin:
        return []

    if query.watermark is not None:
        begin = floor_to(begin - query.look_back, query.every)
    if query.start is not None:
        begin = max(begin, floor_to(query.start, query.every))
    return windows_between(begin, end, query.every, MAX_WINDOWS_PER_RUN)


def is_due(query: ContinuousQuery, now: datetime) -> bool | None:
    """Tell whether a window after the watermark is complete; None when that needs the source's first data."""
    if query.watermark is None and query.start is None:
        return None
    begin = query.watermark if query.watermark is not None else floor_to(query.start or EPOCH, query.every)
    return horizon(query, now) > begin


def backfill_windows(query: ContinuousQuery, start: datetime, end: datetime) -> list[Window]:
    """Return the windows covering ``[start, end)``: ``start`` is rounded down and ``end`` up to EVERY."""
    return windows_between(floor_to(start, query.every), ceil_to(end, query.every), query.every)


def chunks(windows: list[Window], size: int) -> list[list[Window]]:
    """Split windows into consecutive groups of at most ``size``."""
    return [windows[index:index + size] for index in range(0, len(windows), size)]
