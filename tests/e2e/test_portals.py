"""Portals of the extended protocol, sent as raw messages: suspended results stay whole across other statements."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

import pytest

from tests.e2e.gateway_process import GatewayProcess

ROWS = 100_000
QUERY = f"SELECT i FROM generate_series(1, {ROWS}) AS t(i)"


class Frontend:
    """A minimal PostgreSQL frontend over a socket: builds messages and reads replies up to ReadyForQuery."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""
        params = b"user\0tester\0database\0tester\0\0"
        self.sock.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        self.replies()

    def send(self, kind: bytes, payload: bytes = b"") -> None:
        self.sock.sendall(kind + struct.pack("!i", 4 + len(payload)) + payload)

    def parse(self, statement: str, query: str, oids: tuple[int, ...] = ()) -> None:
        types = struct.pack(f"!h{len(oids)}i", len(oids), *oids)
        self.send(b"P", statement.encode() + b"\0" + query.encode() + b"\0" + types)

    def bind(self, portal: str, statement: str, values: tuple[bytes, ...] = ()) -> None:
        encoded = b"".join(struct.pack("!i", len(value)) + value for value in values)
        self.send(b"B", portal.encode() + b"\0" + statement.encode() + b"\0" + struct.pack("!hh", 0, len(values))
                  + encoded + struct.pack("!h", 0))

    def describe_statement(self, statement: str) -> None:
        self.send(b"D", b"S" + statement.encode() + b"\0")

    def describe_portal(self, portal: str) -> None:
        self.send(b"D", b"P" + portal.encode() + b"\0")

    def execute(self, portal: str, max_rows: int) -> None:
        self.send(b"E", portal.encode() + b"\0" + struct.pack("!i", max_rows))

    def sync(self) -> None:
        self.send(b"S")

    def query(self, sql: str) -> list[tuple[bytes, bytes]]:
        self.send(b"Q", sql.encode() + b"\0")
        return self.replies()

    def replies(self) -> list[tuple[bytes, bytes]]:
        """Read messages up to and including ReadyForQuery."""
        messages = []
        while True:
            kind, payload = self._message()
            messages.append((kind, payload))
            if kind == b"Z":
                return messages

    def close(self) -> None:
        self.send(b"X")
        self.sock.close()

    def _message(self) -> tuple[bytes, bytes]:
        header = self._exactly(5)
        length = struct.unpack("!i", header[1:])[0]
        return header[:1], self._exactly(length - 4)

    def _exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the gateway closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data


def data_values(messages: list[tuple[bytes, bytes]]) -> list[int]:
    """Return the single text column of every DataRow, as integers."""
    values = []
    for kind, payload in messages:
        if kind == b"D":
            length = struct.unpack("!i", payload[2:6])[0]
            values.append(int(payload[6:6 + length]))
    return values


def kinds(messages: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [kind for kind, _ in messages if kind != b"D"]


@pytest.fixture
def frontend(local_gateway: GatewayProcess) -> Iterator[Frontend]:
    client = Frontend(local_gateway.port)
    yield client
    client.close()


def test_suspended_portal_survives_other_query(frontend: Frontend) -> None:
    frontend.query("BEGIN")
    frontend.parse("numbers", QUERY)
    frontend.bind("rest", "numbers")
    frontend.describe_portal("rest")
    frontend.execute("rest", 1000)
    frontend.sync()
    first = frontend.replies()
    assert kinds(first) == [b"1", b"2", b"T", b"s", b"Z"]
    assert data_values(first) == list(range(1, 1001))

    other = frontend.query("SELECT 42")
    assert data_values(other) == [42]

    frontend.execute("rest", 0)
    frontend.sync()
    rest = frontend.replies()
    assert kinds(rest) == [b"C", b"Z"]
    assert data_values(rest) == list(range(1001, ROWS + 1))
    frontend.query("COMMIT")


def test_described_portal_survives_other_statement(frontend: Frontend) -> None:
    frontend.query("BEGIN")
    frontend.parse("numbers", QUERY)
    frontend.bind("later", "numbers")
    frontend.describe_portal("later")
    frontend.parse("", "SELECT 7")
    frontend.bind("", "")
    frontend.execute("", 0)
    frontend.execute("later", 0)
    frontend.sync()
    replies = frontend.replies()
    assert kinds(replies) == [b"1", b"2", b"T", b"1", b"2", b"C", b"C", b"Z"]
    assert data_values(replies) == [7, *range(1, ROWS + 1)]
    frontend.query("COMMIT")


def test_describe_error_skips_to_sync(frontend: Frontend) -> None:
    frontend.parse("", "SELECT * FROM no_such_measurement")
    frontend.bind("", "")
    frontend.describe_portal("")
    frontend.execute("", 0)
    frontend.sync()
    replies = frontend.replies()
    assert kinds(replies) == [b"1", b"2", b"E", b"Z"]
    fields = dict((item[:1], item[1:]) for item in replies[2][1].split(b"\0") if item)
    assert fields[b"C"] == b"3D000"  # no database "tester" exists in the new store
    assert data_values(frontend.query("SELECT 1")) == [1]


def test_extra_declared_parameter_types(frontend: Frontend) -> None:
    frontend.parse("sum", "SELECT $1::int + 1", (23, 25))
    frontend.describe_statement("sum")
    frontend.bind("", "sum", (b"41", b"unused"))
    frontend.execute("", 0)
    frontend.sync()
    replies = frontend.replies()
    assert kinds(replies) == [b"1", b"t", b"T", b"2", b"C", b"Z"]
    description = dict(replies)[b"t"]
    assert struct.unpack("!hii", description) == (2, 23, 25)
    assert data_values(replies) == [42]

    frontend.bind("", "sum", (b"41",))
    frontend.sync()
    replies = frontend.replies()
    assert kinds(replies) == [b"E", b"Z"]
    fields = dict((item[:1], item[1:]) for item in replies[0][1].split(b"\0") if item)
    assert fields[b"C"] == b"08P01"
