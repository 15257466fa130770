"""PostgreSQL protocol 3.0 messages as pure functions over bytes.

Encoders return complete backend messages (type byte, length, payload);
decoders take the payload of one frontend message. Nothing here touches a
socket, so every function is testable on its own.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.errors import GatewayError, InvalidParameterValue, ProtocolViolation

PROTOCOL_3_0 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def message(kind: bytes, payload: bytes = b"") -> bytes:
    """Frame a backend message: type byte, Int32 length (itself included), payload."""
    return kind + struct.pack("!i", len(payload) + 4) + payload


def cstring(text: str) -> bytes:
    return text.encode() + b"\x00"


# Backend messages

def authentication_ok() -> bytes:
    return message(b"R", struct.pack("!i", 0))


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstring(name) + cstring(value))


def backend_key_data(process_id: int, secret_key: int) -> bytes:
    return message(b"K", struct.pack("!ii", process_id, secret_key))


def ready_for_query(status: bytes) -> bytes:
    return message(b"Z", status)


@dataclass(frozen=True)
class Field:
    """One column of a RowDescription."""

    name: str
    type_oid: int
    type_size: int
    format_code: int = 0
    table_oid: int = 0
    column_number: int = 0
    type_modifier: int = -1


def row_description(fields: Sequence[Field]) -> bytes:
    parts = [struct.pack("!h", len(fields))]
    for field in fields:
        parts.append(cstring(field.name))
        parts.append(struct.pack("!ihihih", field.table_oid, field.column_number, field.type_oid,
                                 field.type_size, field.type_modifier, field.format_code))
    return message(b"T", b"".join(parts))


def data_row(values: Sequence[bytes | None]) -> bytes:
    parts = [struct.pack("!h", len(values))]
    for value in values:
        if value is None:
            parts.append(b"\xff\xff\xff\xff")
        else:
            parts.append(struct.pack("!i", len(value)))
            parts.append(value)
    return message(b"D", b"".join(parts))


def command_complete(tag: str) -> bytes:
    return message(b"C", cstring(tag))


def empty_query_response() -> bytes:
    return message(b"I")


def parse_complete() -> bytes:
    return message(b"1")


def bind_complete() -> bytes:
    return message(b"2")


def close_complete() -> bytes:
    return message(b"3")


def no_data() -> bytes:
    return message(b"n")


def portal_suspended() -> bytes:
    return message(b"s")


def copy_out_response(column_count: int) -> bytes:
    """Announce COPY TO STDOUT in text format with ``column_count`` columns."""
    return message(b"H", struct.pack(f"!bh{column_count}h", 0, column_count, *([0] * column_count)))


def copy_in_response(column_count: int) -> bytes:
    """Ask the client for COPY data in text format for ``column_count`` columns."""
    return message(b"G", struct.pack(f"!bh{column_count}h", 0, column_count, *([0] * column_count)))


def copy_data(data: bytes) -> bytes:
    return message(b"d", data)


def copy_done() -> bytes:
    return message(b"c")


def parameter_description(oids: Sequence[int]) -> bytes:
    return message(b"t", struct.pack(f"!h{len(oids)}i", len(oids), *oids))


def error_response(error: GatewayError, severity: str | None = None) -> bytes:
    """Encode an ErrorResponse with severity (S and V), SQLSTATE, message, detail and hint."""
    return message(b"E", _notice_fields(severity or error.severity, error.sqlstate,
                                        error.message, error.detail, error.hint))


def notice_response(text: str, severity: str = "NOTICE", sqlstate: str = "00000") -> bytes:
    return message(b"N", _notice_fields(severity, sqlstate, text, None, None))


def _notice_fields(severity: str, sqlstate: str, text: str, detail: str | None, hint: str | None) -> bytes:
    fields = [b"S" + cstring(severity), b"V" + cstring(severity), b"C" + cstring(sqlstate),
              b"M" + cstring(text)]
    if detail:
        fields.append(b"D" + cstring(detail))
    if hint:
        fields.append(b"H" + cstring(hint))
    return b"".join(fields) + b"\x00"


# Frontend messages

class Reader:
    """Reads fields from one message payload, raising ProtocolViolation when it is short."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload
        self.position = 0

    def int16(self) -> int:
        return int(self._unpack("!h", 2))

    def int32(self) -> int:
        return int(self._unpack("!i", 4))

    def count(self) -> int:
        """Read an Int16 count of the fields that follow; a negative count is a protocol violation."""
        value = self.int16()
        if value < 0:
            raise ProtocolViolation(f"invalid message format: negative field count {value}")
        return value

    def end(self) -> None:
        """Check that the whole payload was read, as PostgreSQL does after each message."""
        if self.position != len(self.payload):
            raise ProtocolViolation("invalid message format: unexpected data after the last field")

    def bytes(self, count: int) -> bytes:
        if count < 0 or self.position + count > len(self.payload):
            raise ProtocolViolation("invalid message format: field runs past the end of the message")
        value = self.payload[self.position:self.position + count]
        self.position += count
        return value

    def cstring(self) -> str:
        end = self.payload.find(b"\x00", self.position)
        if end < 0:
            raise ProtocolViolation("invalid message format: unterminated string")
        value = self.payload[self.position:end]
        self.position = end + 1
        try:
            return value.decode()
        except UnicodeDecodeError as error:
            raise _invalid_encoding() from error

    def _unpack(self, fmt: str, size: int) -> object:
        return struct.unpack(fmt, self.bytes(size))[0]


