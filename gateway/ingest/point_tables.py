"""Turning parsed line-protocol points into one Arrow table per measurement.

Tags become string columns and fields keep their types. Within a request
and against the columns a measurement already stores, an integer arriving
in a float column is widened to float and a float arriving after integers
makes the column float. Any other conflict rejects that line with a
reason naming the measurement, column, expected and received type; the
other lines are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa

from gateway.ingest.lineprotocol import LineError, Point, UnsignedInt
from gateway.ingest.parquet_files import TIME_TYPE

#: Returns the stored columns of a measurement as {name: DuckDB type}, empty if it has none.
StoredColumns = Callable[[str], dict[str, str]]

_DUCKDB_KINDS = {"BIGINT": "integer", "UBIGINT": "unsigned", "DOUBLE": "float", "BOOLEAN": "boolean",
                 "VARCHAR": "string", "INTEGER": "integer", "FLOAT": "float"}
_ARROW_TYPES = {"integer": pa.int64(), "unsigned": pa.uint64(), "float": pa.float64(), "boolean": pa.bool_(),
                "string": pa.string()}


@dataclass
class MeasurementRows:
    """Accepted rows of one measurement and the kind of each column."""

    kinds: dict[str, str]
    rows: list[Point]


def kind_of(value: object) -> str:
    """Return the column kind of a field value: integer, unsigned, float, boolean or string."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, UnsignedInt):
        return "unsigned"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    return "string"


def points_to_tables(points: Iterable[Point], stored_columns: StoredColumns
                     ) -> tuple[dict[str, pa.Table], list[LineError]]:
    """Return one table per measurement (time first) and the lines rejected for type conflicts."""
    groups: dict[str, MeasurementRows] = {}
    errors: list[LineError] = []
    for point in points:
        group = groups.get(point.measurement)
        if group is None:
            group = MeasurementRows(_stored_kinds(stored_columns(point.measurement)), [])
            groups[point.measurement] = group
        conflict = _conflict(point, group.kinds)
        if conflict is not None:
            errors.append(LineError(point.line_number, conflict, ""))
            continue
        _record_kinds(point, group.kinds)
        group.rows.append(point)
    tables = {name: _table(group) for name, group in groups.items() if group.rows}
    return tables, errors


def _stored_kinds(columns: dict[str, str]) -> dict[str, str]:
    return {name: _DUCKDB_KINDS.get(kind, "other") for name, kind in columns.items() if name != "time"}


def _conflict(point: Point, kinds: dict[str, str]) -> str | None:
    for name in point.tags:
        known = kinds.get(name)
        if known is not None and known != "string":
            return _mismatch(point.measurement, name, known, "string")
    for name, value in point.fields.items():
        known = kinds.get(name)
        received = kind_of(value)
        if known is None or known == received:
            continue
        if {known, received} <= {"integer", "float"}:
            continue
        return _mismatch(point.measurement, name, known, received)
    return None


def _mismatch(measurement: str, column: str, expected: str, received: str) -> str:
    return (f'column "{column}" of measurement "{measurement}" is of type {expected} '
            f"but the value is of type {received}")


def _record_kinds(point: Point, kinds: dict[str, str]) -> None:
    for name in point.tags:
        kinds.setdefault(name, "string")
    for name, value in point.fields.items():
        received = kind_of(value)
        known = kinds.get(name)
        if known is None:
            kinds[name] = received
        elif known != received and {known, received} <= {"integer", "float"}:
            kinds[name] = "float"


def _table(group: MeasurementRows) -> pa.Table:
    names = sorted({name for point in group.rows for name in (*point.tags, *point.fields)})
    columns: dict[str, pa.Array] = {
        "time": pa.array([point.time_us for point in group.rows], pa.int64()).cast(TIME_TYPE),
    }
    for name in names:
        kind = group.kinds[name]
        values = [point.tags.get(name, point.fields.get(name)) for point in group.rows]
        if kind == "float":
            values = [float(value) if value is not None else None for value in values]
        columns[name] = pa.array(values, _ARROW_TYPES.get(kind, pa.string()))
    return pa.table(columns)
