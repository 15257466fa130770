"""Parsing the InfluxDB line protocol into points, one line at a time: the reference parser.

A line is ``measurement[,tag=value...] field=value[,field=value...] [timestamp]``.
Each line parses on its own: a bad line becomes a ``LineError`` and the
other lines still become points, so a caller can make a partial write.

Names and values follow the InfluxDB line protocol:

- A backslash escapes ``,`` and space in measurement names, and ``,``, ``=``
  and space in tag keys, tag values and field keys. A backslash before any
  other character stays in the name, and so does the character after it.
- Field values are floats (``1``, ``-1.5``, ``1.``, ``.5``, ``2e-3``),
  integers (``12i``), unsigned integers (``12u``), booleans (``t``, ``true``,
  ``F``, ``FALSE`` ...) or strings in double quotes.
- In strings, ``\\"`` and ``\\\\`` are escapes. Commas, spaces, ``=`` and
  newlines stand for themselves.
- Tag keys and field keys become column names, so a key with a NUL
  character is rejected. The PostgreSQL protocol ends names at a NUL.
- The timestamp is an integer in the precision of the request.
- Sections are separated by one or more spaces. Spaces and tabs around a
  line are ignored.

A well-formed line is parsed by one regular expression and a loop over its
tags and fields. A line that the expression rejects is parsed again step
by step, which finds the reason. Both use the same sub-patterns. The
step-by-step parser is the reference, and the tests check on random lines
that both accept the same lines and return the same points.

``gateway.ingest.lineprotocol`` parses most lines of a payload in Arrow
columns, which is faster, and hands every line that its checks do not
accept to ``_PayloadParser`` here. What this module accepts or rejects is
what the whole gateway accepts or rejects.

The module is pure: no I/O, and only the standard library.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import NoReturn, TypeAlias


class UnsignedInt(int):
    """An unsigned 64-bit field value, written with the ``u`` suffix (``12u``).

    It compares equal to the same ``int``, so tell it apart with
    ``isinstance(value, UnsignedInt)``.
    """

    def __repr__(self) -> str:
        return f"UnsignedInt({int(self)})"


FieldValue: TypeAlias = int | float | bool | str | UnsignedInt


@dataclass(frozen=True, slots=True)
class Point:
    """A parsed line.

    ``tags`` and ``fields`` keep the order of the line, and no key is in
    both. ``time_us`` counts microseconds since the Unix epoch in UTC.
    ``line_number`` is the 1-based number of the line where the point starts.
    """

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time_us: int
    line_number: int


@dataclass(frozen=True, slots=True)
class LineError:
    """A rejected line: its 1-based number, the reason, and its first 200 characters.

    ``line`` shows each byte that is not valid UTF-8 as U+FFFD.
    """

    line_number: int
    reason: str
    line: str


@dataclass(slots=True)
class ParseResult:
    """The points of the valid lines and the errors of the others, both in line order."""

    points: list[Point] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


#: Maximum length of ``LineError.line``.
MAX_ERROR_LINE_CHARS = 200

#: Timestamps must fall in the years 1 to 9999 UTC, the range of Python's
#: ``datetime``. It is inside the timestamp[us] range of Arrow and Parquet
#: (int64 microseconds, about 292,000 years either side of 1970), and the
#: hour partitions of the store are named after ``datetime`` values.
MIN_TIME_US = -62_135_596_800_000_000
MAX_TIME_US = 253_402_300_799_999_999

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1

#: (multiplier, divisor) that turn a timestamp of each precision into
#: microseconds. ``n``, ``u``, ``m`` (minutes) and ``h`` are the precision
#: names of the InfluxDB 1.x ``/write`` API.
_PRECISIONS: dict[str, tuple[int, int]] = {
    "ns": (1, 1000), "n": (1, 1000),
    "us": (1, 1), "u": (1, 1),
    "ms": (1000, 1),
    "s": (1_000_000, 1),
    "m": (60_000_000, 1),
    "h": (3_600_000_000, 1),
}

_BOOLEANS = {
    "t": True, "T": True, "true": True, "True": True, "TRUE": True,
    "f": False, "F": False, "false": False, "False": False, "FALSE": False,
}

# Significant digits beyond which a number is out of every range checked
# here. int() is never given more, so its 4300-digit limit never applies.
_MAX_INTEGER_DIGITS = 24


class _LineSyntaxError(Exception):
    """A line that cannot become a point, with the reason in ``args[0]``."""


class _OpenString(Exception):
    """A quoted field value that is still open at the end of the line."""

    def __init__(self, field_key: str) -> None:
        super().__init__(field_key)
        self.field_key = field_key


@dataclass(frozen=True, slots=True)
class _Options:
    precision: str
    multiplier: int
    divisor: int
    default_time_us: int
    #: Lines longer than this many UTF-8 bytes are rejected without being parsed; None for no limit.
    max_line_bytes: int | None = None


# ---------------------------------------------------------------- payload


def _options(precision: str, default_time_ns: int | None, max_line_bytes: int | None = None) -> _Options:
    factors = _PRECISIONS.get(precision)
    if factors is None:
        known = ", ".join(_PRECISIONS)
        raise ValueError(f'invalid precision "{precision}": expected one of {known}')

    if default_time_ns is None:
        default_time_ns = time.time_ns()
    default_time_us = default_time_ns // 1000
    if not MIN_TIME_US <= default_time_us <= MAX_TIME_US:
        raise ValueError(f"default time {default_time_ns} ns is outside the years 1 to 9999 UTC")

    if max_line_bytes is not None and max_line_bytes <= 0:
        raise ValueError(f"maximum line length {max_line_bytes} is not a positive number of bytes")

    return _Options(precision, factors[0], factors[1], default_time_us, max_line_bytes)


def _decode(data: bytes | str) -> tuple[str, bool]:
    """Return the text and whether its lines may contain bytes that are not UTF-8."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff"), False
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), False
    except UnicodeDecodeError:
        # Keep the bad bytes as lone surrogates so that only their lines fail.
        return data.decode("utf-8", "surrogateescape").removeprefix("\ufeff"), True


