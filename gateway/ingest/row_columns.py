"""Turning rows (a mapping of column to value per row) into one Arrow table.

Each value's kind is inferred from its Python type: bool, int (int64, or
uint64 for a line-protocol :class:`UnsignedInt`), float, str, datetime. ``time`` may
be a datetime (one without a zone is UTC), an integer of nanoseconds since
the epoch, or ISO 8601 text. A row without one gets the arrival time. A row
whose value conflicts with the column's kind, or whose time does not parse
or is out of range, is rejected with its reason; the other rows are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from gateway.errors import DatatypeMismatch
from gateway.ingest.column_kinds import ARROW_TYPES, TIME_TYPE, merged_kind
from gateway.ingest.line_syntax import UnsignedInt

TIME = "time"
_MIN_MICROS = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
_MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z


@dataclass
class RowTable:
    """The accepted rows as a table (None if none was accepted) and the rejected ones by index."""

    table: pa.Table | None
    rejected: list[tuple[int, str]] = field(default_factory=list)


def kind_of_value(value: object) -> str:
    """Return the kind of a Python value; raise TypeError for a type no column can hold."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, UnsignedInt):
        return "unsigned"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "timestamp"
    raise TypeError(f"a value of Python type {type(value).__name__} cannot be stored")


def time_micros(value: object, arrival: int) -> int:
    """Return a row's time as microseconds since the epoch; raise ValueError with the reason."""
    if value is None:
        return arrival
    if isinstance(value, bool):
        raise ValueError("time must be a timestamp, not a boolean")
    if isinstance(value, int):
        micros = value // 1000
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        micros = _datetime_micros(moment)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError as error:
            raise ValueError(f"time {value!r} is not an ISO 8601 timestamp") from error
        micros = _datetime_micros(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    else:
        raise ValueError(f"time must be a timestamp, not {type(value).__name__}")
    if not _MIN_MICROS <= micros <= _MAX_MICROS:
        raise ValueError(f"time {value!r} is out of range (years 1 to 9999)")
    return micros


def _datetime_micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def rows_to_table(measurement: str, rows: Iterable[Mapping[str, object]], kinds: dict[str, str],
                  arrival_micros: int) -> RowTable:
    """Convert rows to a table (``time`` first), updating ``kinds`` with the columns the rows add.

    ``kinds`` contains the established kind of each column (from stored files
    and buffered rows); a row that conflicts with it is rejected.
    """
    accepted: list[tuple[int, dict[str, object]]] = []
    times: list[int] = []
    rejected: list[tuple[int, str]] = []
    for index, row in enumerate(rows):
        try:
            micros = time_micros(row.get(TIME), arrival_micros)
            values = {name: value for name, value in row.items() if name != TIME}
            row_kinds = dict(kinds)
            for name, value in values.items():
                row_kinds[name] = merged_kind(measurement, name, row_kinds.get(name), kind_of_value(value))
        except (ValueError, TypeError, DatatypeMismatch) as error:
            rejected.append((index, getattr(error, "message", None) or str(error)))
            continue
        kinds.update(row_kinds)
        accepted.append((index, values))
        times.append(micros)
    if not accepted:
        return RowTable(None, rejected)
    names = sorted({name for _, values in accepted for name in values})
    columns: dict[str, pa.Array] = {TIME: pa.array(times, pa.int64()).cast(TIME_TYPE)}
    for name in names:
        kind = kinds[name]
        data = [values.get(name) for _, values in accepted]
        if kind == "float":
            data = [float(value) if value is not None else None for value in data]
        columns[name] = pa.array(data, ARROW_TYPES.get(kind, pa.null()))
    return RowTable(pa.table(columns), rejected)
