"""One client connection: the protocol state machine over a socket.

buenavista's handler class provides the socket plumbing: a thread per
connection and buffered file objects. The message loop is our own, because
buenavista 0.5.0's loop executes statements on Describe, sends errors without
SQLSTATE and writes each DataRow unbuffered.
"""

from __future__ import annotations

import logging
import secrets
import socket
import ssl
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO

import pyarrow as pa
from buenavista.postgres import BuenaVistaHandler

from gateway.cursor_batches import CursorBatches
from gateway.errors import (
    GatewayError,
    InternalError,
    InvalidName,
    ProgramLimitExceeded,
    ProtocolViolation,
    QueryCanceled,
    StorageError,
)
from gateway.server import messages as msg
from gateway.server.auth import InvalidPassword
from gateway.server.bind_values import decode
from gateway.server.copy_format import copy_line, header_line
from gateway.server.limits import IdleSessionTimeout, TooManyConnections
from gateway.server.pgtypes import (
    TEXT,
    PgType,
    duckdb_type_of_oid,
    encode_binary,
    encode_text,
    pg_type,
    pg_type_of_duckdb,
)
from gateway.server.row_stream import RowStream
from gateway.session import DUCKDB_TYPE_KEY, Prepared, Session
from gateway.sql.results import Result

if TYPE_CHECKING:
    from gateway.server.server import GatewayServer