_INVALID_UTF8 = "invalid UTF-8 byte sequence"


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


class _PayloadParser:
    """Parses the lines of one decoded payload into a ParseResult."""

    def __init__(self, text: str, options: _Options, check_encoding: bool) -> None:
        self.text = text
        self.options = options
        self.check_encoding = check_encoding
        self.result = ParseResult()

    def parse(self) -> ParseResult:
        position = 0
        line_number = 1
        while position < len(self.text):
            end = self._parse_logical_line(position, line_number)
            line_number += self.text.count("\n", position, end) + 1
            position = end + 1
        return self.result

    def _parse_logical_line(self, start: int, line_number: int) -> int:
        """Parse the line at ``start`` and return the index where it ends.

        A line ends at a newline outside quoted strings. When a string is
        still open at a newline, the line is parsed again up to the first
        newline after the string's closing quote. A string that never closes
        is reported, and parsing resumes on the next line.

        A line longer than ``max_line_bytes`` is rejected before it is
        parsed, unless it is blank or a comment, which are skipped at any length.
        """
        end = _line_end(self.text, start)
        if self._too_long(start, end, line_number):
            # NOTE: a quoted string opened on a rejected long line is not followed
            # onto the next lines, so those lines are parsed as lines of their own.
            return end
        while True:
            line = self.text[start:end].removesuffix("\r")
            try:
                point = _parse_line(line, line_number, self.options)
            except _OpenString as error:
                tail = _STRING_TAIL.match(self.text, end)
                if tail is None:
                    self._reject(line_number, f'unterminated quoted string in field "{error.field_key}"', line)
                    return end
                end = _line_end(self.text, tail.end())
                if self._too_long(start, end, line_number):
                    return end
                continue
            except _LineSyntaxError as error:
                self._reject(line_number, error.args[0], line)
                return end

            if point is not None:
                self._accept(point, line)
            return end

    def _too_long(self, start: int, end: int, line_number: int) -> bool:
        """Reject the text from ``start`` to ``end`` and return True if it is a line over the length limit."""
        limit = self.options.max_line_bytes
        if limit is None:
            return False
        if end > start and self.text[end - 1] == "\r":
            end -= 1  # The carriage return of a CRLF line end is not part of the line.
        if not _longer_than(self.text, start, end, limit):
            return False
        line = self.text[start:end]
        stripped = line.lstrip(" \t\r")
        if not stripped or stripped[0] == "#":
            return False
        self._reject(line_number, f"line exceeds the maximum length of {limit} bytes", line)
        return True

    def _accept(self, point: Point, line: str) -> None:
        if self.check_encoding and _has_bad_bytes(line):
            self._reject(point.line_number, _INVALID_UTF8, line)
            return
        self.result.points.append(point)

    def _reject(self, line_number: int, reason: str, line: str) -> None:
        # Bad bytes are reported in place of whatever else the parser found.
        if self.check_encoding and _has_bad_bytes(line):
            reason = _INVALID_UTF8
        error_line = line[:MAX_ERROR_LINE_CHARS].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        self.result.errors.append(LineError(line_number, reason, error_line))


