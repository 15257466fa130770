"""COPY [db.]m [(cols)] FROM STDIN in text or CSV format: the target, and the data as a typed table.

The whole COPY is parsed before anything is written, so a malformed row
fails it with SQLSTATE 22P04 and the line number, and nothing of that COPY
is kept. Values take the type of the measurement's existing column; new
columns become BIGINT, DOUBLE, BOOLEAN or VARCHAR, the narrowest type that fits
every value. ``time`` is ISO 8601 text, and a value without offset is UTC.
copy_in_rows.py defines these results and errors. Arrow reads the data
that it reads the same way as Python does (copy_in_arrow.py,
copy_in_casts.py), and Python parses the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from gateway.errors import SqlSyntaxError
from gateway.sql.commands.copy_in_arrow import read_text_columns
from gateway.sql.commands.copy_in_casts import typed_columns
from gateway.sql.commands.copy_in_rows import parse_rows, typed_table
from gateway.sql.commands.copy_out import CopyOptions, copy_options
from gateway.storage import layout


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


def copy_table(data: bytes, target: CopyIn, names: list[str], existing: dict[str, str]) -> pa.Table:
    """Parse COPY data into a table of the ``names`` columns, with the types described in the module docstring.

    ``existing`` maps the measurement's stored columns to their types.
    Raises BadCopyFileFormat (22P04) for a malformed row, naming the line,
    or for a value that does not fit its column, naming the column.
    """
    columns = read_text_columns(data, target.options, names)
    if columns is not None:
        return typed_columns(columns, names, existing, target.measurement)
    rows = parse_rows(data, target, names)
    return typed_table(rows, names, existing, target.measurement)
