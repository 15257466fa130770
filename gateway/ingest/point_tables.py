"""Turning parsed line-protocol lines into one Arrow table per measurement.

Tags become string columns and fields keep their types. Within a request
and against the columns a measurement already stores, an integer arriving
in a float column is widened to float and a float arriving after integers
makes the column float. Any other conflict rejects that line with a
reason naming the measurement, column, expected and received type; the
other lines are kept.

The rules are applied line by line in ``_table_row_by_row``. Without any
conflict they accept every line and give each column one type, which can
be found from the set of kinds in the column alone, so a batch without
conflicts is built column by column instead (``_table_by_column``), which
is faster. A batch with a conflict is built line by line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import attrgetter

import pyarrow as pa
import pyarrow.compute as pc

from gateway.ingest.column_kinds import kind_of_duckdb, mismatch_message
from gateway.ingest.line_batches import MeasurementBatch, batch_points, points_batch
from gateway.ingest.line_syntax import LineError, Point, UnsignedInt
from gateway.ingest.line_values import all_positions, arrow_type, true_positions
from gateway.ingest.parquet_files import TIME_TYPE
from gateway.ingest.row_columns import kind_of_value

#: Returns the stored columns of a measurement as {name: DuckDB type}, empty if it has none.
StoredColumns = Callable[[str], dict[str, str]]

_NUMBER_KINDS = {"integer", "float"}


@dataclass
class MeasurementRows:
    """Accepted rows of one measurement and the kind of each column."""

    kinds: dict[str, str]
    rows: list[Point]


def points_to_tables(points: Iterable[Point], stored_columns: StoredColumns
                     ) -> tuple[dict[str, pa.Table], list[LineError]]:
    """Return one table per measurement (time first) and the lines rejected for type conflicts.

    Rows keep the order of ``points`` and errors are in line order.
    """
    groups: dict[str, list[Point]] = {}
    for point in points:
        groups.setdefault(point.measurement, []).append(point)
    return batches_to_tables({name: points_batch(name, group) for name, group in groups.items()}, stored_columns)


def batches_to_tables(batches: Mapping[str, MeasurementBatch], stored_columns: StoredColumns
                      ) -> tuple[dict[str, pa.Table], list[LineError]]:
    """Return one table per measurement (time first) and the lines rejected for type conflicts.

    Rows are the batch's rows then its points, sorted by line number when
    it has both. Errors are in line order. ``stored_columns`` is called once
    per batch.
    """
    tables: dict[str, pa.Table] = {}
    errors: list[LineError] = []
    for name, batch in batches.items():
        stored = _stored_kinds(stored_columns(name))
        parts = _column_parts(batch)
        kinds = _column_kinds(parts, stored)
        if kinds is None:
            table, rejected = _table_row_by_row(name, batch_points(batch), stored)
            errors.extend(rejected)
        else:
            table = _table_by_column(batch, parts, kinds)
        if table is not None:
            tables[name] = table
    errors.sort(key=attrgetter("line_number"))
    return tables, errors


def _stored_kinds(columns: dict[str, str]) -> dict[str, str]:
    return {name: kind_of_duckdb(kind) for name, kind in columns.items() if name != "time"}


# ---------------------------------------------------------------- column by column


@dataclass(frozen=True, slots=True)
class _Part:
    """Values of one kind for one column, at row positions; ``rows`` None means rows 0, 1, 2 ..."""

    kind: str
    rows: pa.Int64Array | None
    values: pa.Array


def _column_parts(batch: MeasurementBatch) -> dict[str, list[_Part]]:
    """Return the parts of each column: the batch's rows first, then its points."""
    parts: dict[str, list[_Part]] = {}
    if batch.row_count:
        for key, column in batch.tag_columns().items():
            parts.setdefault(key, []).append(_sparse_part("string", column))
        assert batch.fields is not None
        for key, converted in batch.fields.values.items():
            for values in converted:
                rows = pc.take(batch.fields.item_rows, values.positions)
                dense = len(rows) == batch.row_count
                parts.setdefault(key, []).append(_Part(values.kind, None if dense else rows, values.values))
    for key, part in _point_parts(batch.points, batch.row_count):
        parts.setdefault(key, []).append(part)
    return parts


def _sparse_part(kind: str, column: pa.Array) -> _Part:
    if column.null_count == 0:
        return _Part(kind, None, column)
    valid = pc.is_valid(column)
    return _Part(kind, true_positions(valid), pc.filter(column, valid))


