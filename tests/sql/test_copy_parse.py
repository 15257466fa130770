"""Parsing COPY FROM STDIN data: the Arrow reader and the Python parser give the same table or the same error."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from gateway.errors import GatewayError
from gateway.ingest.parquet_files import TIME_TYPE
from gateway.sql.commands.copy_in import CopyIn, copy_table
from gateway.sql.commands.copy_in_arrow import BLOCK_BYTES, read_text_columns
from gateway.sql.commands.copy_in_rows import BadCopyFileFormat, parse_rows, typed_table
from gateway.sql.commands.copy_out import CopyOptions

CSV = CopyOptions(csv=True, delimiter=",", null="")
TEXT = CopyOptions()


@dataclass
class Case:
    """COPY data with its layout, and the rows and column types both parsers must return."""

    data: bytes
    options: CopyOptions
    names: list[str]
    rows: list[tuple[object, ...]]
    types: list[pa.DataType]
    existing: dict[str, str] = field(default_factory=dict)


def _target(case_names: list[str], options: CopyOptions) -> CopyIn:
    return CopyIn("db", "m", case_names, options)


def _python_table(data: bytes, options: CopyOptions, names: list[str], existing: dict[str, str]) -> pa.Table:
    return typed_table(parse_rows(data, _target(names, options), names), names, existing, "m")


def _rows(table: pa.Table) -> list[tuple[object, ...]]:
    return [tuple(row.values()) for row in table.to_pylist()]


ARROW_CASES = {
    "csv quoted delimiter, line feed and quote": Case(
        b'2024-01-01T00:00:00+00,"a,b",1.5\n'
        b'2024-01-01T01:00:00+01:00,"line1\nline2",\n'
        b'2024-01-01T02:00:00Z,"say ""hi""",-2\n',
        CSV, ["time", "note", "usage"],
        [(datetime(2024, 1, 1, tzinfo=UTC), "a,b", 1.5), (datetime(2024, 1, 1, tzinfo=UTC), "line1\nline2", None),
         (datetime(2024, 1, 1, 2, tzinfo=UTC), 'say "hi"', -2.0)],
        [TIME_TYPE, pa.string(), pa.float64()]),
    "csv header, custom delimiter and null": Case(
        b"time|host|up\n2024-01-01 00:00:00|a|t\n2024-01-01 00:00:01|NULL|off\n",
        CopyOptions(csv=True, header=True, delimiter="|", null="NULL"), ["time", "host", "up"],
        [(datetime(2024, 1, 1, tzinfo=UTC), "a", True), (datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC), None, False)],
        [TIME_TYPE, pa.string(), pa.bool_()]),
    "csv single quote as quote": Case(
        b"'c, d',2\n'it''s',3\n", CopyOptions(csv=True, delimiter=",", null="", quote="'"), ["host", "n"],
        [("c, d", 2), ("it's", 3)], [pa.string(), pa.int64()]),
    "csv crlf line ends and end marker": Case(
        b'a,1\r\n"b\r\nc",2\r\n\\.\r\n', CSV, ["host", "n"],
        [("a", 1), ("b\r\nc", 2)], [pa.string(), pa.int64()]),
    "csv quoted empty is null like unquoted": Case(
        b'"",1\n,2\nx,3\n', CSV, ["host", "n"],
        [(None, 1), (None, 2), ("x", 3)], [pa.string(), pa.int64()]),
    "text nulls and comma delimiter": Case(
        b"2024-01-01T00:00:00+00,\\N,7\n2024-01-01T00:00:10+00,b,\\N\n",
        CopyOptions(delimiter=","), ["time", "host", "n"],
        [(datetime(2024, 1, 1, tzinfo=UTC), None, 7), (datetime(2024, 1, 1, 0, 0, 10, tzinfo=UTC), "b", None)],
        [TIME_TYPE, pa.string(), pa.int64()]),
    "text custom null": Case(
        b"a\t-\n-\t2\n", CopyOptions(null="-"), ["host", "n"],
        [("a", None), (None, 2)], [pa.string(), pa.int64()]),
    "text end marker": Case(
        b"a\t1\n\\.\n", TEXT, ["host", "n"], [("a", 1)], [pa.string(), pa.int64()]),
    "text header": Case(
        b"host\tn\na\t1\n", CopyOptions(header=True), ["host", "n"], [("a", 1)], [pa.string(), pa.int64()]),
    "stored types win": Case(
        b"1,1\n2,0\n", CSV, ["n", "flag"], [(1.0, "1"), (2.0, "0")], [pa.float64(), pa.string()],
        existing={"n": "DOUBLE", "flag": "VARCHAR"}),
    "narrowest type per column": Case(
        b"1,1,t,1\n0,2.5,FALSE,x\n", CSV, ["a", "b", "c", "d"],
        [(1, 1.0, True, "1"), (0, 2.5, False, "x")], [pa.int64(), pa.float64(), pa.bool_(), pa.string()]),
    "all null column is varchar": Case(
        b",1\n,2\n", CSV, ["a", "b"], [(None, 1), (None, 2)], [pa.string(), pa.int64()]),
    "time offsets": Case(
        b"2024-01-01 00:00:00+00\n2024-01-01T01:30:00-01:30\n2024-01-01T03:00:00.25+0100\n", TEXT, ["time"],
        [(datetime(2024, 1, 1, tzinfo=UTC),), (datetime(2024, 1, 1, 3, tzinfo=UTC),), (datetime(2024, 1, 1, 2, 0, 0, 250000, tzinfo=UTC),)],
        [TIME_TYPE]),
    "time with and without offset": Case(
        b"2024-01-01T00:00:00+01:00\n2024-01-01T00:00:00\n", TEXT, ["time"],
        [(datetime(2023, 12, 31, 23, tzinfo=UTC),), (datetime(2024, 1, 1, tzinfo=UTC),)], [TIME_TYPE]),
    "values only python reads as numbers": Case(
        b" 7\t+1.5\n8\t1_0.5\n", TEXT, ["n", "x"], [(7, 1.5), (8, 10.5)], [pa.int64(), pa.float64()]),
    "hexadecimal is text": Case(
        b"0x1F\n", TEXT, ["n"], [("0x1F",)], [pa.string()]),
    "padded booleans": Case(
        b" yes\nOFF\n", TEXT, ["ok"], [(True,), (False,)], [pa.bool_()]),
}


