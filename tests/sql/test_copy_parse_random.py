"""Random COPY data, valid and broken: copy_table returns what the Python parser returns, or raises the same error."""

from __future__ import annotations

import math
import random

import pyarrow as pa
import pytest

from gateway.sql.commands.copy_in import CopyIn, copy_table
from gateway.sql.commands.copy_in_arrow import read_text_columns
from gateway.sql.commands.copy_in_rows import parse_rows, typed_table
from gateway.sql.commands.copy_out import CopyOptions

CASES = 3000

# Values by the type they usually make, the first three plain, the rest edge cases of one parser or the other.
VALUES = {
    "int": ["12", "-3", "007", "9223372036854775807", "0x1F", "+5", " 7", "1_000", "99999999999999999999"],
    "float": ["1.5", "-0.25", "1e3", "nan", "inf", "3", "1_0.5", " 2.5", ".5"],
    "bool": ["t", "FALSE", "on", " yes", "Off", "1", "0", "NO"],
    "time": ["2024-01-01T00:00:00+00", "2024-01-01 00:00:00", "2024-01-01T00:00:00Z", "2024-03-05T07:30:00.5+02:00",
             "0000-01-01", "2024-01-01 00:00:00.1234567", " 2024-01-01", "2024-02-30", "0001-01-01T00:00:00+01:00"],
    "text": ["a", "b,c", "x\ny", 'q"q', "\\N", "NULL", "", "\\.", "back\\slash", "tab\there", "ü", "cr\rhere",
             "crlf\r\nin", '"', "x\n\ny"],
}


def _value(chooser: random.Random, kind: str) -> str | None:
    if chooser.random() < 0.1:
        return None
    if chooser.random() < 0.05:
        kind = chooser.choice(list(VALUES))
    choices = VALUES[kind]
    return chooser.choice(choices[:3] if chooser.random() < 0.7 else choices)


def _csv_field(chooser: random.Random, value: str | None, options: CopyOptions) -> str:
    if value is None:
        return options.null
    special = any(character in value for character in (options.delimiter, options.quote, "\n", "\r"))
    if special or value in (options.null, "\\.") or chooser.random() < 0.2:
        return options.quote + value.replace(options.quote, options.quote * 2) + options.quote
    return value


def _text_field(chooser: random.Random, value: str | None, options: CopyOptions) -> str:
    if value is None:
        return options.null
    if chooser.random() < 0.8 and not any(character in value for character in ("\\", options.delimiter, "\n", "\r")):
        return value
    escaped_delimiter = "\\t" if options.delimiter == "\t" else "\\" + options.delimiter
    return (value.replace("\\", "\\\\").replace(options.delimiter, escaped_delimiter)
            .replace("\n", "\\n").replace("\r", "\\r"))


def _options(chooser: random.Random) -> CopyOptions:
    if chooser.random() < 0.6:
        return CopyOptions(csv=True, header=chooser.random() < 0.2, delimiter=chooser.choice([",", ";", "|", "\t"]),
                           null=chooser.choice(["", "", "NULL", "\\N"]), quote=chooser.choice(['"', '"', "'"]))
    return CopyOptions(header=chooser.random() < 0.2, delimiter=chooser.choice(["\t", "\t", ",", "|"]),
                       null=chooser.choice(["\\N", "\\N", "", "NULL"]))


def _broken(chooser: random.Random, text: str, line_end: str, options: CopyOptions) -> str:
    """Return the text, sometimes with an end marker, an empty line, a byte order mark or a stray character."""
    roll = chooser.random()
    if roll < 0.05:
        return text + "\\.\n"
    if roll < 0.07:
        return text + "\\."
    if roll < 0.09:
        return text.replace(line_end, line_end + "\\." + line_end, 1)
    if roll < 0.11:
        return text.replace(line_end, line_end * 2, 1)
    if roll < 0.13:
        return "\ufeff" + text
    if roll < 0.18 and text:
        position = chooser.randrange(len(text))
        return text[:position] + chooser.choice([options.quote, "\r", "\\", "\n"]) + text[position:]
    return text


def _case(chooser: random.Random) -> tuple[bytes, list[str], CopyOptions, dict[str, str]]:
    kinds = [chooser.choice(list(VALUES)) for _ in range(chooser.randint(1, 4))]
    names = [f"c{index}" for index in range(len(kinds))]
    if "time" in kinds:
        names[kinds.index("time")] = "time"
    options = _options(chooser)
    field = _csv_field if options.csv else _text_field
    lines = [options.delimiter.join(names)] if options.header else []
    for _ in range(chooser.randint(0, 6)):
        fields = [field(chooser, _value(chooser, kind), options) for kind in kinds]
        roll = chooser.random()
        if roll < 0.03:
            fields.append("extra")
        elif roll < 0.06 and len(fields) > 1:
            fields.pop()
        lines.append(options.delimiter.join(fields))
    line_end = "\r\n" if chooser.random() < 0.15 else "\n"
    text = line_end.join(lines) + (line_end if lines and chooser.random() < 0.9 else "")
    data = _broken(chooser, text, line_end, options).encode()
    if data and chooser.random() < 0.02:
        position = chooser.randrange(len(data))
        data = data[:position] + b"\xff" + data[position:]
    existing = {name: chooser.choice(["BIGINT", "DOUBLE", "BOOLEAN", "VARCHAR", "UBIGINT", "INTEGER"])
                for name in names if chooser.random() < 0.15}
    return data, names, options, existing


def _values(table: pa.Table) -> list[list[object]]:
    """Return the columns as lists, so that equal tables compare equal.

    NaN becomes a string, and a time its microseconds, since a time of year 0
    has no Python datetime.
    """
    columns = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        columns.append(["NaN" if isinstance(value, float) and math.isnan(value) else value
                        for value in column.to_pylist()])
    return columns


def _outcome(data: bytes, names: list[str], options: CopyOptions, existing: dict[str, str],
             *, python: bool) -> tuple[object, ...]:
    target = CopyIn("db", "m", names, options)
    try:
        if python:
            table = typed_table(parse_rows(data, target, names), names, existing, "m")
        else:
            table = copy_table(data, target, names, existing)
    except Exception as error:  # noqa: BLE001 - every error counts, since both parsers must raise the same one
        return type(error), str(error), getattr(error, "detail", None)
    return table.schema, _values(table)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_data_same_as_python(seed: int) -> None:
    chooser = random.Random(seed)
    read_by_arrow = 0
    for _ in range(CASES):
        data, names, options, existing = _case(chooser)
        read_by_arrow += read_text_columns(data, options, names) is not None
        expected = _outcome(data, names, options, existing, python=True)
        assert _outcome(data, names, options, existing, python=False) == expected, (data, names, options, existing)
    assert read_by_arrow > CASES // 3
