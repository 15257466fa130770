"""Splitting line-protocol lines into series key, field set and timestamp text.

This is the first step of the columnar parser and the only one that runs
Python code per line: two ``str.rpartition`` calls and one dictionary
lookup of the series key. The field sets and timestamps are checked
later, in Arrow columns. A line whose series key is not one that the
reference parser would cut at the same space and accept gets series id
-1, which sends the line to the reference parser.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from gateway.ingest.line_syntax import _find_unescaped, _LineSyntaxError, _parse_series_key

#: Distinct series keys whose parse is kept between payloads. Agents send
#: the same series again and again, so most keys of a payload are found here.
SERIES_CACHE_SIZE = 16_384

#: Longer series keys are parsed without the cache. Without this bound the
#: cache could hold SERIES_CACHE_SIZE keys as long as the longest line
#: accepted, gigabytes for keys of a few hundred kilobytes.
SERIES_CACHE_MAX_KEY_CHARS = 1024


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """The measurement and tags of a series key, tags in the order of the line.

    Instances are shared between lines and payloads, so ``tags`` must never
    be changed. Copy it before handing it out.
    """

    measurement: str
    tags: dict[str, str]


@dataclass(slots=True)
class ScannedLines:
    """The parts of each line of a payload, one entry per line.

    ``series_ids[i]`` indexes ``series``, or is -1 when line ``i`` must be
    parsed by the reference parser. ``timestamps[i]`` is empty when the
    line has no timestamp. The parts of a line with series id -1 are
    meaningless.
    """

    series: list[SeriesKey]
    series_ids: list[int]
    field_sets: list[str]
    timestamps: list[str]


def scan_lines(lines: list[str]) -> ScannedLines:
    """Split each line at its last two spaces and look up its series key.

    The text after the last space is the field set when it contains ``=``,
    since a timestamp never does, and the timestamp otherwise.
    """
    series: list[SeriesKey] = []
    ids_by_key: dict[str, int] = {}
    series_ids: list[int] = []
    field_sets: list[str] = []
    timestamps: list[str] = []

    # Bound methods in locals, because this loop runs once per line.
    find_id = ids_by_key.get
    add_id = series_ids.append
    add_field_set = field_sets.append
    add_timestamp = timestamps.append
    for line in lines:
        head, _, last = line.rpartition(" ")
        if "=" in last:
            series_key = head
            add_field_set(last)
            add_timestamp("")
        else:
            series_key, _, field_set = head.rpartition(" ")
            add_field_set(field_set)
            add_timestamp(last)
        series_id = find_id(series_key)
        if series_id is None:
            series_id = _register(series_key, series)
            ids_by_key[series_key] = series_id
        add_id(series_id)
    return ScannedLines(series, series_ids, field_sets, timestamps)


def _register(series_key: str, series: list[SeriesKey]) -> int:
    parsed = parse_series_key(series_key)
    if parsed is None:
        return -1
    series.append(parsed)
    return len(series) - 1


def parse_series_key(series_key: str) -> SeriesKey | None:
    """Parse a series key cut off at the second-to-last space of a line.

    Returns None when the reference parser would cut the line elsewhere or
    reject the key. It cuts at the first space not escaped by a backslash
    and strips spaces, tabs and carriage returns around the line first, and
    it skips lines that start with ``#``.
    """
    if len(series_key) > SERIES_CACHE_MAX_KEY_CHARS:
        return _parse_series_key_uncached(series_key)
    return _parse_series_key_cached(series_key)


@functools.lru_cache(maxsize=SERIES_CACHE_SIZE)
def _parse_series_key_cached(series_key: str) -> SeriesKey | None:
    return _parse_series_key_uncached(series_key)


def _parse_series_key_uncached(series_key: str) -> SeriesKey | None:
    if not series_key or series_key[0] in " \t\r#":
        return None
    if _find_unescaped(series_key, " ") >= 0 or _ends_with_escape(series_key):
        return None
    try:
        measurement, tags = _parse_series_key(series_key)
    except _LineSyntaxError:
        return None
    return SeriesKey(measurement, tags)


def _ends_with_escape(text: str) -> bool:
    """Return whether a backslash escapes the character after ``text``."""
    return (len(text) - len(text.rstrip("\\"))) % 2 == 1
