"""The listening server: one thread per connection, on buenavista's socket server."""

from __future__ import annotations

import logging
import ssl
import threading

from buenavista.postgres import BuenaVistaServer

from gateway.runtime import Runtime
from gateway.server.auth import Authenticator
from gateway.server.connection import Connection
from gateway.server.limits import ConnectionSlots

logger = logging.getLogger(__name__)


class GatewayServer(BuenaVistaServer):
    """Accepts PostgreSQL clients and serves each on its own thread."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        runtime: Runtime,
        authenticator: Authenticator,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """Listen on ``address``; clients log in through ``authenticator`` and may use TLS when a context is given."""
        # buenavista's constructor takes a connection factory that the
        # gateway does not use; sessions come from the runtime instead.
        super().__init__(address, conn=None)  # type: ignore[arg-type]
        self.RequestHandlerClass = Connection
        self.runtime = runtime
        self.authenticator = authenticator
        self.tls_context = tls_context
        self._connections: dict[int, Connection] = {}
        self.slots = ConnectionSlots(runtime.settings.max_connections)
        self._lock = threading.Lock()

    def verify_request(self, request: object, client_address: object) -> bool:
        return True

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def register(self, connection: Connection) -> None:
        with self._lock:
            self._connections[connection.process_id] = connection

    def unregister(self, connection: Connection) -> None:
        with self._lock:
            if self._connections.get(getattr(connection, "process_id", -1)) is connection:
                del self._connections[connection.process_id]

    def cancel(self, process_id: int, secret_key: int) -> None:
        """Interrupt the statement of the connection with this key; unknown keys are ignored."""
        with self._lock:
            connection = self._connections.get(process_id)
        if connection is None or connection.secret_key != secret_key or connection.session is None:
            logger.info("cancel request for unknown backend %d ignored", process_id)
            return
        logger.info("cancel request for session %d", connection.session.id)
        connection.session.cancel()
