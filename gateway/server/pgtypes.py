"""PostgreSQL types of Arrow columns: OIDs, sizes, and text and binary encodings.

Text output follows PostgreSQL 15's spellings: ``t``/``f``, ISO dates,
timestamps without trailing zero fractions and with a ``+00`` offset,
shortest round-trip floats with ``Infinity``/``NaN``, and intervals in the
``postgres`` IntervalStyle.
"""

from __future__ import annotations

import json
import math
import struct
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gateway.errors import FeatureNotSupported

Encoder = Callable[[pa.Array], list[bytes | None]]


@dataclass(frozen=True)
class PgType:
    """A PostgreSQL type as RowDescription reports it."""

    oid: int
    size: int
    name: str


BOOL = PgType(16, 1, "bool")
BYTEA = PgType(17, -1, "bytea")
INT8 = PgType(20, 8, "int8")
INT2 = PgType(21, 2, "int2")
INT4 = PgType(23, 4, "int4")
TEXT = PgType(25, -1, "text")
OID = PgType(26, 4, "oid")
JSON = PgType(114, -1, "json")
FLOAT4 = PgType(700, 4, "float4")
FLOAT8 = PgType(701, 8, "float8")
VARCHAR = PgType(1043, -1, "varchar")
DATE = PgType(1082, 4, "date")
TIME = PgType(1083, 8, "time")
TIMESTAMP = PgType(1114, 8, "timestamp")
TIMESTAMPTZ = PgType(1184, 8, "timestamptz")
INTERVAL = PgType(1186, 16, "interval")
NUMERIC = PgType(1700, -1, "numeric")
UUID = PgType(2950, 16, "uuid")

ARRAY_OIDS = {16: 1000, 17: 1001, 20: 1016, 21: 1005, 23: 1007, 25: 1009, 26: 1028, 114: 199, 700: 1021,
              701: 1022, 1043: 1015, 1082: 1182, 1083: 1183, 1114: 1115, 1184: 1185, 1186: 1187,
              1700: 1231, 2950: 2951}


def pg_type(arrow_type: pa.DataType) -> PgType:
    """Return the PostgreSQL type a column of ``arrow_type`` is sent as."""
    if pa.types.is_boolean(arrow_type):
        return BOOL
    if pa.types.is_int8(arrow_type) or pa.types.is_int16(arrow_type) or pa.types.is_uint8(arrow_type):
        return INT2
    if pa.types.is_int32(arrow_type) or pa.types.is_uint16(arrow_type):
        return INT4
    if pa.types.is_uint32(arrow_type):
        return OID  # the catalog's oid columns; no stored measurement has uint32 columns
    if pa.types.is_int64(arrow_type):
        return INT8
    if pa.types.is_uint64(arrow_type) or pa.types.is_decimal(arrow_type):
        return NUMERIC
    if pa.types.is_float16(arrow_type) or pa.types.is_float32(arrow_type):
        return FLOAT4
    if pa.types.is_float64(arrow_type):
        return FLOAT8
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return TEXT
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return BYTEA
    if pa.types.is_fixed_size_binary(arrow_type):
        return UUID if arrow_type.byte_width == 16 else BYTEA
    if pa.types.is_date(arrow_type):
        return DATE
    if pa.types.is_time(arrow_type):
        return TIME
    if pa.types.is_timestamp(arrow_type):
        return TIMESTAMPTZ if arrow_type.tz else TIMESTAMP
    if pa.types.is_interval(arrow_type) or pa.types.is_duration(arrow_type):
        return INTERVAL
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type) or pa.types.is_fixed_size_list(arrow_type):
        element = pg_type(arrow_type.value_type)
        return PgType(ARRAY_OIDS.get(element.oid, 1009), -1, element.name + "[]")
    if pa.types.is_null(arrow_type):
        return TEXT
    if isinstance(arrow_type, pa.ExtensionType):
        return pg_type(arrow_type.storage_type)
    return JSON if pa.types.is_struct(arrow_type) or pa.types.is_map(arrow_type) else TEXT