def _longer_than(text: str, start: int, end: int, limit: int) -> bool:
    """Return whether ``text[start:end]`` is longer than ``limit`` bytes in UTF-8."""
    characters = end - start
    if characters > limit:
        return True
    # A character is at most 4 bytes, so most lines need no encoding. A lone
    # surrogate counts 3 bytes, more than the one invalid byte it stands for.
    if characters * 4 <= limit:
        return False
    return len(text[start:end].encode("utf-8", "surrogatepass")) > limit


def _has_bad_bytes(line: str) -> bool:
    if line.isascii():
        return False
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parse_line(raw_line: str, line_number: int, options: _Options) -> Point | None:
    """Return the point of one line, or None for a blank or comment line.

    Raises _LineSyntaxError for a bad line and _OpenString for a string
    value that the line does not close.
    """
    line = raw_line.strip(" \t\r")
    if not line or line[0] == "#":
        return None
    point = _parse_well_formed(line, line_number, options)
    if point is None:
        point = _parse_diagnosed(line, line_number, options)
    return point


# ---------------------------------------------------------------- syntax

# Sub-patterns, all possessive or atomic, so that a match never backtracks
# into another split of the line than the step-by-step parser makes.
_MEASUREMENT = r"[^\\, ]*+(?:\\.[^\\, ]*+)*+"
_KEY = r"[^\\=, ]*+(?:\\.[^\\=, ]*+)*+"
_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_INTEGER = r"-?[0-9]++"
_FLOAT = r"-?(?:[0-9]++\.?+[0-9]*+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+"
# Longer spellings come first, because the atomic group keeps the first match.
_BOOLEAN = r"true|True|TRUE|false|False|FALSE|t|T|f|F"
_BARE_VALUE = rf"{_INTEGER}[iu]|{_FLOAT}|{_BOOLEAN}"

_WELL_FORMED_LINE = re.compile(
    rf"({_MEASUREMENT})((?:,{_KEY}={_KEY})*+) ++"
    rf"({_KEY}=(?>{_STRING}|{_BARE_VALUE})(?:,{_KEY}=(?>{_STRING}|{_BARE_VALUE}))*+)"
    rf"(?: ++({_INTEGER}))?",
    re.DOTALL,
)
_TAG_ITEM = re.compile(rf"({_KEY})=({_KEY})", re.DOTALL)
_FIELD_ITEM = re.compile(rf"({_KEY})=(?>({_STRING})|({_BARE_VALUE}))", re.DOTALL)

# The step-by-step parser reads a field as a quoted string (group 2) or as
# anything up to the next comma or space (group 3), and checks that apart.
_FIELD_TOKEN = re.compile(rf"({_KEY})=(?>({_STRING})|([^, ]*+))", re.DOTALL)
_BARE_VALUE_ONLY = re.compile(_BARE_VALUE)
_INTEGER_ONLY = re.compile(_INTEGER)
# The rest of a quoted string after its opening quote, closing quote included.
_STRING_TAIL = re.compile(_STRING[1:], re.DOTALL)

_STRING_ESCAPE = re.compile(r'\\([\\"])')
_ESCAPED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def _unescape(token: str, specials: str) -> str:
    """Replace a backslash and one of ``specials`` by that character."""
    if "\\" not in token:
        return token
    if "\\\\" in token:
        # A replace chain would pair "\\" and "\=" wrongly, so pair from the left.
        return _ESCAPED_PAIR.sub(lambda pair: pair[1] if pair[1] in specials else pair[0], token)
    for special in specials:
        token = token.replace("\\" + special, special)
    return token


def _unescape_string(body: str) -> str:
    return _STRING_ESCAPE.sub(r"\1", body) if "\\" in body else body


def _is_time(key: str) -> bool:
    return len(key) == 4 and key.lower() == "time"


def _number_or_boolean(raw: str) -> FieldValue | None:
    """Convert a bare value that matches ``_BARE_VALUE``; None if it is out of range."""
    suffix = raw[-1]
    if suffix == "i":
        return _integer_in_range(raw[:-1], INT64_MIN, INT64_MAX)
    if suffix == "u":
        unsigned = _integer_in_range(raw[:-1], 0, UINT64_MAX)
        return None if unsigned is None else UnsignedInt(unsigned)
    boolean = _BOOLEANS.get(raw)
    if boolean is not None:
        return boolean
    number = float(raw)
    return None if math.isinf(number) else number


def _integer_in_range(digits: str, minimum: int, maximum: int) -> int | None:
    value = _bounded_int(digits)
    if value is None or not minimum <= value <= maximum:
        return None
    return value


