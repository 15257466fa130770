"""A minimal PostgreSQL protocol 3.0 client over a raw socket, for tests that send what libpq never would."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

PROTOCOL_3_0 = 196608
CANCEL_REQUEST = 80877102
#: Seconds a test waits for one reply before it fails; far above any reply time of a healthy server.
REPLY_TIMEOUT = 30.0


def frame(kind: bytes, payload: bytes = b"") -> bytes:
    """Frame a frontend message: type byte, Int32 length (itself included), payload."""
    return kind + struct.pack("!i", len(payload) + 4) + payload


def cstring(text: str) -> bytes:
    return text.encode() + b"\x00"


def startup_packet(user: str = "tester", database: str = "telemetry") -> bytes:
    """Return a StartupMessage for protocol 3.0 with the given user and database."""
    body = struct.pack("!i", PROTOCOL_3_0) + cstring("user") + cstring(user)
    body += cstring("database") + cstring(database) + b"\x00"
    return struct.pack("!i", len(body) + 4) + body


@dataclass(frozen=True)
class Message:
    """One backend message: its type byte and payload."""

    kind: bytes
    payload: bytes

    def fields(self) -> dict[str, str]:
        """Return the fields of an ErrorResponse or NoticeResponse by their one-letter codes."""
        result: dict[str, str] = {}
        for part in self.payload.rstrip(b"\x00").split(b"\x00"):
            if part:
                result[chr(part[0])] = part[1:].decode(errors="replace")
        return result


def connect(port: int) -> socket.socket:
    """Open a TCP connection to the gateway on 127.0.0.1 with REPLY_TIMEOUT on every read."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT)
    sock.settimeout(REPLY_TIMEOUT)
    return sock


def receive_exactly(sock: socket.socket, count: int) -> bytes | None:
    """Read ``count`` bytes; return None if the server closes the connection first."""
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_message(sock: socket.socket) -> Message | None:
    """Read one backend message; return None if the server closed the connection."""
    header = receive_exactly(sock, 5)
    if header is None:
        return None
    length = struct.unpack("!i", header[1:])[0]
    payload = receive_exactly(sock, length - 4)
    if payload is None:
        return None
    return Message(header[:1], payload)


def read_until(sock: socket.socket, kinds: bytes) -> list[Message]:
    """Read messages up to and including the first whose type is one of ``kinds``, or until the server closes."""
    messages: list[Message] = []
    while (message := read_message(sock)) is not None:
        messages.append(message)
        if message.kind in kinds:
            break
    return messages


def open_session(port: int) -> socket.socket:
    """Connect, send a startup packet and read up to the first ReadyForQuery; fail if it does not come."""
    sock = connect(port)
    sock.sendall(startup_packet())
    messages = read_until(sock, b"Z")
    assert messages, "the server closed the connection during startup"
    assert messages[-1].kind == b"Z", messages
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Read until the server closes the connection; return True, or False when it is still open after the timeout."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True
