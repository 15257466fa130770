"""COPY FROM STDIN data parsed row by row in Python: the reference results and error messages.

``copy_in.copy_table`` reads the common cases faster with Arrow and uses this
module for everything else, so every COPY has the results and errors
defined here. A malformed row fails the whole COPY with SQLSTATE 22P04 and
the line number. Values take the type of the measurement's existing column;
new columns become BIGINT, DOUBLE, BOOLEAN or VARCHAR, the narrowest type
that fits every value. ``time`` is ISO 8601 text, and a value without offset
is UTC.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from gateway.errors import FeatureNotSupported, GatewayError
from gateway.ingest.parquet_files import TIME_TYPE
from gateway.sql.commands.copy_out import CopyOptions
from gateway.sql.time_bounds import TIME_COLUMN

if TYPE_CHECKING:
    from gateway.sql.commands.copy_in import CopyIn

INTEGER_TYPES = ("BIGINT", "INTEGER", "SMALLINT", "TINYINT")
FLOAT_TYPES = ("DOUBLE", "FLOAT")


class BadCopyFileFormat(GatewayError):
    sqlstate = "22P04"


def parse_rows(data: bytes, target: CopyIn, names: list[str]) -> list[list[str | None]]:
    """Split COPY data into rows of text values (None for NULL), checking the field count per line."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadCopyFileFormat(f"invalid byte sequence for encoding \"UTF8\" at byte {error.start}") from error
    options = target.options
    rows = _csv_rows(text, options) if options.csv else _text_rows(text, options)
    if options.header and rows:
        rows = rows[1:]
    for number, row in enumerate(rows, start=2 if options.header else 1):
        if len(row) > len(names):
            raise BadCopyFileFormat("extra data after last expected column",
                                    detail=f"COPY {target.measurement}, line {number}")
        if len(row) < len(names):
            raise BadCopyFileFormat(f'missing data for column "{names[len(row)]}"',
                                    detail=f"COPY {target.measurement}, line {number}")
    return rows


def _text_rows(text: str, options: CopyOptions) -> list[list[str | None]]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    rows = []
    for line in lines:
        if line == "\\.":
            break
        line = line.removesuffix("\r")
        rows.append([None if field == options.null else _unescape(field) for field in line.split(options.delimiter)])
    return rows


_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "\\": "\\"}


def _unescape(field: str) -> str:
    if "\\" not in field:
        return field
    result = []
    characters = iter(field)
    for character in characters:
        if character != "\\":
            result.append(character)
            continue
        following = next(characters, "")
        result.append(_ESCAPES.get(following, following))
    return "".join(result)


def _csv_rows(text: str, options: CopyOptions) -> list[list[str | None]]:
    reader = csv.reader(io.StringIO(text), delimiter=options.delimiter, quotechar=options.quote,
                        strict=True)
    rows = []
    try:
        for row in reader:
            if row == ["\\."]:
                break
            rows.append([None if field == options.null else field for field in row])
    except csv.Error as error:
        raise BadCopyFileFormat(f"invalid CSV data: {error}", detail=f"line {reader.line_num}") from error
    return rows


def typed_table(rows: list[list[str | None]], names: list[str], existing: dict[str, str],
                measurement: str) -> pa.Table:
    """Build the Arrow table of the rows, with each column's type as described in the module doc."""
    columns: dict[str, pa.Array] = {}
    for index, name in enumerate(names):
        values = [row[index] for row in rows]
        columns[name] = typed_column(name, values, existing.get(name), measurement)
    return pa.table(columns)


def typed_column(name: str, values: list[str | None], stored_type: str | None, measurement: str) -> pa.Array:
    """Convert one column's text values; raise BadCopyFileFormat naming the column for a value that does not fit."""
    try:
        return _column(name, values, stored_type)
    except ValueError as error:
        raise BadCopyFileFormat(f'invalid input for column "{name}" of measurement "{measurement}": {error}') \
            from error


def _column(name: str, values: list[str | None], stored_type: str | None) -> pa.Array:
    if name.lower() == TIME_COLUMN:
        return pa.array([None if value is None else _time(value) for value in values], TIME_TYPE)
    kind = stored_type or _inferred_type(values)
    if kind in INTEGER_TYPES:
        return pa.array([None if value is None else int(value) for value in values], pa.int64())
    if kind in FLOAT_TYPES:
        return pa.array([None if value is None else float(value) for value in values], pa.float64())
    if kind == "BOOLEAN":
        return pa.array([None if value is None else boolean(value) for value in values], pa.bool_())
    if kind == "VARCHAR":
        return pa.array(values, pa.string())
    raise FeatureNotSupported(f'COPY into column "{name}" of type {kind.lower()} is not supported')


def _inferred_type(values: list[str | None]) -> str:
    present = [value for value in values if value is not None]
    for kind, check in INFERRED_TYPES:
        try:
            for value in present:
                check(value)
        except ValueError:
            continue
        return kind if present else "VARCHAR"
    return "VARCHAR"


def boolean(value: str) -> bool:
    """Return the truth value of a PostgreSQL boolean spelling; raise ValueError for any other text."""
    lowered = value.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(f'invalid boolean "{value}"')


TRUE_WORDS = ("t", "true", "yes", "on", "1")
FALSE_WORDS = ("f", "false", "no", "off", "0")

# The types a new column may get, narrowest first, each with the check that every value must pass.
INFERRED_TYPES: tuple[tuple[str, Callable[[str], object]], ...] = (
    ("BIGINT", int), ("DOUBLE", float), ("BOOLEAN", boolean))


def _time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise ValueError(f'invalid time "{value}"') from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
