"""HTTP write limits of ``lakegate serve``: --http-max-body, --http-max-line, and bodies that are cut or malformed."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
from collections.abc import Callable, Iterator

import psycopg
import pytest

from gateway.cli import build_parser
from tests.e2e.gateway_process import GatewayProcess, store_gateway

MAX_BODY = 65_536
MAX_LINE = 1_024
REPLY_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    """One gateway with small limits; each test writes to a database of its own."""
    yield from store_gateway(tmp_path_factory, "http-limits", "--http-max-body", str(MAX_BODY),
                             "--http-max-line", str(MAX_LINE))


@pytest.fixture(autouse=True)
def _no_traceback_logged(gateway: GatewayProcess) -> Iterator[None]:
    """Fail the test after which the gateway's log shows a traceback: every request must get a response."""
    yield
    assert "Traceback" not in gateway.log()


def _post(gateway: GatewayProcess, database: str, body: bytes,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.http_port, timeout=REPLY_TIMEOUT)
    try:
        connection.request("POST", f"/write?db={database}&precision=s", body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, json.loads(data) if data else {}


def _raw_request(gateway: GatewayProcess, request: bytes) -> tuple[int, dict[str, object]]:
    """Send ``request`` as is, close the sending side, and return the status and JSON body of the response."""
    with socket.create_connection(("127.0.0.1", gateway.http_port), timeout=REPLY_TIMEOUT) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else {}


def _rows(gateway: GatewayProcess, database: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(f"{gateway.dsn} dbname={database}", autocommit=True) as connection:
        return connection.execute(sql).fetchall()


def _databases(gateway: GatewayProcess) -> set[object]:
    return {name for (name,) in _rows(gateway, "default", "SHOW DATABASES")}


def _body_of_size(size: int) -> bytes:
    """Return valid lines of measurement ``m`` that are exactly ``size`` bytes long."""
    lines = []
    total = 0
    number = 0
    while size - total > 80:
        line = f"m,host=h{number} v={number}i {1_700_000_000 + number}\n".encode()
        lines.append(line)
        total += len(line)
        number += 1
    last = f"m s=\"{'x' * (size - total - 17)}\" 1700000000".encode()
    assert len(last) == size - total
    return b"".join(lines) + last


def test_limit_flags_have_defaults() -> None:
    args = build_parser().parse_args(["serve", "--storage", "data"])
    assert args.http_max_body == 64 * 1024 * 1024
    assert args.http_max_line == 1024 * 1024


def test_body_at_limit_is_written(gateway: GatewayProcess) -> None:
    body = _body_of_size(MAX_BODY)
    status, _ = _post(gateway, "at_limit", body)
    assert status == 204
    assert _rows(gateway, "at_limit", "SELECT count(*) FROM m") == [(body.count(b"\n") + 1,)]


def test_body_over_limit_gets_413(gateway: GatewayProcess) -> None:
    status, report = _post(gateway, "over_limit", _body_of_size(MAX_BODY + 1))
    assert status == 413
    assert report["code"] == "too large"
    assert report["message"] == f"request body of {MAX_BODY + 1} bytes exceeds the maximum of {MAX_BODY} bytes"
    assert "over_limit" not in _databases(gateway)


def test_declared_huge_body_gets_413_unread(gateway: GatewayProcess) -> None:
    # Only the headers are sent: a body this large is rejected without being read.
    request = (b"POST /write?db=huge HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Length: 1000000000000\r\n\r\n")
    status, report = _raw_request(gateway, request)
    assert status == 413
    assert report["code"] == "too large"
    assert "huge" not in _databases(gateway)


def test_gzip_at_limit_is_written(gateway: GatewayProcess) -> None:
    body = _body_of_size(MAX_BODY)
    status, _ = _post(gateway, "gzip_at_limit", gzip.compress(body), {"Content-Encoding": "gzip"})
    assert status == 204
    assert _rows(gateway, "gzip_at_limit", "SELECT count(*) FROM m") == [(body.count(b"\n") + 1,)]


def test_gzip_bomb_gets_413(gateway: GatewayProcess) -> None:
    # 100 MB of spaces compress to about 100 KB, over the limit as sent too,
    # so the bomb is built from 1 MB that compresses to about 1 KB.
    bomb = gzip.compress(b"m v=1 1\n" + b" " * 1_000_000)
    assert len(bomb) < MAX_BODY
    status, report = _post(gateway, "bomb", bomb, {"Content-Encoding": "gzip"})
    assert status == 413
    assert report["message"] == f"gzip-decompressed request body exceeds the maximum of {MAX_BODY} bytes"
    assert "bomb" not in _databases(gateway)


def test_gzip_members_are_all_read(gateway: GatewayProcess) -> None:
    body = gzip.compress(b"m v=1 1\n") + gzip.compress(b"m v=2 2\n")
    status, _ = _post(gateway, "members", body, {"Content-Encoding": "gzip"})
    assert status == 204
    assert _rows(gateway, "members", "SELECT v FROM m ORDER BY v") == [(1.0,), (2.0,)]


@pytest.mark.parametrize("cut", [1, 4, 8, 20])
def test_truncated_gzip_stores_nothing(gateway: GatewayProcess, cut: int) -> None:
    compressed = gzip.compress(b"".join(f"m v={number} {number}\n".encode() for number in range(1000)))
    status, report = _post(gateway, f"truncated_{cut}", compressed[:-cut], {"Content-Encoding": "gzip"})
    assert status == 400
    assert report["message"] == "invalid gzip body: truncated gzip data"
    assert f"truncated_{cut}" not in _databases(gateway)


def test_gzip_with_bad_checksum_stores_nothing(gateway: GatewayProcess) -> None:
    compressed = bytearray(gzip.compress(b"m v=1 1\n"))
    compressed[-8] ^= 0xFF  # The first byte of the CRC-32 trailer.
    status, report = _post(gateway, "bad_crc", bytes(compressed), {"Content-Encoding": "gzip"})
    assert status == 400
    assert str(report["message"]).startswith("invalid gzip body: ")
    assert "bad_crc" not in _databases(gateway)


def test_long_line_rejected_others_written(gateway: GatewayProcess) -> None:
    long_line = f"m s=\"{'x' * MAX_LINE}\" 3".encode()
    body = b"m v=1 1\n" + long_line + b"\nm v=2 2\n"
    status, report = _post(gateway, "long_line", body)
    assert status == 400
    assert report["written"] == 2
    assert report["rejected"] == 1
    assert report["message"] == (f"partial write: 2 rows written, 1 lines rejected: "
                                 f"line 2: line exceeds the maximum length of {MAX_LINE} bytes")
    assert _rows(gateway, "long_line", "SELECT epoch(time), v FROM m ORDER BY time") == [(1.0, 1.0), (2.0, 2.0)]


def test_line_limit_counts_utf8_bytes(gateway: GatewayProcess) -> None:
    prefix = 'm s="'
    suffix = '" 5'
    at_limit = prefix + "x" * (MAX_LINE - len(prefix) - len(suffix)) + suffix
    over_limit = prefix + "\u00e9" * ((MAX_LINE - len(prefix) - len(suffix)) // 2 + 1) + suffix
    assert len(at_limit.encode()) == MAX_LINE
    assert len(over_limit) < MAX_LINE < len(over_limit.encode())

    body = f"{at_limit}\r\n{over_limit}\r\n".encode()
    status, report = _post(gateway, "utf8_line", body)
    assert status == 400
    assert report["written"] == 1
    assert report["rejected"] == 1
    assert str(report["message"]).endswith(f"line 2: line exceeds the maximum length of {MAX_LINE} bytes")
    assert _rows(gateway, "utf8_line", "SELECT length(s) FROM m") == [(MAX_LINE - len(prefix) - len(suffix),)]


def test_long_comment_and_blank_lines_skipped(gateway: GatewayProcess) -> None:
    body = b"# " + b"c" * (2 * MAX_LINE) + b"\n" + b" " * (2 * MAX_LINE) + b"\nm v=1 1\n"
    status, _ = _post(gateway, "long_comment", body)
    assert status == 204
    assert _rows(gateway, "long_comment", "SELECT v FROM m") == [(1.0,)]


def test_many_long_lines_in_columnar_payload(gateway: GatewayProcess) -> None:
    # Over 100 lines, so most lines take the columnar parser.
    lines = [f"m,host=h{number % 7} v={number}i {number}" for number in range(300)]
    long_numbers = {5, 150, 299}
    for number in long_numbers:
        lines[number] = f"m,host={'y' * MAX_LINE} v={number}i {number}"
    status, report = _post(gateway, "columnar_long", "\n".join(lines).encode())
    assert status == 400
    assert report["written"] == 297
    assert report["rejected"] == 3
    expected = sorted(set(range(300)) - long_numbers)
    assert _rows(gateway, "columnar_long", "SELECT v FROM m ORDER BY v") == [(number,) for number in expected]


@pytest.mark.parametrize("length", [b"abc", b"-5", b"1e3", b"10, 20"])
def test_invalid_content_length_gets_400(gateway: GatewayProcess, length: bytes) -> None:
    # No body follows: the server cannot tell where it would end, and bytes
    # it leaves unread could reset the connection before the response is read.
    request = b"POST /write?db=bad_length HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + length + b"\r\n\r\n"
    status, report = _raw_request(gateway, request)
    assert status == 400
    assert report["message"] == "invalid Content-Length header"
    assert "bad_length" not in _databases(gateway)


def test_cut_short_body_stores_nothing(gateway: GatewayProcess) -> None:
    body = b"m v=1 1\nm v=22 2\n"
    request = (b"POST /write?db=cut_short HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:-3])
    status, report = _raw_request(gateway, request)
    assert status == 400
    assert report["message"] == f"request body ended after {len(body) - 3} of {len(body)} bytes"
    assert "cut_short" not in _databases(gateway)


def test_chunked_body_gets_411(gateway: GatewayProcess) -> None:
    # The chunks are not sent, for the reason given for an invalid Content-Length.
    request = b"POST /write?db=chunked HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, report = _raw_request(gateway, request)
    assert status == 411
    assert report["message"] == "Transfer-Encoding is not supported: send Content-Length"
    assert "chunked" not in _databases(gateway)


def test_unknown_content_encoding_gets_415(gateway: GatewayProcess) -> None:
    status, report = _post(gateway, "deflate", b"m v=1 1", {"Content-Encoding": "deflate"})
    assert status == 415
    assert report["message"] == 'unsupported Content-Encoding "deflate": send gzip or identity'
    assert "deflate" not in _databases(gateway)


def test_stalled_client_is_disconnected(gateway_launcher: Callable[..., GatewayProcess]) -> None:
    stalling = gateway_launcher("--http-idle-timeout", "1")
    with socket.create_connection(("127.0.0.1", stalling.http_port), timeout=REPLY_TIMEOUT) as stalled:
        stalled.sendall(b"POST /write?db=stall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\npart")
        reply = b""
        while chunk := stalled.recv(65536):
            reply += chunk
    assert reply.split(b" ", 2)[1] == b"408"
    with socket.create_connection(("127.0.0.1", stalling.http_port), timeout=REPLY_TIMEOUT) as silent:
        assert silent.recv(65536) == b""  # closed after a second without a request line
    status, _ = _post(stalling, "stall", b"m v=1 1")
    assert status == 204
