"""Decoding Bind parameter values into Python values DuckDB can bind."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from gateway.errors import FeatureNotSupported, GatewayError, InvalidTextRepresentation
from gateway.sql.pg_arrays import parse_array_text

_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_PG_EPOCH_DATE = date(2000, 1, 1)

class InvalidBinaryRepresentation(GatewayError):
    """A binary parameter value does not match its type's format (SQLSTATE 22P03)."""

    sqlstate = "22P03"


class CharacterNotInRepertoire(GatewayError):
    """A text parameter is not valid UTF-8 or contains a NUL byte (SQLSTATE 22021), as PostgreSQL rejects it."""

    sqlstate = "22021"


_INTEGER_OIDS = {20, 21, 23, 26}
_FLOAT_OIDS = {700, 701}


def decode(value: bytes | None, type_oid: int, format_code: int) -> object:
    """Return the Python value of one parameter; text values of unknown type stay strings."""
    if value is None:
        return None
    if format_code == 1:
        return _decode_binary(value, type_oid)
    text = _text(value)
    if type_oid in _ARRAY_ELEMENTS:
        element_oid = _ARRAY_ELEMENTS[type_oid]
        return [None if item is None else decode(item.encode(), element_oid, 0) for item in parse_array_text(text)]
    try:
        if type_oid in _INTEGER_OIDS:
            return int(text)
        if type_oid in _FLOAT_OIDS:
            return float(text)
        if type_oid == 16:
            return text.strip().lower() in ("t", "true", "1", "yes", "on", "y")
        if type_oid == 1700:
            return Decimal(text)
    except (ValueError, ArithmeticError) as error:
        raise InvalidTextRepresentation(f'invalid input syntax for type oid {type_oid}: "{text}"') from error
    return text


def _decode_binary(value: bytes, type_oid: int) -> object:
    try:
        if type_oid == 16:
            return value != b"\x00"
        if type_oid == 21:
            return struct.unpack("!h", value)[0]
        if type_oid == 23:
            return struct.unpack("!i", value)[0]
        if type_oid == 26:
            return struct.unpack("!I", value)[0]
        if type_oid == 20:
            return struct.unpack("!q", value)[0]
        if type_oid == 700:
            return struct.unpack("!f", value)[0]
        if type_oid == 701:
            return struct.unpack("!d", value)[0]
        if type_oid in (25, 1043, 19, 114, 0, 705):
            return _text(value)
        if type_oid == 17:
            return value
        if type_oid in (1114, 1184):
            moment = _PG_EPOCH + timedelta(microseconds=struct.unpack("!q", value)[0])
            return moment if type_oid == 1184 else moment.replace(tzinfo=None)
        if type_oid == 1082:
            return _PG_EPOCH_DATE + timedelta(days=struct.unpack("!i", value)[0])
        if type_oid == 2950:
            return str(uuid.UUID(bytes=value))
        if type_oid == 1700:
            return _numeric(value)
        if type_oid == 1083:
            return str(timedelta(microseconds=struct.unpack("!q", value)[0]))
        if type_oid == 1186:
            micros, days, months = struct.unpack("!qii", value)
            return f"{months} months {days} days {micros} microseconds"
        if type_oid == 3802:
            return value[1:].decode()
        if type_oid in _ARRAY_ELEMENTS:
            return _array(value)
    except (struct.error, UnicodeDecodeError, ValueError, ArithmeticError) as error:
        raise InvalidBinaryRepresentation(f"incorrect binary data format for type oid {type_oid}") from error
    raise FeatureNotSupported(f"binary parameters of type oid {type_oid} are not supported",
                              hint="send this parameter in text format")


def _text(value: bytes) -> str:
    if b"\x00" in value:
        raise CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8": 0x00')
    try:
        return value.decode()
    except UnicodeDecodeError as error:
        raise CharacterNotInRepertoire('invalid byte sequence for encoding "UTF8"') from error


# Array type OIDs and their element types, for the arrays clients send in binary.
_ARRAY_ELEMENTS = {1000: 16, 1005: 21, 1007: 23, 1016: 20, 1009: 25, 1015: 1043, 1028: 26,
                   1021: 700, 1022: 701, 1182: 1082, 1115: 1114, 1185: 1184, 2951: 2950}


def _array(value: bytes) -> list[object]:
    """Decode a one-dimensional binary array into a list (empty for zero dimensions)."""
    dimensions, _, element_oid = struct.unpack("!iiI", value[:12])
    if dimensions == 0:
        return []
    if dimensions != 1:
        raise FeatureNotSupported("multidimensional array parameters are not supported")
    count = struct.unpack("!i", value[12:16])[0]
    position = 20
    items: list[object] = []
    for _ in range(count):
        length = struct.unpack("!i", value[position:position + 4])[0]
        position += 4
        if length < 0:
            items.append(None)
            continue
        items.append(_decode_binary(value[position:position + length], element_oid))
        position += length
    return items


def _numeric(value: bytes) -> Decimal:
    """Decode PostgreSQL's binary numeric: base-10000 digits with weight, sign and scale."""
    count, weight, sign, scale = struct.unpack("!hhHH", value[:8])
    if sign == 0xC000:
        return Decimal("NaN")
    digits = struct.unpack(f"!{count}H", value[8:8 + 2 * count])
    result = Decimal(0)
    for position, digit in enumerate(digits):
        result += Decimal(digit).scaleb(4 * (weight - position))
    result = -result if sign == 0x4000 else result
    return result.quantize(Decimal(1).scaleb(-scale)) if scale else result.quantize(Decimal(1))
