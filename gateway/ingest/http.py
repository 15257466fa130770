"""InfluxDB-compatible HTTP writes: POST /write (1.x), POST /api/v2/write (2.x), GET /ping, GET /health.

Like InfluxDB, valid lines of a request are stored and invalid ones are
reported in a 400 response that names each bad line number and reason. A
204 is sent only after ``LineProtocolWriter.write`` returns, when the rows
are in the write-ahead log and visible to queries. When the server's
``WriteAuthorizer`` has tokens, writes without a valid token get a
401 response and store nothing. ``/ping`` and ``/health`` stay open.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from gateway import __version__
from gateway.errors import GatewayError
from gateway.ingest.http_auth import Decision, WriteAuthorizer
from gateway.ingest.line_writer import LineProtocolWriter, WriteReport

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024

#: Minimum interval between two warnings about rejected credentials.
REJECTION_LOG_INTERVAL_SECONDS = 60.0

_PASSWORD_PARAMETER = re.compile(r"([?&]p=)[^&\s\"]*")


class WriteServer(ThreadingHTTPServer):
    """The HTTP listener; one thread per request."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], writer: LineProtocolWriter,
                 authorizer: WriteAuthorizer | None = None) -> None:
        super().__init__(address, WriteHandler)
        self.writer = writer
        self.authorizer = authorizer or WriteAuthorizer()
        self.rejections = _RejectionLog()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> threading.Thread:
        """Serve in a daemon thread and return it."""
        thread = threading.Thread(target=self.serve_forever, name="lakegate-http", daemon=True)
        thread.start()
        return thread


class WriteHandler(BaseHTTPRequestHandler):
    server: WriteServer
    server_version = f"lakegate/{__version__}"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        path = urlsplit(self.path).path
        if path == "/ping":
            self._send(HTTPStatus.NO_CONTENT)
        elif path == "/health":
            self._send_json(HTTPStatus.OK, {"name": "lakegate", "status": "pass", "version": __version__})
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"code": "not found", "message": f"no route {path}"})

    def do_POST(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        if url.path == "/write":
            database = query.get("db", "")
        elif url.path == "/api/v2/write":
            database = query.get("bucket", "")
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"code": "not found", "message": f"no route {url.path}"})
            return
        if not self._authorized(query, v1=url.path == "/write"):
            return
        body = self._body()
        if body is None:
            return
        try:
            report = self.server.writer.write(database, body, query.get("precision", "ns"))
        except GatewayError as error:
            logger.info("write to %r rejected: %s", database, error.message)
            self._send_json(HTTPStatus.BAD_REQUEST, {"code": "invalid", "message": error.message})
            return
        except ValueError as error:
            self._send_json(HTTPStatus.BAD_REQUEST, {"code": "invalid", "message": str(error)})
            return
        self._respond_to_write(report)

    def _authorized(self, query: dict[str, str], *, v1: bool) -> bool:
        """Check the request's token; on failure send the 401 response and return False."""
        decision = self.server.authorizer.check(self.headers.get("Authorization"), query, v1=v1)
        if decision is Decision.AUTHORIZED:
            return True

        self.server.rejections.record(self.client_address[0], decision)
        if decision is Decision.MISSING:
            forms = "Authorization: Token <token>" + (", Basic credentials or the p query parameter" if v1 else "")
            message = f"missing credentials: send {forms}"
        else:
            message = "invalid credentials"
        self._discard_body()
        self._send_json(HTTPStatus.UNAUTHORIZED, {"code": "unauthorized", "message": message},
                        {"WWW-Authenticate": 'Token realm="lakegate"'})
        return False

    def _discard_body(self) -> None:
        # Closing a socket with unread data resets the connection, and the
        # client may then miss the 401, so the body is read first.
        try:
            remaining = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return
        if remaining > MAX_BODY_BYTES:
            return
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                return
            remaining -= len(chunk)

    def _respond_to_write(self, report: WriteReport) -> None:
        if not report.errors:
            self._send(HTTPStatus.NO_CONTENT)
            return
        problems = "; ".join(f"line {error.line_number}: {error.reason}" for error in report.errors[:100])
        message = (f"partial write: {report.rows} rows written, {len(report.errors)} lines rejected: {problems}")
        self._send_json(HTTPStatus.BAD_REQUEST, {"code": "invalid", "message": message,
                                                 "written": report.rows, "rejected": len(report.errors)})

    def _body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._send_json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                            {"code": "too large", "message": f"request body exceeds {MAX_BODY_BYTES} bytes"})
            return None
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding", "").lower() != "gzip":
            return body
        try:
            return _gunzip(body)
        except (OSError, EOFError, zlib.error, ValueError) as error:
            self._send_json(HTTPStatus.BAD_REQUEST, {"code": "invalid", "message": f"invalid gzip body: {error}"})
            return None

    def _send(self, status: HTTPStatus) -> None:
        self.send_response(status)
        self.send_header("X-Influxdb-Version", f"lakegate-{__version__}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_json(self, status: HTTPStatus, payload: dict[str, object],
                   headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        # The request line may carry a 1.x password (a token) in the query.
        logger.debug("http %s %s", self.address_string(), _PASSWORD_PARAMETER.sub(r"\1[redacted]", format % args))


class _RejectionLog:
    """Counts requests rejected for their credentials and logs them.

    A warning with the count since start is logged at most once per
    ``REJECTION_LOG_INTERVAL_SECONDS``, and the other rejections at debug level.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._last_warning: float | None = None

    def record(self, client: str, decision: Decision) -> None:
        with self._lock:
            self._count += 1
            now = time.monotonic()
            due = self._last_warning is None or now - self._last_warning >= REJECTION_LOG_INTERVAL_SECONDS
            if due:
                self._last_warning = now
            count = self._count
        if due:
            logger.warning("HTTP write from %s rejected: %s credentials (%d rejected since start)",
                           client, decision.value, count)
        else:
            logger.debug("HTTP write from %s rejected: %s credentials", client, decision.value)


def _gunzip(body: bytes) -> bytes:
    """Decompress a gzip body, refusing to expand beyond MAX_BODY_BYTES (a gzip bomb)."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    data = decompressor.decompress(body, MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES or decompressor.unconsumed_tail:
        raise ValueError(f"decompressed body exceeds {MAX_BODY_BYTES} bytes")
    return data