@pytest.mark.parametrize("case", ARROW_CASES.values(), ids=ARROW_CASES.keys())
def test_arrow_reads_like_python(case: Case) -> None:
    assert read_text_columns(case.data, case.options, case.names) is not None
    table = copy_table(case.data, _target(case.names, case.options), case.names, case.existing)
    assert _rows(table) == case.rows
    assert table.schema.types == case.types
    assert table.equals(_python_table(case.data, case.options, case.names, case.existing))


PYTHON_CASES = {
    "empty data": Case(b"", TEXT, ["time", "host"], [], [TIME_TYPE, pa.string()]),
    "only an end marker": Case(b"\\.\n", CSV, ["host"], [], [pa.string()]),
    "only a header": Case(b"host,n\n", CopyOptions(csv=True, header=True, delimiter=",", null=""), ["host", "n"],
                          [], [pa.string(), pa.string()]),
    "text escapes": Case(b"tab\\there\t1\n", TEXT, ["host", "n"], [("tab\there", 1)], [pa.string(), pa.int64()]),
    "text empty line in one column": Case(b"a\n\nb\n", TEXT, ["host"], [("a",), ("",), ("b",)], [pa.string()]),
    "end marker before the end": Case(b"a,1\n\\.\nb,2\n", CSV, ["host", "n"], [("a", 1)],
                                      [pa.string(), pa.int64()]),
    "byte order mark": Case(b"\xef\xbb\xbfa,1\n", CSV, ["host", "n"], [("\ufeffa", 1)],
                            [pa.string(), pa.int64()]),
    "lone carriage return in text": Case(b"a\rb\t1\n", TEXT, ["host", "n"], [("a\rb", 1)],
                                         [pa.string(), pa.int64()]),
    "header with a quoted line feed": Case(b'"ho\nst",n\na,1\n', CopyOptions(csv=True, header=True, delimiter=",", null=""),
                                           ["host", "n"], [("a", 1)], [pa.string(), pa.int64()]),
    "quote inside unquoted csv field": Case(b'a"b,1\n', CSV, ["host", "n"], [('a"b', 1)],
                                            [pa.string(), pa.int64()]),
}


@pytest.mark.parametrize("case", PYTHON_CASES.values(), ids=PYTHON_CASES.keys())
def test_python_parses_what_arrow_reads_differently(case: Case) -> None:
    assert read_text_columns(case.data, case.options, case.names) is None
    table = copy_table(case.data, _target(case.names, case.options), case.names, case.existing)
    assert _rows(table) == case.rows
    assert table.schema.types == case.types


def _good_rows(count: int) -> bytes:
    return b"".join(b"2024-01-01T00:00:%02d+00,host_%d,%d.5\n" % (number % 60, number, number)
                    for number in range(count))