logger = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Messages that carry SQL or data may be large. The others (Describe,
# Execute, Close, Sync, Flush, CopyDone, CopyFail) are held to PostgreSQL's
# limit for small messages.
LARGE_MESSAGE_TYPES = frozenset((b"Q", b"P", b"B", b"d"))
MAX_SMALL_MESSAGE_BYTES = 10_000
# PostgreSQL ignores CopyData, CopyDone and CopyFail that arrive outside COPY,
# such as the rest of a COPY the server already ended with an error.
COPY_MESSAGE_TYPES = frozenset((b"d", b"c", b"f"))
# A payload is read in pieces of at most this size, so memory grows with the
# bytes that arrived, never with the length a client declared.
READ_CHUNK_BYTES = 1024 * 1024
# COPY data is parsed whole before anything is stored, so its size is bounded.
MAX_COPY_BYTES = 1024 * 1024 * 1024
MAX_STARTUP_BYTES = 10_000
# Far above any SCRAM or md5 message, it bounds what a client that has not
# logged in yet can make the server read.
MAX_AUTH_MESSAGE_BYTES = 65_536
# Seconds a client has for the TLS handshake, startup and authentication,
# like PostgreSQL's authentication_timeout default. Sessions have no timeout.
STARTUP_TIMEOUT = 60.0
FLUSH_BYTES = 256 * 1024
TRANSACTION_STATUS = {"idle": b"I", "open": b"T", "failed": b"E"}


class ClientGone(Exception):
    """The client closed the connection."""


@dataclass
class Statement:
    """A named or unnamed prepared statement; OID 0 marks a parameter the client left untyped."""

    prepared: Prepared
    parameter_oids: list[int]


@dataclass
class Portal:
    statement: Statement
    params: list[object]
    result_formats: list[int]
    rows: RowStream | None = None
    result: Result | None = None
    sent: int = 0


@dataclass
class Output:
    """A write buffer over the socket, flushed in large chunks."""

    stream: BinaryIO
    #: Runs before buffered bytes go out: makes the writes they acknowledge durable.
    before_flush: Callable[[], None] = lambda: None
    buffer: bytearray = field(default_factory=bytearray)

    def send(self, data: bytes | memoryview) -> None:
        if len(data) >= FLUSH_BYTES:
            # Large pieces (a batch of DataRows) go out as they are, without a copy.
            self.flush()
            self.before_flush()
            self.stream.write(data)
            self.stream.flush()
            return
        self.buffer += data
        if len(self.buffer) >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.before_flush()
            self.stream.write(self.buffer)
            self.stream.flush()
            self.buffer.clear()


class Connection(BuenaVistaHandler):
    """Serves one client from startup to Terminate."""

    server: GatewayServer
    # The accepted socket and its streams; all three are replaced when TLS starts.
    request: socket.socket
    rfile: BinaryIO
    wfile: BinaryIO

    def handle(self) -> None:
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
        self.out = Output(self.wfile, self._make_durable)
        self.session: Session | None = None
        self.statements: dict[str, Statement] = {}
        self.portals: dict[str, Portal] = {}
        self.skip_until_sync = False
        self.process_id = secrets.randbits(31)
        self.secret_key = secrets.randbits(31)
        self.holds_slot = False
        # True while the session waits for a query after ReadyForQuery, where idle_session_timeout applies.
        self.waiting_for_query = False
        try:
            if self._startup():
                self._message_loop()
        except (ClientGone, ConnectionError, OSError):
            logger.debug("client %s disconnected", self.client_address)
        finally:
            self._close()

    # Startup

    def _startup(self) -> bool:
        self.request.settimeout(STARTUP_TIMEOUT)
        try:
            return self._negotiate()
        except GatewayError as error:
            self._fatal(error)
            return False

    def _negotiate(self) -> bool:
        """Reply to SSL and GSSAPI requests and pass on cancel requests until a startup message opens a session."""
        while True:
            payload = self._startup_packet()
            code = struct.unpack("!i", payload[:4])[0]
            # On a TLS connection both requests fall through to the
            # unsupported-protocol error, as in PostgreSQL.
            if code == msg.SSL_REQUEST and not self._tls:
                self._answer_ssl_request()
                continue
            if code == msg.GSSENC_REQUEST and not self._tls:
                self.request.sendall(b"N")
                continue
            if code == msg.CANCEL_REQUEST and len(payload) >= 12:
                process_id, secret_key = struct.unpack("!ii", payload[4:12])
                self.server.cancel(process_id, secret_key)
                return False
            if code != msg.PROTOCOL_3_0:
                self._fatal(ProtocolViolation(f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}"))
                return False
            params = msg.parse_startup(payload[4:])
            if not self.server.slots.acquire():
                self._fatal(TooManyConnections("sorry, too many clients already",
                                               hint=f"the server serves at most {self.server.slots.limit} "
                                               "sessions at once (--max-connections)"))
                return False
            self.holds_slot = True
            return self._open_session(params)

    def _open_session(self, params: dict[str, str]) -> bool:
        user = params.get("user", "lakegate")
        database = params.get("database") or "default"
        if not self._authenticate(user):
            return False
        try:
            self.session = Session(self.server.runtime, database, user)
            self.session.send_notice = self._send_notice_now
        except InvalidName as error:
            self._fatal(error)
            return False
        self.request.settimeout(None)
        self.session.process_id = self.process_id
        if params.get("application_name"):
            self.session.settings.values["application_name"] = params["application_name"]
        self.out.send(msg.authentication_ok())
        for name, value in self.session.settings.reported().items():
            self.out.send(msg.parameter_status(name, value))
        self.out.send(msg.backend_key_data(self.process_id, self.secret_key))
        self.server.register(self)
        self._ready()
        return True

    def _authenticate(self, user: str) -> bool:
        try:
            method = self.server.authenticator.authenticate(user, self._send_now, self._auth_message)
        except InvalidPassword as error:
            # The reason (unknown user or wrong password) goes to the log only.
            logger.info("connection from %s rejected: %s %s (%s)", self.client_address, error.sqlstate,
                        error.message, error.reason)
            self.out.send(msg.error_response(error, severity="FATAL"))
            self.out.flush()
            return False
        except GatewayError as error:
            self._fatal(error)
            return False
        logger.debug("connection from %s: user %s authenticated by %s%s", self.client_address, user, method,
                     " over TLS" if self._tls else "")
        return True

    def _answer_ssl_request(self) -> None:
        context = self.server.tls_context
        if context is None:
            self.request.sendall(b"N")
            return
        self.request.sendall(b"S")
        self._start_tls(context)

    def _start_tls(self, context: ssl.SSLContext) -> None:
        """Run the server side of the TLS handshake and route all further I/O through it.

        Startup reads the socket unbuffered, so no plaintext sent after the
        SSLRequest sits in a buffer: such bytes reach the handshake and fail it.
        """
        try:
            tls_socket = context.wrap_socket(self.request, server_side=True)
        except OSError as error:
            logger.info("TLS handshake with %s failed: %s", self.client_address, error)
            raise ClientGone() from error
        self.rfile.close()
        self.request = self.connection = tls_socket
        self.rfile = tls_socket.makefile("rb")
        self.wfile = tls_socket.makefile("wb")
        self.out = Output(self.wfile, self._make_durable)
        logger.debug("connection from %s uses %s", self.client_address, tls_socket.version())

    def _send_notice_now(self, text: str) -> None:
        """Send a notice during a long statement (DELETE progress), so the client shows it as it happens."""
        self.out.send(msg.notice_response(text))
        self.out.flush()

    def _make_durable(self) -> None:
        # A failed fsync must not let the acknowledgements out: the error
        # ends the connection, so the client sees no reply at all.
        session = getattr(self, "session", None)
        if session is None:
            return
        try:
            session.make_durable()
        except StorageError as error:
            logger.error("session %d: closing the connection without replies: %s", session.id, error.message)
            raise ClientGone() from error

    @property
    def _tls(self) -> bool:
        return isinstance(self.request, ssl.SSLSocket)

    def _startup_packet(self) -> bytes:
        length = struct.unpack("!i", self._receive(4))[0]
        if length < 8 or length > MAX_STARTUP_BYTES:
            raise ProtocolViolation(f"invalid length of startup packet: {length}")
        return self._receive(length - 4)

    def _auth_message(self) -> tuple[bytes, bytes]:
        kind = self._receive(1)
        if kind == b"X":
            raise ClientGone()
        length = struct.unpack("!i", self._receive(4))[0]
        if length < 4 or length > MAX_AUTH_MESSAGE_BYTES:
            raise ProtocolViolation(f"invalid message length {length}")
        return kind, self._receive(length - 4)

    def _send_now(self, data: bytes) -> None:
        self.out.send(data)
        self.out.flush()

    def _receive(self, count: int) -> bytes:
        """Read exactly ``count`` bytes from the socket, bypassing ``rfile`` so that it buffers nothing."""
        data = bytearray()
        while len(data) < count:
            chunk = self.request.recv(count - len(data))
            if not chunk:
                raise ClientGone()
            data += chunk
        return bytes(data)

    def finish(self) -> None:
        """Close the streams, and the TLS socket if there is one.

        socketserver closes only the accepted socket, which ``wrap_socket``
        detached from its file descriptor.
        """
        try:
            super().finish()
        finally:
            if self._tls:
                self.request.close()

    # Message loop

    def _message_loop(self) -> None:
        handlers = {
            b"Q": self._query, b"P": self._parse, b"B": self._bind, b"D": self._describe,
            b"E": self._execute, b"C": self._close_target, b"H": self._flush, b"S": self._sync,
        }
        while True:
            try:
                kind = self._next_message_type()
            except IdleSessionTimeout as error:
                self._close_idle(error)
                return
            if not kind or kind == b"X":
                return
            handler = handlers.get(kind)
            if handler is None and kind not in COPY_MESSAGE_TYPES:
                self._fatal(ProtocolViolation(f"invalid frontend message type {kind[0]}"))
                return
            length = self._int32()
            limit = MAX_MESSAGE_BYTES if kind in LARGE_MESSAGE_TYPES else MAX_SMALL_MESSAGE_BYTES
            if length < 4 or length > limit:
                self._fatal(ProtocolViolation(f"invalid message length {length} of message type {kind[0]}"))
                return
            if handler is None:
                self._discard(length - 4)
                continue
            payload = self._read(length - 4)
            if self.skip_until_sync and kind not in (b"S", b"Q", b"H"):
                continue
            try:
                handler(payload)
            except GatewayError as error:
                self._error(error)
                # A failed Query still ends with ReadyForQuery; a failed extended-protocol
                # message makes the server skip the rest up to Sync.
                if kind == b"Q":
                    self._ready()
                else:
                    self.skip_until_sync = True
            except (ClientGone, ConnectionError):
                raise
            except Exception as error:
                session_id = self.session.id if self.session else 0
                logger.exception("session %d: unexpected error handling message %r", session_id, kind)
                self._error(InternalError(f"internal error: {type(error).__name__}"))
                self.skip_until_sync = kind != b"Q"
                if kind == b"Q":
                    self._ready()

    def _next_message_type(self) -> bytes:
        """Read the type byte of the next message; raise IdleSessionTimeout when idle_session_timeout passes first.

        The timeout applies only while the session waits after ReadyForQuery
        outside a transaction, as in PostgreSQL.
        """
        timeout = self._idle_timeout()
        if timeout <= 0:
            kind = self.rfile.read(1)
        else:
            self.request.settimeout(timeout)
            try:
                kind = self.rfile.read(1)
            except TimeoutError as error:
                raise IdleSessionTimeout("terminating connection due to idle-session timeout") from error
            finally:
                self.request.settimeout(None)
        self.waiting_for_query = False
        return kind

    def _idle_timeout(self) -> float:
        session = self.session
        if not self.waiting_for_query or session is None or session.transaction.status != "idle":
            return 0.0
        return session.settings.idle_session_timeout_seconds()

    def _close_idle(self, error: IdleSessionTimeout) -> None:
        assert self.session is not None
        logger.info("session %d: %s %s", self.session.id, error.sqlstate, error.message)
        self.out.send(msg.error_response(error))
        self.out.flush()

    def _query(self, payload: bytes) -> None:
        self.skip_until_sync = False
        assert self.session is not None
        text = msg.parse_query(payload)
        try:
            statements = self.session.execute_simple(text)
            if not statements:
                self.out.send(msg.empty_query_response())
            for prepared in statements:
                result = self.session.run(prepared, [])
                self._send_result(result, None, describe=True)
        except GatewayError as error:
            self.session.mark_failed()
            self._error(error)
        self._drop_portal("")
        self._ready()

    def _parse(self, payload: bytes) -> None:
        assert self.session is not None
        parsed = msg.parse_parse(payload)
        if parsed.statement and parsed.statement in self.statements:
            raise _duplicate_statement(parsed.statement)
        prepared = self.session.prepare(parsed.query)
        oids = list(parsed.parameter_oids) + [0] * (prepared.parameter_count - len(parsed.parameter_oids))
        statement = Statement(prepared, oids)
        self._set_parameter_types(statement)
        self.statements[parsed.statement] = statement
        self.out.send(msg.parse_complete())

    def _bind(self, payload: bytes) -> None:
        bind = msg.parse_bind(payload)
        statement = self._statement(bind.statement)
        self._infer_parameter_oids(statement)
        formats = msg.formats_for(bind.parameter_formats, len(bind.values))
        # Parse may declare more parameter types than the statement uses, as PostgreSQL allows: Bind
        # must then supply every declared one, and only those the statement uses reach DuckDB.
        if len(bind.values) != len(statement.parameter_oids):
            raise ProtocolViolation(
                f"bind message supplies {len(bind.values)} parameters, but prepared statement "
                f'"{bind.statement}" requires {len(statement.parameter_oids)}'
            )
        params = [decode(value, oid, code)
                  for value, oid, code in zip(bind.values, statement.parameter_oids, formats, strict=True)]
        self._drop_portal(bind.portal)
        used = params[:statement.prepared.parameter_count]
        self.portals[bind.portal] = Portal(statement, used, bind.result_formats)
        self.out.send(msg.bind_complete())

    def _describe(self, payload: bytes) -> None:
        assert self.session is not None
        kind, name = msg.parse_target(payload)
        if kind == "S":
            statement = self._statement(name)
            self._infer_parameter_oids(statement)
            self.out.send(msg.parameter_description([oid or TEXT.oid for oid in statement.parameter_oids]))
            schema = self.session.describe(statement.prepared)
            formats: list[int] = []
        elif name not in self.portals and name in self.session.cursors.open:
            schema = self.session.cursors.open[name].schema  # a DECLAREd cursor is a portal too
            formats = []
        else:
            portal = self._portal(name)
            schema = self._portal_schema(portal)
            formats = portal.result_formats
        if schema is None:
            self.out.send(msg.no_data())
        else:
            self.out.send(msg.row_description(_fields(schema, formats)))

    def _portal_schema(self, portal: Portal) -> pa.Schema | None:
        """Return the row schema of a portal; a query starts here, and its Execute streams the result.

        Clients send Describe before every Execute, so starting the query at
        Describe rewrites and plans it once instead of twice. Its parameters
        are bound already, and a query changes nothing in the store.
        """
        assert self.session is not None
        if portal.statement.prepared.kind != "query":
            return self.session.describe(portal.statement.prepared)
        if portal.result is None:
            portal.result = self.session.run(portal.statement.prepared, portal.params)
        return portal.result.schema

    def _infer_parameter_oids(self, statement: Statement) -> None:
        """Fill in the OIDs the client left 0 with the types inferred from the statement."""
        if all(statement.parameter_oids):
            return
        assert self.session is not None
        inferred = self.session.parameter_types(statement.prepared)
        for index, oid in enumerate(statement.parameter_oids[:len(inferred)]):
            kind = pg_type_of_duckdb(inferred[index]) if oid == 0 else None
            if kind is not None:
                statement.parameter_oids[index] = kind.oid
        self._set_parameter_types(statement)

    @staticmethod
    def _set_parameter_types(statement: Statement) -> None:
        statement.prepared.parameter_types = [duckdb_type_of_oid(oid) for oid in statement.parameter_oids]

    def _execute(self, payload: bytes) -> None:
        assert self.session is not None
        name, max_rows = msg.parse_execute(payload)
        portal = self._portal(name)
        if portal.result is None:
            portal.result = self.session.run(portal.statement.prepared, portal.params)
        self._send_result(portal.result, portal, describe=False, max_rows=max_rows)

    def _close_target(self, payload: bytes) -> None:
        kind, name = msg.parse_target(payload)
        if kind == "S":
            self.statements.pop(name, None)
        else:
            self._drop_portal(name)
        self.out.send(msg.close_complete())

    def _drop_portal(self, name: str) -> None:
        portal = self.portals.pop(name, None)
        if portal is not None and portal.rows is not None:
            portal.rows.close()
        if portal is not None and portal.result is not None and isinstance(portal.result.batches, CursorBatches):
            portal.result.batches.close()

    def _time_zone(self) -> str:
        return self.session.settings.values.get("timezone", "UTC") if self.session else "UTC"

    def _deallocate(self, name: str) -> None:
        if name == "":
            self.statements = {key: value for key, value in self.statements.items() if key == ""}
            return
        self._statement(name)
        del self.statements[name]

    def _flush(self, payload: bytes) -> None:
        self.out.flush()

    def _sync(self, payload: bytes) -> None:
        self.skip_until_sync = False
        self._drop_portal("")
        self._ready()

    # Results

    def _send_result(self, result: Result, portal: Portal | None, *, describe: bool, max_rows: int = 0) -> None:
        for notice in result.notices:
            self.out.send(msg.notice_response(notice))
        for name, value in result.parameter_status.items():
            self.out.send(msg.parameter_status(name, value))
        if result.deallocate is not None:
            self._deallocate(result.deallocate)
        if result.copy_in is not None:
            self._receive_copy(result)
            return
        if not result.returns_rows:
            self.out.send(msg.command_complete(result.tag) if result.tag else msg.empty_query_response())
            return
        assert result.schema is not None
        if result.copy is not None:
            self._send_copy(result)
            return
        formats = portal.result_formats if portal else []
        if describe:
            self.out.send(msg.row_description(_fields(result.schema, formats)))
        if portal is None:
            stream = self._row_stream(result, formats, prefetch=True)
            sent = 0
            try:
                while (piece := stream.take()) is not None:
                    self.out.send(piece[0])
                    sent += piece[1]
            finally:
                stream.close()
            self.out.send(msg.command_complete(_tag(result, sent)))
            return
        if portal.rows is None:
            # A portal read to its end in this Execute may encode ahead. One read in pieces may not,
            # because the session can run other statements on its DuckDB connection in between.
            portal.rows = self._row_stream(result, formats, prefetch=max_rows <= 0)
        self._send_portal_rows(portal, result, max_rows)

    def _row_stream(self, result: Result, formats: list[int], *, prefetch: bool) -> RowStream:
        assert result.schema is not None
        kinds = _kinds(result.schema)
        return RowStream(result.batches, kinds, msg.formats_for(formats, len(kinds)), self._time_zone(),
                         prefetch=prefetch)

    def _receive_copy(self, result: Result) -> None:
        """Run the COPY FROM STDIN sub-protocol: CopyInResponse, CopyData until CopyDone or CopyFail."""
        assert self.session is not None and result.copy_in is not None
        self.out.send(msg.copy_in_response(len(result.copy_columns)))
        self.out.flush()
        chunks: list[bytes] = []
        received = 0
        while True:
            kind = self._read(1)
            length = self._int32()
            limit = MAX_MESSAGE_BYTES if kind == b"d" else MAX_SMALL_MESSAGE_BYTES
            if length < 4 or length > limit:
                # The rest of the stream cannot be framed any more, so the connection ends.
                self._fatal(ProtocolViolation(f"invalid message length {length} during COPY from stdin"))
                raise ClientGone()
            payload = self._read(length - 4)
            if kind == b"d":
                received += len(payload)
                if received > MAX_COPY_BYTES:
                    self._drain_copy()
                    raise ProgramLimitExceeded(f"COPY data exceeds {MAX_COPY_BYTES} bytes",
                                               hint="split the data into several COPY statements")
                chunks.append(payload)
            elif kind == b"c":
                break
            elif kind == b"f":
                reason = payload.rstrip(b"\x00").decode(errors="replace")
                raise QueryCanceled(f"COPY from stdin failed: {reason}")
            elif kind not in (b"H", b"S"):
                raise ProtocolViolation(f"unexpected message type {kind!r} during COPY from stdin")
        # Join once and drop the parts, so the data is in memory once while it is parsed.
        data = b"".join(chunks)
        chunks.clear()
        done = self.session.finish_copy_in(result.copy_in, result.copy_columns, data)
        self.out.send(msg.command_complete(done.tag))

    def _drain_copy(self) -> None:
        """Read and drop the rest of a refused COPY until CopyDone or CopyFail."""
        while True:
            kind = self._read(1)
            length = self._int32()
            if length < 4 or length > MAX_MESSAGE_BYTES:
                self._fatal(ProtocolViolation(f"invalid message length {length} during COPY from stdin"))
                raise ClientGone()
            self._discard(length - 4)
            if kind in (b"c", b"f"):
                return

    def _send_copy(self, result: Result) -> None:
        """Send a COPY TO STDOUT: CopyOutResponse, a CopyData per line, CopyDone, ``COPY n``."""
        assert result.schema is not None and result.copy is not None
        self.out.send(msg.copy_out_response(len(result.schema)))
        if result.copy.header:
            self.out.send(msg.copy_data(header_line(result.schema.names, result.copy)))
        sent = 0
        for row in _encode_rows(result, [], self._time_zone()):
            self.out.send(msg.copy_data(copy_line(row, result.copy)))
            sent += 1
        self.out.send(msg.copy_done())
        self.out.send(msg.command_complete(f"COPY {sent}"))

    def _send_portal_rows(self, portal: Portal, result: Result, max_rows: int) -> None:
        assert portal.rows is not None
        sent_now = 0
        try:
            while (piece := portal.rows.take(max_rows - sent_now if max_rows > 0 else 0)) is not None:
                self.out.send(piece[0])
                sent_now += piece[1]
                if max_rows > 0 and sent_now >= max_rows:
                    portal.sent += sent_now
                    self.out.send(msg.portal_suspended())
                    return
        except BaseException:
            portal.rows.close()
            raise
        portal.sent += sent_now
        self.out.send(msg.command_complete(_tag(result, portal.sent)))

    # Helpers

    def _statement(self, name: str) -> Statement:
        statement = self.statements.get(name)
        if statement is None:
            error = GatewayError(f'prepared statement "{name}" does not exist')
            error.sqlstate = "26000"
            raise error
        return statement

    def _portal(self, name: str) -> Portal:
        portal = self.portals.get(name)
        if portal is None:
            error = GatewayError(f'portal "{name}" does not exist')
            error.sqlstate = "34000"
            raise error
        return portal

    def _error(self, error: GatewayError) -> None:
        session_id = self.session.id if self.session else 0
        logger.info("session %d: %s %s", session_id, error.sqlstate, error.message)
        if self.session is not None:
            self.session.mark_failed()
        self.out.send(msg.error_response(error))

    def _fatal(self, error: GatewayError) -> None:
        logger.info("connection from %s rejected: %s %s", self.client_address, error.sqlstate, error.message)
        self.out.send(msg.error_response(error, severity="FATAL"))
        self.out.flush()

    def _ready(self) -> None:
        status = self.session.transaction.status if self.session else "idle"
        self.out.send(msg.ready_for_query(TRANSACTION_STATUS[status]))
        self.out.flush()
        self.waiting_for_query = True

    def _int32(self) -> int:
        return int(struct.unpack("!i", self._read(4))[0])

    def _read(self, count: int) -> bytes:
        """Read exactly ``count`` bytes, at most READ_CHUNK_BYTES at a time; raise ClientGone at end of stream."""
        if count <= READ_CHUNK_BYTES:
            data = self.rfile.read(count)
            if len(data) < count:
                raise ClientGone()
            return data
        pieces = bytearray()
        while len(pieces) < count:
            pieces += self._read(min(READ_CHUNK_BYTES, count - len(pieces)))
        return bytes(pieces)

    def _discard(self, count: int) -> None:
        """Read and drop ``count`` bytes, holding at most READ_CHUNK_BYTES of them at a time."""
        while count > 0:
            count -= len(self._read(min(READ_CHUNK_BYTES, count)))

    def _close(self) -> None:
        self.server.unregister(self)
        if self.holds_slot:
            self.holds_slot = False
            self.server.slots.release()
        for name in list(self.portals):
            self._drop_portal(name)
        if self.session is not None:
            self.session.close()
            self.session = None


def _fields(schema: pa.Schema, formats: list[int]) -> list[msg.Field]:
    codes = msg.formats_for(formats, len(schema))
    return [msg.Field(column.name, kind.oid, kind.size, code)
            for column, kind, code in zip(schema, _kinds(schema), codes, strict=True)]


def _kinds(schema: pa.Schema) -> list[PgType]:
    kinds = []
    for column in schema:
        duckdb_type = (column.metadata or {}).get(DUCKDB_TYPE_KEY, b"").decode()
        kind = pg_type_of_duckdb(duckdb_type) if duckdb_type in ("UUID", "JSON") else None
        kinds.append(kind or pg_type(column.type))
    return kinds


def _encode_rows(result: Result, formats: list[int], time_zone: str) -> Iterator[list[bytes | None]]:
    assert result.schema is not None
    kinds = _kinds(result.schema)
    codes = msg.formats_for(formats, len(kinds))
    for batch in result.batches:
        columns = [
            encode_binary(column, kind) if code == 1 else encode_text(column, kind, time_zone)
            for column, kind, code in zip(batch.columns, kinds, codes, strict=True)
        ]
        yield from (list(row) for row in zip(*columns, strict=True)) if columns else ()


def _tag(result: Result, rows: int) -> str:
    return f"{result.tag} {rows}" if result.tag in ("SELECT", "FETCH") else result.tag


def _duplicate_statement(name: str) -> GatewayError:
    error = GatewayError(f'prepared statement "{name}" already exists')
    error.sqlstate = "42P05"
    return error

