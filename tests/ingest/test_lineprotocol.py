"""InfluxDB line protocol parser: syntax, per-line errors, payloads and real sample data."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.ingest import lineprotocol, point_tables
from gateway.ingest.line_batches import batch_points
from gateway.ingest.lineprotocol import (
    COLUMNAR_MIN_LINES,
    MAX_TIME_US,
    MIN_TIME_US,
    BatchResult,
    LineError,
    ParseResult,
    Point,
    UnsignedInt,
    parse_batches,
    parse_lines,
    points_to_rows,
)
from gateway.ingest.point_tables import batches_to_tables, points_to_tables

# Public sample data of InfluxData (repository influxdb2-sample-data), read
# from outside the repository and never copied into it.
REPOSITORY = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPOSITORY.parent / "shared" / "data"
NOAA_FILE = SAMPLE_DATA / "noaa-ndbc-latest-observations.lp"
BITCOIN_FILE = SAMPLE_DATA / "bitcoin-currentprice.lp"

DEFAULT_NS = 1_700_000_000_123_456_789
DEFAULT_US = 1_700_000_000_123_456


def parse_one(line: str, precision: str = "ns") -> Point:
    result = parse_lines(line, precision=precision, default_time_ns=DEFAULT_NS)
    assert result.errors == []
    assert len(result.points) == 1
    return result.points[0]


def reason_of(line: str, precision: str = "ns") -> str:
    result = parse_lines(line, precision=precision, default_time_ns=DEFAULT_NS)
    assert result.points == []
    assert len(result.errors) == 1
    return result.errors[0].reason


def typed(values: Mapping[str, object]) -> dict[str, tuple[type, object]]:
    """Pair each value with its exact type, since 1 == 1.0 == True == UnsignedInt(1)."""
    return {key: (type(value), value) for key, value in values.items()}


# ---------------------------------------------------------------- valid syntax


@pytest.mark.parametrize(
    ("line", "measurement", "tags", "fields", "time_us"),
    [
        ("cpu value=1", "cpu", {}, {"value": 1.0}, DEFAULT_US),
        ("cpu,host=a,region=eu value=1 1700000000000000000", "cpu", {"host": "a", "region": "eu"},
         {"value": 1.0}, 1_700_000_000_000_000),
        ("cpu usage=0.5,idle=3i,ok=t,name=\"x\"", "cpu", {}, {"usage": 0.5, "idle": 3, "ok": True, "name": "x"},
         DEFAULT_US),
        # Measurement escapes: comma and space only.
        (r"my\ cpu f=1", "my cpu", {}, {"f": 1.0}, DEFAULT_US),
        (r"my\,cpu f=1", "my,cpu", {}, {"f": 1.0}, DEFAULT_US),
        (r"cpu\=x f=1", r"cpu\=x", {}, {"f": 1.0}, DEFAULT_US),
        ("m=1 f=1", "m=1", {}, {"f": 1.0}, DEFAULT_US),
        # Tag key, tag value and field key escapes: comma, equals sign, space.
        (r"m,ta\ g=v\ 1,k\,2=v\,2,k\=3=v\=3 f=1", "m", {"ta g": "v 1", "k,2": "v,2", "k=3": "v=3"}, {"f": 1.0},
         DEFAULT_US),
        (r"m f\ 1=1,f\,2=2,f\=3=3", "m", {}, {"f 1": 1.0, "f,2": 2.0, "f=3": 3.0}, DEFAULT_US),
        # A backslash before any other character stays.
        (r"m,path=C:\dir\file f=1", "m", {"path": r"C:\dir\file"}, {"f": 1.0}, DEFAULT_US),
        (r"m,t=a\\ f=1", "m", {"t": "a\\\\"}, {"f": 1.0}, DEFAULT_US),
        (r"m,t=a\\\ b f=1", "m", {"t": "a\\\\ b"}, {"f": 1.0}, DEFAULT_US),
        # Double quotes outside field values are ordinary characters.
        ('m,"t"="v" "f"=1', "m", {'"t"': '"v"'}, {'"f"': 1.0}, DEFAULT_US),
        ('"m" f=1', '"m"', {}, {"f": 1.0}, DEFAULT_US),
        # Runs of spaces between sections, blanks around the line.
        ("m,t=1   f=1    1000", "m", {"t": "1"}, {"f": 1.0}, 1),
        ("  \tm f=1 1000 \t ", "m", {}, {"f": 1.0}, 1),
        # Tags need not be sorted and keep the line's order.
        ("m,z=1,a=2 f=1", "m", {"z": "1", "a": "2"}, {"f": 1.0}, DEFAULT_US),
    ],
)
def test_line_syntax(line: str, measurement: str, tags: dict[str, str], fields: dict[str, object],
                     time_us: int) -> None:
    point = parse_one(line)
    assert parse_both_ways(line)
    assert point.measurement == measurement
    assert point.tags == tags
    assert list(point.tags) == list(tags)
    assert typed(point.fields) == typed(fields)
    assert point.time_us == time_us
    assert point.line_number == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1.0), ("-1", -1.0), ("1.5", 1.5), ("-1e10", -1e10), ("1.", 1.0), (".5", 0.5), ("-.5", -0.5),
        ("1E+3", 1000.0), ("2e-3", 0.002), ("1.5e3", 1500.0), ("0", 0.0), ("007", 7.0),
        ("1.7976931348623157e308", 1.7976931348623157e308),
        ("123i", 123), ("-123i", -123), ("0i", 0),
        ("9223372036854775807i", 9_223_372_036_854_775_807), ("-9223372036854775808i", -9_223_372_036_854_775_808),
        ("0" * 5000 + "42i", 42), ("-" + "0" * 30 + "42i", -42), ("0" * 30 + "42u", UnsignedInt(42)),
        ("0" * 5000 + "1.5", 1.5),
        ("123u", UnsignedInt(123)), ("0u", UnsignedInt(0)), ("18446744073709551615u", UnsignedInt(2**64 - 1)),
        ("t", True), ("T", True), ("true", True), ("True", True), ("TRUE", True),
        ("f", False), ("F", False), ("false", False), ("False", False), ("FALSE", False),
    ],
)
def test_field_value_types(raw: str, expected: object) -> None:
    point = parse_one(f"m v={raw}")
    assert type(point.fields["v"]) is type(expected)
    assert point.fields["v"] == expected


def test_unsigned_int_stays_distinguishable() -> None:
    fields = parse_one("m a=5u,b=5i").fields
    assert isinstance(fields["a"], UnsignedInt)
    assert not isinstance(fields["b"], UnsignedInt)
    assert repr(fields["a"]) == "UnsignedInt(5)"


@pytest.mark.parametrize(
    ("quoted", "expected"),
    [
        ('""', ""),
        ('"hello"', "hello"),
        ('"a,b c=d"', "a,b c=d"),
        (r'"say \"hi\""', 'say "hi"'),
        (r'"back\\slash"', "back\\slash"),
        (r'"trailing\\"', "trailing\\"),
        (r'"C:\temp\new"', r"C:\temp\new"),
        (r'"\\\""', '\\"'),
        ('"1i"', "1i"),
        ('"true"', "true"),
        ('"two\nlines"', "two\nlines"),
        ('"crlf\r\ninside"', "crlf\r\ninside"),
        ('"héllo wörld ✓ 🚀"', "héllo wörld ✓ 🚀"),
    ],
)
def test_string_field_values(quoted: str, expected: str) -> None:
    point = parse_one(f"m,t=1 s={quoted},n=1i 1000")
    assert point.fields == {"s": expected, "n": 1}
    assert type(point.fields["s"]) is str
    assert point.time_us == 1


def test_unicode_names_and_values() -> None:
    point = parse_one("温度,city=Zürich,名前=東京 text=\"naïve ☃\",μ=1.5 1000")
    assert point.measurement == "温度"
    assert point.tags == {"city": "Zürich", "名前": "東京"}
    assert point.fields == {"text": "naïve ☃", "μ": 1.5}


def test_unicode_in_bytes_payload() -> None:
    result = parse_lines("m,city=São\\ Paulo s=\"ça va\" 1000".encode(), default_time_ns=DEFAULT_NS)
    assert result.errors == []
    assert result.points[0].tags == {"city": "São Paulo"}
    assert result.points[0].fields == {"s": "ça va"}


# ---------------------------------------------------------------- per-line errors


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        # Missing parts.
        ("m", "missing fields"),
        ("m,t=1", "missing fields"),
        ("m 1700000000", "missing fields"),
        ("m f", "missing fields"),
        (",t=1 f=1", "empty measurement name"),
        (" ,t=1 f=1", "empty measurement name"),
        # Tags.
        ("m,=v f=1", "empty tag key"),
        ("m, f=1", "empty tag key"),
        ("m,,t=1 f=1", "empty tag key"),
        ("m,t f=1", 'missing "=" in tag "t"'),
        ("m,t= f=1", 'missing value for tag "t"'),
        ("m,t=a=b f=1", 'unescaped "=" in value of tag "t"'),
        (r"m,t=a\\=b f=1", 'unescaped "=" in value of tag "t"'),
        ("m,t=1,t=2 f=1", 'duplicate tag key "t"'),
        (r"m,a\ b=1,a\ b=2 f=1", 'duplicate tag key "a b"'),
        ("m,time=1 f=1", 'tag key "time" is reserved for the timestamp'),
        ("m,TIME=1 f=1", 'tag key "TIME" is reserved for the timestamp'),
        # Fields.
        ("m =1", "empty field key"),
        ("m f=1,=2", "empty field key"),
        ("m f=1,", "empty field key"),
        ('m f="x",', "empty field key"),
        ("m f=1,g", 'missing "=" in field "g"'),
        ('m f="x",g', 'missing "=" in field "g"'),
        ("m f=", 'missing value for field "f"'),
        ("m f=,g=1", 'missing value for field "f"'),
        ('m f=,g="x"', 'missing value for field "f"'),
        ("m f=1,f=2", 'duplicate field key "f"'),
        ('m f="a",f="b"', 'duplicate field key "f"'),
        (r"m f\,1=1,f\,1=2", 'duplicate field key "f,1"'),
        ("m time=1", 'field key "time" is reserved for the timestamp'),
        ("m Time=1", 'field key "Time" is reserved for the timestamp'),
        ('m time="x"', 'field key "time" is reserved for the timestamp'),
        ("m,host=a host=1", 'key "host" is both a tag key and a field key'),
        ('m,host=a x=1,host="b"', 'key "host" is both a tag key and a field key'),
        # Strings.
        ('m f="abc', 'unterminated quoted string in field "f"'),
        (r'm f="abc\"', 'unterminated quoted string in field "f"'),
        ('m g=1,f="abc 1000', 'unterminated quoted string in field "f"'),
        ('m f="a"b', 'invalid field value ""a"b" for field "f"'),
        ('m f="a""b"', 'invalid field value ""a""b"" for field "f"'),
        # Timestamps.
        ("m f=1 12ab", 'invalid timestamp "12ab"'),
        ("m f=1 1.5", 'invalid timestamp "1.5"'),
        ("m f=1 +5", 'invalid timestamp "+5"'),
        ("m f=1 1e9", 'invalid timestamp "1e9"'),
        ("m f=1 0x10", 'invalid timestamp "0x10"'),
        ("m f=1 abc def", 'invalid timestamp "abc"'),
        ("m a=1 b=2", 'invalid timestamp "b=2"'),
        ("m f=1 123 456", 'unexpected text "456" after timestamp'),
        ("m f=1 123   abc def", 'unexpected text "abc def" after timestamp'),
        ('m f="x" 123 "y"', 'unexpected text ""y"" after timestamp'),
    ],
)
def test_line_errors(line: str, reason: str) -> None:
    assert reason_of(line) == reason
    assert not parse_both_ways(line)


@pytest.mark.parametrize(
    "raw",
    ["12x", "abc", "1.5i", "1.5u", "--1", "+1", "1_000", "nan", "NaN", "inf", "-inf", "Infinity", "0x10", "1e",
     "1e+", "e5", ".", "-", "tRUE", "yes", "1i2", "i", "u", "1iu", "١٢", "１", "1,5".replace(",", ";"), "t1"],
)
def test_invalid_field_values(raw: str) -> None:
    assert reason_of(f"m temp={raw}") == f'invalid field value "{raw}" for field "temp"'


@pytest.mark.parametrize(
    ("raw", "type_name"),
    [
        ("9223372036854775808i", "int64"),
        ("-9223372036854775809i", "int64"),
        ("1" * 30 + "i", "int64"),
        ("1" * 5000 + "i", "int64"),
        ("18446744073709551616u", "uint64"),
        ("-1u", "uint64"),
        ("1e999", "float"),
        ("-1e999", "float"),
        ("1" * 400, "float"),
    ],
)
def test_field_values_out_of_range(raw: str, type_name: str) -> None:
    assert reason_of(f"m n={raw}") == f'value "{raw}" is out of range for {type_name} field "n"'


# ---------------------------------------------------------------- timestamps and precision


@pytest.mark.parametrize(
    ("precision", "timestamp", "time_us"),
    [
        ("ns", "1633002480123456789", 1_633_002_480_123_456),
        ("n", "1633002480123456789", 1_633_002_480_123_456),
        ("us", "1633002480123456", 1_633_002_480_123_456),
        ("u", "1633002480123456", 1_633_002_480_123_456),
        ("ms", "1633002480123", 1_633_002_480_123_000),
        ("s", "1633002480", 1_633_002_480_000_000),
        ("m", "27216708", 27_216_708 * 60_000_000),
        ("h", "453611", 453_611 * 3_600_000_000),
        # Floor division: sub-microsecond parts are dropped, towards the past.
        ("ns", "999", 0),
        ("ns", "1999", 1),
        ("ns", "-1", -1),
        ("ns", "-1000", -1),
        ("ns", "-1001", -2),
        ("s", "-1", -1_000_000),
        ("s", "0", 0),
        ("ns", "0001000", 1),
        ("ns", "0" * 40 + "1000", 1),
        ("ns", "-" + "0" * 5000 + "1000", -1),
    ],
)
def test_timestamp_precisions(precision: str, timestamp: str, time_us: int) -> None:
    assert parse_one(f"m f=1 {timestamp}", precision=precision).time_us == time_us


@pytest.mark.parametrize(
    ("precision", "timestamp"),
    [
        ("s", "253402300799"),  # 9999-12-31T23:59:59Z
        ("s", "-62135596800"),  # 0001-01-01T00:00:00Z
        ("us", str(MAX_TIME_US)),
        ("us", str(MIN_TIME_US)),
        ("ns", str(MAX_TIME_US * 1000 + 999)),
        ("ns", str(MIN_TIME_US * 1000)),
    ],
)
def test_timestamps_at_range_limits(precision: str, timestamp: str) -> None:
    point = parse_one(f"m f=1 {timestamp}", precision=precision)
    assert MIN_TIME_US <= point.time_us <= MAX_TIME_US


@pytest.mark.parametrize(
    ("precision", "timestamp"),
    [
        ("s", "253402300800"),
        ("s", "-62135596801"),
        ("us", str(MAX_TIME_US + 1)),
        ("us", str(MIN_TIME_US - 1)),
        ("ns", str((MAX_TIME_US + 1) * 1000)),
        ("ns", str(MIN_TIME_US * 1000 - 1)),
        ("h", "70389528"),
        ("ns", "9" * 40),
        ("ns", "-" + "9" * 5000),
    ],
)
def test_timestamps_out_of_range(precision: str, timestamp: str) -> None:
    assert reason_of(f"m f=1 {timestamp}", precision=precision) == (
        f'timestamp "{timestamp}" in precision "{precision}" is outside the years 1 to 9999 UTC')


def test_missing_timestamp_gets_default_time() -> None:
    result = parse_lines("m f=1\nm f=2 5000\nm f=3", default_time_ns=-1)
    assert [point.time_us for point in result.points] == [-1, 5, -1]


def test_missing_timestamp_gets_current_time() -> None:
    before = time.time_ns() // 1000
    result = parse_lines("m f=1\nm f=2")
    after = time.time_ns() // 1000
    assert result.points[0].time_us == result.points[1].time_us
    assert before <= result.points[0].time_us <= after


@pytest.mark.parametrize("precision", ["x", "NS", "", "sec", "nanoseconds", "µs"])
def test_unknown_precision_raises(precision: str) -> None:
    with pytest.raises(ValueError, match="invalid precision") as excinfo:
        parse_lines("m f=1", precision=precision)
    assert str(excinfo.value) == f'invalid precision "{precision}": expected one of ns, n, us, u, ms, s, m, h'


@pytest.mark.parametrize("default_time_ns", [(MAX_TIME_US + 1) * 1000, MIN_TIME_US * 1000 - 1])
def test_default_time_out_of_range_raises(default_time_ns: int) -> None:
    with pytest.raises(ValueError, match="outside the years 1 to 9999 UTC"):
        parse_lines("m f=1", default_time_ns=default_time_ns)


# ---------------------------------------------------------------- payloads


def test_partial_write_keeps_good_lines() -> None:
    lines = [
        "m f=1 1000",            # 1
        "m f=oops 2000",         # 2
        "m,t=a f=3 3000",        # 3
        "# comment",             # 4
        "",                      # 5
        "m f=5 5000 extra",      # 6
        "n g=6i 6000",           # 7
        "   ",                   # 8
        'n s="x',                # 9
        "n g=10i 10000",         # 10
    ]
    payload = "\n".join(lines)
    result = parse_lines(payload, default_time_ns=DEFAULT_NS)
    assert [(point.line_number, point.measurement, point.time_us) for point in result.points] == [
        (1, "m", 1), (3, "m", 3), (7, "n", 6), (10, "n", 10)]
    assert result.errors == [
        LineError(2, 'invalid field value "oops" for field "f"', "m f=oops 2000"),
        LineError(6, 'unexpected text "extra" after timestamp', "m f=5 5000 extra"),
        LineError(9, 'unterminated quoted string in field "s"', 'n s="x'),
    ]


def test_crlf_line_endings() -> None:
    payload = b'm f=1 1000\r\nm s="x" 2000\r\nm s="y"\r\nm f=bad\r\n\r\n# c\r\nm f=4 4000\r\n'
    result = parse_lines(payload, default_time_ns=DEFAULT_NS)
    assert [(point.line_number, point.fields) for point in result.points] == [
        (1, {"f": 1.0}), (2, {"s": "x"}), (3, {"s": "y"}), (7, {"f": 4.0})]
    assert result.errors == [LineError(4, 'invalid field value "bad" for field "f"', "m f=bad")]


def test_mixed_line_endings_and_no_final_newline() -> None:
    result = parse_lines("m f=1 1000\r\nm f=2 2000\nm f=3 3000")
    assert [(point.line_number, point.fields["f"]) for point in result.points] == [(1, 1.0), (2, 2.0), (3, 3.0)]
    assert result.errors == []


@pytest.mark.parametrize("comment", ["# comment", "#m f=1 1000", "   # indented", "\t#tabbed", "#"])
def test_comment_lines_are_skipped(comment: str) -> None:
    result = parse_lines(f"{comment}\nm f=1 1000\n{comment}", default_time_ns=DEFAULT_NS)
    assert result.errors == []
    assert [point.line_number for point in result.points] == [2]


def test_hash_inside_a_line_is_data() -> None:
    point = parse_one(r'm,t=#1 s="#2" 1000')
    assert point.tags == {"t": "#1"}
    assert point.fields == {"s": "#2"}


@pytest.mark.parametrize("payload", [b"", "", "\n\n", "  \n\t\n", "\r\n", "# only a comment"])
def test_empty_payloads(payload: bytes | str) -> None:
    assert parse_lines(payload) == ParseResult([], [])


def test_bytes_and_str_give_same_result() -> None:
    payload = 'm,t=é f=1,s="ü" 1000\nm f=bad\n'
    assert parse_lines(payload.encode(), default_time_ns=0) == parse_lines(payload, default_time_ns=0)


def test_byte_order_mark_is_skipped() -> None:
    result = parse_lines("\ufeffm f=1 1000".encode(), default_time_ns=0)
    assert result.errors == []
    assert result.points[0].measurement == "m"


def test_invalid_utf8_rejects_only_its_line() -> None:
    payload = b"m f=1 1000\nm,t=\xff\xfe f=2 2000\nm f=3 3000\nm f=\"\xc3\" 4000\nm f=bad\xff\n"
    result = parse_lines(payload, default_time_ns=0)
    assert [point.line_number for point in result.points] == [1, 3]
    assert result.errors == [
        LineError(2, "invalid UTF-8 byte sequence", "m,t=\ufffd\ufffd f=2 2000"),
        LineError(4, "invalid UTF-8 byte sequence", 'm f="\ufffd" 4000'),
        LineError(5, "invalid UTF-8 byte sequence", "m f=bad\ufffd"),
    ]


def test_newlines_inside_strings_span_lines() -> None:
    payload = 'm s="one\ntwo\nthree",n=1i 1000\nm f=2 2000\nm s="a\r\nb" 3000\r\nm f=bad'
    result = parse_lines(payload, default_time_ns=0)
    assert [(point.line_number, point.fields) for point in result.points] == [
        (1, {"s": "one\ntwo\nthree", "n": 1}), (4, {"f": 2.0}), (5, {"s": "a\r\nb"})]
    assert result.errors == [LineError(7, 'invalid field value "bad" for field "f"', "m f=bad")]


def test_escaped_backslash_before_newline_in_string() -> None:
    result = parse_lines('m s="end\\\\\nnext" 1000\nm f=1 2000', default_time_ns=0)
    assert [(point.line_number, point.fields) for point in result.points] == [
        (1, {"s": "end\\\nnext"}), (3, {"f": 1.0})]


def test_unterminated_string_resumes_on_next_line() -> None:
    result = parse_lines('m s="abc\nm f=1 1000\nm g=2 2000', default_time_ns=0)
    assert [point.line_number for point in result.points] == [2, 3]
    assert result.errors == [LineError(1, 'unterminated quoted string in field "s"', 'm s="abc')]


def test_open_string_runs_to_the_next_quote() -> None:
    # An open string takes the newline and ends at the next unescaped quote,
    # here on line 2, so the rest of that line makes the value invalid.
    result = parse_lines('m s="abc\nm t="x" 1000\nm f=3 3000', default_time_ns=0)
    assert [point.line_number for point in result.points] == [3]
    assert result.errors == [
        LineError(1, 'invalid field value ""abc\nm t="x"" for field "s"', 'm s="abc\nm t="x" 1000')]


def test_very_long_lines() -> None:
    text = "x" * 1_000_000
    many_fields = ",".join(f"f{index}={index}i" for index in range(10_000))
    long_tag = "v" * 100_000
    payload = f'm s="{text}" 1000\nm {many_fields} 2000\nm,t={long_tag} f=1 3000\nm,t={long_tag} f=bad'
    result = parse_lines(payload, default_time_ns=0)
    assert [point.line_number for point in result.points] == [1, 2, 3]
    assert result.points[0].fields == {"s": text}
    assert result.points[1].fields == {f"f{index}": index for index in range(10_000)}
    assert result.points[2].tags == {"t": long_tag}
    assert result.errors == [
        LineError(4, 'invalid field value "bad" for field "f"', f"m,t={long_tag}"[:200])]
    assert len(result.errors[0].line) == 200


def test_many_lines_keep_order() -> None:
    payload = "".join(f"m,i={index} v={index}i {index}000\n" for index in range(5000))
    result = parse_lines(payload)
    assert [point.fields["v"] for point in result.points] == list(range(5000))
    assert [point.line_number for point in result.points] == list(range(1, 5001))


# ---------------------------------------------------------------- rows


def test_points_to_rows_groups_by_measurement() -> None:
    result = parse_lines('cpu,host=a usage=1.5 1000\nmem free=2u 2000\ncpu,host=b idle=3i,s="x" 3000')
    rows = points_to_rows(result.points)
    assert list(rows) == ["cpu", "mem"]
    assert rows["cpu"] == [
        {"time": 1, "host": "a", "usage": 1.5},
        {"time": 3, "host": "b", "idle": 3, "s": "x"},
    ]
    assert list(rows["cpu"][1]) == ["time", "host", "idle", "s"]
    assert rows["mem"] == [{"time": 2, "free": 2}]
    assert type(rows["mem"][0]["free"]) is UnsignedInt


def test_points_to_rows_of_nothing() -> None:
    assert points_to_rows([]) == {}


# ---------------------------------------------------------------- fast path agrees with step-by-step path

OPTIONS = lineprotocol._options("ns", DEFAULT_NS)


def parse_both_ways(line: str) -> bool:
    """Parse a line by the fast and the step-by-step path and return whether it is valid.

    Both paths must accept the same lines and return equal points.
    """
    line = line.strip(" \t\r")
    if not line or line.startswith("#"):
        return False
    fast = lineprotocol._parse_well_formed(line, 1, OPTIONS)
    try:
        slow: Point | None = lineprotocol._parse_diagnosed(line, 1, OPTIONS)
    except (lineprotocol._LineSyntaxError, lineprotocol._OpenString):
        slow = None
    assert slow == fast
    if slow is None or fast is None:
        return False
    assert typed(slow.fields) == typed(fast.fields)
    return True


def random_line(rng: random.Random) -> str:
    pieces = ["m", "t", "f", "time", "1", "1i", "-1u", "1.5", "1e3", "true", "F", " ", "  ", ",", "=",
              "\\", "\\ ", "\\,", "\\=", "\\\\", '"', '\\"', '"x y"', '"a,b"', "é", "\t", "\n", "123",
              "-"]
    return "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))


def structured_line(rng: random.Random) -> str:
    def name() -> str:
        return "".join(rng.choice(["a", "b", "\\ ", "\\,", "\\=", "\\\\", "\\x", '"', "é", "T", "ime"])
                       for _ in range(rng.randint(1, 3)))

    def value() -> str:
        return rng.choice(["1", "-2.5", "3i", "4u", "-5u", "t", "FALSE", '"s"', '"a \\" b"', '"c,d=e"', "1e400",
                           "x", '""', "99999999999999999999i", "tRUE"])

    tags = "".join(f",{name()}={name()}" for _ in range(rng.randint(0, 2)))
    fields = ",".join(f"{name()}={value()}" for _ in range(rng.randint(1, 3)))
    timestamp = rng.choice(["", " 1000", " -5", "  7", " 1e3", " 99999999999999999999999"])
    return f"{name()}{tags} {fields}{timestamp}"


def test_fast_path_agrees_on_random_lines() -> None:
    rng = random.Random(20240611)
    valid = 0
    for _ in range(20_000):
        valid += parse_both_ways(random_line(rng))
        valid += parse_both_ways(structured_line(rng))
    # Enough valid lines for the comparison to mean something.
    assert valid > 3_000


def test_fast_path_agrees_on_sample_lines() -> None:
    lines = NOAA_FILE.read_text(encoding="utf-8").splitlines()
    assert all(parse_both_ways(line) for line in lines)


# ---------------------------------------------------------------- real data

NOAA_STRING_FIELDS = {"station_met", "station_currents", "station_waterquality", "station_dart"}


def escape_tag(text: str) -> str:
    return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def split_unescaped(text: str, separator: str) -> list[str]:
    # Enough for these files, which contain no double backslashes.
    return re.split(rf"(?<!\\){re.escape(separator)}", text)


@pytest.fixture(scope="module")
def noaa_lines() -> list[str]:
    text = NOAA_FILE.read_text(encoding="utf-8")
    assert "\\\\" not in text
    return text.splitlines()


@pytest.fixture(scope="module")
def noaa_result() -> ParseResult:
    return parse_lines(NOAA_FILE.read_bytes())


def test_noaa_parses_without_errors(noaa_lines: list[str], noaa_result: ParseResult) -> None:
    assert noaa_result.errors == []
    assert len(noaa_lines) == 796
    assert len(noaa_result.points) == 796
    assert [point.line_number for point in noaa_result.points] == list(range(1, 797))
    assert {point.measurement for point in noaa_result.points} == {"ndbc"}


def test_noaa_matches_a_plain_scan(noaa_lines: list[str], noaa_result: ParseResult) -> None:
    for line, point in zip(noaa_lines, noaa_result.points, strict=True):
        series_key, field_set, timestamp = split_unescaped(line, " ")
        tag_pairs = [pair.split("=", 1) for pair in split_unescaped(series_key, ",")[1:]]
        expected_tags = {key: value.replace("\\ ", " ").replace("\\,", ",") for key, value in tag_pairs}
        field_pairs = [pair.split("=", 1) for pair in field_set.split(",")]
        assert point.tags == expected_tags
        assert list(point.fields) == [key for key, _ in field_pairs]
        assert point.time_us == int(timestamp) // 1000
        for key, raw in field_pairs:
            if raw.endswith("i"):
                assert point.fields[key] == int(raw[:-1])
            elif raw.startswith('"'):
                assert point.fields[key] == raw[1:-1]
            else:
                assert point.fields[key] == float(raw)


def test_noaa_station_name_absent_on_ten_lines(noaa_lines: list[str], noaa_result: ParseResult) -> None:
    scanned = sum("station_name=" not in line for line in noaa_lines)
    parsed = sum("station_name" not in point.tags for point in noaa_result.points)
    assert scanned == 10
    assert parsed == scanned


def test_noaa_tags_round_trip(noaa_lines: list[str], noaa_result: ParseResult) -> None:
    for line, point in zip(noaa_lines, noaa_result.points, strict=True):
        assert line.startswith("ndbc" + "".join(f",{key}={escape_tag(value)}" for key, value in point.tags.items())
                               + " ")


@pytest.mark.parametrize(
    ("station_id", "station_name"),
    [
        ("41008", "GRAYS REEF - 40 NM Southeast of Savannah, GA"),
        ("SBLM4", "Saginaw Bay Light #1, MI"),
        ("KGHB", "Garden Banks 172 / Salsa (Shell E &amp; P)"),
    ],
)
def test_noaa_station_names(noaa_lines: list[str], noaa_result: ParseResult, station_id: str,
                            station_name: str) -> None:
    matches = [point for point in noaa_result.points if point.tags["station_id"] == station_id]
    assert len(matches) == 1
    assert matches[0].tags["station_name"] == station_name
    source = noaa_lines[matches[0].line_number - 1]
    assert f",station_name={escape_tag(station_name)}," in source


def test_noaa_field_types(noaa_lines: list[str], noaa_result: ParseResult) -> None:
    with_wave_dir = [point for point in noaa_result.points if "wave_dir_degt" in point.fields]
    assert len(with_wave_dir) == sum("wave_dir_degt=" in line for line in noaa_lines)
    for point in noaa_result.points:
        for key, value in point.fields.items():
            if key == "wave_dir_degt":
                assert type(value) is int
            elif key in NOAA_STRING_FIELDS:
                assert type(value) is str
                assert value in {"y", "n"}
            else:
                assert type(value) is float
    assert all(point.fields.keys() >= {"station_met", "station_dart"} for point in noaa_result.points)


def test_noaa_field_keys(noaa_result: ParseResult) -> None:
    keys = {key for point in noaa_result.points for key in point.fields}
    assert len(keys) == 21
    assert keys >= NOAA_STRING_FIELDS | {"wave_dir_degt", "lat", "lon"}


def test_noaa_timestamps(noaa_lines: list[str], noaa_result: ParseResult) -> None:
    expected = [int(line.rsplit(" ", 1)[1]) // 1000 for line in noaa_lines]
    assert [point.time_us for point in noaa_result.points] == expected


def test_bitcoin_prices() -> None:
    data = BITCOIN_FILE.read_bytes()
    assert not data.endswith(b"\n")
    result = parse_lines(data)
    assert result.errors == []
    assert len(result.points) == 3
    assert len(result.points) == data.count(b"\n") + 1
    assert {point.time_us for point in result.points} == {1_633_002_480_000_000}
    assert [point.tags["symbol"] for point in result.points] == ["&#36;", "&pound;", "&euro;"]
    assert [point.tags["description"] for point in result.points] == [
        "United States Dollar", "British Pound Sterling", "Euro"]
    assert [point.fields for point in result.points] == [
        {"price": 42970.9319}, {"price": 31987.6477}, {"price": 37136.1669}]
    assert {point.measurement for point in result.points} == {"coindesk"}


# ---------------------------------------------------------------- columnar path agrees with the reference parser


def parse_by_reference(data: bytes | str, precision: str = "ns") -> ParseResult:
    options = lineprotocol._options(precision, DEFAULT_NS)
    text, check_encoding = lineprotocol._decode(data)
    return lineprotocol._PayloadParser(text, options, check_encoding).parse()


def parse_by_columns(text: str, precision: str = "ns") -> BatchResult:
    """Parse with the columnar path whatever the number of lines."""
    options = lineprotocol._options(precision, DEFAULT_NS)
    return lineprotocol._parse_columns(text, text.split("\n"), options)


def columnar_points(result: BatchResult) -> list[Point]:
    points = [point for batch in result.batches.values() for point in batch_points(batch)]
    return sorted(points, key=lambda point: point.line_number)


def rows_in_columns(result: BatchResult) -> int:
    """Return how many lines the columnar steps parsed, as opposed to the reference parser."""
    return sum(batch.row_count for batch in result.batches.values())


def shape(point: Point) -> tuple[list[str], list[tuple[str, tuple[type, object]]]]:
    """Return the tag keys and the typed fields of a point, in line order."""
    return list(point.tags), list(typed(point.fields).items())


def assert_columns_agree(text: str, precision: str = "ns") -> BatchResult:
    """Parse by columns and by the reference parser, which must give the same points and errors."""
    expected = parse_by_reference(text, precision)
    result = parse_by_columns(text, precision)
    points = columnar_points(result)
    assert result.errors == expected.errors
    assert points == expected.points
    assert [shape(point) for point in points] == [shape(point) for point in expected.points]
    return result


# Lines that the split at spaces, commas and equals signs could misread,
# values that Arrow's casts read but the line protocol does not, and the
# blanks, comments and line ends around lines.
TRICKY_LINES = [
    # Backslashes.
    "m f=1\\",
    "m,t=x\\ f=1",
    "m,t=x\\\\ f=1",
    "m f=1\\ 1000",
    "m f\\=1=2",
    "m f\\=1",
    "m a=1,f\\=2 1000",
    "m f\\\\=1",
    "m f\\,g=1",
    "m f\\ g=1 1000",
    "m f\\x=1",
    "m,t=a\\=b f=1",
    "m,t=a=b f=1",
    "m,t=a\\,b\\ c f=1i 1000",
    "m\\ x,t=1 f=1",
    "m,t=C:\\dir f=1",
    # Quoted strings.
    'm s="a,b c=d",n=1i 1000',
    'm s="a b" 1000',
    'm s="a,b"',
    'm s="a=b"',
    'm s="say \\"hi\\"" 1000',
    'm s="back\\\\slash" 1000',
    'm s="x\\" 1000',
    'm s=""',
    'm s="',
    'm s="a"b',
    'm s="a""b"',
    'm s=",",t=1',
    'm s="#" 1000',
    'm "f"=1',
    'm,"t"="v" "f"=1',
    'm s="é ✓"',
    # Integers and unsigned integers.
    "m a=1i,b=-2i,c=3u,d=0u,e=-0u 1000",
    "m a=9223372036854775807i,b=-9223372036854775808i,c=18446744073709551615u",
    "m a=9223372036854775808i",
    "m a=18446744073709551616u",
    "m a=-1u",
    "m a=0x10i",
    "m a=0x10u",
    "m a=1.5i",
    "m a=i",
    "m a=" + "0" * 40 + "42i",
    # Booleans.
    "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE",
    "m a=tRUE",
    "m a=yes",
    "m a=t,b=1",
    # Floats.
    "m a=1.,b=.5,c=-.5e-3,d=007,e=1E+3,f=-0",
    "m a=+1",
    "m a=nan",
    "m a=inf",
    "m a=-Infinity",
    "m a=1e999",
    "m a=1e-999",
    "m a=0x10",
    "m a=1_000",
    "m a=.",
    "m a=1e",
    "m a=" + "1" * 400,
    # Timestamps.
    "m f=1",
    "m f=1 0",
    "m f=1 -1001",
    "m f=1 0x10",
    "m f=1 +5",
    "m f=1 1.5",
    "m f=1 32503680000000000000",
    "m f=1 99999999999999999999999",
    "m f=1 -9223372036854775808",
    "m f=1 " + "0" * 40 + "1000",
    "m f=1 2 3",
    "m a=1 b=2",
    # Keys.
    "m f=1,f=2",
    "m f=1,g=2,f=3",
    "m,f=a f=1",
    "m,t=1 time=1",
    "m,TIME=1 f=1",
    "m Time=1",
    "m =1",
    "m f=",
    "m f=1,",
    "m f=1,,g=2",
    "m f==1",
    "m f=1=2",
    "m f",
    "m",
    ",t=1 f=1",
    # Blanks, comments and spaces.
    "",
    "   ",
    "# m f=1 1000",
    "#m f=1",
    "  # indented",
    "m f=1 ",
    "m f=1\t",
    "\tm f=1",
    " m f=1",
    "m  f=1",
    "m f=1  1000",
    "m f=1 1000\r",
    "m f=1\r",
    "m f=1 1000\r\r",
    "m f=1 1000 \r",
]


@pytest.mark.parametrize("line", TRICKY_LINES)
def test_columns_agree_on_tricky_line(line: str) -> None:
    assert_columns_agree(line)
    assert_columns_agree(f"m,t=ok v=0i 1\n{line}\nm,t=ok v=2i 3\n")


@pytest.mark.parametrize("separator", ["\n", "\r\n"])
def test_columns_agree_on_tricky_payload(separator: str) -> None:
    lines = [f"{line}{separator}m,t=ok v={index}i {index}" for index, line in enumerate(TRICKY_LINES)]
    result = assert_columns_agree(separator.join(lines))
    assert rows_in_columns(result) >= len(TRICKY_LINES)


@pytest.mark.parametrize("precision", ["ns", "us", "ms", "s", "m", "h"])
def test_columns_agree_on_precisions(precision: str) -> None:
    timestamps = ["0", "1", "-1", "999", "-1001", "1633002480123456789", "-62135596800", "253402300799",
                  "253402300800", "70389528", "9223372036854775807", "-9223372036854775808", "9" * 30]
    assert_columns_agree("".join(f"m f=1 {timestamp}\n" for timestamp in timestamps), precision)


def test_columns_agree_on_field_kinds() -> None:
    # Keys whose values mix kinds, and keys that are tags on other lines.
    lines = [
        'm,host=a f=1,g=1i,h=t,s="x" 1',
        "m,host=b f=2i,g=1.5,h=1u,s=2 2",
        "m,f=x g=3u,host=1 3",
        'm f="x",host="y" 4',
    ]
    result = assert_columns_agree("\n".join(lines))
    assert rows_in_columns(result) == 4


def test_columns_take_clean_lines() -> None:
    lines = NOAA_FILE.read_text(encoding="utf-8")
    result = assert_columns_agree(lines)
    assert rows_in_columns(result) == 796
    assert [len(batch.points) for batch in result.batches.values()] == [0]


def test_columns_leave_escaped_fields_to_reference() -> None:
    result = assert_columns_agree('m f=1 1\nm f\\ 1=2 2\nm s="a b" 3\nm s="a\\"b" 4\nm f=5 5')
    assert rows_in_columns(result) == 2
    assert [point.line_number for point in result.batches["m"].points] == [2, 3, 4]
    assert result.batches["m"].all_line_numbers() == [1, 2, 3, 4, 5]


def test_columns_string_spanning_lines() -> None:
    result = assert_columns_agree('m f=1 1\nm s="a\nm f=2 2\nb" 3\nm f=4 4')
    assert [point.line_number for point in columnar_points(result)] == [1, 2, 5]
    assert columnar_points(result)[1].fields == {"s": "a\nm f=2 2\nb"}


def test_columns_unterminated_string_swallows_valid_lines() -> None:
    # The string opened on line 2 closes at the first quote of line 4, so
    # line 3 is no line of its own although it is valid by itself.
    result = assert_columns_agree('m f=1 1\nm s="abc\nm f=2 2\nm t="x" 3\nm f=4 4\n')
    assert [point.line_number for point in columnar_points(result)] == [1, 5]
    assert [error.line_number for error in result.errors] == [2]


def test_columns_lone_surrogate_in_str_payload() -> None:
    payload = "m,t=\ud800 f=1 1\n" + "m f=2 2\n" * COLUMNAR_MIN_LINES
    assert parse_lines(payload, default_time_ns=DEFAULT_NS) == parse_by_reference(payload)


def plain_line(rng: random.Random) -> str:
    """Return a line without escapes in fields, mostly valid, which the columnar steps take when it is."""
    rare = rng.random() < 0.1
    tag_keys = rng.sample(["host", "dc", "rack"], rng.randint(0, 2)) + (["time"] if rare else [])
    tag_values = ["a", "b", "x\\ y", "é"]
    tags = "".join(f",{key}={rng.choice(tag_values)}" for key in tag_keys)
    field_keys = rng.sample(["a", "b", "c"], rng.randint(1, 3)) + (rng.choice([["a"], ["host"]]) if rare else [])
    good = ["1", "-2.5", "3i", "4u", "-0u", "t", "FALSE", '"s"', '""', "1.", "-0", "1e3"]
    bad = ['"a,b"', "1e400", "+1", "nan", "0x10i", "x", '"a b"']
    fields = ",".join(f"{key}={rng.choice(good * 4 + bad)}" for key in field_keys)
    timestamp = rng.choice(["", " 1000", " -1001", " 1633002480123456789"] * 3
                           + [" 0x10", " " + "9" * 25, "  7", " 1 2"])
    return f"{rng.choice(['cpu', 'mem'])}{tags} {fields}{timestamp}"


def test_columns_agree_on_random_payloads() -> None:
    rng = random.Random(20261204)
    valid_points = 0
    in_columns = 0
    for _ in range(300):
        lines = [rng.choice([random_line, structured_line, plain_line, plain_line])(rng)
                 for _ in range(rng.randint(1, 30))]
        separator = rng.choice(["\n", "\r\n"])
        payload = separator.join(lines) + rng.choice(["", separator])
        result = assert_columns_agree(payload, rng.choice(["ns", "us", "s"]))
        valid_points += len(columnar_points(result))
        in_columns += rows_in_columns(result)
    # Enough lines of each path for the comparison to mean something.
    assert valid_points > 1_500
    assert in_columns > 1_000


def random_text(rng: random.Random, alphabet: str, max_length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, max_length)))


def test_columns_agree_on_random_values() -> None:
    rng = random.Random(7)
    alphabet = "0123456789" * 4 + ".eE+-iutrfalsTRUEFALSxXn_\" \\,=aI"
    lines = [f"m,t=1 v={random_text(rng, alphabet, 8)},w=1 1000" for _ in range(3000)]
    result = assert_columns_agree("\n".join(lines))
    assert rows_in_columns(result) > 300


def test_columns_agree_on_random_timestamps() -> None:
    rng = random.Random(8)
    alphabet = "0123456789" * 4 + "-+xe. "
    lines = [f"m,t=1 v=1 {random_text(rng, alphabet, 24)}" for _ in range(3000)]
    result = assert_columns_agree("\n".join(lines))
    assert rows_in_columns(result) > 700


def test_parse_lines_uses_columns_from_min_lines() -> None:
    small = "m f=1 1\n" * (COLUMNAR_MIN_LINES - 2)
    large = "m f=1 1\n" * (COLUMNAR_MIN_LINES - 1)
    assert rows_in_columns(parse_batches(small)) == 0
    assert rows_in_columns(parse_batches(large)) == COLUMNAR_MIN_LINES - 1
    assert parse_lines(large) == parse_by_reference(large)


def test_parse_lines_orders_measurements_by_line() -> None:
    payload = "".join(f"{['cpu', 'mem', 'disk'][index % 3]},i={index} v={index}i {index}\n" for index in range(300))
    result = parse_lines(payload)
    assert [point.line_number for point in result.points] == list(range(1, 301))
    assert [point.measurement for point in result.points[:4]] == ["cpu", "mem", "disk", "cpu"]
    assert list(parse_batches(payload).batches) == ["cpu", "mem", "disk"]


def test_series_cache_hands_out_copies() -> None:
    payload = "m,host=a f=1 1\n" * COLUMNAR_MIN_LINES
    first = parse_lines(payload)
    first.points[0].tags["host"] = "changed"
    second = parse_lines(payload)
    assert second.points[0].tags == {"host": "a"}
    assert first.points[1].tags == {"host": "a"}


# ---------------------------------------------------------------- tables from columns


def row_by_row_tables(points: list[Point], stored: dict[str, str]) -> tuple[dict[str, pa.Table], list[LineError]]:
    """Build tables line by line, which is how the type rules are defined."""
    tables = {}
    errors = []
    groups: dict[str, list[Point]] = {}
    for point in points:
        groups.setdefault(point.measurement, []).append(point)
    for name, group in groups.items():
        table, rejected = point_tables._table_row_by_row(name, group, point_tables._stored_kinds(stored))
        errors.extend(rejected)
        if table is not None:
            tables[name] = table
    return tables, sorted(errors, key=lambda error: error.line_number)


CONFLICT_PAYLOADS = [
    "m f=1i 1\nm f=1.5 2\nm f=2i 3",
    "m f=1.5 1\nm f=t 2\nm f=2.5 3",
    "m,host=a f=1 1\nm host=1 2\nm,host=b f=2 3",
    "m f=1u 1\nm f=1i 2",
    'm s="x" 1\nm,s=y f=1 2',
    "m f=1 1\nm g=\"s\" 2\nm f=\"s\",g=1 3",
    "m a=1i,b=1u,c=t,d=\"s\",e=1.5 1\nn a=1.5,b=1i 2\nm b=2u 3",
]


@pytest.mark.parametrize("payload", CONFLICT_PAYLOADS)
@pytest.mark.parametrize("stored", [{}, {"f": "BIGINT"}, {"f": "DOUBLE", "host": "VARCHAR"}, {"host": "DOUBLE"},
                                    {"b": "UBIGINT", "s": "VARCHAR"}, {"f": "TIMESTAMP WITH TIME ZONE"}])
def test_tables_by_column_match_row_by_row(payload: str, stored: dict[str, str]) -> None:
    expected_tables, expected_errors = row_by_row_tables(parse_by_reference(payload).points, stored)
    tables, errors = batches_to_tables(parse_by_columns(payload).batches, lambda name: stored)
    assert errors == expected_errors
    assert list(tables) == list(expected_tables)
    for name, table in tables.items():
        assert table.schema == expected_tables[name].schema
        assert table.to_pylist() == expected_tables[name].to_pylist()


def test_tables_from_columns_and_reference_lines() -> None:
    lines = [
        "cpu,host=a u=1.5,n=1i 1000",
        "cpu,host=b\\,x u=2.5 2000",
        'cpu,host=c s="a,b" 3000',
        "cpu,host=d u=3i 4000",
    ]
    result = parse_by_columns("\n".join(lines))
    assert rows_in_columns(result) == 3
    tables, errors = batches_to_tables(result.batches, lambda name: {})
    assert errors == []
    table = tables["cpu"]
    assert table.column_names == ["time", "host", "n", "s", "u"]
    assert table.schema.field("n").type == pa.int64()
    assert table.schema.field("s").type == pa.string()
    assert table.schema.field("u").type == pa.float64()
    assert [value.timestamp() for value in table.column("time").to_pylist()] == [1e-6, 2e-6, 3e-6, 4e-6]
    assert table.column("host").to_pylist() == ["a", "b,x", "c", "d"]
    assert table.column("n").to_pylist() == [1, None, None, None]
    assert table.column("s").to_pylist() == [None, None, "a,b", None]
    assert table.column("u").to_pylist() == [1.5, 2.5, None, 3.0]


def test_tables_agree_on_random_payloads() -> None:
    rng = random.Random(99)
    for _ in range(100):
        payload = "\n".join(structured_line(rng) for _ in range(rng.randint(1, 30)))
        expected_tables, expected_errors = row_by_row_tables(parse_by_reference(payload).points, {})
        tables, errors = batches_to_tables(parse_by_columns(payload).batches, lambda name: {})
        assert errors == expected_errors
        assert {name: table.to_pylist() for name, table in tables.items()} == {
            name: table.to_pylist() for name, table in expected_tables.items()}


def test_points_to_tables_keeps_point_order() -> None:
    points = parse_lines("m f=1 3000\nm f=2 1000\nm f=3 2000").points
    tables, errors = points_to_tables(list(reversed(points)), lambda name: {})
    assert errors == []
    assert tables["m"].column("f").to_pylist() == [3.0, 2.0, 1.0]
