"""The columnar parse of a payload: one batch of rows per measurement.

``build_batches`` turns scanned lines into batches. Its checks are those
of the reference parser plus the limits of the columnar steps. A line that
fails any of them is returned for the reference parser, so a batch holds
only lines the reference parser would accept, with the same values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

import pyarrow as pa
import pyarrow.compute as pc

from gateway.ingest.line_fields import FieldColumns, parse_field_sets
from gateway.ingest.line_scan import ScannedLines, SeriesKey
from gateway.ingest.line_syntax import FieldValue, Point, UnsignedInt, _Options
from gateway.ingest.line_values import all_positions, convert_timestamps, true_positions


@dataclass(slots=True)
class MeasurementBatch:
    """The parsed lines of one measurement.

    Lines parsed in columns are rows, in line order. ``line_numbers``
    (1-based), ``time_us`` (microseconds since the epoch, UTC) and
    ``row_series`` (index into ``series``) have one entry per row, and
    ``fields`` contains their fields (None when there are no rows). ``points``
    are the lines of this measurement that the reference parser parsed
    instead, in the order they were added.
    """

    measurement: str
    line_numbers: pa.Int64Array
    time_us: pa.Int64Array
    row_series: pa.Int32Array
    series: list[SeriesKey]
    fields: FieldColumns | None
    points: list[Point] = field(default_factory=list)

    @property
    def row_count(self) -> int:
        return len(self.line_numbers)

    def all_line_numbers(self) -> list[int]:
        """Return the line numbers of the rows and of the points, ascending."""
        return sorted([*self.line_numbers.to_pylist(), *(point.line_number for point in self.points)])

    def tag_columns(self) -> dict[str, pa.StringArray]:
        """Return the value of each tag key per row, null where the row has no such tag."""
        used = [self.series[index] for index in pc.unique(self.row_series).to_pylist()]
        keys = dict.fromkeys(key for series_key in used for key in series_key.tags)
        columns = {}
        for key in keys:
            values_by_series = pa.array([series_key.tags.get(key) for series_key in self.series], pa.string())
            columns[key] = pc.take(values_by_series, self.row_series)
        return columns


def points_batch(measurement: str, points: list[Point]) -> MeasurementBatch:
    """Return a batch that contains only points."""
    empty = pa.array([], pa.int64())
    return MeasurementBatch(measurement, empty, empty, pa.array([], pa.int32()), [], None, points)


def batch_points(batch: MeasurementBatch) -> list[Point]:
    """Return the rows as points, then merged with ``batch.points`` by line number."""
    if batch.row_count == 0:
        return list(batch.points)
    points = _row_points(batch)
    if batch.points:
        points = sorted([*points, *batch.points], key=attrgetter("line_number"))
    return points


def _row_points(batch: MeasurementBatch) -> list[Point]:
    fields = batch.fields
    assert fields is not None
    values = _item_values(fields)
    keys = list(map(fields.keys.__getitem__, fields.item_keys.to_pylist()))
    offsets = fields.row_offsets.to_pylist()

    points = []
    measurement = batch.measurement
    series = batch.series
    rows = zip(batch.row_series.to_pylist(), batch.time_us.to_pylist(), batch.line_numbers.to_pylist(), strict=True)
    for row, (series_index, time_us, line_number) in enumerate(rows):
        start, end = offsets[row], offsets[row + 1]
        row_fields = dict(zip(keys[start:end], values[start:end], strict=True))
        points.append(Point(measurement, dict(series[series_index].tags), row_fields, time_us, line_number))
    return points


def _item_values(fields: FieldColumns) -> list[FieldValue]:
    """Return the Python value of each item, in item order."""
    # The parts cover every item once. Join their values, then put each
    # item's value in its place through the inverse of their positions.
    joined: list[FieldValue] = []
    for parts in fields.values.values():
        for part in parts:
            converted = part.values.to_pylist()
            joined.extend(map(UnsignedInt, converted) if part.kind == "unsigned" else converted)
    positions = pa.concat_arrays([part.positions for parts in fields.values.values() for part in parts])
    return list(map(joined.__getitem__, pc.inverse_permutation(positions).to_pylist()))


# ---------------------------------------------------------------- building


@dataclass(frozen=True, slots=True)
class _Rows:
    """Scanned lines of one measurement: 0-based line index, series and texts per row."""

    line_indexes: pa.Int64Array
    series_ids: pa.Int32Array
    field_sets: pa.StringArray
    timestamps: pa.StringArray

    def filter(self, mask: pa.BooleanArray) -> _Rows:
        return _Rows(pc.filter(self.line_indexes, mask), pc.filter(self.series_ids, mask),
                     pc.filter(self.field_sets, mask), pc.filter(self.timestamps, mask))


def build_batches(scanned: ScannedLines, options: _Options) -> tuple[dict[str, MeasurementBatch], list[int]]:
    """Parse scanned lines in columns; return the batches and the 0-based indexes of lines they left out.

    Raises UnicodeEncodeError when a text contains a lone surrogate, which
    Arrow strings cannot contain.
    """
    series_ids = pa.array(scanned.series_ids, pa.int32())
    all_rows = _Rows(all_positions(len(series_ids)), series_ids, pa.array(scanned.field_sets, pa.string()),
                     pa.array(scanned.timestamps, pa.string()))
    scannable = pc.greater_equal(series_ids, 0)
    left_out = true_positions(pc.invert(scannable)).to_pylist()
    if left_out:
        all_rows = all_rows.filter(scannable)

    batches = {}
    for measurement, rows in _by_measurement(all_rows, scanned.series):
        batch, rejected = _build_batch(measurement, rows, scanned.series, options)
        left_out.extend(rejected)
        if batch is not None:
            batches[measurement] = batch
    return batches, sorted(left_out)


def _by_measurement(rows: _Rows, series: list[SeriesKey]) -> list[tuple[str, _Rows]]:
    names = list(dict.fromkeys(series_key.measurement for series_key in series))
    if len(names) <= 1:
        return [(name, rows) for name in names if len(rows.line_indexes)]
    name_index = {name: index for index, name in enumerate(names)}
    measurement_of_series = pa.array([name_index[series_key.measurement] for series_key in series], pa.int32())
    row_measurements = pc.take(measurement_of_series, rows.series_ids)
    groups = [(name, rows.filter(pc.equal(row_measurements, index))) for index, name in enumerate(names)]
    return [(name, group) for name, group in groups if len(group.line_indexes)]


def _build_batch(measurement: str, rows: _Rows, series: list[SeriesKey], options: _Options
                 ) -> tuple[MeasurementBatch | None, list[int]]:
    """Return the batch of the rows that pass every check, and the line indexes of the others.

    A check may stop at the first rule that some row breaks, so the
    remaining rows are checked again until none is rejected. Whether a
    row passes does not depend on the other rows.
    """
    left_out: list[int] = []
    while len(rows.line_indexes):
        batch, rejected = _try_batch(measurement, rows, series, options)
        if batch is not None:
            return batch, left_out
        left_out.extend(pc.take(rows.line_indexes, rejected).to_pylist())
        rows = rows.filter(pc.invert(pc.is_in(all_positions(len(rows.line_indexes)), value_set=rejected)))
    return None, left_out


def _try_batch(measurement: str, rows: _Rows, series: list[SeriesKey], options: _Options
               ) -> tuple[MeasurementBatch | None, pa.Int64Array]:
    time_us, bad_times = convert_timestamps(rows.timestamps, options)
    fields, rejected = parse_field_sets(rows.field_sets)
    if fields is not None:
        rejected = _rows_sharing_keys(fields, rows.series_ids, series)
    rejected = pc.unique(pa.concat_arrays([true_positions(bad_times), rejected]))
    if len(rejected):
        return None, rejected

    line_numbers = pc.add(rows.line_indexes, 1)
    return MeasurementBatch(measurement, line_numbers, time_us, rows.series_ids, series, fields), rejected


def _rows_sharing_keys(fields: FieldColumns, row_series: pa.Int32Array, series: list[SeriesKey]) -> pa.Int64Array:
    """Return the rows with a key that is both a tag key and a field key of the row."""
    used = [series[index] for index in pc.unique(row_series).to_pylist()]
    tag_keys = {key for series_key in used for key in series_key.tags}
    rows: set[int] = set()
    for key_index, key in enumerate(fields.keys):
        if key not in tag_keys:
            continue
        item_rows = pc.filter(fields.item_rows, pc.equal(fields.item_keys, key_index)).to_pylist()
        series_of_rows = pc.take(row_series, pa.array(item_rows, pa.int64())).to_pylist()
        rows.update(row for row, index in zip(item_rows, series_of_rows, strict=True) if key in series[index].tags)
    return pa.array(sorted(rows), pa.int64())