def _invalid_encoding() -> GatewayError:
    error = GatewayError("invalid byte sequence for encoding \"UTF8\"")
    error.sqlstate = "22021"
    return error


def parse_query(payload: bytes) -> str:
    """Return the SQL text of a Query message: exactly one string, so it contains no NUL byte."""
    reader = Reader(payload)
    text = reader.cstring()
    reader.end()
    return text


def parse_startup(payload: bytes) -> dict[str, str]:
    """Return the parameters of a StartupMessage payload (after the protocol version)."""
    reader = Reader(payload)
    params: dict[str, str] = {}
    while reader.position < len(payload):
        name = reader.cstring()
        if not name:
            break
        params[name] = reader.cstring()
    return params


@dataclass(frozen=True)
class ParseMessage:
    statement: str
    query: str
    parameter_oids: list[int]


def parse_parse(payload: bytes) -> ParseMessage:
    reader = Reader(payload)
    statement = reader.cstring()
    query = reader.cstring()
    oids = [reader.int32() for _ in range(reader.count())]
    reader.end()
    return ParseMessage(statement, query, oids)


@dataclass(frozen=True)
class BindMessage:
    portal: str
    statement: str
    parameter_formats: list[int]
    values: list[bytes | None]
    result_formats: list[int]


def parse_bind(payload: bytes) -> BindMessage:
    reader = Reader(payload)
    portal = reader.cstring()
    statement = reader.cstring()
    formats = _format_codes(reader)
    values: list[bytes | None] = []
    for _ in range(reader.count()):
        length = reader.int32()
        values.append(None if length == -1 else reader.bytes(length))
    result_formats = _format_codes(reader)
    reader.end()
    return BindMessage(portal, statement, formats, values, result_formats)


def _format_codes(reader: Reader) -> list[int]:
    """Read a list of format codes; only 0 (text) and 1 (binary) exist."""
    codes = [reader.int16() for _ in range(reader.count())]
    for code in codes:
        if code not in (0, 1):
            raise InvalidParameterValue(f"unsupported format code: {code}")
    return codes


def parse_target(payload: bytes) -> tuple[str, str]:
    """Decode Describe and Close: ('S' or 'P', name)."""
    reader = Reader(payload)
    kind = reader.bytes(1).decode("ascii", errors="replace")
    if kind not in ("S", "P"):
        raise ProtocolViolation(f"invalid target type {kind!r}: expected 'S' or 'P'")
    name = reader.cstring()
    reader.end()
    return kind, name


def parse_execute(payload: bytes) -> tuple[str, int]:
    reader = Reader(payload)
    portal, max_rows = reader.cstring(), reader.int32()
    reader.end()
    return portal, max_rows


def formats_for(codes: list[int], count: int) -> list[int]:
    """Expand a format-code list as Bind defines it: none means text, one applies to all."""
    if not codes:
        return [0] * count
    if len(codes) == 1:
        return codes * count
    if len(codes) != count:
        raise ProtocolViolation(f"bind message has {len(codes)} format codes for {count} values")
    return codes
