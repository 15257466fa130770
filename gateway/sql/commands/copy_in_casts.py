"""Vectorised typing of COPY text columns, with the results and errors of copy_in_rows.typed_table.

Arrow casts a column only where its parser accepts exactly the values that
Python's accepts, with the same result. A column that Arrow cannot cast,
or may cast differently, is converted by copy_in_rows.typed_column, which
also produces the error message naming the column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from gateway.ingest.parquet_files import TIME_TYPE
from gateway.sql.commands.copy_in_rows import (
    FALSE_WORDS,
    FLOAT_TYPES,
    INFERRED_TYPES,
    INTEGER_TYPES,
    TRUE_WORDS,
    typed_column,
)
from gateway.sql.time_bounds import TIME_COLUMN

# Python checks this many values of a column before Arrow casts all of them, so
# a text column is rejected after its first value instead of after a whole cast.
PROBE_VALUES = 256
# 0001-01-02T00:00:00Z in microseconds. Arrow accepts year 0, which Python rejects.
# Every time in year 0, with an offset under 24 hours, is earlier than this.
_EARLIEST_SAFE_TIME = -62_135_510_400_000_000
_NAIVE_TIME_TYPE = pa.timestamp("us")
_TRUE_WORDS = pa.array(TRUE_WORDS)
_BOOLEAN_WORDS = pa.array(TRUE_WORDS + FALSE_WORDS)

Column: TypeAlias = "pa.Array | pa.ChunkedArray"


def typed_columns(columns: list[pa.ChunkedArray], names: list[str], existing: dict[str, str],
                  measurement: str) -> pa.Table:
    """Convert text columns into the table that copy_in_rows.typed_table returns for the same values.

    ``columns`` is emptied as it goes, so each text column is freed once converted.
    """
    typed: dict[str, Column] = {}
    columns.reverse()
    for name in names:
        values = columns.pop()
        converted = _converted(name, values, existing.get(name))
        if converted is None:
            converted = typed_column(name, values.to_pylist(), existing.get(name), measurement)
        typed[name] = converted
    return pa.table(typed)


def _converted(name: str, values: pa.ChunkedArray, stored_type: str | None) -> Column | None:
    """Return the typed column, or None where Python must convert it."""
    if name.lower() == TIME_COLUMN:
        return _times(values)
    if stored_type is not None:
        return _cast(values, stored_type)
    if values.null_count == len(values):
        return values
    for kind, check in INFERRED_TYPES:
        if not _python_accepts(check, values, PROBE_VALUES):
            continue
        converted = _cast(values, kind)
        if converted is not None:
            return converted
        if _python_accepts(check, values, len(values)):
            return None
    return values


def _cast(values: pa.ChunkedArray, kind: str) -> Column | None:
    if kind == "VARCHAR":
        return values
    if kind in INTEGER_TYPES:
        return _integers(values)
    if kind in FLOAT_TYPES:
        return _arrow_cast(values, pa.float64())
    if kind == "BOOLEAN":
        return _booleans(values)
    return None


def _integers(values: pa.ChunkedArray) -> Column | None:
    # Arrow also reads hexadecimal such as 0x1F, which Python's int() rejects.
    converted = _arrow_cast(values, pa.int64())
    if converted is None:
        return None
    if any(pc.any(pc.match_substring(values, letter)).as_py() for letter in "xX"):
        return None
    return converted


def _booleans(values: pa.ChunkedArray) -> Column | None:
    # ASCII lowering only, so a value that Python's str.lower() would map differently is left to Python.
    lowered = pc.ascii_lower(values)
    if not pc.all(pc.or_(pc.is_in(lowered, value_set=_BOOLEAN_WORDS), pc.is_null(lowered))).as_py():
        return None
    return pc.if_else(pc.is_valid(values), pc.is_in(lowered, value_set=_TRUE_WORDS), None)


def _times(values: pa.ChunkedArray) -> Column | None:
    """Cast ISO 8601 text to UTC times: all with an offset, or all without one (then UTC)."""
    for parsed_type in (TIME_TYPE, _NAIVE_TIME_TYPE):
        parsed = _arrow_cast(values, parsed_type)
        if parsed is None:
            continue
        moments = pc.cast(parsed, TIME_TYPE)
        earliest = pc.min(moments)
        if earliest.is_valid and earliest.value < _EARLIEST_SAFE_TIME:
            return None
        return moments
    return None


def _arrow_cast(values: pa.ChunkedArray, target: pa.DataType) -> Column | None:
    try:
        return pc.cast(values, target)
    except pa.ArrowInvalid:
        return None


def _python_accepts(check: Callable[[str], object], values: pa.ChunkedArray, limit: int) -> bool:
    """Tell whether ``check`` accepts each of the first ``limit`` values that are not NULL."""
    for offset in range(0, min(limit, len(values)), PROBE_VALUES):
        for value in values.slice(offset, min(PROBE_VALUES, limit - offset)).to_pylist():
            if value is None:
                continue
            try:
                check(value)
            except ValueError:
                return False
    return True