def _time_us(timestamp: str, options: _Options) -> int | None:
    """Convert an integer timestamp to microseconds; None if outside the supported years."""
    value = _bounded_int(timestamp)
    if value is None:
        return None
    time_us = value * options.multiplier // options.divisor
    return time_us if MIN_TIME_US <= time_us <= MAX_TIME_US else None


def _bounded_int(digits: str) -> int | None:
    """Convert ``-?[0-9]+`` text; None if it has more significant digits than any range here allows."""
    if len(digits) <= _MAX_INTEGER_DIGITS:
        return int(digits)
    significant = digits.lstrip("-").lstrip("0")
    if len(significant) > _MAX_INTEGER_DIGITS:
        return None
    value = int(significant or "0")
    return -value if digits.startswith("-") else value


# ---------------------------------------------------------------- fast path


def _parse_well_formed(line: str, line_number: int, options: _Options) -> Point | None:
    """Parse a line that is free of errors; return None for any other line."""
    match = _WELL_FORMED_LINE.fullmatch(line)
    if match is None:
        return None
    measurement = _unescape(match[1], ", ")
    tags = _well_formed_tags(line, match.start(2), match.end(2))
    fields = _well_formed_fields(line, match.start(3), match.end(3))
    if not measurement or tags is None or fields is None or not tags.keys().isdisjoint(fields):
        return None

    timestamp = match[4]
    time_us = options.default_time_us if timestamp is None else _time_us(timestamp, options)
    if time_us is None:
        return None
    return Point(measurement, tags, fields, time_us, line_number)


def _well_formed_tags(line: str, start: int, end: int) -> dict[str, str] | None:
    tags: dict[str, str] = {}
    if start == end:
        return tags
    pairs = _TAG_ITEM.findall(line, start, end)
    for raw_key, raw_value in pairs:
        key = _unescape(raw_key, ",= ")
        if not key or not raw_value or _is_time(key) or "\0" in key:
            return None
        tags[key] = _unescape(raw_value, ",= ")
    return tags if len(tags) == len(pairs) else None


def _well_formed_fields(line: str, start: int, end: int) -> dict[str, FieldValue] | None:
    # The checks of _unescape and _is_time are written out here because
    # this loop runs once per field of every line.
    fields: dict[str, FieldValue] = {}
    for raw_key, quoted, raw in _FIELD_ITEM.findall(line, start, end):
        key = _unescape(raw_key, ",= ") if "\\" in raw_key else raw_key
        if not key or key in fields or (len(key) == 4 and key.lower() == "time") or "\0" in key:
            return None
        if quoted:
            fields[key] = _unescape_string(quoted[1:-1])
            continue
        value = _number_or_boolean(raw)
        if value is None:
            return None
        fields[key] = value
    return fields


# ---------------------------------------------------------------- step by step


def _parse_diagnosed(line: str, line_number: int, options: _Options) -> Point:
    """Parse a line step by step, raising _LineSyntaxError with the reason it is bad."""
    key_end = _find_unescaped(line, " ")
    if key_end < 0:
        key_end = len(line)
    measurement, tags = _parse_series_key(line[:key_end])

    rest = line[key_end + 1:].lstrip(" ")
    if "=" not in rest:
        raise _LineSyntaxError("missing fields")
    fields, timestamp = _parse_field_set(rest)

    if not tags.keys().isdisjoint(fields):
        shared = next(key for key in tags if key in fields)
        raise _LineSyntaxError(f'key "{shared}" is both a tag key and a field key')

    time_us = options.default_time_us if timestamp is None else _time_us(timestamp, options)
    if time_us is None:
        raise _LineSyntaxError(f'timestamp "{timestamp}" in precision "{options.precision}" is outside the '
                               "years 1 to 9999 UTC")
    return Point(measurement, tags, fields, time_us, line_number)


def _find_unescaped(text: str, char: str, start: int = 0) -> int:
    """Return the index of the first ``char`` not escaped by a backslash, or -1."""
    index = text.find(char, start)
    while index > 0 and text[index - 1] == "\\" and _is_escaped(text, index):
        index = text.find(char, index + 1)
    return index


def _is_escaped(text: str, index: int) -> bool:
    # Backslashes pair up from the left, so an odd run escapes the character.
    before = index
    while before > 0 and text[before - 1] == "\\":
        before -= 1
    return (index - before) % 2 == 1


def _split_unescaped(text: str, separator: str) -> list[str]:
    if "\\" not in text:
        return text.split(separator)
    parts = []
    start = 0
    index = _find_unescaped(text, separator)
    while index >= 0:
        parts.append(text[start:index])
        start = index + 1
        index = _find_unescaped(text, separator, start)
    parts.append(text[start:])
    return parts


