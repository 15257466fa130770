"""Broken wire-protocol input against a real ``lakegate serve``, over raw sockets.

Every case checks afterwards that the server process is alive, that a new
psycopg session runs ``SELECT 1`` and that a session opened before the case
still runs queries. The server's log must hold no traceback: a handler thread
that died on unexpected input prints one there.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.gateway_process import GatewayProcess
from tests.hardening.wire_client import (
    CANCEL_REQUEST,
    PROTOCOL_3_0,
    Message,
    closed_by_server,
    connect,
    cstring,
    frame,
    open_session,
    read_until,
    startup_packet,
)

INT32_MAX = 2**31 - 1
MIB = 1024 * 1024
#: The largest Query message the server accepts (MAX_MESSAGE_BYTES in gateway/server/connection.py).
MAX_QUERY_LENGTH = 64 * MIB


@dataclass(frozen=True)
class Outcome:
    """What the server sent back for one case, and whether it closed the connection."""

    messages: list[Message]
    closed: bool

    @property
    def kinds(self) -> bytes:
        return b"".join(message.kind for message in self.messages)

    def errors(self) -> list[dict[str, str]]:
        return [message.fields() for message in self.messages if message.kind == b"E"]


@pytest.fixture(scope="module")
def witness(module_gateway: GatewayProcess) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A session opened before the cases run; each case checks that it still runs queries."""
    with psycopg.connect(f"{module_gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        yield connection


def _assert_healthy(gateway: GatewayProcess, witness: psycopg.Connection[tuple[object, ...]]) -> None:
    assert gateway.process.poll() is None
    with psycopg.connect(f"{gateway.dsn} dbname=telemetry", autocommit=True) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    assert witness.execute("SELECT 2").fetchone() == (2,)
    assert "Traceback" not in gateway.log()


def _exchange(sock: socket.socket, data: bytes, until: bytes = b"Z") -> Outcome:
    """Send ``data`` and read replies up to a message of type ``until`` or until the server closes."""
    sock.sendall(data)
    messages = read_until(sock, until)
    closed = not messages or messages[-1].kind not in until
    return Outcome(messages, closed)


def _send_and_hang_up(port: int, data: bytes, *, login: bool) -> Outcome:
    """Send ``data``, close the sending side and read everything until the server closes the connection."""
    sock = open_session(port) if login else connect(port)
    with sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server rejected the data and closed the connection before it was all sent
        messages = []
        try:
            messages = read_until(sock, b"")
        except ConnectionResetError:
            pass
        return Outcome(messages, True)


def _query(sql: str) -> bytes:
    return frame(b"Q", cstring(sql))


def _parse(sql: str, name: str = "", oids: tuple[int, ...] = ()) -> bytes:
    return frame(b"P", cstring(name) + cstring(sql) + struct.pack(f"!h{len(oids)}i", len(oids), *oids))


def _bind(portal: str = "", statement: str = "", values: tuple[bytes | None, ...] = (),
          parameter_formats: tuple[int, ...] = (), result_formats: tuple[int, ...] = ()) -> bytes:
    payload = cstring(portal) + cstring(statement)
    payload += struct.pack(f"!h{len(parameter_formats)}h", len(parameter_formats), *parameter_formats)
    payload += struct.pack("!h", len(values))
    for value in values:
        payload += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    payload += struct.pack(f"!h{len(result_formats)}h", len(result_formats), *result_formats)
    return frame(b"B", payload)


def _execute(portal: str = "", max_rows: int = 0) -> bytes:
    return frame(b"E", cstring(portal) + struct.pack("!i", max_rows))


def _describe(kind: bytes, name: str = "") -> bytes:
    return frame(b"D", kind + cstring(name))


SYNC = frame(b"S")


# ---------------------------------------------------------------- startup


def _startup_with(length: int, body: bytes) -> bytes:
    return struct.pack("!i", length) + body


def _startup(body: bytes) -> bytes:
    """Frame a startup packet body with its correct length."""
    return _startup_with(len(body) + 4, body)


STARTUP_CASES = {
    "length zero": (_startup_with(0, b""), "08P01"),
    "length below eight": (_startup_with(7, b"abc"), "08P01"),
    "negative length": (_startup_with(-1, b""), "08P01"),
    "length above limit": (_startup_with(INT32_MAX, struct.pack("!i", PROTOCOL_3_0)), "08P01"),
    "length just above limit": (_startup_with(10_001, struct.pack("!i", PROTOCOL_3_0)), "08P01"),
    "protocol 2.0": (_startup(struct.pack("!i", 2 << 16)), "08P01"),
    "protocol 4.0": (_startup(struct.pack("!i", 4 << 16) + b"user\x00a\x00"), "08P01"),
    "unterminated parameter name": (_startup(struct.pack("!i", PROTOCOL_3_0) + b"user"), "08P01"),
    "unterminated parameter value": (_startup(struct.pack("!i", PROTOCOL_3_0) + b"user\x00tes"), "08P01"),
    "invalid utf-8 in user": (_startup(struct.pack("!i", PROTOCOL_3_0) + b"user\x00\xff\xfe\x00\x00"), "22021"),
    "invalid database name": (startup_packet(database="../../etc"), "42602"),
    "cancel request too short": (_startup(struct.pack("!i", CANCEL_REQUEST)), "08P01"),
}


@pytest.mark.parametrize("case", list(STARTUP_CASES))
def test_startup_malformed_packet(case: str, module_gateway: GatewayProcess,
                                  witness: psycopg.Connection[tuple[object, ...]]) -> None:
    data, sqlstate = STARTUP_CASES[case]
    with connect(module_gateway.port) as sock:
        outcome = _exchange(sock, data)
        assert outcome.closed
        assert outcome.kinds == b"E"
        assert outcome.errors()[0]["S"] == "FATAL"
        assert outcome.errors()[0]["C"] == sqlstate
    _assert_healthy(module_gateway, witness)


@pytest.mark.parametrize("data", [
    _startup_with(100, struct.pack("!i", PROTOCOL_3_0) + b"user\x00"),
    _startup_with(INT32_MAX, b""),
    b"\x00\x00",
    struct.pack("!iiii", 16, CANCEL_REQUEST, 12345, 67890),
], ids=["truncated", "huge then nothing", "half a length", "cancel unknown key"])
def test_startup_truncated_or_silent(data: bytes, module_gateway: GatewayProcess,
                                     witness: psycopg.Connection[tuple[object, ...]]) -> None:
    outcome = _send_and_hang_up(module_gateway.port, data, login=False)
    assert outcome.kinds in (b"", b"E")
    _assert_healthy(module_gateway, witness)


def test_startup_ssl_and_gss_requests_declined(module_gateway: GatewayProcess,
                                               witness: psycopg.Connection[tuple[object, ...]]) -> None:
    with connect(module_gateway.port) as sock:
        sock.sendall(struct.pack("!ii", 8, 80877103))
        assert sock.recv(1) == b"N"
        sock.sendall(struct.pack("!ii", 8, 80877104))
        assert sock.recv(1) == b"N"
        outcome = _exchange(sock, startup_packet())
        assert outcome.kinds[-1:] == b"Z"
        outcome = _exchange(sock, _query("SELECT 42"))
        assert outcome.kinds == b"TDCZ"
    _assert_healthy(module_gateway, witness)


# ---------------------------------------------------------------- framing after login


FATAL_CASES = {
    "unknown type": (frame(b"z", b"abc"), "08P01"),
    "function call": (frame(b"F", b"\x00\x00\x00\x01"), "08P01"),
    "query length three": (b"Q" + struct.pack("!i", 3), "08P01"),
    "query negative length": (b"Q" + struct.pack("!i", -100), "08P01"),
    "query length int32 max": (b"Q" + struct.pack("!i", INT32_MAX) + b"SELECT", "08P01"),
    "query just above limit": (b"Q" + struct.pack("!i", MAX_QUERY_LENGTH + 1), "08P01"),
    "sync with large length": (b"S" + struct.pack("!i", 20_000), "08P01"),
    "execute with huge length": (b"E" + struct.pack("!i", INT32_MAX), "08P01"),
    "copy done with huge length": (b"c" + struct.pack("!i", INT32_MAX), "08P01"),
}


@pytest.mark.parametrize("case", list(FATAL_CASES))
def test_message_framing_fatal(case: str, module_gateway: GatewayProcess,
                               witness: psycopg.Connection[tuple[object, ...]]) -> None:
    data, sqlstate = FATAL_CASES[case]
    with open_session(module_gateway.port) as sock:
        outcome = _exchange(sock, data)
        assert outcome.closed
        assert outcome.kinds == b"E"
        assert outcome.errors()[0]["S"] == "FATAL"
        assert outcome.errors()[0]["C"] == sqlstate
        assert closed_by_server(sock)
    _assert_healthy(module_gateway, witness)


@pytest.mark.parametrize("data", [
    b"Q" + struct.pack("!i", 1000) + b"SELECT 1",
    b"Q" + struct.pack("!i", MAX_QUERY_LENGTH) + b"SELECT 1" * 1000,
    b"P" + struct.pack("!i", 50),
    b"Q\x00\x00",
    b"B",
], ids=["short body", "large declared body", "parse without body", "half a length", "type only"])
def test_message_truncated(data: bytes, module_gateway: GatewayProcess,
                           witness: psycopg.Connection[tuple[object, ...]]) -> None:
    outcome = _send_and_hang_up(module_gateway.port, data, login=True)
    assert outcome.kinds == b""
    _assert_healthy(module_gateway, witness)


ERROR_CASES = {
    "query without terminator": (frame(b"Q", b"SELECT 1"), "08P01"),
    "query with text after terminator": (frame(b"Q", b"SELECT 1\x00SELECT 2\x00"), "08P01"),
    "query with nul inside": (frame(b"Q", b"SELECT '\x00'\x00"), "08P01"),
    "query invalid utf-8": (frame(b"Q", b"SELECT '\xff\xfe'\x00"), "22021"),
    "query of nul bytes": (frame(b"Q", b"\x00" * 64), "08P01"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_query_malformed_payload(case: str, module_gateway: GatewayProcess,
                                 witness: psycopg.Connection[tuple[object, ...]]) -> None:
    data, sqlstate = ERROR_CASES[case]
    with open_session(module_gateway.port) as sock:
        outcome = _exchange(sock, data)
        assert outcome.kinds == b"EZ"
        assert outcome.errors()[0]["S"] == "ERROR"
        assert outcome.errors()[0]["C"] == sqlstate
        assert _exchange(sock, _query("SELECT 3")).kinds == b"TDCZ"
    _assert_healthy(module_gateway, witness)


# ---------------------------------------------------------------- messages out of order


ORDER_CASES = {
    "bind before parse": (_bind(statement="never_parsed") + _execute() + SYNC, b"EZ", "26000"),
    "execute unknown portal": (_execute("no_such_portal") + SYNC, b"EZ", "34000"),
    "describe unknown statement": (_describe(b"S", "nope") + SYNC, b"EZ", "26000"),
    "describe unknown portal": (_describe(b"P", "nope") + SYNC, b"EZ", "34000"),
    "describe invalid target": (_describe(b"X", "nope") + SYNC, b"EZ", "08P01"),
    "close invalid target": (frame(b"C", b"Q\x00") + SYNC, b"EZ", "08P01"),
    "execute after failed parse": (
        _parse("SELEC 1") + _bind() + _execute() + SYNC, b"EZ", "42601"),
    "bind with too many values": (
        _parse("SELECT 1") + _bind(values=(b"1",)) + _execute() + SYNC, b"1EZ", "08P01"),
    "bind with missing value": (
        _parse("SELECT $1::int") + _bind() + SYNC, b"1EZ", "08P01"),
    "bind with format count mismatch": (
        _parse("SELECT $1::int + $2::int") + _bind(values=(b"1", b"2"), parameter_formats=(0, 0, 0)) + SYNC,
        b"1EZ", "08P01"),
    "bind with unknown parameter format": (
        _parse("SELECT $1::int") + _bind(values=(b"1",), parameter_formats=(7,)) + SYNC, b"1EZ", "22023"),
    "bind with unknown result format": (
        _parse("SELECT 1") + _bind(result_formats=(7,)) + _execute() + SYNC, b"1EZ", "22023"),
    "bind with short binary integer": (
        _parse("SELECT $1::int", oids=(23,)) + _bind(values=(b"\x01\x02",), parameter_formats=(1,)) + SYNC,
        b"1EZ", "22P03"),
    "bind with binary timestamp out of range": (
        _parse("SELECT $1::timestamptz", oids=(1184,))
        + _bind(values=(struct.pack("!q", 2**62),), parameter_formats=(1,)) + SYNC, b"1EZ", "22P03"),
    "bind with invalid utf-8 text": (
        _parse("SELECT $1::text", oids=(25,)) + _bind(values=(b"\xff",)) + SYNC, b"1EZ", "22021"),
    "bind with value past message end": (
        frame(b"B", b"\x00\x00" + struct.pack("!hhi", 0, 1, 1000) + b"abc") + SYNC, b"EZ", "08P01"),
    "parse with negative type count": (
        frame(b"P", b"\x00SELECT 1\x00" + struct.pack("!h", -5)) + SYNC, b"EZ", "08P01"),
    "parse of duplicate named statement": (
        _parse("SELECT 1", "twice") + _parse("SELECT 2", "twice") + SYNC, b"1EZ", "42P05"),
}


@pytest.mark.parametrize("case", list(ORDER_CASES))
def test_extended_protocol_out_of_order(case: str, module_gateway: GatewayProcess,
                                        witness: psycopg.Connection[tuple[object, ...]]) -> None:
    data, kinds, sqlstate = ORDER_CASES[case]
    with open_session(module_gateway.port) as sock:
        outcome = _exchange(sock, data)
        assert outcome.kinds == kinds
        assert outcome.errors()[0]["S"] == "ERROR"
        assert outcome.errors()[0]["C"] == sqlstate
        assert _exchange(sock, _query("SELECT 4")).kinds == b"TDCZ"
    _assert_healthy(module_gateway, witness)


def test_close_unknown_targets_succeeds(module_gateway: GatewayProcess,
                                        witness: psycopg.Connection[tuple[object, ...]]) -> None:
    with open_session(module_gateway.port) as sock:
        data = frame(b"C", b"Snever\x00") + frame(b"C", b"Pnever\x00") + SYNC
        assert _exchange(sock, data).kinds == b"33Z"
    _assert_healthy(module_gateway, witness)


def test_copy_messages_outside_copy_ignored(module_gateway: GatewayProcess,
                                            witness: psycopg.Connection[tuple[object, ...]]) -> None:
    with open_session(module_gateway.port) as sock:
        stray = frame(b"d", b"1\t2\n" * 100) + frame(b"c") + frame(b"f", cstring("gave up"))
        outcome = _exchange(sock, stray + _query("SELECT 5"))
        assert outcome.kinds == b"TDCZ"
        assert outcome.messages[1].payload == struct.pack("!hi", 1, 1) + b"5"
    _assert_healthy(module_gateway, witness)


def test_copy_in_broken_stream(module_gateway: GatewayProcess,
                               witness: psycopg.Connection[tuple[object, ...]]) -> None:
    with open_session(module_gateway.port) as sock:
        outcome = _exchange(sock, _query("COPY wirecopy (time, value) FROM STDIN"), until=b"G")
        assert outcome.kinds == b"G"
        outcome = _exchange(sock, frame(b"d", b"2024-01-01T00:00:00Z\t1\n") + frame(b"Q", cstring("SELECT 1")))
        assert outcome.kinds == b"EZ"
        assert outcome.errors()[0]["C"] == "08P01"
        outcome = _exchange(sock, frame(b"d", b"leftover\n") + frame(b"c") + _query("SELECT 6"))
        assert outcome.kinds == b"TDCZ"
    with open_session(module_gateway.port) as sock:
        _exchange(sock, _query("COPY wirecopy (time, value) FROM STDIN"), until=b"G")
        outcome = _exchange(sock, b"d" + struct.pack("!i", INT32_MAX))
        assert outcome.closed
        assert outcome.errors()[0]["S"] == "FATAL"
        assert outcome.errors()[0]["C"] == "08P01"
    _assert_healthy(module_gateway, witness)


def test_nul_bytes_in_queries_and_parameters(module_gateway: GatewayProcess,
                                             witness: psycopg.Connection[tuple[object, ...]]) -> None:
    with open_session(module_gateway.port) as sock:
        data = _parse("SELECT length($1::text)", oids=(25,)) + _bind(values=(b"a\x00b",)) + _execute() + SYNC
        outcome = _exchange(sock, data)
        assert outcome.kinds == b"1EZ"
        assert outcome.errors()[0]["C"] == "22021"
        outcome = _exchange(sock, frame(b"P", b"\x00SELECT 1\x00\x00" + struct.pack("!h", 0)) + SYNC)
        assert outcome.kinds == b"EZ"
        assert outcome.errors()[0]["C"] == "08P01"
    _assert_healthy(module_gateway, witness)


# ---------------------------------------------------------------- results and disconnects


def test_disconnect_during_large_result(module_gateway: GatewayProcess,
                                        witness: psycopg.Connection[tuple[object, ...]]) -> None:
    for protocol in ("simple", "extended"):
        sock = open_session(module_gateway.port)
        sql = "SELECT i, repeat('x', 100) AS padding FROM range(5000000) t(i)"
        if protocol == "simple":
            sock.sendall(_query(sql))
        else:
            sock.sendall(_parse(sql) + _bind() + _execute() + SYNC)
        received = 0
        while received < 4 * MIB:
            received += len(sock.recv(65536))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # SO_LINGER 0 makes the close send a reset, as a killed client's connection does
    _assert_healthy(module_gateway, witness)


def test_portal_suspended_then_disconnect(module_gateway: GatewayProcess,
                                          witness: psycopg.Connection[tuple[object, ...]]) -> None:
    with open_session(module_gateway.port) as sock:
        data = _parse("SELECT i FROM range(100000) t(i)") + _bind() + _execute(max_rows=3) + frame(b"H")
        outcome = _exchange(sock, data, until=b"s")
        assert outcome.kinds == b"12DDDs"
    _assert_healthy(module_gateway, witness)


# ---------------------------------------------------------------- memory


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def test_huge_declared_lengths_memory_bounded(module_gateway: GatewayProcess,
                                              witness: psycopg.Connection[tuple[object, ...]]) -> None:
    pid = module_gateway.process.pid
    rss_before = _rss_bytes(pid)
    declared = 0
    peak = rss_before

    # Lengths within the limit: the server waits for bytes that never come.
    pending = []
    for _ in range(40):
        sock = open_session(module_gateway.port)
        sock.sendall(b"Q" + struct.pack("!i", MAX_QUERY_LENGTH) + b"SELECT " + b"1" * 4096)
        declared += MAX_QUERY_LENGTH
        pending.append(sock)
    for _ in range(20):
        time.sleep(0.05)
        peak = max(peak, _rss_bytes(pid))
    for sock in pending:
        sock.close()

    # Lengths above the limit: rejected at once.
    for _ in range(60):
        with open_session(module_gateway.port) as sock:
            outcome = _exchange(sock, b"Q" + struct.pack("!i", INT32_MAX))
            assert outcome.errors()[0]["C"] == "08P01"
        declared += INT32_MAX
        peak = max(peak, _rss_bytes(pid))

    assert declared > 100 * 1024 * MIB
    assert peak - rss_before < 100 * MIB
    _assert_healthy(module_gateway, witness)


# ---------------------------------------------------------------- random bytes


def _random_startups() -> st.SearchStrategy[bytes]:
    """Startup packets with a correct length and a random or protocol 3.0 code, or plain random bytes."""
    codes = st.sampled_from([PROTOCOL_3_0, CANCEL_REQUEST, 80877103, 80877104]) | st.integers(-2**31, 2**31 - 1)
    parameters = st.lists(st.binary(max_size=40), max_size=8).map(lambda parts: b"\x00".join(parts))
    framed = st.builds(lambda code, body: _startup(struct.pack("!i", code) + body), codes, parameters)
    return framed | st.binary(min_size=1, max_size=2048)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_random_startups())
def test_random_bytes_before_startup(data: bytes, module_gateway: GatewayProcess,
                                     witness: psycopg.Connection[tuple[object, ...]]) -> None:
    outcome = _send_and_hang_up(module_gateway.port, data, login=False)
    if data[4:8] in (struct.pack("!i", 80877103), struct.pack("!i", 80877104)):
        return  # the server replied to an SSL or GSSAPI request with one byte, not a message
    logged_in = outcome.kinds.startswith(b"R") and outcome.kinds.endswith(b"KZ")
    assert outcome.kinds in (b"", b"E") or logged_in, outcome.kinds
    for fields in outcome.errors():
        assert len(fields["C"]) == 5
        assert fields["C"] != "XX000", fields
    _assert_healthy(module_gateway, witness)


def _random_messages() -> st.SearchStrategy[bytes]:
    """Frames with valid or random type bytes and lengths, bodies of random bytes."""
    kinds = st.sampled_from(list(b"QPBDECHSdcfXFz\x00"))
    body = st.binary(max_size=512)

    def build(kind: int, payload: bytes, length_delta: int) -> bytes:
        return bytes([kind]) + struct.pack("!i", len(payload) + 4 + length_delta) + payload

    framed = st.builds(build, kinds, body, st.sampled_from([0, 0, 0, -1, 1, -5, 100]))
    return st.lists(framed | st.binary(max_size=64), min_size=1, max_size=6).map(b"".join)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_random_messages())
def test_random_messages_after_login(data: bytes, module_gateway: GatewayProcess,
                                     witness: psycopg.Connection[tuple[object, ...]]) -> None:
    outcome = _send_and_hang_up(module_gateway.port, data, login=True)
    for fields in outcome.errors():
        assert len(fields["C"]) == 5
        assert fields["C"] != "XX000", fields
    _assert_healthy(module_gateway, witness)