@dataclass
class ErrorCase:
    """COPY data that must fail with this message and detail."""

    data: bytes
    options: CopyOptions
    names: list[str]
    message: str
    detail: str | None
    existing: dict[str, str] = field(default_factory=dict)


ERROR_CASES = {
    "extra field deep in the data": ErrorCase(
        _good_rows(699) + b"2024-01-01T00:00:00+00,x,1,extra\n" + _good_rows(300), CSV, ["time", "host", "usage"],
        "extra data after last expected column", "COPY m, line 700"),
    "missing field": ErrorCase(
        _good_rows(2) + b"2024-01-01T00:00:00+00,x\n", CSV, ["time", "host", "usage"],
        'missing data for column "usage"', "COPY m, line 3"),
    "missing field after a header": ErrorCase(
        b"time,host,usage\n2024-01-01T00:00:00+00\n",
        CopyOptions(csv=True, header=True, delimiter=",", null=""), ["time", "host", "usage"],
        'missing data for column "host"', "COPY m, line 2"),
    "empty line": ErrorCase(
        b"a,1\n\nb,2\n", CSV, ["host", "n"], 'missing data for column "host"', "COPY m, line 2"),
    "text after a closing quote": ErrorCase(
        b'"ab"c,1\n', CSV, ["host", "n"], "invalid CSV data: ',' expected after '\"'", "line 1"),
    "unterminated quote": ErrorCase(
        b'"ab,1\n', CSV, ["host", "n"], "invalid CSV data: unexpected end of data", "line 1"),
    "value not fitting the stored type": ErrorCase(
        _good_rows(5), CSV, ["time", "host", "usage"],
        "invalid input for column \"usage\" of measurement \"m\": invalid literal for int() with base 10: '0.5'",
        None, existing={"usage": "BIGINT"}),
    "hexadecimal in a stored integer column": ErrorCase(
        b"0x1F\n", TEXT, ["n"], "invalid input for column \"n\" of measurement \"m\": "
        "invalid literal for int() with base 10: '0x1F'", None, existing={"n": "BIGINT"}),
    "invalid time": ErrorCase(
        b"yesterday\t2\n", TEXT, ["time", "usage"],
        'invalid input for column "time" of measurement "m": invalid time "yesterday"', None),
    "invalid utf-8": ErrorCase(
        b"ab\xff,1\n", CSV, ["host", "n"], 'invalid byte sequence for encoding "UTF8" at byte 2', None),
    "invalid utf-8 in the header": ErrorCase(
        b"ho\xffst,n\na,1\n", CopyOptions(csv=True, header=True, delimiter=",", null=""), ["host", "n"],
        'invalid byte sequence for encoding "UTF8" at byte 2', None),
    "csv field over the csv module's size limit": ErrorCase(
        b"a," + b"x" * (csv.field_size_limit() + 1) + b"\n", CSV, ["host", "note"],
        f"invalid CSV data: field larger than field limit ({csv.field_size_limit()})", "line 1"),
}


@pytest.mark.parametrize("case", ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_errors_match_python(case: ErrorCase) -> None:
    target = _target(case.names, case.options)
    with pytest.raises(BadCopyFileFormat) as raised:
        copy_table(case.data, target, case.names, case.existing)
    assert raised.value.sqlstate == "22P04"
    assert raised.value.message == case.message
    assert raised.value.detail == case.detail
    with pytest.raises(GatewayError) as python_raised:
        _python_table(case.data, case.options, case.names, case.existing)
    assert (python_raised.value.message, python_raised.value.detail) == (case.message, case.detail)


def test_many_blocks_with_quoted_line_feeds() -> None:
    notes = [b'"plain"', b'"say ""hi"""', b'"a,b"', b'"line1\nline2"', b'""', b'"x\r\ny"']
    data = b"".join(b"2024-01-01T00:%02d:00+00,host_%d,%s,%d\n" % (number % 60, number % 7, notes[number % 6], number)
                    for number in range(120_000))
    names = ["time", "host", "note", "n"]
    assert len(data) > BLOCK_BYTES
    columns = read_text_columns(data, CSV, names)
    assert columns is not None
    assert columns[2].num_chunks > 1
    table = copy_table(data, _target(names, CSV), names, {})
    assert table.num_rows == 120_000
    assert table.column("note").to_pylist()[:6] == ["plain", 'say "hi"', "a,b", "line1\nline2", None, "x\r\ny"]
    assert table.column("n").to_pylist()[-1] == 119_999
    assert table.equals(_python_table(data, CSV, names, {}))