def _parse_series_key(series_key: str) -> tuple[str, dict[str, str]]:
    parts = _split_unescaped(series_key, ",")
    measurement = _unescape(parts[0], ", ")
    if not measurement:
        raise _LineSyntaxError("empty measurement name")

    tags: dict[str, str] = {}
    for part in parts[1:]:
        key, value = _parse_tag(part)
        if key in tags:
            raise _LineSyntaxError(f'duplicate tag key "{key}"')
        tags[key] = value
    return measurement, tags


def _parse_tag(text: str) -> tuple[str, str]:
    pieces = _split_unescaped(text, "=")
    key = _unescape(pieces[0], ",= ")
    if not key:
        raise _LineSyntaxError("empty tag key")
    if len(pieces) == 1:
        raise _LineSyntaxError(f'missing "=" in tag "{key}"')
    if len(pieces) > 2:
        raise _LineSyntaxError(f'unescaped "=" in value of tag "{key}"')

    value = _unescape(pieces[1], ",= ")
    if not value:
        raise _LineSyntaxError(f'missing value for tag "{key}"')
    if _is_time(key):
        raise _LineSyntaxError(f'tag key "{key}" is reserved for the timestamp')
    if "\0" in key:
        raise _LineSyntaxError(f'tag key "{_shown(key)}" contains a NUL character, which column names cannot contain')
    return key, value


def _parse_field_set(rest: str) -> tuple[dict[str, FieldValue], str | None]:
    """Parse the fields and return them with the timestamp text, if any."""
    fields: dict[str, FieldValue] = {}
    position = 0
    while True:
        match = _FIELD_TOKEN.match(rest, position)
        if match is None:
            _raise_missing_equals(_unescape(rest[position:_bare_end(rest, position)], ",= "))
        key = _unescape(match[1], ",= ")
        _check_field_key(key, fields)
        fields[key] = _field_value(match, key)

        position = match.end()
        if position == len(rest):
            return fields, None
        if rest[position] == " ":
            return fields, _timestamp_text(rest[position + 1:])
        if rest[position] != ",":
            raw = rest[match.start(2):_bare_end(rest, position)]
            raise _LineSyntaxError(f'invalid field value "{raw}" for field "{key}"')
        position += 1


def _bare_end(text: str, start: int) -> int:
    """Return the index of the next comma or space after ``start``, or the length."""
    ends = [index for index in (text.find(",", start), text.find(" ", start)) if index >= 0]
    return min(ends, default=len(text))


def _raise_missing_equals(key: str) -> NoReturn:
    if not key:
        raise _LineSyntaxError("empty field key")
    raise _LineSyntaxError(f'missing "=" in field "{key}"')


def _check_field_key(key: str, fields: dict[str, FieldValue]) -> None:
    if not key:
        raise _LineSyntaxError("empty field key")
    if key in fields:
        raise _LineSyntaxError(f'duplicate field key "{key}"')
    if _is_time(key):
        raise _LineSyntaxError(f'field key "{key}" is reserved for the timestamp')
    if "\0" in key:
        raise _LineSyntaxError(f'field key "{_shown(key)}" contains a NUL character, which column names cannot '
                               "contain")


def _shown(key: str) -> str:
    """Return ``key`` with each NUL character written as ``\\0``, for messages."""
    return key.replace("\0", "\\0")


def _field_value(match: re.Match[str], key: str) -> FieldValue:
    quoted = match[2]
    if quoted is not None:
        return _unescape_string(quoted[1:-1])

    raw = match[3]
    if raw.startswith('"'):
        raise _OpenString(key)
    if not raw:
        raise _LineSyntaxError(f'missing value for field "{key}"')
    if _BARE_VALUE_ONLY.fullmatch(raw) is None:
        raise _LineSyntaxError(f'invalid field value "{raw}" for field "{key}"')

    value = _number_or_boolean(raw)
    if value is None:
        type_name = {"i": "int64", "u": "uint64"}.get(raw[-1], "float")
        raise _LineSyntaxError(f'value "{raw}" is out of range for {type_name} field "{key}"')
    return value


def _timestamp_text(text: str) -> str | None:
    """Return the integer text of the timestamp after the field set, or None if there is none."""
    text = text.strip(" ")
    if not text:
        return None
    timestamp, _, extra = text.partition(" ")
    if _INTEGER_ONLY.fullmatch(timestamp) is None:
        raise _LineSyntaxError(f'invalid timestamp "{timestamp}"')
    if extra:
        raise _LineSyntaxError(f'unexpected text "{extra.lstrip(" ")}" after timestamp')
    return timestamp
