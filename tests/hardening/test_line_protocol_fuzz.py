"""Line-protocol fuzzing with hypothesis: generated and mutated lines, parsed directly and written over HTTP.

Generated lines come from a model (measurement, tags, fields of every
type, a timestamp in every precision) with unicode names and every escape,
so the parser's result can be compared with the model. Mutated lines
(dropped or doubled separators, bad escapes, cut lines, long lines,
timestamps outside the years 1 to 9999, wrong value types, invalid UTF-8)
have no model. For them the reference parser (``_PayloadParser``, one
line at a time) is the oracle that the columnar parser and the gateway must
match. Requests go to a real ``lakegate serve``, and the rows are read back
through psycopg.
"""

from __future__ import annotations

import gzip
import http.client
import itertools
import json
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gateway.ingest import line_scan
from gateway.ingest.line_batches import batch_points
from gateway.ingest.lineprotocol import Point, UnsignedInt, _options, _PayloadParser, parse_batches, parse_lines
from tests.e2e.gateway_process import GatewayProcess, store_gateway

MAX_BODY = 4 * 1024 * 1024
MAX_LINE = 4096
REPLY_TIMEOUT = 60.0

#: Cases per hypothesis test. Derandomized, so every run sends the same cases.
PARSER_CASES = 300
SERVER_CASES = 120

FUZZ_SETTINGS = settings(deadline=None, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                HealthCheck.function_scoped_fixture])

#: The years 1 to 9999 UTC in microseconds since the epoch, computed here
#: rather than taken from the parser.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIRST_US = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
LAST_US = (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)

#: Microseconds per unit of each precision, as (multiplier, divisor).
PRECISIONS = {"ns": (1, 1000), "n": (1, 1000), "us": (1, 1), "u": (1, 1), "ms": (1000, 1), "s": (1_000_000, 1),
              "m": (60_000_000, 1), "h": (3_600_000_000, 1)}
WRONG_PRECISIONS = ["NS", "sec", "d", "fortnight", "1s", "msec"]

#: Database and measurement names the store accepts.
STORE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")

BOOLEAN_SPELLINGS = {True: ["t", "T", "true", "True", "TRUE"], False: ["f", "F", "false", "False", "FALSE"]}

#: A time far from the generated ones, given to the reference parser for lines without a timestamp.
NO_TIMESTAMP_NS = 4_000_000_000_000_000_000


# ---------------------------------------------------------------- model


@dataclass(frozen=True)
class Field:
    """A field value with its line-protocol type: float, integer, unsigned, boolean or string."""

    kind: str
    value: Any


@dataclass(frozen=True)
class Line:
    measurement: str
    tags: dict[str, str]
    fields: dict[str, Field]
    timestamp: int
    #: How each value and separator is spelled: the index of the spelling, per field.
    spellings: tuple[int, ...]