_DUCKDB_NAMES: dict[str, PgType] = {
    "BOOLEAN": BOOL, "BOOL": BOOL, "TINYINT": INT2, "SMALLINT": INT2, "INT2": INT2, "UTINYINT": INT2,
    "INTEGER": INT4, "INT": INT4, "INT4": INT4, "USMALLINT": INT4, "BIGINT": INT8, "INT8": INT8,
    "UINTEGER": OID, "OID": OID, "UBIGINT": NUMERIC, "HUGEINT": NUMERIC, "UHUGEINT": NUMERIC, "DECIMAL": NUMERIC,
    "NUMERIC": NUMERIC, "FLOAT": FLOAT4, "REAL": FLOAT4, "FLOAT4": FLOAT4, "DOUBLE": FLOAT8,
    "FLOAT8": FLOAT8, "DOUBLE PRECISION": FLOAT8, "VARCHAR": TEXT, "TEXT": TEXT, "STRING": TEXT,
    "CHAR": TEXT, "BLOB": BYTEA, "BYTEA": BYTEA, "DATE": DATE, "TIME": TIME, "TIMESTAMP": TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": TIMESTAMPTZ, "TIMESTAMPTZ": TIMESTAMPTZ, "INTERVAL": INTERVAL,
    "UUID": UUID, "JSON": JSON,
}


# The DuckDB type a parameter declared with each PostgreSQL type OID is cast to.
_OID_TO_DUCKDB = {16: "BOOLEAN", 17: "BLOB", 20: "BIGINT", 21: "SMALLINT", 23: "INTEGER", 25: "VARCHAR",
                  26: "UINTEGER", 114: "JSON", 700: "FLOAT", 701: "DOUBLE", 1043: "VARCHAR", 1082: "DATE",
                  1083: "TIME", 1114: "TIMESTAMP", 1184: "TIMESTAMPTZ", 1186: "INTERVAL", 1700: "DOUBLE",
                  2950: "UUID", 3802: "JSON", 19: "VARCHAR", 18: "VARCHAR", 1042: "VARCHAR"}


def duckdb_type_of_oid(oid: int) -> str | None:
    """Return the DuckDB type for a parameter of PostgreSQL type ``oid``; None for 0 or unknown OIDs."""
    if oid in _OID_TO_DUCKDB:
        return _OID_TO_DUCKDB[oid]
    for element, array in ARRAY_OIDS.items():
        if array == oid and element in _OID_TO_DUCKDB:
            return _OID_TO_DUCKDB[element] + "[]"
    return None


def pg_type_of_duckdb(name: str | None) -> PgType | None:
    """Return the PostgreSQL type of a DuckDB type name such as ``DECIMAL(18,3)`` or ``BIGINT[]``."""
    if not name:
        return None
    upper = name.strip().upper()
    if upper.endswith("[]"):
        element = pg_type_of_duckdb(upper[:-2])
        if element is None:
            return None
        return PgType(ARRAY_OIDS.get(element.oid, 1009), -1, element.name + "[]")
    base = upper.split("(", 1)[0].strip()
    if base == "VARCHAR" and "(" in upper:
        return VARCHAR
    return _DUCKDB_NAMES.get(base)


# Text format

def format_float8(value: float) -> str:
    """Format a double as PostgreSQL 15 does with extra_float_digits=1 (shortest round trip)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return _shortest(repr(value))


def format_float4(value: float) -> str:
    """Format a float4 as its shortest round-trip spelling."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return _shortest(np.format_float_scientific(np.float32(value), unique=True, trim="-"))


