"""Authentication messages of protocol 3.0 as pure functions over bytes.

Backend messages are Authentication ('R') with a subtype code. The frontend
replies to each with a 'p' message whose payload depends on the method: a
SASLInitialResponse, a SASLResponse or a PasswordMessage.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.server.messages import Reader, cstring, message

AUTH_MD5_PASSWORD = 5
AUTH_SASL = 10
AUTH_SASL_CONTINUE = 11
AUTH_SASL_FINAL = 12
MD5_SALT_BYTES = 4


# Backend messages

def authentication_md5_password(salt: bytes) -> bytes:
    if len(salt) != MD5_SALT_BYTES:
        raise ValueError(f"an md5 salt is {MD5_SALT_BYTES} bytes, not {len(salt)}")
    return message(b"R", struct.pack("!i", AUTH_MD5_PASSWORD) + salt)


def authentication_sasl(mechanisms: Sequence[str]) -> bytes:
    """Encode AuthenticationSASL: the mechanism names, then an empty name that ends the list."""
    names = b"".join(cstring(name) for name in mechanisms)
    return message(b"R", struct.pack("!i", AUTH_SASL) + names + b"\x00")


def authentication_sasl_continue(data: str) -> bytes:
    return message(b"R", struct.pack("!i", AUTH_SASL_CONTINUE) + data.encode("ascii"))


def authentication_sasl_final(data: str) -> bytes:
    return message(b"R", struct.pack("!i", AUTH_SASL_FINAL) + data.encode("ascii"))


# Frontend messages (payloads of 'p')

@dataclass(frozen=True)
class SaslInitialResponse:
    mechanism: str
    data: bytes


def parse_sasl_initial_response(payload: bytes) -> SaslInitialResponse:
    """Decode the mechanism name and the initial data; a length of -1 means no data."""
    reader = Reader(payload)
    mechanism = reader.cstring()
    length = reader.int32()
    data = b"" if length == -1 else reader.bytes(length)
    return SaslInitialResponse(mechanism, data)


def parse_password(payload: bytes) -> str:
    """Decode a PasswordMessage: one null-terminated string."""
    return Reader(payload).cstring()
