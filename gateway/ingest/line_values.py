"""Converting the text of line-protocol field values and timestamps, many at once.

Arrow's casts from text do the work. They accept more spellings than the
line protocol does, so each cast is followed by a check for those. The
casts of pyarrow 26 read ``+1``, ``nan``, ``inf`` and ``infinity`` as
floats and ``0x10`` as an integer. The tests compare both parsers on
random values to catch any other such spelling. When a cast fails, the values it was given are converted again
one by one with the reference parser's functions, which also finds the
invalid ones. Either way a value is accepted exactly when the reference
parser accepts it, and converts to the same value.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from gateway.ingest.line_syntax import (
    _BARE_VALUE_ONLY,
    _BOOLEANS,
    MAX_TIME_US,
    MIN_TIME_US,
    FieldValue,
    _number_or_boolean,
    _Options,
    _time_us,
)

_TRUE_SPELLINGS = pa.array([spelling for spelling, value in _BOOLEANS.items() if value])
_BOOLEAN_SPELLINGS = pa.array(list(_BOOLEANS))
_INTEGER_PATTERN = "^-?[0-9]+$"

_KIND_TYPES = {"integer": pa.int64(), "unsigned": pa.uint64(), "float": pa.float64(), "boolean": pa.bool_(),
               "string": pa.string()}


@dataclass(frozen=True, slots=True)
class ConvertedValues:
    """Values of one kind (integer, unsigned, float, boolean or string) and their positions in the input."""

    kind: str
    positions: pa.Int64Array
    values: pa.Array


def convert_field_values(raw: pa.StringArray) -> tuple[list[ConvertedValues], pa.Int64Array]:
    """Convert field value texts; return the values by kind and the positions of the invalid ones."""
    # Most keys have values of one kind, so the first value decides whether
    # to try floats. A failed cast costs as much as a whole successful one.
    floats = _cast_or_none(raw, pa.float64()) if _looks_like_float(raw[0].as_py()) else None
    if floats is not None:
        return _split_valid("float", all_positions(len(raw)), floats, _valid_floats(raw, floats))

    converted: list[ConvertedValues] = []
    invalid: list[pa.Int64Array] = []
    for kind, mask in _classify(raw).items():
        positions = true_positions(mask)
        if len(positions) == 0:
            continue
        values, valid = _CONVERTERS[kind](pc.take(raw, positions))
        valid_values, bad = _split_valid(kind, positions, values, valid)
        converted.extend(valid_values)
        invalid.append(bad)
    return converted, _concat_positions(invalid)


def convert_timestamps(raw: pa.StringArray, options: _Options) -> tuple[pa.Int64Array, pa.BooleanArray]:
    """Return microseconds per timestamp text and a mask of the invalid ones.

    An empty text is a line without a timestamp and gets the default time.
    Invalid means not an integer, or outside the years 1 to 9999 UTC.
    """
    missing = pc.equal(raw, "")
    if pc.all(missing).as_py():
        return pa.repeat(pa.scalar(options.default_time_us, pa.int64()), len(raw)), pa.repeat(False, len(raw))

    texts = pc.if_else(missing, "0", raw) if pc.any(missing).as_py() else raw
    well_formed = pc.match_substring_regex(texts, _INTEGER_PATTERN)
    if not pc.all(well_formed).as_py():
        texts = pc.if_else(well_formed, texts, "0")
    time_us = _scaled_timestamps(texts, options)
    if time_us is None:
        time_us = pa.array([_time_us(text, options) for text in texts.to_pylist()], pa.int64())

    in_range = pc.and_kleene(pc.greater_equal(time_us, MIN_TIME_US), pc.less_equal(time_us, MAX_TIME_US))
    valid = pc.and_(well_formed, pc.fill_null(in_range, False))
    time_us = pc.if_else(missing, options.default_time_us, pc.fill_null(time_us, 0))
    return time_us, pc.invert(valid)


def _scaled_timestamps(texts: pa.StringArray, options: _Options) -> pa.Int64Array | None:
    """Return the timestamps in microseconds, or None when some do not fit in int64 on the way."""
    try:
        values = pc.cast(texts, pa.int64())
        if options.multiplier != 1:
            values = pc.multiply_checked(values, options.multiplier)
        if options.divisor != 1:
            # Integer division truncates towards zero, so round negative values down first.
            adjustment = pc.if_else(pc.less(values, 0), options.divisor - 1, 0)
            values = pc.divide(pc.subtract_checked(values, adjustment), options.divisor)
    except pa.ArrowInvalid:
        return None
    return values


def _looks_like_float(text: str) -> bool:
    return not text.startswith('"') and not text.endswith(("i", "u")) and text not in _BOOLEANS


def _cast_or_none(values: pa.Array, target: pa.DataType) -> pa.Array | None:
    try:
        return pc.cast(values, target)
    except pa.ArrowInvalid:
        return None


def _valid_floats(raw: pa.StringArray, floats: pa.DoubleArray) -> pa.BooleanArray:
    # The cast reads "+1", "nan", "inf" and "infinity", which the line
    # protocol does not, and an exponent too large for a float is out of range.
    special = pc.or_(pc.is_nan(floats), pc.is_inf(floats))
    return pc.invert(pc.or_(special, pc.starts_with(raw, "+")))


def _classify(raw: pa.StringArray) -> dict[str, pa.BooleanArray]:
    """Sort values by their syntax: a quote first, a suffix, a boolean spelling, or else a float."""
    is_string = pc.starts_with(raw, '"')
    is_boolean = pc.is_in(raw, value_set=_BOOLEAN_SPELLINGS)
    is_integer = pc.and_(pc.ends_with(raw, "i"), pc.invert(is_string))
    is_unsigned = pc.and_(pc.ends_with(raw, "u"), pc.invert(is_string))
    others = pc.or_(pc.or_(is_string, is_boolean), pc.or_(is_integer, is_unsigned))
    return {"string": is_string, "boolean": is_boolean, "integer": is_integer, "unsigned": is_unsigned,
            "float": pc.invert(others)}


def _convert_strings(raw: pa.StringArray) -> tuple[pa.Array, pa.BooleanArray]:
    # The split at commas and equals signs leaves no comma or equals sign
    # in a value. Without backslashes, which may be escapes, a quoted value
    # is then valid exactly when its only two quotes are its first and
    # last characters. A value cut by the split has a quote missing.
    valid = pc.and_(pc.ends_with(raw, '"'), pc.equal(pc.count_substring(raw, '"'), 2))
    valid = pc.and_(valid, pc.invert(pc.match_substring(raw, "\\")))
    return pc.utf8_slice_codeunits(raw, 1, -1), valid


def _convert_booleans(raw: pa.StringArray) -> tuple[pa.Array, pa.BooleanArray]:
    return pc.is_in(raw, value_set=_TRUE_SPELLINGS), pa.repeat(True, len(raw))


def _convert_floats(raw: pa.StringArray) -> tuple[pa.Array, pa.BooleanArray]:
    floats = _cast_or_none(raw, pa.float64())
    if floats is None:
        return _convert_one_by_one(raw, pa.float64())
    return floats, _valid_floats(raw, floats)


def _convert_integers(raw: pa.StringArray) -> tuple[pa.Array, pa.BooleanArray]:
    return _convert_suffixed(raw, pa.int64())


def _convert_unsigned(raw: pa.StringArray) -> tuple[pa.Array, pa.BooleanArray]:
    return _convert_suffixed(raw, pa.uint64())


def _convert_suffixed(raw: pa.StringArray, target: pa.DataType) -> tuple[pa.Array, pa.BooleanArray]:
    digits = pc.utf8_slice_codeunits(raw, 0, -1)
    # The cast also reads hexadecimal ("0x10"), which the line protocol does not.
    if not pc.all(pc.match_substring_regex(digits, _INTEGER_PATTERN)).as_py():
        return _convert_one_by_one(raw, target)
    values = _cast_or_none(digits, target)
    if values is None:
        return _convert_one_by_one(raw, target)
    return values, pa.repeat(True, len(raw))


def _convert_one_by_one(raw: pa.StringArray, target: pa.DataType) -> tuple[pa.Array, pa.BooleanArray]:
    values = [_bare_value(text) for text in raw.to_pylist()]
    converted = pa.array(values, target)
    return converted, pc.is_valid(converted)


def _bare_value(text: str) -> FieldValue | None:
    if _BARE_VALUE_ONLY.fullmatch(text) is None:
        return None
    return _number_or_boolean(text)


_CONVERTERS = {"string": _convert_strings, "boolean": _convert_booleans, "integer": _convert_integers,
               "unsigned": _convert_unsigned, "float": _convert_floats}


def _split_valid(kind: str, positions: pa.Int64Array, values: pa.Array, valid: pa.BooleanArray
                 ) -> tuple[list[ConvertedValues], pa.Int64Array]:
    """Return the valid values with their positions, and the positions of the invalid ones."""
    if pc.all(valid).as_py():
        return [ConvertedValues(kind, positions, values)], pa.array([], pa.int64())
    valid_values = ConvertedValues(kind, pc.filter(positions, valid), pc.filter(values, valid))
    return [valid_values], pc.filter(positions, pc.invert(valid))


def _concat_positions(parts: list[pa.Int64Array]) -> pa.Int64Array:
    if not parts:
        return pa.array([], pa.int64())
    return pa.concat_arrays([part.cast(pa.int64()) for part in parts])


def all_positions(length: int) -> pa.Int64Array:
    """Return the positions 0 to ``length - 1``."""
    return true_positions(pa.repeat(True, length))


def true_positions(mask: pa.BooleanArray) -> pa.Int64Array:
    """Return the positions where ``mask`` is true, in ascending order."""
    return pc.indices_nonzero(mask).cast(pa.int64())


def arrow_type(kind: str) -> pa.DataType:
    """Return the Arrow type of a column kind; string for a kind Arrow columns do not take."""
    return _KIND_TYPES.get(kind, pa.string())
