"""InfluxDB-compatible HTTP writes: POST /write (1.x), POST /api/v2/write (2.x), GET /ping, GET /health.

Like InfluxDB, valid lines of a request are stored and invalid ones are
reported in a 400 response that names each bad line number and reason. A
204 is sent only after ``LineProtocolWriter.write`` returns, when the rows
are in the write-ahead log and visible to queries. When the server's
``WriteAuthorizer`` has tokens, writes without a valid token get a
401 response and store nothing. ``/ping`` and ``/health`` stay open.

A body over the server's ``max_body_bytes``, as sent or after gzip
decompression, gets a 413 response and stores nothing. So does a body that
is cut short, has an invalid length or is gzip data that is invalid or
truncated, with a 400 response.
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

#: Default of ``WriteServer.max_body_bytes``, as of ``--http-max-body``.
MAX_BODY_BYTES = 64 * 1024 * 1024
#: Seconds of client silence after which a connection is closed.
IDLE_TIMEOUT = 60.0

#: A rejected body up to this size is read and discarded before the
#: response, because closing a socket with unread data resets the
#: connection, and the client may then miss the response. A larger body is
#: not read, and its client may see a reset instead of the response.
DISCARD_MAX_BYTES = 64 * 1024 * 1024

_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")

#: Minimum interval between two warnings about rejected credentials.
REJECTION_LOG_INTERVAL_SECONDS = 60.0

_PASSWORD_PARAMETER = re.compile(r"([?&]p=)[^&\s\"]*")


class WriteServer(ThreadingHTTPServer):
    """The HTTP listener; one thread per request."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], writer: LineProtocolWriter,
                 authorizer: WriteAuthorizer | None = None, max_body_bytes: int = MAX_BODY_BYTES,
                 idle_timeout: float = IDLE_TIMEOUT) -> None:
        super().__init__(address, WriteHandler)
        self.writer = writer
        self.max_body_bytes = max_body_bytes
        #: Seconds a connection may send nothing, while idle or mid-request, before it is closed.
        self.idle_timeout = idle_timeout
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

    def setup(self) -> None:
        # StreamRequestHandler applies ``timeout`` to the socket, so a client that stalls frees its thread.
        self.timeout = self.server.idle_timeout
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        path = urlsplit(self.path).path
        if path == "/ping":
            self._send(HTTPStatus.NO_CONTENT)
        elif path == "/health":
            self._send_json(HTTPStatus.OK, {"name": "lakegate", "status": "pass", "version": __version__})
        elif path in ("/write", "/api/v2/write"):
            self._send_json(HTTPStatus.METHOD_NOT_ALLOWED,
                            {"code": "method not allowed", "message": f"{path} accepts POST only"})
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
        if not database:
            parameter = "db" if url.path == "/write" else "bucket"
            self._send_json(HTTPStatus.BAD_REQUEST, {"code": "invalid",
                                                     "message": f"missing database: add ?{parameter}=NAME to the URL"})
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
        except Exception:
            # Sent as a 500, so that the client gets a response and no traceback.
            logger.exception("HTTP write to %r from %s failed", database, self.client_address[0])
            self._send_json(HTTPStatus.INTERNAL_SERVER_ERROR,
                            {"code": "internal error", "message": "the write failed; the gateway log has the cause"})
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
        self._discard_body(self._declared_length())
        self._send_json(HTTPStatus.UNAUTHORIZED, {"code": "unauthorized", "message": message},
                        {"WWW-Authenticate": 'Token realm="lakegate"'})
        return False

    def _declared_length(self) -> int | None:
        """Return the Content-Length, 0 when there is none, or None when it is invalid."""
        values = self.headers.get_all("Content-Length") or ["0"]
        if len(set(values)) != 1 or _CONTENT_LENGTH.fullmatch(values[0].strip()) is None:
            return None
        return int(values[0])

    def _discard_body(self, remaining: int | None) -> None:
        if remaining is None or remaining > DISCARD_MAX_BYTES:
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
        """Read the whole body and decompress it; on failure send the error response and return None."""
        limit = self.server.max_body_bytes
        if "Transfer-Encoding" in self.headers:
            # NOTE: chunked bodies are not supported, so clients must send Content-Length.
            self._reject_body(HTTPStatus.LENGTH_REQUIRED, "Transfer-Encoding is not supported: send Content-Length")
            return None
        length = self._declared_length()
        if length is None:
            self._reject_body(HTTPStatus.BAD_REQUEST, "invalid Content-Length header")
            return None
        if length > limit:
            self._discard_body(length)
            self._reject_body(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"request body of {length} bytes exceeds the maximum of {limit} bytes")
            return None

        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self._reject_body(HTTPStatus.REQUEST_TIMEOUT,
                              f"request body not received within {self.server.idle_timeout:g} s of inactivity")
            return None
        if len(body) < length:
            self._reject_body(HTTPStatus.BAD_REQUEST,
                              f"request body ended after {len(body)} of {length} bytes")
            return None
        encoding = self.headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            self._reject_body(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                              f'unsupported Content-Encoding "{encoding}": send gzip or identity')
            return None
        try:
            return gunzip(body, limit)
        except BodyTooLarge:
            self._reject_body(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                              f"gzip-decompressed request body exceeds the maximum of {limit} bytes")
        except zlib.error as error:
            self._reject_body(HTTPStatus.BAD_REQUEST, f"invalid gzip body: {error}")
        return None

    def _reject_body(self, status: HTTPStatus, message: str) -> None:
        code = "too large" if status is HTTPStatus.REQUEST_ENTITY_TOO_LARGE else "invalid"
        logger.info("HTTP write from %s rejected with %d: %s", self.client_address[0], status, message)
        # The connection may hold unread body bytes, so it is not reused.
        self.close_connection = True
        try:
            self._send_json(status, {"code": code, "message": message}, {"Connection": "close"})
        except OSError as error:
            logger.info("HTTP %d response to %s not sent: %s", status, self.client_address[0], error)

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


class BodyTooLarge(Exception):
    """A decompressed body longer than the limit."""


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body of one or more members, never producing more than ``limit`` bytes.

    Raises BodyTooLarge when the data would exceed ``limit`` (a gzip bomb
    stops there), and zlib.error for data that is not gzip, is truncated or
    fails its checksum.
    """
    parts: list[bytes] = []
    size = 0
    remaining = body
    while True:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        part = decompressor.decompress(remaining, limit - size + 1)
        size += len(part)
        if size > limit:
            raise BodyTooLarge(limit)
        if not decompressor.eof:
            raise zlib.error("truncated gzip data")
        parts.append(part)
        remaining = decompressor.unused_data
        if not remaining:
            return b"".join(parts)

