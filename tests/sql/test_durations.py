"""Durations of retention policies and continuous queries: both spellings, limits and errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.errors import GatewayError
from gateway.sql.durations import format_duration, parse_duration, positive_duration


@pytest.mark.parametrize(("text", "expected"), [
    ("30 days", timedelta(days=30)), ("1 hour", timedelta(hours=1)), ("1 day 12 hours", timedelta(hours=36)),
    ("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("1w", timedelta(weeks=1)),
    ("1h30m", timedelta(minutes=90)), ("90 s", timedelta(seconds=90)), ("0s", timedelta(0)),
    ("52000w", timedelta(weeks=52000)),
])
def test_spellings(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "sqlstate", "message"), [
    ("", "22007", 'invalid duration ""'),
    ("soon", "22007", 'invalid duration "soon"'),
    ("3", "22007", 'invalid duration "3"'),
    ("-1d", "22007", 'invalid duration "-1d"'),
    ("1 month", "22007", 'invalid duration "1 month": months and years have no fixed length'),
    ("2y", "22007", 'invalid duration "2y": months and years have no fixed length'),
    ("5 fortnights", "22007", 'invalid duration "5 fortnights": unknown unit "fortnights"'),
    ("1000000w", "22023", 'duration "1000000w" is longer than 1000 years'),
    ("99999999999999999999d", "22023", 'duration "99999999999999999999d" is longer than 1000 years'),
])
def test_errors(text: str, sqlstate: str, message: str) -> None:
    with pytest.raises(GatewayError) as excinfo:
        parse_duration(text)
    assert (excinfo.value.sqlstate, excinfo.value.message) == (sqlstate, message)


def test_positive_rejects_zero() -> None:
    with pytest.raises(GatewayError) as excinfo:
        positive_duration("0h", "interval")
    assert (excinfo.value.sqlstate, excinfo.value.message) == ("22023", 'interval must be positive, not "0h"')


@pytest.mark.parametrize(("duration", "text"), [
    (timedelta(days=3), "3 days"), (timedelta(hours=36), "1 day 12 hours"), (timedelta(weeks=2), "2 weeks"),
    (timedelta(days=10), "10 days"), (timedelta(0), "0 seconds"), (timedelta(seconds=61), "1 minute 1 second"),
])
def test_format(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text
