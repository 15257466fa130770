"""The fast path of ``INSERT INTO [db.]m (cols) VALUES (...), ...`` whose values are all plain literals.

Loaders send thousands of rows per statement as literals, and parsing
those with sqlglot and evaluating them in DuckDB costs milliseconds per
row. So a statement that is only a column list and rows of string, number,
NULL, TRUE and FALSE literals is read here with regular expressions and
converted straight to Arrow columns. Anything else (expressions, casts,
parameters, a value that does not convert) returns None from :func:`match`
or :func:`literal_table`, and the statement takes the general path, which
also produces its errors.

Column types follow what the general path gets from DuckDB: integers are
BIGINT, numbers with a fraction or exponent DOUBLE, quoted text VARCHAR;
``time`` text is parsed as ISO 8601, and text without an offset is UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from gateway.ingest.column_kinds import TIME_TYPE

_NAME = r'(?:[A-Za-z_][A-Za-z0-9_$-]*|"(?:[^"]|"")+")'
_HEAD = re.compile(
    rf"\s*INSERT\s+INTO\s+(?P<first>{_NAME})(?:\s*\.\s*(?P<second>{_NAME}))?\s*"
    rf"\((?P<columns>\s*{_NAME}(?:\s*,\s*{_NAME})*\s*)\)\s*VALUES\s*",
    re.IGNORECASE,
)
_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')"
    r"|(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z0-9_.$'\"])"
    r"|(?P<word>(?i:NULL|TRUE|FALSE))(?![A-Za-z0-9_$])"
    r"|(?P<punct>[(),;]))"
)
_INTEGER = re.compile(r"[-+]?\d+")


@dataclass(frozen=True)
class LiteralInsert:
    """A matched statement: target, column names as written, and the rows' values as Python objects."""

    database: str | None
    measurement: str
    columns: list[str]
    rows: list[list[object]]


def match(text: str) -> LiteralInsert | None:
    """Return the statement's target and rows if it is a literal-only multi-row INSERT, else None."""
    head = _HEAD.match(text)
    if head is None:
        return None
    first, second = head.group("first"), head.group("second")
    database, measurement = (first, second) if second else (None, first)
    columns = [_identifier(name.strip()) for name in _split_names(head.group("columns"))]
    rows = _rows(text, head.end(), len(columns))
    if rows is None:
        return None
    return LiteralInsert(_identifier(database) if database else None, _identifier(measurement), columns, rows)


def _split_names(text: str) -> list[str]:
    return re.findall(_NAME, text)


def _identifier(name: str) -> str:
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name


def _rows(text: str, position: int, width: int) -> list[list[object]] | None:
    """Read ``(v, ...), (v, ...)`` up to the end (an optional ``;``); None if anything else is there."""
    rows: list[list[object]] = []
    row: list[object] | None = None
    expect_value = False
    for token in _TOKEN.finditer(text, position):
        if token.start() != position:
            return None
        position = token.end()
        kind = token.lastgroup
        value = token.group(kind)  # type: ignore[arg-type]
        if kind == "punct":
            if value == "(" and row is None:
                row, expect_value = [], True
            elif value == "," and row is not None and not expect_value:
                expect_value = True
            elif value == ")" and row is not None and not expect_value:
                if len(row) != width:
                    return None
                rows.append(row)
                row = None
            elif value == "," and row is None and rows:
                pass
            elif value == ";" and row is None and rows:
                return rows if not text[position:].strip() else None
            else:
                return None
            continue
        if row is None or not expect_value:
            return None
        row.append(_value(kind, value))
        expect_value = False
    if row is not None or not rows or text[position:].strip():
        return None
    return rows


def _value(kind: str | None, text: str) -> object:
    if kind == "string":
        return _Text(text[1:-1].replace("''", "'"))
    if kind == "number":
        return int(text) if _INTEGER.fullmatch(text) else float(text)
    upper = text.upper()
    return None if upper == "NULL" else upper == "TRUE"


class _Text(str):
    """A quoted literal, kept apart from numbers when a column's type is chosen."""


def literal_table(insert: LiteralInsert) -> pa.Table | None:
    """Return the rows as an Arrow table, or None when a column mixes kinds or a time does not parse."""
    columns: dict[str, pa.Array] = {}
    for index, name in enumerate(insert.columns):
        values = [row[index] for row in insert.rows]
        array = _time_column(values) if name.lower() == "time" else _column(values)
        if array is None:
            return None
        columns[name] = array
    return pa.table(columns)


def _column(values: list[object]) -> pa.Array | None:
    kinds = {type(value) for value in values if value is not None}
    if not kinds:
        return pa.nulls(len(values))
    if kinds == {_Text}:
        return pa.array([None if value is None else str(value) for value in values], pa.string())
    if kinds == {bool}:
        return pa.array(values, pa.bool_())
    if kinds == {int}:
        try:
            return pa.array(values, pa.int64())
        except OverflowError:
            return None
    if kinds <= {int, float}:
        return pa.array([None if value is None else float(value) for value in values], pa.float64())  # type: ignore[arg-type]
    return None


def _time_column(values: list[object]) -> pa.Array | None:
    times: list[datetime | None] = []
    for value in values:
        if value is None:
            times.append(None)
            continue
        if not isinstance(value, _Text):
            return None
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        times.append(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return pa.array(times, TIME_TYPE)