def _first_unit(precision: str) -> int:
    multiplier, divisor = PRECISIONS[precision]
    return -((-FIRST_US * divisor) // multiplier)


def _last_unit(precision: str) -> int:
    multiplier, divisor = PRECISIONS[precision]
    return (LAST_US * divisor + divisor - 1) // multiplier


def _time_us(timestamp: int, precision: str) -> int:
    multiplier, divisor = PRECISIONS[precision]
    return timestamp * multiplier // divisor


def _escape(name: str, specials: str) -> str:
    return "".join("\\" + char if char in specials else char for char in name)


def _render_value(field: Field, spelling: int) -> str:
    if field.kind == "integer":
        return f"{field.value}i"
    if field.kind == "unsigned":
        return f"{field.value}u"
    if field.kind == "boolean":
        choices = BOOLEAN_SPELLINGS[field.value]
        return choices[spelling % len(choices)]
    if field.kind == "string":
        return '"' + field.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    value: float = field.value
    if spelling % 3 == 1 and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # A bare integer is a float.
    if spelling % 3 == 2 and 0 < abs(value) < 1:
        return repr(value).replace("0.", ".", 1)  # ".5" and "-.5"
    return repr(value)


def render(line: Line) -> str:
    """Return the line-protocol text of ``line``, escapes included."""
    series = _escape(line.measurement, ", ")
    for key, value in line.tags.items():
        series += "," + _escape(key, ",= ") + "=" + _escape(value, ",= ")
    spellings = itertools.cycle(line.spellings or (0,))
    fields = ",".join(_escape(key, ",= ") + "=" + _render_value(field, next(spellings))
                      for key, field in line.fields.items())
    separator = " " * (1 + line.spellings[0] % 2) if line.spellings else " "
    return f"{series}{separator}{fields}{separator}{line.timestamp}"


def expected_point(line: Line, precision: str, line_number: int) -> Point:
    fields: dict[str, Any] = {}
    for key, field in line.fields.items():
        fields[key] = UnsignedInt(field.value) if field.kind == "unsigned" else field.value
    return Point(line.measurement, dict(line.tags), fields, _time_us(line.timestamp, precision), line_number)


# ---------------------------------------------------------------- strategies

# Names leave out backslashes, which a name cannot always carry through
# escaping, newlines, which end a line, and NUL, which is rejected.
_NAME_CHARACTERS = st.characters(codec="utf-8", exclude_characters="\\\n\r\x00",
                                 exclude_categories=("Cs",))
_NAME_TEXT = st.one_of(st.text(_NAME_CHARACTERS, min_size=1, max_size=12),
                       st.text(st.sampled_from("ab ,=\"'é日🙂-_"), min_size=1, max_size=6))
KEYS = _NAME_TEXT.filter(lambda key: key.lower() != "time")
STORE_MEASUREMENTS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True)
MEASUREMENTS = st.one_of(STORE_MEASUREMENTS, STORE_MEASUREMENTS,
                         _NAME_TEXT.filter(lambda name: name[0] not in " \t#"))
STRINGS = st.text(st.characters(codec="utf-8", exclude_characters="\x00", exclude_categories=("Cs",)),
                  max_size=30)


def field_values(kind: str) -> st.SearchStrategy[Field]:
    values: dict[str, st.SearchStrategy[Any]] = {
        "float": st.floats(allow_nan=False, allow_infinity=False),
        "integer": st.integers(-(2**63), 2**63 - 1),
        "unsigned": st.integers(0, 2**64 - 1),
        "boolean": st.booleans(),
        "string": STRINGS,
    }
    return values[kind].map(lambda value: Field(kind, value))


@st.composite
def lines(draw: st.DrawFn, precision: str, keys: list[str], measurements: list[str]) -> Line:
    """Draw a valid line whose measurement and keys come from the given pools."""
    measurement = draw(st.sampled_from(measurements))
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=min(len(keys), 5), unique=True))
    tag_count = draw(st.integers(0, len(chosen) - 1))
    tags = {key: draw(_NAME_TEXT) for key in chosen[:tag_count]}
    fields = {key: draw(st.sampled_from(["float", "integer", "unsigned", "boolean", "string"]).flatmap(field_values))
              for key in chosen[tag_count:]}
    timestamp = draw(st.integers(_first_unit(precision), _last_unit(precision)))
    spellings = tuple(draw(st.lists(st.integers(0, 5), min_size=1, max_size=len(fields))))
    return Line(measurement, tags, fields, timestamp, spellings)


@st.composite
def payloads(draw: st.DrawFn, store_names_only: bool = False) -> tuple[str, list[Line]]:
    """Draw a precision and valid lines over a few measurements and a few keys."""
    precision = draw(st.sampled_from(sorted(PRECISIONS)))
    keys = draw(st.lists(KEYS, min_size=1, max_size=6, unique_by=str.lower))
    names = STORE_MEASUREMENTS if store_names_only else MEASUREMENTS
    measurements = draw(st.lists(names, min_size=1, max_size=3, unique_by=str.lower))
    drawn = draw(st.lists(lines(precision, keys, measurements), min_size=1, max_size=12))
    return precision, drawn