def _point_parts(points: list[Point], first_row: int) -> list[tuple[str, _Part]]:
    """Return the column and part of the values of the points, which start at row ``first_row``."""
    # Points with the same tag keys and field keys, in the same order, form
    # a group whose values are turned into columns at once by zip(). A
    # point never has a key both as tag and as field, and tag values are
    # strings, so a tag and a field are columns alike here.
    groups: dict[tuple[str, ...], tuple[list[int], list[tuple[object, ...]]]] = {}
    for row, point in enumerate(points, start=first_row):
        signature = (*point.tags, *point.fields)
        group = groups.get(signature)
        if group is None:
            group = groups[signature] = ([], [])
        group[0].append(row)
        group[1].append((*point.tags.values(), *point.fields.values()))

    columns: dict[str, tuple[list[int], list[object]]] = {}
    for keys, (rows, value_rows) in groups.items():
        for key, values in zip(keys, zip(*value_rows, strict=True), strict=True):
            column_rows, column_values = columns.setdefault(key, ([], []))
            column_rows.extend(rows)
            column_values.extend(values)

    in_order = len(groups) == 1 and first_row == 0
    return [(key, part) for key, (rows, values) in columns.items()
            for part in _field_parts(values, None if in_order else pa.array(rows, pa.int64()), rows)]


_KIND_OF_TYPE = {bool: "boolean", UnsignedInt: "unsigned", int: "integer", float: "float", str: "string"}


def _field_parts(values: list[object], row_array: pa.Int64Array | None, rows: list[int]) -> list[_Part]:
    """Return the values of one column at ``rows`` as one part per kind; tags are strings."""
    types = set(map(type, values))
    if len(types) == 1 and (kind := _KIND_OF_TYPE.get(types.pop())) is not None:
        return [_Part(kind, row_array, pa.array(values, arrow_type(kind)))]

    by_kind: dict[str, tuple[list[int], list[object]]] = {}
    for row, value in zip(rows, values, strict=True):
        kind_rows, kind_values = by_kind.setdefault(kind_of_value(value), ([], []))
        kind_rows.append(row)
        kind_values.append(value)
    return [_Part(kind, pa.array(kind_rows, pa.int64()), pa.array(kind_values, arrow_type(kind)))
            for kind, (kind_rows, kind_values) in by_kind.items()]


def _column_kinds(parts: dict[str, list[_Part]], stored: dict[str, str]) -> dict[str, str] | None:
    """Return the kind of each column, or None if some line conflicts with another or with the stored columns."""
    kinds = {}
    for key, key_parts in parts.items():
        seen = {part.kind for part in key_parts}
        if key in stored:
            seen.add(stored[key])
        if len(seen) == 1:
            kinds[key] = seen.pop()
        elif seen <= _NUMBER_KINDS:
            kinds[key] = "float"
        else:
            return None
    return kinds


def _table_by_column(batch: MeasurementBatch, parts: dict[str, list[_Part]], kinds: dict[str, str]) -> pa.Table:
    row_count = batch.row_count + len(batch.points)
    time_us = pa.concat_arrays([batch.time_us, pa.array([point.time_us for point in batch.points], pa.int64())])
    columns = {"time": time_us.cast(TIME_TYPE)}
    for key in sorted(parts):
        columns[key] = _dense_column(parts[key], arrow_type(kinds[key]), row_count)
    table = pa.table(columns)

    if batch.row_count and batch.points:
        line_numbers = pa.concat_arrays([batch.line_numbers,
                                         pa.array([point.line_number for point in batch.points], pa.int64())])
        table = table.take(pc.sort_indices(line_numbers))
    return table


def _dense_column(parts: list[_Part], target: pa.DataType, row_count: int) -> pa.Array:
    """Return one value per row, null where no part has one; integers become floats in a float column."""
    # safe=False rounds integers beyond 2**53 to the nearest float, as float() does.
    values = [part.values.cast(target, safe=False) for part in parts]
    if len(parts) == 1 and parts[0].rows is None and len(values[0]) == row_count:
        return values[0]
    rows = [all_positions(len(part.values)) if part.rows is None else part.rows for part in parts]
    return pc.scatter(pa.concat_arrays(values), pa.concat_arrays(rows), max_index=row_count - 1)


# ---------------------------------------------------------------- line by line


def _table_row_by_row(measurement: str, points: list[Point], stored: dict[str, str]
                      ) -> tuple[pa.Table | None, list[LineError]]:
    group = MeasurementRows(dict(stored), [])
    errors: list[LineError] = []
    for point in points:
        conflict = _conflict(point, group.kinds)
        if conflict is not None:
            errors.append(LineError(point.line_number, conflict, ""))
            continue
        _record_kinds(point, group.kinds)
        group.rows.append(point)
    return (_table(group) if group.rows else None), errors


def _conflict(point: Point, kinds: dict[str, str]) -> str | None:
    for name in point.tags:
        known = kinds.get(name)
        if known is not None and known != "string":
            return mismatch_message(point.measurement, name, known, "string")
    for name, value in point.fields.items():
        known = kinds.get(name)
        received = kind_of_value(value)
        if known is None or known == received:
            continue
        if {known, received} <= _NUMBER_KINDS:
            continue
        return mismatch_message(point.measurement, name, known, received)
    return None


def _record_kinds(point: Point, kinds: dict[str, str]) -> None:
    for name in point.tags:
        kinds.setdefault(name, "string")
    for name, value in point.fields.items():
        received = kind_of_value(value)
        known = kinds.get(name)
        if known is None:
            kinds[name] = received
        elif known != received and {known, received} <= _NUMBER_KINDS:
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
        columns[name] = pa.array(values, arrow_type(kind))
    return pa.table(columns)