def _shortest(spelling: str) -> str:
    """Lay out shortest digits as PostgreSQL does: fixed for exponents -4..14, else d.ddde+XX."""
    digits_text, _, exponent_text = spelling.lower().partition("e")
    negative = digits_text.startswith("-")
    digits_text = digits_text.lstrip("-")
    whole, _, fraction = digits_text.partition(".")
    digits = (whole + fraction).lstrip("0") or "0"
    exponent = int(exponent_text or 0) + len(whole.lstrip("0") or "") - 1 if whole.strip("0") else None
    if exponent is None:  # value below 1: position from the leading zeros of the fraction
        leading = len(fraction) - len(fraction.lstrip("0"))
        exponent = int(exponent_text or 0) - leading - 1
    digits = digits.rstrip("0") or "0"
    sign = "-" if negative else ""
    if digits == "0":
        return sign + "0"
    if -4 <= exponent < 15:
        if exponent >= 0:
            integer = digits[: exponent + 1].ljust(exponent + 1, "0")
            rest = digits[exponent + 1:]
            return sign + integer + ("." + rest if rest else "")
        return sign + "0." + "0" * (-exponent - 1) + digits
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _fraction(microseconds: int) -> str:
    return f".{microseconds:06d}".rstrip("0") if microseconds else ""


def format_timestamp(value: datetime) -> str:
    text = f"{value.year:04d}-{value.month:02d}-{value.day:02d} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"
    return text + _fraction(value.microsecond)


def format_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}" + _fraction(value.microsecond)


def format_interval(months: int, days: int, microseconds: int) -> str:
    """Format an interval in IntervalStyle postgres, e.g. ``1 year 2 mons 3 days 04:05:06.5``."""
    parts = []
    sign = "-" if months < 0 else ""
    years, months_left = divmod(abs(months), 12)
    if years:
        parts.append(f"{sign}{years} year{'' if years == 1 and not sign else 's'}")
    if months_left:
        parts.append(f"{sign}{months_left} mon{'' if months_left == 1 and not sign else 's'}")
    if days:
        parts.append(f"{days} day{'' if days == 1 else 's'}")
    if microseconds or not parts:
        clock_sign = "-" if microseconds < 0 else ""
        seconds, micros = divmod(abs(microseconds), 1_000_000)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        parts.append(f"{clock_sign}{hours:02d}:{minutes:02d}:{seconds:02d}" + _fraction(micros))
    return " ".join(parts)


