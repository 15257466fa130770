"""Parsing InfluxDB line-protocol payloads into points or into Arrow columns.

``gateway.ingest.line_syntax`` describes the syntax and contains the
reference parser, which parses one line at a time. That costs about 20
microseconds per line of 11 tags and 10 fields, so most lines of a large
payload take a columnar path instead. There each line is split at its
last spaces in Python (``line_scan``). Then Arrow compute functions check
and convert the field sets and timestamps of all lines at once
(``line_fields``, ``line_values``, ``line_batches``). A line that the
columnar path cannot take exactly as the reference parser would (an
escape in a field, a string with a comma, a bad value, a blank or comment
line...) goes to the reference parser, in line order. The result is the
same as parsing every line with the reference parser, which the tests
check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from gateway.ingest.line_batches import MeasurementBatch, batch_points, build_batches, points_batch
from gateway.ingest.line_scan import scan_lines

# The names of the reference parser that callers and the tests use.
from gateway.ingest.line_syntax import (  # noqa: F401
    MAX_ERROR_LINE_CHARS,
    MAX_TIME_US,
    MIN_TIME_US,
    FieldValue,
    LineError,
    ParseResult,
    Point,
    UnsignedInt,
    _decode,
    _LineSyntaxError,
    _longer_than,
    _OpenString,
    _Options,
    _options,
    _parse_diagnosed,
    _parse_well_formed,
    _PayloadParser,
)

#: Payloads with fewer lines are parsed by the reference parser alone. The
#: columnar path has a fixed cost of about a millisecond per payload. The
#: reference parser takes about 20 microseconds per line of 11 tags and 10
#: fields, so below about 100 such lines the columnar path is not faster
#: (measured with Python 3.11 and pyarrow 26).
COLUMNAR_MIN_LINES = 100


@dataclass(slots=True)
class BatchResult:
    """The batches of the valid lines, by measurement in order of first line, and the errors in line order."""

    batches: dict[str, MeasurementBatch] = field(default_factory=dict)
    errors: list[LineError] = field(default_factory=list)


def parse_lines(data: bytes | str, *, precision: str = "ns", default_time_ns: int | None = None,
                max_line_bytes: int | None = None) -> ParseResult:
    """Parse a line-protocol payload into points and per-line errors.

    ``data`` is UTF-8 text, as bytes or str. A byte order mark at the start is
    skipped. Lines end with LF or CRLF, except a newline inside a quoted
    string value, which belongs to the string. Blank lines and lines whose
    first non-blank character is ``#`` are skipped.

    ``precision`` is the unit of the timestamps: ``ns``, ``us``, ``ms`` or
    ``s``, or the InfluxDB 1.x names ``n``, ``u``, ``m`` (minutes) and ``h``.
    Timestamps become microseconds. Nanoseconds are floor-divided, so any
    sub-microsecond part is dropped. A line without a timestamp gets
    ``default_time_ns`` (nanoseconds since the epoch), or the time of this
    call when it is None. Every such line of one call gets the same time.

    Each bad line is rejected with a reason and never repaired. Reasons are
    a line longer than ``max_line_bytes`` UTF-8 bytes (blank and comment
    lines are skipped at any length); a missing measurement, tag key, tag
    value or field; a bad field value or
    timestamp; a timestamp outside the years 1 to 9999 UTC; an unterminated
    string; a duplicate tag or field key (the last one does not win); a tag
    or field named ``time`` in any letter case; a key that is both a tag and
    a field; text after the timestamp; and invalid UTF-8 in a bytes payload.

    Raises ValueError for an unknown precision, a ``default_time_ns``
    outside the supported years or a ``max_line_bytes`` below 1.
    """
    options = _options(precision, default_time_ns, max_line_bytes)
    text, check_encoding = _decode(data)
    lines = text.split("\n")
    if check_encoding or len(lines) < COLUMNAR_MIN_LINES:
        return _PayloadParser(text, options, check_encoding).parse()

    result = _parse_columns(text, lines, options)
    lists = [batch_points(batch) for batch in result.batches.values()]
    points = lists[0] if len(lists) == 1 else sorted([point for part in lists for point in part],
                                                     key=attrgetter("line_number"))
    return ParseResult(points, result.errors)


def parse_batches(data: bytes | str, *, precision: str = "ns", default_time_ns: int | None = None,
                  max_line_bytes: int | None = None) -> BatchResult:
    """Parse a line-protocol payload into one batch per measurement and per-line errors.

    Accepts, rejects and converts exactly as ``parse_lines``, and raises the
    same errors. Turning batches into Arrow tables (``point_tables``) skips
    the Point object per line that ``parse_lines`` builds.
    """
    options = _options(precision, default_time_ns, max_line_bytes)
    text, check_encoding = _decode(data)
    lines = text.split("\n")
    if check_encoding or len(lines) < COLUMNAR_MIN_LINES:
        return _batches_of(_PayloadParser(text, options, check_encoding).parse())
    return _parse_columns(text, lines, options)


def points_to_rows(points: Iterable[Point]) -> dict[str, list[dict[str, object]]]:
    """Group points into rows per measurement, for the Arrow writer.

    Each row maps ``time`` to the point's ``time_us`` (int microseconds since
    the epoch, UTC, ready for an Arrow ``timestamp("us", tz="UTC")``
    column), then its tags, then its fields. A row has only the keys of its
    own line. Measurements appear in order of first appearance and rows in
    the order of ``points``. Field values keep their types, ``UnsignedInt``
    included.
    """
    rows: dict[str, list[dict[str, object]]] = {}
    for point in points:
        row: dict[str, object] = {"time": point.time_us}
        row.update(point.tags)
        row.update(point.fields)
        rows.setdefault(point.measurement, []).append(row)
    return rows


# ---------------------------------------------------------------- payload


def _parse_columns(text: str, lines: list[str], options: _Options) -> BatchResult:
    """Parse the lines of ``text`` in columns, and those the columns leave out with the reference parser."""
    # The reference parser drops one carriage return before each newline.
    scannable = [line.removesuffix("\r") for line in lines] if "\r" in text else lines
    if options.max_line_bytes is not None:
        scannable = _without_long_lines(scannable, options.max_line_bytes)
    # The empty text after a final newline is no line.
    scanned = scan_lines(scannable[:-1] if text.endswith("\n") else scannable)
    try:
        batches, left_out = build_batches(scanned, options)
    except UnicodeEncodeError:
        # A str payload with a lone surrogate, which Arrow strings cannot hold.
        return _batches_of(_PayloadParser(text, options, False).parse())

    reference = _parse_left_out(text, lines, left_out, options)
    if reference.continued:
        # A string left open on a left-out line runs on into later lines,
        # which are then no lines of their own (rare, so parse again).
        for index in reference.continued:
            if index < len(scanned.series_ids):
                scanned.series_ids[index] = -1
        batches, _ = build_batches(scanned, options)

    for point in reference.result.points:
        batch = batches.get(point.measurement)
        if batch is None:
            batch = batches[point.measurement] = points_batch(point.measurement, [])
        batch.points.append(point)
    return BatchResult(_in_line_order(batches), reference.result.errors)


def _without_long_lines(lines: list[str], limit: int) -> list[str]:
    """Return ``lines`` with each line over ``limit`` UTF-8 bytes replaced by an empty one.

    The scan leaves empty lines out, so the reference parser rejects the
    long lines, and the series-key cache never holds their text.
    """
    # A character is at most 4 bytes, so only longer lines are measured.
    candidates = [index for index, line in enumerate(lines) if len(line) * 4 > limit]
    long_lines = [index for index in candidates if _longer_than(lines[index], 0, len(lines[index]), limit)]
    if not long_lines:
        return lines
    lines = list(lines)
    for index in long_lines:
        lines[index] = ""
    return lines


@dataclass(slots=True)
class _ReferenceParse:
    result: ParseResult
    #: 0-based indexes of the lines that belong to a string opened on an earlier line.
    continued: list[int]


def _parse_left_out(text: str, lines: list[str], left_out: list[int], options: _Options) -> _ReferenceParse:
    """Parse the left-out lines with the reference parser, in line order."""
    parser = _PayloadParser(text, options, False)
    continued: list[int] = []
    offset = 0
    offset_index = 0
    for index in left_out:
        if continued and index <= continued[-1]:
            continue
        stripped = lines[index].strip(" \t\r")
        if not stripped or stripped[0] == "#":
            continue  # A blank or comment line, which the reference parser skips.
        offset += sum(map(len, lines[offset_index:index])) + index - offset_index
        offset_index = index
        end = parser._parse_logical_line(offset, index + 1)
        spanned = text.count("\n", offset, end)
        continued.extend(range(index + 1, index + 1 + spanned))
    return _ReferenceParse(parser.result, continued)


def _in_line_order(batches: dict[str, MeasurementBatch]) -> dict[str, MeasurementBatch]:
    def first_line(batch: MeasurementBatch) -> int:
        first_row = batch.line_numbers[0].as_py() if batch.row_count else None
        first_point = batch.points[0].line_number if batch.points else None
        return min(number for number in (first_row, first_point) if number is not None)

    return dict(sorted(batches.items(), key=lambda item: first_line(item[1])))


def _batches_of(result: ParseResult) -> BatchResult:
    points: dict[str, list[Point]] = {}
    for point in result.points:
        points.setdefault(point.measurement, []).append(point)
    return BatchResult({name: points_batch(name, group) for name, group in points.items()}, result.errors)
