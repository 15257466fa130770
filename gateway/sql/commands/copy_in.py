"""COPY [db.]m [(cols)] FROM STDIN in text or CSV format: parsing the data into a typed table.

The whole COPY is parsed before anything is written, so a malformed row
fails it with SQLSTATE 22P04 and the line number, and nothing of that COPY
is kept. Values take the type of the measurement's existing column; new
columns become BIGINT, DOUBLE, BOOLEAN or VARCHAR, the narrowest type that fits
every value. ``time`` is ISO 8601 text, and a value without offset is UTC.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from sqlglot import exp

from gateway.errors import FeatureNotSupported, GatewayError, SqlSyntaxError
from gateway.ingest.parquet_files import TIME_TYPE
from gateway.sql.commands.copy_out import CopyOptions, copy_options
from gateway.sql.time_bounds import TIME_COLUMN
from gateway.storage import layout


class BadCopyFileFormat(GatewayError):
    sqlstate = "22P04"


@dataclass(frozen=True)
class CopyIn:
    """A COPY FROM STDIN waiting for its data: target, column list (None for all) and layout."""

    database: str
    measurement: str
    columns: list[str] | None
    options: CopyOptions


def copy_target(tree: exp.Copy, database: str) -> CopyIn:
    """Return the target and options of ``COPY ... FROM STDIN``."""
    source = tree.this
    columns: list[str] | None = None
    if isinstance(source, exp.Schema):
        columns = [column.name for column in source.expressions]
        source = source.this
    if not isinstance(source, exp.Table) or not isinstance(source.this, exp.Identifier):
        raise SqlSyntaxError("COPY FROM STDIN needs a measurement", hint="COPY measurement FROM STDIN")
    target_db = layout.validate_name(source.db or database, "database")
    name = layout.validate_name(source.name, "measurement")
    return CopyIn(target_db, name, columns, copy_options(tree.args.get("params") or [], copy_in=True))


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
        try:
            columns[name] = _column(name, values, existing.get(name))
        except ValueError as error:
            raise BadCopyFileFormat(f'invalid input for column "{name}" of measurement "{measurement}": {error}') \
                from error
    return pa.table(columns)


def _column(name: str, values: list[str | None], stored_type: str | None) -> pa.Array:
    if name.lower() == TIME_COLUMN:
        return pa.array([None if value is None else _time(value) for value in values], TIME_TYPE)
    kind = stored_type or _inferred_type(values)
    if kind in ("BIGINT", "INTEGER", "SMALLINT", "TINYINT"):
        return pa.array([None if value is None else int(value) for value in values], pa.int64())
    if kind in ("DOUBLE", "FLOAT"):
        return pa.array([None if value is None else float(value) for value in values], pa.float64())
    if kind == "BOOLEAN":
        return pa.array([None if value is None else _boolean(value) for value in values], pa.bool_())
    if kind == "VARCHAR":
        return pa.array(values, pa.string())
    raise FeatureNotSupported(f'COPY into column "{name}" of type {kind.lower()} is not supported')


def _inferred_type(values: list[str | None]) -> str:
    present = [value for value in values if value is not None]
    for kind, check in (("BIGINT", int), ("DOUBLE", float), ("BOOLEAN", _boolean)):
        try:
            for value in present:
                check(value)
        except ValueError:
            continue
        return kind if present else "VARCHAR"
    return "VARCHAR"


def _boolean(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("t", "true", "yes", "on", "1"):
        return True
    if lowered in ("f", "false", "no", "off", "0"):
        return False
    raise ValueError(f'invalid boolean "{value}"')


def _time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as error:
        raise ValueError(f'invalid time "{value}"') from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
