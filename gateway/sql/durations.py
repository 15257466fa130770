"""Durations of retention policies and continuous queries: ``'30 days'``, ``'1 hour'``, ``30d``, ``1h30m``.

Two spellings are accepted:

- PostgreSQL-style intervals: a number and a unit, repeated
  (``'1 day 12 hours'``), units in singular or plural (second, minute,
  hour, day, week);
- InfluxQL durations: numbers with one-letter units run together
  (``30d``, ``12h``, ``1w``, ``1h30m``, ``90s``).

Months and years are rejected: they have no fixed length, and a policy must
cut at a definite instant.
"""

from __future__ import annotations

import re
from datetime import timedelta

from gateway.errors import InvalidDatetimeFormat, InvalidParameterValue

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
}
#: The maximum duration in seconds, so that cutoffs and windows stay within the years a timestamp can represent.
MAX_SECONDS = 1000 * 366 * 86_400
_PART = re.compile(r"\s*(\d+)\s*([A-Za-z]+)\s*")
_CALENDAR_UNITS = {"mon", "month", "y", "yr", "year", "mo"}
_HINT = "write a duration such as '30 days', '12 hours', '1 day 12 hours', 30d, 12h or 1w"


def parse_duration(text: str, what: str = "duration") -> timedelta:
    """Return the duration ``text`` spells; raise InvalidDatetimeFormat (22007) if it does not parse.

    Zero is allowed here; callers that need a positive duration use
    ``positive_duration``.
    """
    position = 0
    seconds = 0
    while position < len(text):
        match = _PART.match(text, position)
        if match is None or match.end() == position:
            break
        unit = _UNITS.get(match[2].lower())
        if unit is None:
            reason = ("months and years have no fixed length" if match[2].lower().rstrip("s") in _CALENDAR_UNITS
                      else f'unknown unit "{match[2]}"')
            raise InvalidDatetimeFormat(f'invalid {what} "{text}": {reason}', hint=_HINT)
        seconds += int(match[1]) * unit
        position = match.end()
    if position == 0 or position < len(text):
        raise InvalidDatetimeFormat(f'invalid {what} "{text}"', hint=_HINT)
    if seconds > MAX_SECONDS:
        raise InvalidParameterValue(f'{what} "{text}" is longer than 1000 years', hint=_HINT)
    return timedelta(seconds=seconds)


def positive_duration(text: str, what: str = "duration") -> timedelta:
    """Return the duration ``text`` spells; raise InvalidParameterValue (22023) unless it is above zero."""
    duration = parse_duration(text, what)
    if duration <= timedelta(0):
        raise InvalidParameterValue(f'{what} must be positive, not "{text}"', hint=_HINT)
    return duration


def format_duration(duration: timedelta) -> str:
    """Spell a duration the way SHOW prints it: ``3 days``, ``1 day 12 hours``, ``0 seconds``."""
    seconds = int(duration.total_seconds())
    parts = []
    for name, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if name == "week" and seconds % 604800:
            continue  # weeks only when they divide evenly: "10 days", not "1 week 3 days"
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
    return " ".join(parts) or "0 seconds"