MUTATIONS = ["drop separator", "double separator", "bad escape", "cut", "long line", "timestamp out of range",
             "huge timestamp", "bad timestamp", "other value type", "invalid UTF-8", "time key", "NUL key"]


@st.composite
def mutated(draw: st.DrawFn, line: Line, precision: str) -> bytes:
    """Return the text of ``line`` changed by one mutation, as bytes."""
    mutation = draw(st.sampled_from(MUTATIONS))
    event(f"mutation: {mutation}")
    text = render(line)
    data = text.encode()
    position = draw(st.integers(0, len(data)))
    separators = [index for index, byte in enumerate(data) if byte in b" ,="]
    head, _, timestamp = text.rpartition(" ")

    if mutation == "drop separator" and separators:
        index = draw(st.sampled_from(separators))
        return data[:index] + data[index + 1:]
    if mutation == "double separator" and separators:
        index = draw(st.sampled_from(separators))
        return data[:index] + data[index:index + 1] + data[index:]
    if mutation == "bad escape":
        return data[:position] + b"\\" + data[position:]
    if mutation == "cut":
        return data[:position]
    if mutation == "long line":
        return head.encode() + b',pad="' + b"p" * (MAX_LINE + draw(st.integers(0, 64))) + b'" ' + timestamp.encode()
    if mutation == "timestamp out of range":
        outside = draw(st.sampled_from([_first_unit(precision) - 1, _last_unit(precision) + 1]))
        return f"{head} {outside}".encode()
    if mutation == "huge timestamp":
        return f"{head} {draw(st.sampled_from(['-', '']))}{'9' * draw(st.integers(20, 40))}".encode()
    if mutation == "bad timestamp":
        return f"{head} {draw(st.sampled_from(['1.5', 'abc', '0x10', '+1', '1e3', '']))}".encode()
    if mutation == "other value type":
        key = draw(st.sampled_from(sorted(line.fields)))
        kind = draw(st.sampled_from(["float", "integer", "unsigned", "boolean", "string"]))
        changed = {**line.fields, key: draw(field_values(kind))}
        return render(Line(line.measurement, line.tags, changed, line.timestamp, line.spellings)).encode()
    if mutation == "invalid UTF-8":
        return data[:position] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf8\x88\x80\x80"])) \
            + data[position:]
    if mutation == "time key":
        return data.replace(b" ", b" " + draw(st.sampled_from([b"time", b"TIME", b"Time"])) + b"=1,", 1)
    if mutation == "NUL key":
        return data.replace(b" ", b" k\x00=1,", 1)
    return data + b" extra"


def reference_parse(body: bytes, precision: str) -> tuple[list[Point], list[int]]:
    """Parse ``body`` line by line with the reference parser; return its points and rejected line numbers."""
    options = _options(precision, NO_TIMESTAMP_NS, MAX_LINE)
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
        check_encoding = False
    except UnicodeDecodeError:
        text = body.decode("utf-8", "surrogateescape").removeprefix("\ufeff")
        check_encoding = True
    result = _PayloadParser(text, options, check_encoding).parse()
    return result.points, [error.line_number for error in result.errors]


# ---------------------------------------------------------------- parser level