def _text_value(value: object, oid: int) -> str:
    """Format one Python value (from Arrow) in PostgreSQL text format."""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return format_float4(value) if oid == FLOAT4.oid else format_float8(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return format_timestamp(value.astimezone(UTC)) + "+00"
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return format_time(value)
    if isinstance(value, timedelta):
        return format_interval(0, value.days, value.seconds * 1_000_000 + value.microseconds)
    if isinstance(value, pa.MonthDayNano) or type(value).__name__ == "MonthDayNano":
        months, days, nanos = value  # type: ignore[misc]
        return format_interval(months, days, nanos // 1000)
    if isinstance(value, bytes):
        return "\\x" + value.hex()
    if isinstance(value, list):
        return _array_text(value, oid)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _array_text(values: list[object], oid: int) -> str:
    items = []
    for item in values:
        if item is None:
            items.append("NULL")
            continue
        text = _text_value(item, oid)
        if text == "" or any(ch in text for ch in ' ,{}"\\') or text.upper() == "NULL":
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        items.append(text)
    return "{" + ",".join(items) + "}"


def encode_text(array: pa.Array, kind: PgType, time_zone: str = "UTC") -> list[bytes | None]:
    """Encode one column in text format; None stands for SQL NULL.

    timestamptz values are shown in ``time_zone`` (the session's TimeZone)
    with their offset, as PostgreSQL shows them.
    """
    if kind.oid in (TEXT.oid, VARCHAR.oid) and pa.types.is_string(array.type):
        return [None if value is None else value.encode() for value in array.to_pylist()]
    if kind.oid in (INT2.oid, INT4.oid, INT8.oid, OID.oid):
        return [None if value is None else value.encode() for value in pc.cast(array, pa.string()).to_pylist()]
    if kind.oid == UUID.oid and pa.types.is_fixed_size_binary(array.type):
        return [None if value is None else _uuid_text(value).encode() for value in array.to_pylist()]
    if kind.oid == TIMESTAMPTZ.oid:
        if is_utc(time_zone):
            return _timestamp_text(array, "+00")
        return _zoned_timestamp_text(array, time_zone)
    if kind.oid == TIMESTAMP.oid:
        return _timestamp_text(array, "")
    return [None if value is None else _text_value(value, kind.oid).encode() for value in array.to_pylist()]


def _timestamp_text(array: pa.Array, suffix: str) -> list[bytes | None]:
    micros = pc.cast(pc.cast(array, pa.timestamp("us", tz=array.type.tz)), pa.int64()).to_pylist()
    result: list[bytes | None] = []
    for value in micros:
        if value is None:
            result.append(None)
            continue
        moment = _EPOCH + timedelta(microseconds=value)
        result.append((format_timestamp(moment) + suffix).encode())
    return result


_UTC_NAMES = {"utc", "etc/utc", "gmt", "etc/gmt", "z", "zulu", "+00", "+00:00", "0", "default", "'utc'"}


def is_utc(time_zone: str) -> bool:
    """Tell whether a TimeZone setting names UTC."""
    return time_zone.strip().strip("'").lower() in _UTC_NAMES


def _zoned_timestamp_text(array: pa.Array, time_zone: str) -> list[bytes | None]:
    """Show aware timestamps as wall-clock time in ``time_zone`` plus PostgreSQL's offset (+01, -03:30)."""
    utc = pc.cast(array, pa.timestamp("us", tz="UTC"))
    try:
        local = pc.local_timestamp(pc.cast(utc, pa.timestamp("us", tz=time_zone.strip().strip("'"))))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _timestamp_text(array, "+00")
    local_micros = pc.cast(pc.cast(local, pa.timestamp("us")), pa.int64()).to_pylist()
    utc_micros = pc.cast(utc, pa.int64()).to_pylist()
    result: list[bytes | None] = []
    for wall, absolute in zip(local_micros, utc_micros, strict=True):
        if wall is None or absolute is None:
            result.append(None)
            continue
        moment = _EPOCH + timedelta(microseconds=wall)
        result.append((format_timestamp(moment) + _offset((wall - absolute) // 1_000_000)).encode())
    return result


def _offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{sign}{hours:02d}"
    if minutes or seconds:
        text += f":{minutes:02d}"
    if seconds:
        text += f":{seconds:02d}"
    return text


_EPOCH = datetime(1970, 1, 1)
_PG_EPOCH_MICROS = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970
_PG_EPOCH_DAYS = 10_957


def _uuid_bytes(value: object) -> bytes:
    return uuid.UUID(value).bytes if isinstance(value, str) else bytes(value)  # type: ignore[arg-type]


def _uuid_text(raw: bytes) -> str:
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# Binary format

def encode_binary(array: pa.Array, kind: PgType) -> list[bytes | None]:
    """Encode one column in binary format; raise FeatureNotSupported for types without one."""
    oid = kind.oid
    if oid in _BINARY_STRUCT:
        fmt = _BINARY_STRUCT[oid]
        return [None if value is None else struct.pack(fmt, value) for value in array.to_pylist()]
    if oid in (TEXT.oid, VARCHAR.oid, JSON.oid):
        return [None if value is None else _text_value(value, oid).encode() if not isinstance(value, str)
                else value.encode() for value in array.to_pylist()]
    if oid == BYTEA.oid:
        return [None if value is None else bytes(value) for value in array.to_pylist()]
    if oid == UUID.oid:
        return [None if value is None else _uuid_bytes(value) for value in array.to_pylist()]
    if oid in (TIMESTAMP.oid, TIMESTAMPTZ.oid):
        micros = pc.cast(pc.cast(array, pa.timestamp("us", tz=array.type.tz)), pa.int64()).to_pylist()
        return [None if value is None else struct.pack("!q", value - _PG_EPOCH_MICROS) for value in micros]
    if oid == DATE.oid:
        days = pc.cast(pc.cast(array, pa.date32()), pa.int32()).to_pylist()
        return [None if value is None else struct.pack("!i", value - _PG_EPOCH_DAYS) for value in days]
    if oid == TIME.oid:
        return [None if value is None else struct.pack("!q", _time_micros(value)) for value in array.to_pylist()]
    if oid == NUMERIC.oid:
        return [None if value is None else numeric_binary(Decimal(value)) for value in array.to_pylist()]
    if oid == INTERVAL.oid:
        return [None if value is None else _interval_binary(value) for value in array.to_pylist()]
    if kind.name.endswith("[]") and hasattr(array.type, "value_type"):
        return _array_binary(array)
    raise FeatureNotSupported(f"binary format for type {kind.name} is not supported",
                              hint="request text format for this column")


_BINARY_STRUCT = {BOOL.oid: "!?", INT2.oid: "!h", INT4.oid: "!i", INT8.oid: "!q", OID.oid: "!I",
                  FLOAT4.oid: "!f", FLOAT8.oid: "!d"}


def _array_binary(array: pa.Array) -> list[bytes | None]:
    """Encode one-dimensional arrays: ndim, has-null flag, element OID, size and lower bound, elements."""
    value_type = array.type.value_type
    element = pg_type(value_type)
    result: list[bytes | None] = []
    for items in array.to_pylist():
        if items is None:
            result.append(None)
            continue
        encoded = encode_binary(pa.array(items, value_type), element) if items else []
        has_null = any(item is None for item in encoded)
        header = struct.pack("!iiI", 1 if items else 0, int(has_null), element.oid)
        if items:
            header += struct.pack("!ii", len(items), 1)
        body = b"".join(b"\xff\xff\xff\xff" if item is None else struct.pack("!i", len(item)) + item
                        for item in encoded)
        result.append(header + body)
    return result


def _time_micros(value: time) -> int:
    return ((value.hour * 60 + value.minute) * 60 + value.second) * 1_000_000 + value.microsecond


def _interval_binary(value: object) -> bytes:
    if isinstance(value, timedelta):
        return struct.pack("!qii", value.seconds * 1_000_000 + value.microseconds, value.days, 0)
    months, days, nanos = value  # type: ignore[misc]
    return struct.pack("!qii", nanos // 1000, days, months)


def numeric_binary(value: Decimal) -> bytes:
    """Encode a Decimal in PostgreSQL's binary numeric format (base-10000 digits)."""
    if value.is_nan():
        return struct.pack("!hhhH", 0, 0, 0xC000, 0)
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    scale = max(-exponent, 0)
    text = "".join(map(str, digits))
    if exponent > 0:
        text += "0" * exponent
        exponent = 0
    text = text.rjust(-exponent, "0")
    integer = text[: len(text) + exponent] if exponent < 0 else text
    fraction = text[len(text) + exponent:] if exponent < 0 else ""
    integer = integer.lstrip("0")
    integer = integer.rjust((len(integer) + 3) // 4 * 4, "0")
    fraction = fraction.ljust((len(fraction) + 3) // 4 * 4, "0")
    groups = [int(integer[i:i + 4]) for i in range(0, len(integer), 4)]
    weight = len(groups) - 1
    groups += [int(fraction[i:i + 4]) for i in range(0, len(fraction), 4)]
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    if not groups:
        weight = 0
    header = struct.pack("!hhHH", len(groups), weight, 0x4000 if sign else 0, scale)
    return header + b"".join(struct.pack("!H", group) for group in groups)
