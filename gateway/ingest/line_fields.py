"""Parsing the field sets of many lines at once, in Arrow columns.

A field set reaches this module as the text between the series key and
the timestamp of a line, without spaces. It is split at commas into items
and each item at its equals sign into key and value. That split is only
right when no key or value contains an escaped character or a quoted
comma or equals sign. So a row is rejected here when an item has no or
two equals signs, when a key has a backslash, and when a quoted value
has a backslash or is cut by the split. Rejected rows go to the reference
parser, which parses them or finds their error, so this module never
decides that a line is invalid on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gateway.ingest.line_syntax import _is_time
from gateway.ingest.line_values import ConvertedValues, all_positions, convert_field_values, true_positions


@dataclass(frozen=True, slots=True)
class FieldColumns:
    """The fields of many rows, one item per field.

    Items are in row order and, within a row, in the order of the line.
    ``row_offsets[r]`` to ``row_offsets[r + 1]`` are the items of row
    ``r``, ``item_rows`` is the row of each item and ``item_keys`` its
    index into ``keys``. ``values`` maps each key to its values by kind,
    with item positions.
    """

    row_offsets: pa.Int32Array
    item_rows: pa.Int64Array
    item_keys: pa.Int32Array
    keys: list[str]
    values: dict[str, list[ConvertedValues]]


def parse_field_sets(field_sets: pa.StringArray) -> tuple[FieldColumns | None, pa.Int64Array]:
    """Parse field sets; return None and the positions of the rows to reject if any row breaks a rule."""
    items = pc.split_pattern(field_sets, ",")
    item_rows = pc.list_parent_indices(items).cast(pa.int64())
    pairs = pc.split_pattern(pc.list_flatten(items), "=")
    malformed = pc.not_equal(pc.list_value_length(pairs), 2)
    if pc.any(malformed).as_py():
        return None, _rows_of(item_rows, true_positions(malformed))

    # Every item is now a list of two strings, so the flat list alternates key and value.
    halves = pc.list_flatten(pairs)
    key_positions = pc.multiply(all_positions(len(item_rows)), 2)
    encoded = pc.dictionary_encode(pc.take(halves, key_positions))
    item_keys = encoded.indices
    keys = encoded.dictionary.to_pylist()
    bad_keys = [index for index, key in enumerate(keys) if not _is_fast_key(key)]
    if bad_keys:
        return None, _rows_of(item_rows, true_positions(pc.is_in(item_keys, value_set=pa.array(bad_keys, pa.int32()))))

    raw_values = pc.take(halves, pc.add(key_positions, 1))
    values, rejected = _convert_by_key(raw_values, item_rows, item_keys, keys)
    if len(rejected):
        return None, rejected
    return FieldColumns(items.offsets, item_rows, item_keys, keys, values), rejected


def _is_fast_key(key: str) -> bool:
    # A key with a backslash may end in an escape that the split has
    # ignored: the item "f\=1" splits into key "f\" and value "1", but
    # the reference parser reads one key "f=1" without a value.
    return bool(key) and "\\" not in key and "\0" not in key and not _is_time(key)


def _convert_by_key(raw_values: pa.StringArray, item_rows: pa.Int64Array, item_keys: pa.Int32Array, keys: list[str]
                    ) -> tuple[dict[str, list[ConvertedValues]], pa.Int64Array]:
    """Convert the values of each key on their own; return them with the rows to reject.

    A row is rejected for an invalid value or for a key it has twice.
    """
    # A stable sort by key keeps the items of each key in row order.
    order = pc.sort_indices(item_keys).cast(pa.int64())
    sorted_values = pc.take(raw_values, order)
    counts = pc.value_counts(item_keys)
    count_by_key = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))

    values: dict[str, list[ConvertedValues]] = {}
    rejected: list[pa.Int64Array] = []
    start = 0
    for key_index, key in enumerate(keys):
        count = count_by_key[key_index]
        positions = order.slice(start, count)
        key_values = sorted_values.slice(start, count)
        start += count
        rejected.append(_repeated_rows(pc.take(item_rows, positions)))
        converted, invalid = convert_field_values(key_values)
        values[key] = [ConvertedValues(part.kind, pc.take(positions, part.positions), part.values)
                       for part in converted]
        rejected.append(_rows_of(item_rows, pc.take(positions, invalid)))
    return values, pc.unique(pa.concat_arrays(rejected)) if rejected else pa.array([], pa.int64())


def _repeated_rows(rows: pa.Int64Array) -> pa.Int64Array:
    """Return the rows that appear twice in an ascending list of rows."""
    if len(rows) < 2:
        return pa.array([], pa.int64())
    later = rows.slice(1)
    return pc.filter(later, pc.equal(later, rows.slice(0, len(rows) - 1)))


def _rows_of(item_rows: pa.Int64Array, item_positions: pa.Int64Array) -> pa.Int64Array:
    return pc.unique(pc.take(item_rows, item_positions))