@settings(FUZZ_SETTINGS, max_examples=PARSER_CASES)
@given(payloads(), st.sampled_from(["\n", "\r\n"]), st.booleans())
def test_generated_lines_parse_to_model(payload: tuple[str, list[Line]], newline: str, columnar: bool) -> None:
    precision, drawn = payload
    texts = [render(line) for line in drawn]
    # Over 100 lines, most lines take the columnar parser; the padding lines are comments.
    padding = ["# padding"] * 100 if columnar else []
    body = newline.join(padding + texts).encode()
    # A line number counts physical lines, and a string value may contain newlines.
    first_numbers = itertools.accumulate((text.count("\n") + 1 for text in texts[:-1]), initial=len(padding) + 1)
    expected = [expected_point(line, precision, number) for line, number in zip(drawn, first_numbers, strict=True)]

    result = parse_lines(body, precision=precision, default_time_ns=NO_TIMESTAMP_NS, max_line_bytes=1 << 30)

    assert result.errors == []
    assert result.points == expected
    for got, want in zip(result.points, expected, strict=True):
        assert [type(value) for value in got.fields.values()] == [type(value) for value in want.fields.values()]


@settings(FUZZ_SETTINGS, max_examples=PARSER_CASES)
@given(st.data())
def test_mutated_lines_columnar_matches_reference(data: st.DataObject) -> None:
    precision, drawn = data.draw(payloads())
    body_lines = [data.draw(st.one_of(st.just(render(line).encode()), mutated(line, precision))) for line in drawn]
    # Repeated past 100 lines, so that the columnar parser takes most of them.
    body = b"\n".join(body_lines * (1 + 100 // len(body_lines)))
    points, rejected = reference_parse(body, precision)

    batches = parse_batches(body, precision=precision, default_time_ns=NO_TIMESTAMP_NS, max_line_bytes=MAX_LINE)

    columnar = sorted((point for batch in batches.batches.values() for point in batch_points(batch)),
                      key=lambda point: point.line_number)
    assert columnar == points
    assert [error.line_number for error in batches.errors] == rejected


def test_long_series_keys_stay_out_of_cache() -> None:
    before = line_scan._parse_series_key_cached.cache_info().currsize
    body = "\n".join(f"m,k={number}{'x' * 2000} v=1 {number}" for number in range(200))

    result = parse_batches(body, precision="s")

    assert sum(batch.row_count + len(batch.points) for batch in result.batches.values()) == 200
    assert line_scan._parse_series_key_cached.cache_info().currsize == before


# ---------------------------------------------------------------- server level


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    running = store_gateway(tmp_path_factory, "line-protocol-fuzz", "--http-max-body", str(MAX_BODY),
                            "--http-max-line", str(MAX_LINE))
    process = next(running)
    yield process
    next(running, None)  # stops the gateway
    assert "Traceback" not in process.log()


_database_numbers = itertools.count()


def _post(gateway: GatewayProcess, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.http_port, timeout=REPLY_TIMEOUT)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, json.loads(data) if data else {}


def _write_path(database: str, precision: str | None, v2: bool) -> str:
    path = f"/api/v2/write?org=o&bucket={database}" if v2 else f"/write?db={database}"
    return path if precision is None else f"{path}&precision={precision}"


def _stored_rows(gateway: GatewayProcess, database: str) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of every measurement of ``database`` as sorted (column, value) pairs without NULLs."""
    with psycopg.connect(f"{gateway.dsn} dbname={database}", autocommit=True) as connection:
        if database not in {name for (name,) in connection.execute("SHOW DATABASES").fetchall()}:
            return {}
        names = [name for (name,) in connection.execute(f"SHOW TABLES FROM {database}").fetchall()]
        stored = {}
        for name in names:
            cursor = connection.execute(f'SELECT * FROM "{name}"')
            columns = [column.name for column in cursor.description or []]
            stored[name] = sorted(_row_pairs(columns, row) for row in cursor.fetchall())
    return stored


def _row_pairs(columns: list[str], row: tuple[Any, ...]) -> tuple[Any, ...]:
    pairs = []
    for column, value in zip(columns, row, strict=True):
        if value is None:
            continue
        if column == "time":
            value = (value - EPOCH) // timedelta(microseconds=1)
        elif isinstance(value, Decimal):
            value = int(value)  # UBIGINT is sent as numeric.
        pairs.append((column, type(value).__name__, value))
    return tuple(sorted(pairs))


class KindTracker:
    """The column kinds of each measurement, applying the gateway's rule for mixed types.

    A column keeps the kind of its first value. An integer in a float
    column, or a float in an integer column, makes the column float. Any
    other difference rejects the line.
    """

    def __init__(self) -> None:
        self.kinds: dict[str, dict[str, str]] = {}

    def accept(self, point: Point) -> bool:
        kinds = self.kinds.setdefault(point.measurement, {})
        received = {key: "string" for key in point.tags}
        received.update({key: _kind(value) for key, value in point.fields.items()})
        for key, kind in received.items():
            known = kinds.get(key)
            if known is not None and known != kind and {known, kind} != {"integer", "float"}:
                return False
        for key, kind in received.items():
            known = kinds.get(key)
            kinds[key] = "float" if known is not None and known != kind else kind
        return True


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, UnsignedInt):
        return "unsigned"
    if isinstance(value, int):
        return "integer"
    return "float" if isinstance(value, float) else "string"


@dataclass
class Expectation:
    """The outcome the oracle expects of one write request."""

    points: list[Point]
    rejected: list[int]


def expect_write(body: bytes, precision: str, tracker: KindTracker) -> Expectation:
    points, rejected = reference_parse(body, precision)
    accepted = []
    for point in points:
        if STORE_NAME.fullmatch(point.measurement) is None or not tracker.accept(point):
            rejected.append(point.line_number)
        else:
            accepted.append(point)
    return Expectation(accepted, sorted(rejected))


def expected_rows(points: list[Point], tracker: KindTracker) -> dict[str, list[tuple[Any, ...]]]:
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for point in points:
        kinds = tracker.kinds[point.measurement]
        pairs = [("time", "int", _marked_time(point.time_us))]
        pairs.extend((key, "str", value) for key, value in point.tags.items())
        for key, value in point.fields.items():
            if kinds[key] == "float":
                value = float(value)
            elif isinstance(value, UnsignedInt):
                value = int(value)
            pairs.append((key, type(value).__name__, value))
        rows.setdefault(point.measurement, []).append(tuple(sorted(pairs)))
    return {name: sorted(measurement_rows) for name, measurement_rows in rows.items()}


def _marked_time(time_us: int) -> int:
    # A line without a timestamp gets the time of its request, which the
    # test can bound only by the interval around the request.
    return -1 if time_us == NO_TIMESTAMP_NS // 1000 else time_us


def _mark_request_times(stored: dict[str, list[tuple[Any, ...]]], windows: list[tuple[int, int]]
                        ) -> dict[str, list[tuple[Any, ...]]]:
    """Replace each stored time inside a request's interval by the mark of a line without a timestamp."""

    def marked_pair(column: str, kind: str, value: Any) -> tuple[str, str, Any]:
        if column == "time" and any(start <= value <= end for start, end in windows):
            return column, kind, -1
        return column, kind, value

    return {name: sorted(tuple(sorted(marked_pair(*pair) for pair in row)) for row in rows)
            for name, rows in stored.items()}


def _now_us() -> int:
    return time.time_ns() // 1000


def _check_write(gateway: GatewayProcess, database: str, path: str, body: bytes, headers: dict[str, str],
                 expectation: Expectation) -> None:
    status, report = _post(gateway, path, body, headers)
    event(f"response: {status}")
    if not expectation.rejected:
        assert (status, report) == (204, {})
        return
    assert status == 400
    assert report["written"] == len(expectation.points)
    assert report["rejected"] == len(expectation.rejected)
    first = expectation.rejected[0]
    assert re.match(rf"partial write: {len(expectation.points)} rows written, {len(expectation.rejected)} lines "
                    rf"rejected: line {first}: ", report["message"])


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """Draw a precision and a body of valid and mutated lines, with blank lines and comments."""
    precision, drawn = draw(payloads(store_names_only=draw(st.booleans())))
    body_lines = []
    for line in drawn:
        text = render(line)
        body_lines.append(draw(st.one_of(st.just(text.encode()), mutated(line, precision))))
        if draw(st.integers(0, 9)) == 0:
            body_lines.append(draw(st.sampled_from([b"", b"  ", b"# comment", b"\t# indented comment"])))
    if draw(st.booleans()):
        # Repeated past 100 lines, so that the columnar parser takes most of them.
        body_lines *= 1 + 100 // len(body_lines)
        event("columnar parser")
    newline = draw(st.sampled_from([b"\n", b"\r\n"]))
    return precision, newline.join(body_lines) + draw(st.sampled_from([b"", newline]))


@settings(FUZZ_SETTINGS, max_examples=SERVER_CASES)
@given(requests(), st.booleans(), st.booleans(), st.booleans())
def test_server_writes_exactly_valid_lines(gateway: GatewayProcess, request: tuple[str, bytes], compress: bool,
                                           v2: bool, precision_named: bool) -> None:
    precision, body = request
    database = f"fuzz{next(_database_numbers)}"
    sent = gzip.compress(body) if compress else body
    headers = {"Content-Encoding": "gzip"} if compress else {}
    # Without the parameter, the precision is nanoseconds.
    path = _write_path(database, precision if precision_named or precision not in ("ns", "n") else None, v2)
    tracker = KindTracker()

    # The same request twice: the second one meets the columns that the
    # first one stored, and must leave the stored rows as they were.
    expected: dict[str, list[tuple[Any, ...]]] = {}
    windows: list[tuple[int, int]] = []
    for _ in range(2):
        expectation = expect_write(body, precision, tracker)
        start = _now_us()
        _check_write(gateway, database, path, sent, headers, expectation)
        windows.append((start, _now_us()))
        for name, rows in expected_rows(expectation.points, tracker).items():
            expected[name] = sorted(expected.get(name, []) + rows)
        stored = _mark_request_times(_stored_rows(gateway, database), windows)
        assert stored == _retyped(expected, tracker)


def _retyped(expected: dict[str, list[tuple[Any, ...]]], tracker: KindTracker) -> dict[str, list[tuple[Any, ...]]]:
    """Return the expected rows with integers as floats in the columns that became float since they were written."""
    retyped = {}
    for name, rows in expected.items():
        kinds = tracker.kinds.get(name, {})
        retyped[name] = sorted(tuple(sorted((column, "float", float(value)) if kinds.get(column) == "float"
                                            and kind == "int" and column != "time" else (column, kind, value)
                                            for column, kind, value in row)) for row in rows)
    return retyped


@settings(FUZZ_SETTINGS, max_examples=30)
@given(requests(), st.sampled_from(WRONG_PRECISIONS))
def test_wrong_precision_writes_nothing(gateway: GatewayProcess, request: tuple[str, bytes], precision: str) -> None:
    _, body = request
    database = f"fuzz{next(_database_numbers)}"

    status, report = _post(gateway, _write_path(database, precision, False), body, {})

    assert status == 400
    assert report["message"].startswith(f'invalid precision "{precision}"')
    assert _stored_rows(gateway, database) == {}


# ---------------------------------------------------------------- bombs, cut gzip and memory


def _rss_bytes(gateway: GatewayProcess) -> int:
    status = Path(f"/proc/{gateway.process.pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert match is not None
    return int(match[1]) * 1024


def _gzip_of_zeros(size: int) -> bytes:
    """Return gzip data that decompresses to ``size`` zero bytes, built without holding them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    parts = [compressor.compress(chunk) for _ in range(size >> 20)]
    parts.append(compressor.flush())
    return b"".join(parts)


BASELINE = b"base,host=a v=1.5 1700000000\nbase,host=b v=2i 1700000001\nbase,host=c s=\"x\" 1700000002\n"


def test_bombs_and_long_lines_bound_memory(gateway: GatewayProcess) -> None:
    status, _ = _post(gateway, "/write?db=baseline&precision=s", BASELINE, {})
    assert status == 204
    before = _stored_rows(gateway, "baseline")
    rss_limit = _rss_bytes(gateway) + 8 * MAX_BODY + 256 * 1024 * 1024

    bomb = _gzip_of_zeros(1 << 30)
    nested = gzip.compress(gzip.compress(b"base v=9 9\n" * 2_000_000))
    long_line = b"base,host=z v=1 1\nbase s=\"" + b"y" * (MAX_BODY - 64) + b"\" 2\n"
    long_key = b"base,host=" + b"k" * (MAX_BODY // 2) + b" v=1 3\n"
    rejected_by_type = b"base,host=d v=\"text\" 1700000003\nbase,host=e s=1i 1700000004\n"
    cases = [
        ("bomb", bomb, {"Content-Encoding": "gzip"}, 413),
        # Half a bomb still expands past the limit before its end is missed.
        ("truncated bomb", bomb[: len(bomb) // 2], {"Content-Encoding": "gzip"}, 413),
        ("nested gzip", nested, {"Content-Encoding": "gzip"}, 400),
        ("truncated gzip", gzip.compress(BASELINE)[:-4], {"Content-Encoding": "gzip"}, 400),
        ("over the limit", b"base v=1 1\n" * (MAX_BODY // 11 + 1), {}, 413),
        ("long line", long_line, {}, 400),
        ("long series key", long_key, {}, 400),
        ("type conflicts", rejected_by_type, {}, 400),
    ]
    assert len(bomb) < MAX_BODY
    for name, body, headers, expected_status in cases:
        status, report = _post(gateway, "/write?db=baseline&precision=s", body, headers)
        assert (name, status) == (name, expected_status), report
        assert (name, _rss_bytes(gateway) <= rss_limit) == (name, True)

    after = _stored_rows(gateway, "baseline")
    line_of_long = [row for row in after["base"] if ("host", "str", "z") in row]
    assert len(line_of_long) == 1
    assert sorted(row for row in after["base"] if row not in line_of_long) == before["base"]


def test_partial_write_report_lists_first_error(gateway: GatewayProcess) -> None:
    body = (b"cpu,host=a v=1 1\n"
            b"cpu,host=b v=1 1 1\n"
            b"cpu,h\xffst=c v=2 2\n"
            b"cpu,host=d v=3 3\n")
    status, report = _post(gateway, "/write?db=report&precision=s", body, {})
    assert status == 400
    assert report["written"] == 2
    assert report["rejected"] == 2
    assert report["message"] == ('partial write: 2 rows written, 2 lines rejected: '
                                 'line 2: unexpected text "1" after timestamp; '
                                 "line 3: invalid UTF-8 byte sequence")
    assert _stored_rows(gateway, "report")["cpu"] == [
        (("host", "str", "a"), ("time", "int", 1_000_000), ("v", "float", 1.0)),
        (("host", "str", "d"), ("time", "int", 3_000_000), ("v", "float", 3.0)),
    ]


def test_nul_in_keys_rejected(gateway: GatewayProcess) -> None:
    body = b"nul,t\x00x=1 v=1 1\nnul v\x00y=1 2\nnul v=3 3\n"
    status, report = _post(gateway, "/write?db=nulkeys&precision=s", body, {})
    assert status == 400
    assert report["rejected"] == 2
    assert report["message"] == ('partial write: 1 rows written, 2 lines rejected: '
                                 'line 1: tag key "t\\0x" contains a NUL character, which column names cannot '
                                 'contain; line 2: field key "v\\0y" contains a NUL character, which column '
                                 "names cannot contain")
    assert _stored_rows(gateway, "nulkeys") == {"nul": [(("time", "int", 3_000_000), ("v", "float", 3.0))]}
